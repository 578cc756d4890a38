//! The app on Tauri's mock runtime (no display, no session bus): every command the front end may call,
//! the capability rules (a remote origin or a login window is refused), and the embedded sign-in from
//! the authorization URL the login window loads to the redirect it catches — against the Dex stand-in.
//!
//! The mock runtime has no webview, so the person's part (filling the IdP's form) is played by
//! `FormBrowser`, which stops at the redirect exactly where the login window's `on_navigation` catches it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signet_app::command_names::COMMANDS;
use signet_app::login::{self, Navigation};
use signet_app::notify::RecordingNotifier;
use signet_app::{Services, build_app};
use signet_core::clock::SystemClock;
use signet_core::config::{Config, LoginMode};
use signet_core::oidc::opener::UrlOpener;
use signet_core::paths::Paths;
use signet_core::token_store::MemoryStore;
use signet_tests::browser::FormBrowser;
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::world::{ClosedPort, FormOpener, cluster, provider};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};
use url::Url;

const LOCAL: &str = "tauri://localhost";

struct TestApp {
    app: App<MockRuntime>,
    main: WebviewWindow<MockRuntime>,
    notes: Arc<RecordingNotifier>,
    paths: Paths,
    _root: tempfile::TempDir,
}

fn start(config: &Config, opener: Option<FormOpener>) -> TestApp {
    let opener: Arc<dyn UrlOpener> = match opener {
        Some(o) => Arc::new(o),
        None => Arc::new(FormOpener::new(None, "nobody", "wrong")),
    };
    start_with_opener(config, opener)
}

fn start_with_opener(config: &Config, opener: Arc<dyn UrlOpener>) -> TestApp {
    let root = tempfile::tempdir().expect("create the test root");
    let paths = Paths::under(root.path());
    std::fs::create_dir_all(&paths.home).expect("create HOME");
    config
        .save(&paths.config_file)
        .expect("save the test config");
    let notes = RecordingNotifier::new();
    let services = Services {
        paths: paths.clone(),
        secrets: Arc::new(MemoryStore::new()),
        clock: Arc::new(SystemClock),
        notifier: notes.clone(),
        opener,
        kubectl_plugin: "kubectl-signet".into(),
        desktop: false,
        open_switcher: false,
    };
    let app = build_app(mock_builder(), services, signet_app::context())
        .expect("build the app on the mock runtime");
    let main = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
        .build()
        .expect("open the main window");
    TestApp {
        app,
        main,
        notes,
        paths,
        _root: root,
    }
}

fn corp_config(issuer: &str, login: LoginMode) -> Config {
    let mut corp = provider("corp", issuer, None);
    corp.login = login;
    Config {
        providers: vec![corp],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    }
}

fn invoke_from(
    window: &WebviewWindow<MockRuntime>,
    origin: &str,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: origin.parse().expect("valid origin"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| {
        body.deserialize::<Value>()
            .expect("a JSON command response")
    })
}

