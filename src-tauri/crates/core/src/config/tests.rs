use super::*;

const GOOD: &str = r#"
[[providers]]
name = "corp"
issuer = "https://dex.example.com"
client_id = "signet"
connector = "github"
scopes = ["groups"]

[[clusters]]
name = "prod"
provider = "corp"
server = "https://api.prod.example.com:6443"
audience = "kubernetes"
namespace = "default"

[[clusters]]
name = "dev"
provider = "corp"
server = "https://127.0.0.1:6443"
credentials = "token"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/cfg/config.toml"), Path::new("/home/u"))
}

fn invalid(text: &str) -> (usize, String, String) {
    match parse(text) {
        Err(ConfigError::Invalid {
            line, key, message, ..
        }) => (line, key, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn parses_the_design_example_with_defaults() {
    let config = parse(GOOD).expect("valid config");
    let corp = config.provider("corp").expect("provider corp");
    assert_eq!(corp.login, LoginMode::Embedded);
    assert_eq!(corp.username_claim, "email");
    let dev = config.cluster("dev").expect("cluster dev");
    assert_eq!(dev.credentials, Credentials::Token);
    assert_eq!(dev.audience_or(corp), "signet");
    assert_eq!(config.audiences_of(corp), vec!["kubernetes", "signet"]);
}

#[test]
fn unknown_key_names_the_key_and_line() {
    let text = GOOD.replace(
        "scopes = [\"groups\"]",
        "scopes = [\"groups\"]\nscope = \"x\"",
    );
    match parse(&text) {
        Err(e @ ConfigError::Syntax { line, .. }) => {
            assert_eq!(line, 8, "line of the unknown key in: {e}");
            assert!(
                e.to_string().contains("unknown field `scope`"),
                "message: {e}"
            );
            assert!(
                e.to_string().starts_with("/cfg/config.toml:8:"),
                "message: {e}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn duplicate_provider_is_rejected_with_its_line() {
    let text = format!(
        "{GOOD}\n[[providers]]\nname = \"corp\"\nissuer = \"https://x\"\nclient_id = \"a\"\n"
    );
    let (line, key, message) = invalid(&text);
    assert_eq!((line, key.as_str()), (23, "providers[1].name"));
    assert!(
        message.contains("duplicate provider name 'corp'"),
        "{message}"
    );
}

#[test]
fn cluster_naming_a_missing_provider_is_rejected() {
    let (line, key, message) = invalid(&GOOD.replace(
        "provider = \"corp\"\nserver = \"https://api",
        "provider = \"crop\"\nserver = \"https://api",
    ));
    assert_eq!((line, key.as_str()), (11, "clusters[0].provider"));
    assert!(
        message.contains("no provider named 'crop' (known: corp)"),
        "{message}"
    );
}

#[test]
fn plain_http_issuer_off_loopback_is_rejected_but_loopback_is_fine() {
    let (_, key, message) =
        invalid(&GOOD.replace("https://dex.example.com", "http://dex.example.com"));
    assert_eq!(key, "providers[0].issuer");
    assert!(message.contains("must use https"), "{message}");
    parse(&GOOD.replace("https://dex.example.com", "http://127.0.0.1:5556/dex"))
        .expect("loopback http is allowed");
    parse(&GOOD.replace("https://dex.example.com", "http://[::1]:5556"))
        .expect("ipv6 loopback http is allowed");
}

#[test]
fn bad_urls_and_names_are_rejected() {
    let (_, key, _) = invalid(&GOOD.replace("https://api.prod.example.com:6443", "not a url"));
    assert_eq!(key, "clusters[0].server");
    let (_, key, message) = invalid(&GOOD.replace("name = \"corp\"", "name = \"Corp Inc\""));
    assert_eq!(key, "providers[0].name");
    assert!(message.contains("a-z, 0-9"), "{message}");
}

#[test]
fn namespaces_are_rfc1123_labels_and_cluster_and_context_names_printable() {
    let (line, key, message) =
        invalid(&GOOD.replace("namespace = \"default\"", "namespace = \"Bad_NS!\""));
    assert_eq!((line, key.as_str()), (14, "clusters[0].namespace"));
    assert!(message.contains("RFC 1123"), "{message}");
    let (line, key, message) =
        invalid(&GOOD.replace("name = \"prod\"", "name = \"prod\\u001b[31m\""));
    assert_eq!((line, key.as_str()), (10, "clusters[0].name"));
    assert!(
        !message.contains('\u{1b}'),
        "a control character is never echoed: {message:?}"
    );
    assert!(message.contains("\\u{1b}"), "shown escaped: {message:?}");
    let (_, key, _) = invalid(&GOOD.replace("namespace = \"default\"", "context = \"prod ctx\""));
    assert_eq!(key, "clusters[0].context");
    let (_, key, _) = invalid(&GOOD.replace("name = \"dev\"", "name = \"-dev\""));
    assert_eq!(key, "clusters[1].name", "a leading '-' reads as a flag");
    parse(&GOOD.replace(
        "namespace = \"default\"",
        "context = \"arn:aws:eks:eu-west-1:1234:cluster/prod_EU@team+1\"",
    ))
    .expect("EKS/GKE-style context names are fine");
}

#[test]
fn unreadable_ca_file_is_rejected_with_the_resolved_path() {
    let (_, key, message) =
        invalid(&GOOD.replace("scopes = [\"groups\"]", "ca_file = \"~/missing-ca.pem\""));
    assert_eq!(key, "providers[0].ca_file");
    assert!(message.contains("/home/u/missing-ca.pem"), "{message}");
}

#[test]
fn ca_data_must_be_base64_pem() {
    let (_, key, message) =
        invalid(&GOOD.replace("namespace = \"default\"", "ca_data = \"bm90IGEgY2VydA==\""));
    assert_eq!(key, "clusters[0].ca_data");
    assert!(message.contains("PEM"), "{message}");
}

#[test]
fn syntax_errors_carry_a_line() {
    match parse("[[providers]]\nname = \"a\"\nissuer = \n") {
        Err(ConfigError::Syntax { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn save_round_trips_and_is_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signet/config.toml");
    let mut config = parse(GOOD).expect("valid config");
    config.providers[0].client_secret = Some(Secret::new("s3cret"));
    config.save(&path).expect("save");
    let again = Config::load(&path, dir.path()).expect("reload");
    assert_eq!(again, config);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "config must be 0600, is {mode:o}");
    }
}

#[test]
fn settings_round_trip_and_are_range_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signet/config.toml");
    let mut config = parse(GOOD).expect("valid config");
    assert_eq!(
        config.settings,
        Settings::default(),
        "no [settings]: defaults"
    );
    config.settings.notifications = false;
    config.settings.warning_minutes = 30;
    config.settings.credentials = Credentials::Token;
    config.save(&path).expect("save");
    let text = std::fs::read_to_string(&path).expect("read back");
    assert!(text.contains("[settings]"), "settings saved: {text}");
    assert_eq!(Config::load(&path, dir.path()).expect("reload"), config);

    let (line, key, message) = invalid(&format!("[settings]\nwarning_minutes = 0\n{GOOD}"));
    assert_eq!((line, key.as_str()), (1, "settings.warning_minutes"));
    assert!(message.contains("1 to 120"), "{message}");
}

#[test]
fn secret_store_setting_parses_and_rejects_unknown_stores_with_a_line() {
    assert_eq!(
        parse(GOOD).expect("valid").settings.secret_store,
        SecretStoreChoice::Auto
    );
    for (text, want) in [
        ("secret-service", SecretStoreChoice::SecretService),
        ("keyutils", SecretStoreChoice::Keyutils),
        ("auto", SecretStoreChoice::Auto),
    ] {
        let config = parse(&format!("[settings]\nsecret_store = \"{text}\"\n{GOOD}"))
            .expect("valid secret_store");
        assert_eq!(config.settings.secret_store, want, "{text}");
    }
    match parse(&format!(
        "[settings]\nnotifications = true\nsecret_store = \"file\"\n{GOOD}"
    )) {
        Err(e @ ConfigError::Syntax { line, .. }) => {
            assert_eq!(line, 3, "line of the bad store in: {e}");
            assert!(
                e.to_string().contains("secret-service"),
                "names the choices: {e}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn missing_file_says_how_to_start() {
    let err =
        Config::load(Path::new("/nonexistent/signet.toml"), Path::new("/h")).expect_err("missing");
    assert_eq!(err.code(), "config.missing");
    assert!(
        err.to_string().contains("kubectl signet add provider"),
        "{err}"
    );
}
