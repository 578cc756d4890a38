use std::collections::HashMap;
use std::path::Path;

use super::naming::{provider_base_name, unique};
use super::*;
use crate::config::Config;
use crate::http::HttpOptions;
use crate::paths::Paths;
use crate::secret::Secret;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn kubelogin(command: &str, list: &[&str]) -> OidcUser {
    parse_kubelogin(command, &args(list))
        .expect("recognised as kubelogin")
        .expect("usable")
}

#[test]
fn kubelogin_flags_are_read_in_both_forms_with_repeated_and_comma_scopes() {
    let u = kubelogin(
        "kubectl",
        &[
            "oidc-login",
            "get-token",
            "--oidc-issuer-url=https://dex.example.com",
            "--oidc-client-id",
            "kubernetes",
            "--oidc-client-secret",
            "s3cret",
            "--oidc-extra-scope=email",
            "--oidc-extra-scope",
            "groups,profile",
            "--oidc-extra-scope=groups",
            "--certificate-authority",
            "/etc/ca.pem",
            "--certificate-authority-data=TFMwdA==",
            "--oidc-auth-request-extra-params",
            "connector_id=github,prompt=consent",
            "--oidc-use-pkce",
            "--listen-address",
            "127.0.0.1:8000",
            "-v1",
        ],
    );
    assert_eq!(u.kind, OldAuth::Kubelogin);
    assert_eq!(u.issuer, "https://dex.example.com");
    assert_eq!(u.client_id, "kubernetes");
    assert_eq!(u.client_secret, Some(Secret::new("s3cret")));
    assert_eq!(u.scopes, ["email", "groups", "profile"]);
    assert_eq!(u.ca_files, ["/etc/ca.pem"]);
    assert_eq!(u.ca_data, ["TFMwdA=="]);
    assert_eq!(u.connector.as_deref(), Some("github"));
    assert_eq!(u.other_params, ["prompt"]);
    assert!(u.unknown.is_empty(), "unknown: {:?}", u.unknown);
    assert!(
        !format!("{u:?}").contains("s3cret"),
        "Debug redacts the secret"
    );
}

#[test]
fn kubelogin_is_recognised_under_its_three_names_and_nothing_else() {
    let long = [
        "get-token",
        "--oidc-issuer-url",
        "https://i",
        "--oidc-client-id",
        "c",
    ];
    for command in [
        "kubelogin",
        "/usr/local/bin/kubectl-oidc_login",
        "C:\\bin\\kubelogin.exe",
    ] {
        let u = kubelogin(command, &long);
        assert_eq!(
            (u.issuer.as_str(), u.client_id.as_str()),
            ("https://i", "c")
        );
    }
    assert!(parse_kubelogin("kubectl", &args(&["get-token"])).is_none());
    assert!(parse_kubelogin("gke-gcloud-auth-plugin", &args(&long)).is_none());
    assert!(parse_kubelogin("kubectl-signet", &args(&["token", "--cluster", "x"])).is_none());
}

#[test]
fn kubelogin_grants_signet_cannot_offer_and_missing_issuer_are_reasons() {
    let no_issuer = parse_kubelogin(
        "kubelogin",
        &args(&["get-token", "--login", "azurecli", "--server-id", "x"]),
    )
    .expect("kubelogin");
    assert!(no_issuer.expect_err("unusable").contains("Azure"));
    let password = parse_kubelogin(
        "kubelogin",
        &args(&[
            "get-token",
            "--oidc-issuer-url=https://i",
            "--oidc-client-id=c",
            "--username=bob",
            "--password=pw",
        ]),
    )
    .expect("kubelogin");
    let reason = password.expect_err("password grant");
    assert!(reason.contains("password grant"), "{reason}");
    assert!(!reason.contains("pw"), "never quotes values: {reason}");
    let device = kubelogin(
        "kubelogin",
        &[
            "get-token",
            "--oidc-issuer-url=https://i",
            "--oidc-client-id=c",
            "--grant-type",
            "device-code",
        ],
    );
    assert!(device.device);
}

#[test]
fn unknown_kubelogin_flags_are_named_without_their_values() {
    let u = kubelogin(
        "kubelogin",
        &[
            "get-token",
            "--oidc-issuer-url=https://i",
            "--oidc-client-id=c",
            "--future-flag",
            "value",
            "--other=x",
            "--insecure-skip-tls-verify",
        ],
    );
    assert_eq!(u.unknown, ["--future-flag", "--other"]);
    assert!(u.insecure_skip_tls_verify);
}