impl TestApp {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke_from(&self.main, LOCAL, cmd, args)
    }

    /// The providers of `status`.
    fn status(&self) -> Value {
        self.invoke("status", json!({}))
            .expect("status succeeds from the main window")["providers"]
            .clone()
    }

    /// The open login window's label and the URL it loads.
    fn login_window(&self) -> (String, Url) {
        let label = self
            .app
            .state::<login::Logins>()
            .window_of("corp")
            .expect("a login window waits for its redirect");
        let window = self
            .app
            .get_webview_window(&label)
            .expect("the login window is open");
        (label, window.url().expect("the login window's URL"))
    }

    /// Waits until `status` says `pred` (the sign-in finishes on a background thread).
    fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status();
            if pred(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status: {status:#}; notifications: {:?}",
                self.notes.shown()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn redirect_of(auth_url: &Url) -> Url {
    let redirect = auth_url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("the authorization URL names a redirect URI");
    Url::parse(&redirect).expect("a valid redirect URI")
}

fn state_of(auth_url: &Url) -> String {
    auth_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("the authorization URL carries a state")
}

#[test]
fn status_lists_providers_and_clusters_and_never_a_token() {
    // An issuer nobody answers for: these tests never sign in.
    let idp_down = ClosedPort::new();
    let t = start(
        &corp_config(&idp_down.url("/dex"), LoginMode::Embedded),
        None,
    );
    let whole = t
        .invoke("status", json!({}))
        .expect("status succeeds from the main window");
    assert_eq!(whole["configError"], Value::Null, "{whole:#}");
    assert_eq!(whole["currentContext"], Value::Null, "no kubeconfig yet");
    assert_eq!(
        whole["configPath"],
        t.paths.config_file.display().to_string()
    );
    let status = t.status();
    assert_eq!(status[0]["name"], "corp", "{status:#}");
    assert_eq!(status[0]["state"], "sign_in_needed");
    assert_eq!(status[0]["loginMode"], "embedded");
    assert_eq!(status[0]["account"], Value::Null);
    assert_eq!(status[0]["clusters"][0]["name"], "prod");
    assert_eq!(status[0]["clusters"][0]["audience"], "kubernetes");
    assert!(t.paths.config_file.exists());
}

#[test]
fn unknown_provider_is_an_error_object_with_a_code() {
    // An issuer nobody answers for: these tests never sign in.
    let idp_down = ClosedPort::new();
    let t = start(
        &corp_config(&idp_down.url("/dex"), LoginMode::Embedded),
        None,
    );
    let err = t
        .invoke("sign_in", json!({ "provider": "nope" }))
        .expect_err("signing in to a provider that does not exist fails");
    assert_eq!(
        err,
        json!({
            "code": "session.unknown_provider",
            "message": "no provider named 'nope' in the Signet config (known: corp)",
        }),
        "errors reach the front end as {{code, message}}"
    );
    let err = t
        .invoke("sign_out", json!({ "provider": "nope" }))
        .expect_err("signing out of a provider that does not exist fails");
    assert_eq!(err["code"], "session.unknown_provider");
}

/// Tauri's refusal: "<cmd> not allowed…" (the wording differs between debug and release builds).
fn refused_by_acl(result: &Result<Value, Value>) -> bool {
    matches!(result, Err(Value::String(message)) if message.contains("not allowed"))
}

/// The names between `tauri::generate_handler![` and `]` in `src/lib.rs`, without the `commands::` path.
fn handler_commands() -> Vec<String> {
    let source = include_str!("../src/lib.rs");
    let start = source
        .find("tauri::generate_handler![")
        .expect("src/lib.rs registers its commands with tauri::generate_handler!")
        + "tauri::generate_handler![".len();
    let end = start
        + source[start..]
            .find(']')
            .expect("generate_handler! is closed");
    source[start..end]
        .split(',')
        .map(|path| path.trim())
        .filter(|path| !path.is_empty())
        .map(|path| path.rsplit("::").next().unwrap_or(path).to_string())
        .collect()
}

#[test]
fn the_acl_command_list_is_exactly_the_registered_handlers_and_the_capability() {
    // `COMMANDS` feeds the app manifest (build.rs) and the ACL tests below; a command registered with
    // generate_handler! but missing from it would escape the capability and those tests.
    let mut registered = handler_commands();
    let mut listed: Vec<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    registered.sort();
    listed.sort();
    assert_eq!(
        registered, listed,
        "src/lib.rs generate_handler! and command_names::COMMANDS must name the same commands"
    );
    let capability: Value = serde_json::from_str(include_str!("../capabilities/main.json"))
        .expect("capabilities/main.json is JSON");
    let mut allowed: Vec<String> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    allowed.sort();
    assert_eq!(
        allowed, listed,
        "capabilities/main.json allows exactly the registered commands"
    );
}

#[test]
fn remote_origins_and_login_windows_cannot_call_commands() {
    // An issuer nobody answers for: these tests never sign in.
    let idp_down = ClosedPort::new();
    let t = start(
        &corp_config(&idp_down.url("/dex"), LoginMode::Embedded),
        None,
    );
    t.invoke("status", json!({}))
        .expect("the app's own page in the main window may call status");
    for origin in [
        "http://127.0.0.1:5556/",
        "http://127.0.0.1:5556/dex/auth/local/login",
        "https://github.com/login",
    ] {
        for &cmd in COMMANDS {
            let refused = invoke_from(&t.main, origin, cmd, json!({ "provider": "corp" }));
            assert!(
                refused_by_acl(&refused),
                "{cmd} from the remote origin {origin} must be refused by the ACL, got {refused:?}"
            );
        }
    }
    // A window that is not `main` — the login window's label — has no capability, even for local pages.
    let login = WebviewWindowBuilder::new(
        &t.app,
        login::window_label("corp", 0),
        WebviewUrl::default(),
    )
    .build()
    .expect("open a window labelled like the login window");
    for &cmd in COMMANDS {
        let refused = invoke_from(&login, LOCAL, cmd, json!({ "provider": "corp" }));
        assert!(
            refused_by_acl(&refused),
            "{cmd} from the login window must be refused by the ACL, got {refused:?}"
        );
    }
}

#[test]
fn the_switcher_may_listen_to_events_and_call_nothing_else_of_the_core() {
    // capabilities/main.json grants the core permissions ui/src/lib/api.ts uses (`listen`, and the
    // `unlisten` it returns), not `core:default`: every other core command is refused by the ACL.
    // An issuer nobody answers for: these tests never sign in.
    let idp_down = ClosedPort::new();
    let t = start(
        &corp_config(&idp_down.url("/dex"), LoginMode::Embedded),
        None,
    );
    for cmd in ["plugin:event|listen", "plugin:event|unlisten"] {
        let answer = invoke_from(&t.main, LOCAL, cmd, json!({}));
        assert!(
            !refused_by_acl(&answer),
            "{cmd} is what the switcher uses, got {answer:?}"
        );
    }
    for cmd in [
        "plugin:event|emit",
        "plugin:event|emit_to",
        "plugin:window|title",
        "plugin:window|inner_size",
        "plugin:webview|get_all_webviews",
        "plugin:app|version",
        "plugin:app|name",
        "plugin:path|resolve_directory",
        "plugin:resources|close",
        "plugin:menu|new",
        "plugin:tray|new",
        "plugin:image|new",
    ] {
        let refused = invoke_from(&t.main, LOCAL, cmd, json!({}));
        assert!(
            refused_by_acl(&refused),
            "{cmd} is not used by the switcher and must be refused by the ACL, got {refused:?}"
        );
    }
}

#[test]
fn the_page_the_app_serves_carries_the_strict_csp() {
    // The asset resolver is what the `tauri://` protocol answers with: the page and its CSP header.
    // An issuer nobody answers for: these tests never sign in.
    let idp_down = ClosedPort::new();
    let t = start(
        &corp_config(&idp_down.url("/dex"), LoginMode::Embedded),
        None,
    );
    let page = t
        .app
        .asset_resolver()
        .get("index.html".into())
        .expect("the app serves index.html");
    let csp = page.csp_header().expect("index.html is served with a CSP");
    for directive in [
        "default-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
}

#[test]
fn embedded_sign_in_catches_the_redirect_and_signs_in_then_sign_out_forgets_it() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(&corp_config(idp.issuer(), LoginMode::Embedded), None);

    let started = t
        .invoke("sign_in", json!({ "provider": "corp" }))
        .expect("sign_in starts");
    assert_eq!(
        started,
        json!({ "provider": "corp", "mode": "embedded", "alreadyRunning": false })
    );
    let (label, auth_url) = t.login_window();
    assert!(label.starts_with("login-corp-"), "{label}");
    let host = format!(
        "127.0.0.1:{}",
        auth_url.port().expect("the stand-in's port")
    );
    assert_eq!(
        login::window_title("corp", &auth_url),
        format!("Sign in to corp at {host} — Signet"),
        "the login window's title names the IdP host"
    );
    assert!(
        auth_url
            .as_str()
            .starts_with(&format!("{}/auth?", idp.issuer())),
        "the login window loads the IdP's authorization endpoint: {auth_url}"
    );
    let redirect = redirect_of(&auth_url);
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), login::REDIRECT_PATH);
    assert!(
        auth_url
            .query_pairs()
            .any(|(k, v)| k == "code_challenge_method" && v == "S256"),
        "PKCE S256: {auth_url}"
    );
    let status = t.status();
    assert_eq!(status[0]["signingIn"], true, "{status:#}");

    let again = t
        .invoke("sign_in", json!({ "provider": "corp" }))
        .expect("a second sign_in succeeds");
    assert_eq!(
        again["alreadyRunning"], true,
        "a second request shares the open login window"
    );

    // The person signs in on the IdP's pages; the IdP redirects to the callback.
    let callback = FormBrowser::new(None)
        .login(auth_url.as_str(), "alice", PASSWORD)
        .expect("sign in through the stand-in's form");
    assert_eq!(
        login::decide(&callback, &redirect),
        Navigation::Capture,
        "the login window cancels and captures {}",
        login::without_query(&callback)
    );
    login::captured(t.app.handle(), "corp", &label, callback.clone());
    // A second delivery of the same redirect (WebKit may report it twice) is ignored.
    login::captured(t.app.handle(), "corp", &label, callback);

    let status = t.wait_for("the sign-in to finish", |s| {
        s[0]["state"] == "signed_in" && s[0]["signingIn"] == false
    });
    assert_eq!(status[0]["account"]["email"], "alice@example.com");
    assert_eq!(status[0]["account"]["groups"], json!(["dev", "ops"]));
    assert!(status[0]["expiresAt"].is_string(), "{status:#}");
    let notes = t.notes.shown();
    assert_eq!(notes.len(), 1, "exactly one notification: {notes:?}");
    assert_eq!(notes[0].summary, "Signed in to corp as alice@example.com");
    assert_eq!(
        notes[0].body,
        "Signed in as alice@example.com (groups dev, ops). Clusters ready: prod."
    );
    let kubeconfig = std::fs::read_to_string(
        t.paths
            .home
            .parent()
            .expect("the test root")
            .join("kubeconfig"),
    )
    .expect("sign-in wrote the test's KUBECONFIG");
    for expected in [
        "name: prod",
        "name: signet-prod",
        "command: kubectl-signet",
        "--cluster",
    ] {
        assert!(
            kubeconfig.contains(expected),
            "kubeconfig has {expected:?}:\n{kubeconfig}"
        );
    }
    assert_eq!(idp.stats().token_requests.authorization_code, 1);

    // The cached ID token never reaches the UI.
    let token_file = std::fs::read_dir(t.paths.tokens_dir().join("corp"))
        .expect("the token cache exists")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().contains("kubernetes"))
        .expect("a cached token for the cluster's audience");
    let cached: Value =
        serde_json::from_slice(&std::fs::read(token_file.path()).expect("read the cached token"))
            .expect("cached token JSON");
    let id_token = cached["id_token"].as_str().expect("an ID token string");
    assert!(id_token.len() > 20);
    assert!(
        !t.status().to_string().contains(id_token),
        "status must not carry the ID token"
    );

    let out = t
        .invoke("sign_out", json!({ "provider": "corp" }))
        .expect("sign_out succeeds");
    assert_eq!(
        out,
        json!({ "provider": "corp", "revocation": "not_offered", "detail": null }),
        "Dex (and the stand-in by default) offers no revocation"
    );
    let status = t.status();
    assert_eq!(status[0]["state"], "sign_in_needed", "{status:#}");
    assert_eq!(status[0]["account"], Value::Null);
}

