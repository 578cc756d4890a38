//! The tray app's logs at the most verbose level (every crate, TRACE) hold no secret (DESIGN.md §6):
//! an embedded sign-in (the redirect caught by the login window), a device sign-in, and the agent's
//! `token` answers — fresh and after a refresh — leave no ID or refresh token, authorization code,
//! `state`, PKCE verifier or device code in what the app logs. The engine's own version is
//! `tests/tests/log_redaction.rs`; this one runs the app's code around it on Tauri's mock runtime.
//!
//! One test per file: it installs the process-wide subscriber.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signet_app::login::{self, Logins};
use signet_app::notify::RecordingNotifier;
use signet_app::{Services, build_app};
use signet_core::agent::{AgentClient, Request};
use signet_core::config::{Config, LoginMode};
use signet_core::oidc::opener::UrlOpener;
use signet_core::paths::Paths;
use signet_core::token_store::{MemoryStore, SecretStore, TokenCache};
use signet_tests::browser::FormBrowser;
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::world::{CapturedLogs, TestClock, cluster, provider};
use tauri::Manager;
use tauri::test::mock_builder;
use url::Url;

/// Keeps the URLs the app asks to open (the device flow's verification page) for the test to visit.
#[derive(Debug, Default)]
struct RecordingOpener(Mutex<Vec<Url>>);

impl UrlOpener for RecordingOpener {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.0.lock().expect("opener lock").push(url.clone());
        Ok(())
    }
}

fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_secret_reaches_the_app_logs_at_trace_level() {
    let logs = CapturedLogs::install_at_trace();

    let idp = Idp::start(IdpOptions {
        device_interval: Some(1),
        ..IdpOptions::default()
    });
    let root = tempfile::tempdir().expect("create the test root");
    let paths = Paths::under(root.path());
    std::fs::create_dir_all(&paths.home).expect("create HOME");
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Embedded;
    let mut dev = provider("dev", idp.issuer(), None);
    dev.login = LoginMode::Device;
    Config {
        providers: vec![corp, dev],
        clusters: vec![
            cluster("prod", "corp", Some("kubernetes")),
            cluster("staging", "dev", Some("kubernetes")),
        ],
        ..Config::default()
    }
    .save(&paths.config_file)
    .expect("save the test config");
    let store = Arc::new(MemoryStore::new());
    let clock = TestClock::new();
    let opener = Arc::new(RecordingOpener::default());
    let services = Services {
        paths: paths.clone(),
        secrets: store.clone(),
        clock: clock.clone(),
        notifier: RecordingNotifier::new(),
        opener: opener.clone(),
        kubectl_plugin: "kubectl-signet".into(),
        desktop: false,
        open_switcher: false,
    };
    let app = build_app(mock_builder(), services, signet_app::context())
        .expect("build the app on the mock runtime");
    let handle = app.handle();
    let logins = app.state::<Logins>();
    let mut secrets: Vec<(&str, String)> = Vec::new();

    // Embedded sign-in: the login window loads the authorization URL; the person signs in; the window
    // catches the redirect with the code.
    let ticket = logins.ticket("corp");
    login::start(handle, "corp").expect("the embedded sign-in starts");
    let label = logins.window_of("corp").expect("a login window is open");
    let auth_url = app
        .get_webview_window(&label)
        .expect("the login window")
        .url()
        .expect("its URL");
    let callback = FormBrowser::new(None)
        .login(auth_url.as_str(), "alice", PASSWORD)
        .expect("sign in through the stand-in's form");
    for (k, v) in callback.query_pairs() {
        match &*k {
            "code" => secrets.push(("authorization code", v.into_owned())),
            "state" => secrets.push(("state", v.into_owned())),
            _ => {}
        }
    }
    login::captured(handle, "corp", &label, callback);
    assert_eq!(
        logins.wait(&ticket, Duration::from_secs(30)),
        Some(Ok(())),
        "the embedded sign-in succeeds"
    );

    // Device sign-in: the code is shown, the verification page opened; the person approves it there.
    let ticket = logins.ticket("dev");
    login::start(handle, "dev").expect("the device sign-in starts");
    let page = wait("the verification page to be opened", || {
        opener.0.lock().expect("opener lock").first().cloned()
    });
    FormBrowser::new(None)
        .approve_device(page.as_str(), None, "bob", PASSWORD)
        .expect("approve the device sign-in");
    assert_eq!(
        logins.wait(&ticket, Duration::from_secs(30)),
        Some(Ok(())),
        "the device sign-in succeeds"
    );
    let device_codes = idp.device_codes();
    assert_eq!(device_codes.len(), 1, "one device code was issued");
    secrets.extend(device_codes.into_iter().map(|c| ("device code", c)));

    // The agent's `token` answers: cached first, then (an hour later) refreshed.
    let socket = signet_app::agent::start(handle).expect("the agent socket is served");
    let cache = TokenCache::new(&paths);
    for name in ["corp", "dev"] {
        secrets.push((
            "ID token",
            cache
                .read(name, "kubernetes")
                .expect("a cached token")
                .id_token
                .expose()
                .to_string(),
        ));
        secrets.push((
            "refresh token",
            store
                .get(name)
                .expect("the store")
                .expect("a refresh token")
                .expose()
                .to_string(),
        ));
    }
    let ask = |cluster: &str| -> String {
        let answer = AgentClient::connect(&socket)
            .expect("the agent accepts a connection")
            .request(&Request::token(cluster), Duration::from_secs(60))
            .expect("the agent answers")
            .expect("a token");
        answer["token"]
            .as_str()
            .expect("a token string")
            .to_string()
    };
    for cluster in ["prod", "staging"] {
        secrets.push(("ID token (agent)", ask(cluster)));
    }
    clock.advance(3600);
    for cluster in ["prod", "staging"] {
        secrets.push(("refreshed ID token (agent)", ask(cluster)));
    }
    assert!(
        idp.stats().token_requests.refresh_token >= 2,
        "the agent's answers an hour later came from refreshes"
    );
    for name in ["corp", "dev"] {
        secrets.push((
            "rotated refresh token",
            store
                .get(name)
                .expect("the store")
                .expect("a refresh token")
                .expose()
                .to_string(),
        ));
    }

    let text = logs.text();
    for expected in [
        "caught the sign-in redirect",
        "login window opened",
        "session refreshed",
    ] {
        assert!(
            text.contains(expected),
            "the app's own events are captured ({expected:?}):\n{text}"
        );
    }
    assert!(
        text.lines().count() > 50,
        "verbose logging really captured lines:\n{text}"
    );
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "a real {what}: {secret:?}");
        assert!(
            !text.contains(secret.as_str()),
            "{what} leaked into the logs: …{}…",
            &secret[..8]
        );
    }
    for marker in [
        "code_verifier",
        "refresh_token=",
        "device_code=",
        "id_token=",
        "eyJ",
    ] {
        assert!(!text.contains(marker), "{marker:?} appears in the logs");
    }
}