#[test]
fn legacy_auth_provider_is_read_without_its_tokens() {
    let config: HashMap<String, String> = [
        ("idp-issuer-url", "https://dex.example.com"),
        ("client-id", "kubernetes"),
        ("client-secret", "s3cret"),
        ("idp-certificate-authority", "ca.pem"),
        ("extra-scopes", "groups, email"),
        ("id-token", "eyJhbGciOiJSUzI1NiJ9.e30.sig"),
        ("refresh-token", "refresh-me"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let u = parse_auth_provider(&config).expect("usable");
    assert_eq!(u.kind, OldAuth::AuthProvider);
    assert_eq!(u.issuer, "https://dex.example.com");
    assert_eq!(u.client_id, "kubernetes");
    assert_eq!(u.client_secret, Some(Secret::new("s3cret")));
    assert_eq!(u.ca_files, ["ca.pem"]);
    assert_eq!(u.scopes, ["groups", "email"]);
    let shown = format!("{u:?}");
    for secret in ["eyJhbGci", "refresh-me", "s3cret"] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
    }
    let mut missing = config.clone();
    missing.remove("idp-issuer-url");
    assert!(
        parse_auth_provider(&missing)
            .expect_err("no issuer")
            .contains("idp-issuer-url")
    );
}

#[test]
fn names_are_sanitised_and_made_unique() {
    assert_eq!(sanitize("oidc@Prod_EU", "c"), "oidc-prod-eu");
    assert_eq!(sanitize("--", "cluster"), "cluster");
    assert_eq!(
        provider_base_name("https://dex.example.com:5556/dex"),
        "dex-example-com"
    );
    assert_eq!(provider_base_name("http://127.0.0.1:5556/dex"), "127-0-0-1");
    let taken = ["prod", "prod-2"];
    assert_eq!(unique("prod", |n| taken.contains(&n)), "prod-3");
}

const PEM_B64: &str =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

fn kubeconfig(issuer_extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {{server: "https://api.prod.example:6443", certificate-authority-data: "{PEM_B64}"}}
- name: dev
  cluster: {{server: "https://api.dev.example:6443"}}
users:
- name: oidc
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubectl
      args: [oidc-login, get-token, --oidc-issuer-url=https://dex.example.com, --oidc-client-id=kubernetes, --oidc-client-secret=s3cret, --oidc-extra-scope=groups{issuer_extra}]
- name: legacy
  user:
    auth-provider:
      name: oidc
      config: {{idp-issuer-url: "https://dex.example.com", client-id: kubernetes, id-token: old-id-token, refresh-token: old-refresh}}
- name: admin
  user: {{token: static}}
contexts:
- name: prod
  context: {{cluster: prod, user: oidc, namespace: team-a}}
- name: prod-admin
  context: {{cluster: prod, user: admin}}
- name: DEV
  context: {{cluster: dev, user: legacy}}
"#
    )
}

fn paths_with(dir: &Path, kubeconfig_text: &str) -> Paths {
    let mut paths = Paths::under(dir);
    std::fs::create_dir_all(&paths.home).expect("home");
    let file = dir.join("kubeconfig");
    std::fs::write(&file, kubeconfig_text).expect("write kubeconfig");
    paths.kubeconfig_env = Some(file.into_os_string());
    paths
}

#[test]
fn a_kubeconfig_plan_makes_one_provider_per_client_and_a_cluster_per_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), &kubeconfig(""));
    let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
    assert_eq!(plan.providers.len(), 1, "{plan}");
    let p = &plan.providers[0];
    assert_eq!(
        (p.name.as_str(), p.client_id.as_str()),
        ("dex-example-com", "kubernetes")
    );
    assert_eq!(p.client_secret, Some(Secret::new("s3cret")));
    assert_eq!(p.scopes, ["groups"]);
    let names: Vec<(&str, Option<&str>)> = plan
        .clusters
        .iter()
        .map(|c| (c.name.as_str(), c.context.as_deref()))
        .collect();
    // `prod` (the kubeconfig cluster) is shared with prod-admin, so Signet's cluster is prod-2.
    assert_eq!(names, [("prod-2", Some("prod")), ("dev", Some("DEV"))]);
    for c in &plan.clusters {
        assert_eq!(
            c.audience.as_deref(),
            Some("kubernetes"),
            "old client id is the audience"
        );
    }
    assert_eq!(plan.clusters[0].namespace.as_deref(), Some("team-a"));
    assert_eq!(plan.clusters[0].ca_data.as_deref(), Some(PEM_B64));
    assert_eq!(
        plan.adoptions[1].cluster_entry,
        ClusterEntryChange::TakenOver,
        "dev is used only by the adopted DEV"
    );

    let shown = plan.to_string();
    for secret in ["s3cret", "old-id-token", "old-refresh"] {
        assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
    }
    assert!(shown.contains("client_secret = \"<redacted>\""), "{shown}");
    assert!(
        shown.contains("context prod: user oidc (kubelogin exec) → signet-prod-2"),
        "{shown}"
    );
    let saved = toml::to_string(plan.merged_config()).expect("toml");
    for secret in ["old-id-token", "old-refresh"] {
        assert!(
            !saved.contains(secret),
            "legacy token copied into the config"
        );
    }
}