#[test]
fn an_error_redirect_ends_the_sign_in_and_is_shown() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(&corp_config(idp.issuer(), LoginMode::Embedded), None);
    t.invoke("sign_in", json!({ "provider": "corp" }))
        .expect("sign_in starts");
    let (label, auth_url) = t.login_window();
    let mut refused = redirect_of(&auth_url);
    refused
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "the person declined")
        .append_pair("state", &state_of(&auth_url));
    assert_eq!(
        login::decide(&refused, &redirect_of(&auth_url)),
        Navigation::Capture
    );
    login::captured(t.app.handle(), "corp", &label, refused);
    let status = t.wait_for("the failure to be recorded", |s| s[0]["state"] == "error");
    assert_eq!(status[0]["lastError"]["code"], "oidc.refused", "{status:#}");
    assert_eq!(status[0]["signingIn"], false);
    let notes = t.notes.shown();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].summary, "Sign-in to corp failed");
    assert!(
        notes[0].body.contains("access_denied") && notes[0].body.contains("the person declined"),
        "{notes:?}"
    );
    assert_eq!(idp.stats().token_requests.total, 0, "no code was redeemed");
    // The person can try again.
    let again = t
        .invoke("sign_in", json!({ "provider": "corp" }))
        .expect("a new sign-in starts after a failure");
    assert_eq!(again["alreadyRunning"], false);
}

#[test]
fn disallowed_useragent_offers_the_browser_and_switching_signs_in_that_way() {
    let idp = Idp::start(IdpOptions::default());
    let opener = FormOpener::new(None, "alice", PASSWORD);
    let delivered = opener.delivered.clone();
    let t = start(
        &corp_config(idp.issuer(), LoginMode::Embedded),
        Some(opener),
    );
    t.invoke("sign_in", json!({ "provider": "corp" }))
        .expect("sign_in starts");
    let (label, auth_url) = t.login_window();
    let mut refused = redirect_of(&auth_url);
    refused
        .query_pairs_mut()
        .append_pair("error", login::DISALLOWED_USERAGENT)
        .append_pair("state", &state_of(&auth_url));
    login::captured(t.app.handle(), "corp", &label, refused);
    t.wait_for("the refusal to be recorded", |s| s[0]["state"] == "error");
    let notes = t.notes.shown();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0].actions,
        vec![(
            login::ACTION_USE_BROWSER.to_string(),
            "Use the system browser".to_string()
        )],
        "the notification offers the switch"
    );

    assert!(
        t.notes.press(0, login::ACTION_USE_BROWSER),
        "press the notification's button"
    );
    let status = t.wait_for("a browser sign-in", |s| s[0]["state"] == "signed_in");
    assert_eq!(status[0]["loginMode"], "browser", "{status:#}");
    assert_eq!(status[0]["account"]["email"], "alice@example.com");
    let saved = Config::load(&t.paths.config_file, &t.paths.home).expect("reload the config");
    assert_eq!(
        saved.providers[0].login,
        LoginMode::Browser,
        "the switch is saved in the config"
    );
    assert_eq!(
        delivered.lock().expect("delivered lock").len(),
        1,
        "the system browser signed in once"
    );
}