#[test]
fn client_id_override_keeps_the_old_client_as_audience_and_drops_its_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), &kubeconfig(""));
    let plan =
        plan_kubeconfig_import(&Config::default(), &paths, None, Some("signet")).expect("plan");
    let p = &plan.providers[0];
    assert_eq!(p.client_id, "signet");
    assert_eq!(
        p.client_secret, None,
        "the old client's secret is not Signet's"
    );
    assert!(
        plan.clusters
            .iter()
            .all(|c| c.audience.as_deref() == Some("kubernetes"))
    );
    assert!(
        plan.notes.iter().any(|n| n.contains("not copied")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn an_existing_provider_for_the_same_client_is_reused_and_a_second_plan_is_empty_after_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), &kubeconfig(""));
    let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
    let before = std::fs::read(dir.path().join("kubeconfig")).expect("read");
    assert!(!paths.config_file.exists(), "planning writes nothing");
    assert_eq!(
        std::fs::read(dir.path().join("kubeconfig")).expect("read"),
        before
    );

    let outcome = plan
        .apply("/opt/signet/kubectl-signet", &[])
        .expect("apply");
    assert_eq!(outcome.adopted.len(), 2);
    assert_eq!(outcome.sign_in, ["dex-example-com"]);
    let config = Config::load(&paths.config_file, &paths.home).expect("config saved");
    let again = plan_kubeconfig_import(&config, &paths, None, None).expect("plan again");
    assert!(again.is_empty(), "nothing left to import:\n{again}");
}

#[test]
fn an_explicit_kubeconfig_outside_the_chain_becomes_the_clusters_kubeconfig_and_is_the_one_written()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), "apiVersion: v1\nkind: Config\n");
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, kubeconfig("")).expect("write");
    let default_before = std::fs::read(dir.path().join("kubeconfig")).expect("read");
    let plan =
        plan_kubeconfig_import(&Config::default(), &paths, Some(&other), None).expect("plan");
    assert_eq!(
        plan.source,
        ImportSource::Kubeconfig {
            files: vec![other.clone()]
        }
    );
    assert!(
        plan.clusters
            .iter()
            .all(|c| c.kubeconfig.as_deref() == Some(other.as_path())),
        "{plan}"
    );
    let outcome = plan.apply("kubectl-signet", &[]).expect("apply");
    assert_eq!(outcome.kubeconfig.written, vec![other.clone()]);
    assert_eq!(
        std::fs::read(dir.path().join("kubeconfig")).expect("read"),
        default_before,
        "the KUBECONFIG file is not touched"
    );
    let missing = plan_kubeconfig_import(
        &Config::default(),
        &paths,
        Some(&dir.path().join("nope")),
        None,
    )
    .expect_err("missing explicit file");
    assert_eq!(missing.code(), "import.kubeconfig_missing");
}

const CATALOG: &str = r#"
[[providers]]
name = "corp"
issuer = "https://dex.example.com"
client_id = "signet"
scopes = ["groups"]

[[clusters]]
name = "prod"
provider = "corp"
server = "https://api.prod.example:6443"
audience = "kubernetes"
"#;

#[test]
fn a_catalog_with_a_client_secret_is_rejected_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), "");
    let text = CATALOG.replace(
        "client_id = \"signet\"",
        "client_id = \"signet\"\nclient_secret = \"team-secret\"",
    );
    let source = CatalogSource::File(dir.path().join("catalog.toml"));
    let err = plan_catalog_import(&Config::default(), &paths, &source, &text).expect_err("secret");
    assert_eq!(err.code(), "import.secret_in_catalog");
    let message = err.to_string();
    assert!(
        message.contains("catalog.toml:6: providers[0].client_secret"),
        "{message}"
    );
    assert!(!message.contains("team-secret"), "{message}");
}

#[test]
fn a_catalog_merges_identical_entries_and_refuses_a_different_one_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), "");
    let source = CatalogSource::File(dir.path().join("catalog.toml"));
    let plan = plan_catalog_import(&Config::default(), &paths, &source, CATALOG).expect("plan");
    assert_eq!((plan.providers.len(), plan.clusters.len()), (1, 1));
    assert_eq!(
        plan.new_entries.len(),
        1,
        "exec cluster entries are written"
    );
    let config = plan.merged_config().clone();

    let again = plan_catalog_import(&config, &paths, &source, CATALOG).expect("plan again");
    assert!(
        again.providers.is_empty() && again.clusters.is_empty(),
        "{again}"
    );
    assert_eq!(again.reused.len(), 2);

    let changed = CATALOG.replace("https://api.prod.example:6443", "https://api.other:6443");
    let err = plan_catalog_import(&config, &paths, &source, &changed).expect_err("conflict");
    assert_eq!(err.code(), "import.conflict");
    let message = err.to_string();
    assert!(message.contains("cluster 'prod' from"), "{message}");
    assert!(message.contains("catalog.toml"), "{message}");
    assert!(message.contains("config.toml"), "{message}");
    assert!(message.contains("https://api.other:6443"), "{message}");
}