#[test]
fn closing_the_login_window_cancels_the_sign_in() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(&corp_config(idp.issuer(), LoginMode::Embedded), None);
    t.invoke("sign_in", json!({ "provider": "corp" }))
        .expect("sign_in starts");
    let (label, _) = t.login_window();
    // What the window's `Destroyed` event runs (the mock runtime emits no window events).
    login::cancelled(t.app.handle(), "corp", "login-corp-999");
    assert_eq!(
        t.status()[0]["signingIn"],
        true,
        "another window's close does not cancel this sign-in"
    );
    login::cancelled(t.app.handle(), "corp", &label);
    let status = t.status();
    assert_eq!(status[0]["signingIn"], false, "{status:#}");
    assert_eq!(status[0]["state"], "sign_in_needed");
    assert_eq!(
        status[0]["lastError"],
        Value::Null,
        "cancelling is not an error"
    );
    assert!(t.notes.shown().is_empty(), "no notification for a cancel");
    let again = t
        .invoke("sign_in", json!({ "provider": "corp" }))
        .expect("a new sign-in starts after a cancel");
    assert_eq!(again["alreadyRunning"], false);
    let (second, _) = t.login_window();
    assert_ne!(second, label, "each sign-in gets its own window");
}

/// Reads the kubeconfig the test's `KUBECONFIG` names.
fn kubeconfig_text(t: &TestApp) -> String {
    let file = t
        .paths
        .kubeconfig_env
        .as_ref()
        .expect("the test paths set KUBECONFIG");
    std::fs::read_to_string(file).unwrap_or_default()
}

#[test]
fn the_switcher_sets_signet_up_from_nothing_switches_context_and_namespace_and_removes_it_again() {
    use base64::Engine as _;
    let idp = Idp::start(IdpOptions::default());
    let api = signet_tests::apiserver::ApiServer::start(
        signet_tests::apiserver::ApiServerOptions::new(idp.issuer(), "kubernetes"),
    );
    let t = start(
        &Config::default(),
        Some(FormOpener::new(None, "alice", PASSWORD)),
    );
    let config = t.invoke("config", json!({})).expect("config");
    assert_eq!(config["providers"], json!([]), "an empty start: {config:#}");
    assert_eq!(config["settings"]["warningMinutes"], 10, "{config:#}");

    // Provider: discovery first, as the form does while the person types.
    let discovery = t
        .invoke(
            "discover",
            json!({ "issuer": idp.issuer(), "caFile": null, "caData": null }),
        )
        .expect("discovery of the Dex stand-in");
    assert_eq!(discovery["issuer"], idp.issuer(), "{discovery:#}");
    assert_eq!(
        discovery["looksLikeDex"], true,
        "Dex's /auth and /token: {discovery:#}"
    );
    assert!(
        discovery["grantTypes"]
            .as_array()
            .expect("grant types")
            .contains(&json!("refresh_token")),
        "{discovery:#}"
    );
    let down = ClosedPort::new();
    let unreachable = t
        .invoke(
            "discover",
            json!({ "issuer": down.url("/dex"), "caFile": null, "caData": null }),
        )
        .expect_err("nothing listens on that port");
    assert!(
        unreachable["code"]
            .as_str()
            .expect("a code")
            .starts_with("oidc."),
        "{unreachable:#}"
    );
    let mut provider_input = json!({
        "name": "corp", "issuer": idp.issuer(), "clientId": "signet", "connector": null,
        "scopes": ["groups"], "caFile": null, "caData": null, "login": "browser",
    });
    let bad = provider_input.clone();
    let mut bad = bad;
    bad["issuer"] = json!(down.url("/dex"));
    t.invoke("save_provider", json!({ "provider": bad }))
        .expect_err("a provider whose discovery fails is not saved");
    assert!(
        !t.paths.config_file.exists()
            || !std::fs::read_to_string(&t.paths.config_file)
                .expect("read config")
                .contains(&down.url(""))
    );
    let config = t
        .invoke(
            "save_provider",
            json!({ "provider": provider_input.clone() }),
        )
        .expect("save the provider");
    assert_eq!(config["providers"][0]["name"], "corp", "{config:#}");

    // Cluster: a TLS probe with and without its CA, then add it.
    let ca_data = base64::engine::general_purpose::STANDARD.encode(&api.ca().ca_pem);
    let no_ca = t
        .invoke("probe_server", json!({ "server": api.url(), "caFile": null, "caData": null, "insecureSkipTlsVerify": false }))
        .expect_err("the stand-in's CA is private");
    assert_eq!(no_ca["code"], "cluster.tls", "{no_ca:#}");
    let probe = t
        .invoke("probe_server", json!({ "server": api.url(), "caFile": null, "caData": ca_data, "insecureSkipTlsVerify": false }))
        .expect("TLS works with the CA");
    assert!(
        probe["version"].is_string() || probe["authRequired"] == true,
        "{probe:#}"
    );
    let cluster_input = json!({
        "name": "prod", "provider": "corp", "server": api.url(), "caFile": null, "caData": ca_data,
        "insecureSkipTlsVerify": false, "audience": "kubernetes", "context": null, "namespace": null,
        "credentials": "exec", "kubeconfig": null,
    });
    t.invoke("add_cluster", json!({ "cluster": cluster_input.clone() }))
        .expect("add the cluster");
    assert!(
        kubeconfig_text(&t).contains("name: prod"),
        "the context is written at once: {}",
        kubeconfig_text(&t)
    );
    assert!(
        kubeconfig_text(&t).contains("current-context: prod"),
        "a kubeconfig without a current context gets the new one: {}",
        kubeconfig_text(&t)
    );
    let again = t
        .invoke("add_cluster", json!({ "cluster": cluster_input }))
        .expect_err("a second cluster named prod");
    assert_eq!(again["code"], "config.name_taken", "{again:#}");
    assert!(
        again["message"]
            .as_str()
            .is_some_and(|m| m.contains("a cluster named 'prod' already exists")),
        "{again:#}"
    );

    // Switch context; namespaces need a sign-in first.
    let switched = t
        .invoke(
            "use_context",
            json!({ "cluster": "prod", "namespace": null }),
        )
        .expect("use prod");
    assert_eq!(switched["context"], "prod");
    let whole = t.invoke("status", json!({})).expect("status");
    assert_eq!(whole["currentContext"], "prod", "{whole:#}");
    assert_eq!(
        whole["providers"][0]["clusters"][0]["current"], true,
        "{whole:#}"
    );
    assert!(kubeconfig_text(&t).contains("current-context: prod"));
    let not_yet = t
        .invoke("list_namespaces", json!({ "cluster": "prod" }))
        .expect_err("no session yet");
    assert_eq!(not_yet["code"], "session.sign_in_required", "{not_yet:#}");

    t.invoke("sign_in", json!({ "provider": "corp" }))
        .expect("sign in (browser mode, the form filled by the test's opener)");
    t.wait_for("corp signed in", |s| s[0]["state"] == "signed_in");
    let namespaces = t
        .invoke("list_namespaces", json!({ "cluster": "prod" }))
        .expect("list namespaces with alice's token");
    assert_eq!(namespaces["forbidden"], false);
    assert!(
        namespaces["names"]
            .as_array()
            .expect("names")
            .contains(&json!("team-a")),
        "{namespaces:#}"
    );
    t.invoke(
        "use_context",
        json!({ "cluster": "prod", "namespace": "team-a" }),
    )
    .expect("pick team-a");
    assert!(
        kubeconfig_text(&t).contains("namespace: team-a"),
        "{}",
        kubeconfig_text(&t)
    );
    let bad_ns = t
        .invoke(
            "use_context",
            json!({ "cluster": "prod", "namespace": "Not_A/Namespace" }),
        )
        .expect_err("not a namespace name");
    assert_eq!(bad_ns["code"], "config.invalid_name", "{bad_ns:#}");
    let review = t
        .invoke("test_cluster", json!({ "cluster": "prod" }))
        .expect("SelfSubjectReview");
    assert_eq!(review["username"], "alice@example.com", "{review:#}");

    // Settings land in the config file and are range-checked.
    let settings = json!({ "startAtLogin": false, "notifications": false, "warningMinutes": 30,
        "defaultKubeconfig": null, "defaultCredentials": "token", "allowForwarding": true,
        "forwardWithoutAsking": false });
    let saved = t
        .invoke("save_settings", json!({ "settings": settings }))
        .expect("save settings");
    assert_eq!(saved["warningMinutes"], 30);
    let text = std::fs::read_to_string(&t.paths.config_file).expect("read the config");
    assert!(text.contains("warning_minutes = 30"), "{text}");
    assert!(text.contains("allow_forwarding = true"), "{text}");
    let mut out_of_range = settings.clone();
    out_of_range["warningMinutes"] = json!(0);
    let refused = t
        .invoke("save_settings", json!({ "settings": out_of_range }))
        .expect_err("0 minutes");
    assert_eq!(refused["code"], "config.invalid", "{refused:#}");

    // The activity log tells the story, without a token.
    let activity = t.invoke("activity", json!({})).expect("activity");
    let kinds: Vec<&str> = activity
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in ["signed_in", "context_switched", "config_changed"] {
        assert!(kinds.contains(&kind), "{kind} in {activity:#}");
    }
    let cache = signet_core::token_store::TokenCache::new(&t.paths);
    let token = cache
        .read("corp", "kubernetes")
        .expect("a cached token after the sign-in");
    assert!(
        !activity.to_string().contains(token.id_token.expose()),
        "no token in the activity log"
    );

    // Removing: the cluster's entries go; the provider goes with its session.
    provider_input["login"] = json!("embedded");
    t.invoke("save_provider", json!({ "provider": provider_input }))
        .expect("edit the provider");
    t.invoke(
        "remove_cluster",
        json!({ "cluster": "prod", "name": "prod" }),
    )
    .expect("remove prod");
    assert!(
        !kubeconfig_text(&t).contains("name: prod"),
        "{}",
        kubeconfig_text(&t)
    );
    let config = t
        .invoke("remove_provider", json!({ "name": "corp" }))
        .expect("remove corp");
    assert_eq!(config["providers"], json!([]), "{config:#}");
    assert!(
        cache.read_session("corp").is_none(),
        "removing the provider signed it out"
    );
}