#[test]
fn a_catalog_may_not_choose_local_paths_and_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), "");
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("write ca");
    let source = CatalogSource::File(dir.path().join("catalog.toml"));
    for (text, key, line) in [
        (
            format!("{CATALOG}kubeconfig = \"~/.bashrc\"\n"),
            "clusters[0].kubeconfig",
            13,
        ),
        (
            CATALOG.replace(
                "scopes = [\"groups\"]",
                &format!("ca_file = \"{}\"", ca.display()),
            ),
            "providers[0].ca_file",
            6,
        ),
        (
            format!("{CATALOG}ca_file = \"{}\"\n", ca.display()),
            "clusters[0].ca_file",
            13,
        ),
    ] {
        let err = plan_catalog_import(&Config::default(), &paths, &source, &text)
            .expect_err("a catalog naming a local path is refused");
        let message = err.to_string();
        assert!(
            message.contains(&format!("catalog.toml:{line}: {key}:")),
            "expected catalog.toml:{line}: {key}: in {message}"
        );
    }
    assert!(!paths.config_file.exists(), "nothing saved");
    assert!(
        !paths.home.join(".bashrc").exists(),
        "nothing written where the catalog pointed"
    );
}

#[test]
fn an_insecure_catalog_cluster_is_applied_only_with_consent_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_with(dir.path(), "");
    let source = CatalogSource::File(dir.path().join("catalog.toml"));
    let text = format!("{CATALOG}insecure_skip_tls_verify = true\n");
    let plan = plan_catalog_import(&Config::default(), &paths, &source, &text).expect("plan");
    assert_eq!(plan.insecure_clusters(), ["prod"]);
    assert!(
        plan.to_string().contains("WARNING: cluster prod skip"),
        "{plan}"
    );
    for consent in [&[][..], &["other".to_string()][..]] {
        let err = plan
            .apply("kubectl-signet", consent)
            .expect_err("no consent: refused");
        assert_eq!(err.code(), "import.insecure_not_allowed");
        assert!(
            err.to_string()
                .contains("cluster prod would turn off TLS verification"),
            "{err}"
        );
        assert!(err.to_string().contains("--allow-insecure"), "{err}");
        assert!(!paths.config_file.exists(), "nothing saved without consent");
    }
    plan.apply("kubectl-signet", &["prod".to_string()])
        .expect("applied with consent naming the cluster");
    let config = Config::load(&paths.config_file, &paths.home).expect("saved");
    assert!(
        config
            .cluster("prod")
            .expect("prod")
            .insecure_skip_tls_verify
    );
}

#[test]
fn an_adopted_kubeconfig_cluster_that_skips_tls_verification_needs_consent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = kubeconfig("").replace(
        "{server: \"https://api.dev.example:6443\"}",
        "{server: \"https://api.dev.example:6443\", insecure-skip-tls-verify: true}",
    );
    let paths = paths_with(dir.path(), &text);
    let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
    let before = std::fs::read(dir.path().join("kubeconfig")).expect("read");
    assert_eq!(plan.insecure_clusters(), ["dev"]);
    let err = plan
        .apply("kubectl-signet", &[])
        .expect_err("no consent: refused");
    assert_eq!(err.code(), "import.insecure_not_allowed");
    assert!(err.to_string().contains("cluster dev would"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("kubeconfig")).expect("read"),
        before,
        "the kubeconfig is untouched"
    );
}

#[test]
fn kubeconfig_contexts_with_unsafe_names_or_namespaces_are_skipped_and_shown_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = kubeconfig("")
        .replace("- name: DEV\n", "- name: \"DEV\\e[2J\"\n")
        .replace("namespace: team-a", "namespace: Team_A");
    let paths = paths_with(dir.path(), &text);
    let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
    assert!(plan.clusters.is_empty(), "{plan}");
    let shown = plan.to_string();
    assert!(!shown.contains('\u{1b}'), "raw escape printed: {shown:?}");
    assert!(shown.contains("DEV\\u{1b}[2J"), "{shown}");
    assert!(shown.contains("Team_A"), "{shown}");
    assert_eq!(plan.skipped.len(), 2, "{shown}");
}

#[test]
fn catalog_urls_must_be_https_off_loopback() {
    let err = read_catalog(
        &CatalogSource::from_arg("http://catalog.example.com/c.toml"),
        HttpOptions::default(),
    )
    .expect_err("plain http");
    assert_eq!(err.code(), "import.insecure_url");
}