#[test]
fn import_through_the_switcher_previews_without_changing_anything_then_applies_with_a_backup() {
    let idp = Idp::start(IdpOptions::default());
    let api = signet_tests::apiserver::ApiServer::start(
        signet_tests::apiserver::ApiServerOptions::new(idp.issuer(), "signet"),
    );
    let t = start(&Config::default(), None);
    let fixture = include_str!("../crates/kubectl-signet/tests/fixtures/kubelogin-kubeconfig.yaml")
        .replace("@ISSUER@", idp.issuer())
        .replace("@SERVER@", api.url())
        .replace("@CA@", &api.ca().ca_file.display().to_string());
    let file = t.paths.kubeconfig_env.clone().expect("KUBECONFIG");
    std::fs::write(&file, &fixture).expect("write the fixture kubeconfig");
    let source = json!({ "kind": "kubeconfig", "path": null });
    let preview = t
        .invoke("import_preview", json!({ "source": source }))
        .expect("preview");
    assert_eq!(preview["empty"], false, "{preview:#}");
    let adopted: Vec<&str> = preview["adoptions"]
        .as_array()
        .expect("adoptions")
        .iter()
        .filter_map(|a| a["context"].as_str())
        .collect();
    assert!(!adopted.is_empty(), "{preview:#}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read kubeconfig"),
        fixture,
        "a preview changes nothing"
    );
    assert!(
        !t.paths.config_file.exists()
            || Config::load(&t.paths.config_file, &t.paths.home)
                .expect("config")
                .providers
                .is_empty()
    );
    let result = t
        .invoke(
            "import_apply",
            json!({ "source": source, "allowInsecure": [] }),
        )
        .expect("apply");
    assert_eq!(
        result["adopted"].as_array().map(Vec::len),
        Some(adopted.len()),
        "{result:#}"
    );
    assert_eq!(
        result["backups"].as_array().map(Vec::len),
        Some(1),
        "{result:#}"
    );
    let status = t.status();
    assert!(
        !status.as_array().expect("providers").is_empty(),
        "{status:#}"
    );
    let bad = t
        .invoke(
            "import_preview",
            json!({ "source": { "kind": "catalog", "location": "  " } }),
        )
        .expect_err("no location");
    assert_eq!(bad["code"], "app.invalid_input");
}

/// Records the URLs the app asks the desktop to open.
#[derive(Default)]
struct RecordingOpener(std::sync::Mutex<Vec<Url>>);

impl UrlOpener for RecordingOpener {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.0.lock().expect("opener lock").push(url.clone());
        Ok(())
    }
}

#[test]
fn open_kubeconfig_location_opens_the_folder_of_the_clusters_kubeconfig() {
    let opener = Arc::new(RecordingOpener::default());
    let idp_down = ClosedPort::new();
    let t = start_with_opener(
        &corp_config(&idp_down.url("/dex"), LoginMode::Embedded),
        opener.clone(),
    );
    t.invoke("open_kubeconfig_location", json!({ "cluster": "prod" }))
        .expect("open the folder");
    let folder = t
        .paths
        .kubeconfig_env
        .as_ref()
        .map(std::path::PathBuf::from)
        .and_then(|f| f.parent().map(|p| p.to_path_buf()))
        .expect("the kubeconfig's folder");
    let opened = opener.0.lock().expect("opener lock").clone();
    assert_eq!(
        opened,
        [Url::from_directory_path(&folder).expect("an absolute folder")],
        "the folder, as a file:// URL, and nothing else"
    );
    let unknown = t
        .invoke("open_kubeconfig_location", json!({ "cluster": "nope" }))
        .expect_err("no such cluster");
    assert_eq!(unknown["code"], "app.invalid_input", "{unknown:#}");
}
