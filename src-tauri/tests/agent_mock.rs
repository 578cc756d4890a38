//! The agent and background refresh in-process, on Tauri's mock runtime, against the Dex stand-in:
//! `kubectl-signet`'s requests go over the real agent socket (in the test's own runtime dir); the login
//! window is the mock runtime's, so the person's part (the IdP's form) is played by `FormBrowser`, and
//! the window's close by calling what its `Destroyed` event runs. Time for the refresher comes from a
//! clock the test moves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, TimeDelta, Utc};
use serde_json::Value;
use signet_app::actions::{self, Action};
use signet_app::login::{self, Logins};
use signet_app::notify::{Note, Notifier, OnAction, RecordingNotifier, UNSHOWN};
use signet_app::refresher::{self, Refresher};
use signet_app::{AppState, Services, build_app};
use signet_core::Secret;
use signet_core::agent::{AgentClient, AgentFailure, Request};
use signet_core::config::{Config, LoginMode};
use signet_core::oidc::Identity;
use signet_core::paths::Paths;
use signet_core::token_store::{CachedToken, MemoryStore, SecretStore, SessionRecord, TokenCache};
use signet_tests::browser::FormBrowser;
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::world::{ClosedPort, FormOpener, TestClock, cluster, provider};
use tauri::test::{MockRuntime, mock_builder};
use tauri::{App, Manager};

struct TestApp {
    app: App<MockRuntime>,
    notes: Arc<RecordingNotifier>,
    clock: Arc<TestClock>,
    paths: Paths,
    socket: PathBuf,
    _root: tempfile::TempDir,
}

fn start(issuer: &str) -> TestApp {
    let mut corp = provider("corp", issuer, None);
    corp.login = LoginMode::Embedded;
    start_with(
        Config {
            providers: vec![corp],
            clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
            ..Config::default()
        },
        |_| {},
    )
}

/// The app with `config`; `seed` may put sessions in the cache and the secret store before it starts.
fn start_with(config: Config, seed: impl FnOnce(&Seed<'_>)) -> TestApp {
    start_noting(config, None, seed)
}

/// [`start_with`], showing notifications through `notifier` instead of the recording one.
fn start_noting(
    config: Config,
    notifier: Option<Arc<dyn Notifier>>,
    seed: impl FnOnce(&Seed<'_>),
) -> TestApp {
    let root = tempfile::tempdir().expect("create the test root");
    let paths = Paths::under(root.path());
    std::fs::create_dir_all(&paths.home).expect("create HOME");
    config
        .save(&paths.config_file)
        .expect("save the test config");
    let secrets = Arc::new(MemoryStore::new());
    seed(&Seed {
        paths: &paths,
        secrets: &secrets,
    });
    let notes = RecordingNotifier::new();
    let clock = TestClock::new();
    let services = Services {
        paths: paths.clone(),
        secrets,
        clock: clock.clone(),
        notifier: notifier.unwrap_or_else(|| notes.clone()),
        opener: Arc::new(FormOpener::new(None, "nobody", "wrong")),
        kubectl_plugin: "kubectl-signet".into(),
        desktop: false,
        open_switcher: false,
    };
    let app = build_app(mock_builder(), services, signet_app::context())
        .expect("build the app on the mock runtime");
    let socket = signet_app::agent::start(app.handle()).expect("the agent socket is served");
    assert_eq!(
        socket,
        root.path().join("runtime/signet/agent.sock"),
        "the socket lives in the runtime dir"
    );
    TestApp {
        app,
        notes,
        clock,
        paths,
        socket,
        _root: root,
    }
}

/// Where a test puts sessions before the app starts.
struct Seed<'a> {
    paths: &'a Paths,
    secrets: &'a MemoryStore,
}

impl Seed<'_> {
    /// A session for `provider` begun at `at` whose one ID token (for `audience`) ends at `ends_at`;
    /// `refresh_token` is what the keyring holds (`None`: the provider issued none, like a SAML connector).
    fn session(
        &self,
        provider: &str,
        audience: &str,
        at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        refresh_token: Option<&str>,
    ) {
        let identity = Identity {
            subject: "CgVhbGljZQ".into(),
            email: Some("alice@example.com".into()),
            email_verified: Some(true),
            name: Some("Alice".into()),
            groups: vec![],
            audiences: vec![audience.into()],
        };
        let cache = TokenCache::new(self.paths);
        cache
            .write_session(&SessionRecord {
                provider: provider.into(),
                identity: identity.clone(),
                signed_in_at: at,
                refreshed_at: None,
                refreshable: refresh_token.is_some(),
            })
            .expect("seed the session record");
        cache
            .write(&CachedToken {
                version: 1,
                provider: provider.into(),
                audience: audience.into(),
                id_token: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
                expires_at: ends_at,
                issued_at: at,
                identity,
            })
            .expect("seed the cached token");
        if let Some(rt) = refresh_token {
            self.secrets
                .set(provider, &Secret::new(rt))
                .expect("seed the refresh token");
        }
    }
}

fn ask(socket: &Path, request: &Request) -> Result<Value, AgentFailure> {
    AgentClient::connect(socket)
        .expect("the agent accepts a connection")
        .request(request, Duration::from_secs(60))
        .expect("the agent answers")
}

fn login(provider: &str, interactive: bool) -> Request {
    Request::Login {
        provider: provider.into(),
        interactive,
    }
}

impl TestApp {
    fn login_windows(&self) -> BTreeSet<String> {
        self.app
            .webview_windows()
            .into_keys()
            .filter(|label| label.starts_with("login-corp-"))
            .collect()
    }

    fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; notifications: {:?}",
                self.notes.shown()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts `n` interactive `login` requests on their own connections and waits until all of them wait
    /// for the sign-in.
    fn concurrent_logins(
        &self,
        n: usize,
    ) -> Vec<std::thread::JoinHandle<Result<Value, AgentFailure>>> {
        let clients: Vec<_> = (0..n)
            .map(|_| {
                let socket = self.socket.clone();
                std::thread::spawn(move || ask(&socket, &login("corp", true)))
            })
            .collect();
        self.wait("every request to wait for the sign-in", || {
            (self.app.state::<Logins>().waiting("corp") == n).then_some(())
        });
        clients
    }

    fn state(&self) -> tauri::State<'_, AppState> {
        self.app.state::<AppState>()
    }

    /// Signs in through the login window the way a person would.
    fn finish_sign_in_in(&self, label: &str) {
        let window = self
            .app
            .get_webview_window(label)
            .expect("the login window is open");
        let auth_url = window.url().expect("the login window's URL");
        let callback = FormBrowser::new(None)
            .login(auth_url.as_str(), "alice", PASSWORD)
            .expect("sign in through the stand-in's form");
        login::captured(self.app.handle(), "corp", label, callback);
    }
}

fn new_window(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    after.difference(before).cloned().collect()
}

#[test]
fn concurrent_logins_share_one_window_and_all_get_its_result() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(idp.issuer());
    const N: usize = 8;

    // Round 1: the person closes the window. Every request gets the cancellation.
    let before = t.login_windows();
    let clients = t.concurrent_logins(N);
    let opened = new_window(&before, &t.login_windows());
    assert_eq!(
        opened.len(),
        1,
        "{N} concurrent login requests open exactly one login window: {opened:?}"
    );
    let label = &opened[0];
    if let Some(window) = t.app.get_webview_window(label) {
        let _ = window.destroy();
    }
    // What the window's `Destroyed` event runs (the mock runtime emits no window events).
    login::cancelled(t.app.handle(), "corp", label);
    for client in clients {
        let failure = client
            .join()
            .expect("the client thread")
            .expect_err("a cancelled sign-in is a failure for everyone who waited");
        assert_eq!(failure.code, "app.sign_in_cancelled", "{failure:?}");
        assert!(
            failure.message.contains("kubectl signet login corp"),
            "the message says what to do next: {}",
            failure.message
        );
    }
    assert!(t.notes.shown().is_empty(), "no notification for a cancel");

    // Round 2: the person signs in. Every request gets the success.
    let before = t.login_windows();
    let clients = t.concurrent_logins(N);
    let opened = new_window(&before, &t.login_windows());
    assert_eq!(opened.len(), 1, "again exactly one window: {opened:?}");
    t.finish_sign_in_in(&opened[0]);
    for client in clients {
        let answer = client
            .join()
            .expect("the client thread")
            .expect("a finished sign-in is a success for everyone who waited");
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["signed_in"], true, "{answer}");
    }
    assert_eq!(
        idp.stats().token_requests.authorization_code,
        1,
        "one sign-in for all of them"
    );
    // The waiters hear of the sign-in once kubeconfig is written; the notification follows.
    let notes = t.wait("the signed-in notification", || {
        let notes = t.notes.shown();
        (!notes.is_empty()).then_some(notes)
    });
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].summary, "Signed in to corp as alice@example.com");
    let kubeconfig = std::fs::read_to_string(t.paths.home.with_file_name("kubeconfig"))
        .expect("kubeconfig is written before the waiters are answered");
    assert!(kubeconfig.contains("name: prod"), "{kubeconfig}");

    // Signed in: a late request is answered at once, without a window.
    let before = t.login_windows();
    let answer = ask(&t.socket, &login("corp", true)).expect("already signed in");
    assert_eq!(answer["signed_in"], true);
    assert_eq!(t.login_windows(), before, "no new window");

    // `token` serves the cached token; `status` never carries it.
    let cached = TokenCache::new(&t.paths)
        .read("corp", "kubernetes")
        .expect("the sign-in cached a token");
    let answer = ask(&t.socket, &Request::token("prod")).expect("a token for prod");
    assert_eq!(
        answer["token"],
        cached.id_token.expose(),
        "the cached token"
    );
    assert_eq!(
        answer["expires_at"],
        serde_json::to_value(cached.expires_at).expect("time JSON")
    );
    let status = ask(&t.socket, &Request::Status).expect("status");
    assert_eq!(status["providers"][0]["name"], "corp", "{status}");
    assert_eq!(
        status["providers"][0]["account"]["email"],
        "alice@example.com"
    );
    assert_eq!(
        status["providers"],
        serde_json::to_value(t.state().providers()).expect("DTO JSON"),
        "status answers the same DTOs as the status command"
    );
    assert!(
        !status.to_string().contains(cached.id_token.expose()),
        "status never carries a token"
    );

    // Unknown names are errors with the core's codes.
    let failure = ask(&t.socket, &Request::token("nope")).expect_err("no such cluster");
    assert_eq!(failure.code, "session.unknown_cluster");
    let failure = ask(&t.socket, &login("nope", true)).expect_err("no such provider");
    assert_eq!(failure.code, "session.unknown_provider");
}

#[test]
fn non_interactive_login_answers_at_once_and_notifies_once_per_five_minutes() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(idp.issuer());
    let started = Instant::now();
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let socket = t.socket.clone();
            std::thread::spawn(move || ask(&socket, &login("corp", false)))
        })
        .collect();
    for client in clients {
        let failure = client
            .join()
            .expect("the client thread")
            .expect_err("sign-in needed");
        assert_eq!(failure.code, "session.sign_in_required", "{failure:?}");
        assert!(
            failure.message.contains("`kubectl signet login corp`"),
            "the answer names the command: {}",
            failure.message
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at once, not after a sign-in ({:?})",
        started.elapsed()
    );
    assert!(
        t.login_windows().is_empty(),
        "no window for non-interactive requests"
    );
    let notes = t.notes.shown();
    assert_eq!(
        notes.len(),
        1,
        "exactly one notification for six requests: {notes:?}"
    );
    assert_eq!(notes[0].summary, "Sign-in needed for corp");
    assert_eq!(
        notes[0].body,
        "Your session with corp has ended. Sign in again to keep using prod."
    );
    assert_eq!(
        notes[0].actions,
        vec![(refresher::ACTION_SIGN_IN.into(), "Sign in".into())]
    );

    t.clock.advance(299);
    ask(&t.socket, &login("corp", false)).expect_err("still sign-in needed");
    assert_eq!(t.notes.shown().len(), 1, "still within five minutes");
    t.clock.advance(2);
    ask(&t.socket, &login("corp", false)).expect_err("still sign-in needed");
    assert_eq!(t.notes.shown().len(), 2, "five minutes later, one more");

    // The notification's "Sign in" button opens the login window.
    assert!(t.notes.press(0, refresher::ACTION_SIGN_IN), "press Sign in");
    t.wait("the login window", || {
        t.app.state::<Logins>().window_of("corp")
    });
    assert_eq!(t.login_windows().len(), 1);
}

/// Signs in through the agent, as `kubectl-signet` with an interactive caller would, and waits for the
/// signed-in notification.
fn sign_in(t: &TestApp) {
    let before = t.login_windows();
    let clients = t.concurrent_logins(1);
    let opened = new_window(&before, &t.login_windows());
    t.finish_sign_in_in(&opened[0]);
    for client in clients {
        client
            .join()
            .expect("the client thread")
            .expect("signed in");
    }
    t.wait("the signed-in notification", || {
        (!t.notes.shown().is_empty()).then_some(())
    });
}

#[test]
fn the_refresher_refreshes_before_expiry_and_a_revoked_session_notifies_once() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(idp.issuer());
    sign_in(&t);
    let handle = t.app.handle();
    let mut refresher = Refresher::new(1);
    let first = TokenCache::new(&t.paths)
        .read("corp", "kubernetes")
        .expect("a cached token");
    assert_eq!(
        TokenCache::new(&t.paths)
            .read_session("corp")
            .and_then(|r| r.refreshed_at),
        None,
        "not refreshed yet"
    );

    let next = refresher.round(handle).expect("a refresh is planned");
    assert_eq!(idp.stats().token_requests.refresh_token, 0, "not due yet");
    let now = t.state().now();
    assert!(
        next > now && next <= first.expires_at - chrono::TimeDelta::minutes(2),
        "planned at least 2 min before expiry: {next} (expires {})",
        first.expires_at
    );

    // Time passes to the planned moment (a suspend would look the same).
    t.clock.advance((next - now).num_seconds() + 1);
    let after = refresher
        .round(handle)
        .expect("the next refresh is planned");
    assert_eq!(
        idp.stats().token_requests.refresh_token,
        1,
        "refreshed once"
    );
    // (The token itself may be byte-identical: the IdP's clock did not move, only the test's.)
    let record = TokenCache::new(&t.paths)
        .read_session("corp")
        .expect("the session record");
    assert_eq!(
        record.refreshed_at.map(|r| r > now),
        Some(true),
        "the session record says it was refreshed: {record:?}"
    );
    assert!(after > t.state().now(), "the next refresh is in the future");
    assert_eq!(t.notes.shown().len(), 1, "only the signed-in notification");

    // The IdP ends the session.
    idp.revoke("alice");
    t.clock.advance((after - t.state().now()).num_seconds() + 1);
    assert_eq!(refresher.round(handle), None, "nothing left to plan");
    assert_eq!(idp.stats().token_requests.refresh_token, 2);
    let status = t.state().providers();
    assert_eq!(
        status[0].account, None,
        "the session is forgotten: {status:?}"
    );
    let notes = t.notes.shown();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[1].summary, "Sign-in needed for corp");
    for _ in 0..3 {
        t.clock.advance(600);
        refresher.round(handle);
    }
    assert_eq!(
        idp.stats().token_requests.refresh_token,
        2,
        "a dead session is not tried again"
    );
    assert_eq!(t.notes.shown().len(), 2, "and not notified again");
}

#[test]
fn network_failures_are_retried_with_backoff_and_reported_once() {
    let idp = Idp::start(IdpOptions::default());
    let t = start(idp.issuer());
    sign_in(&t);
    let handle = t.app.handle();
    let mut refresher = Refresher::new(1);
    let next = refresher.round(handle).expect("a refresh is planned");
    // The IdP goes away (discovery is already cached, so the token request meets a closed port).
    drop(idp);
    // Frozen: each retry is planned from the failure's "now", and no real time passes between that and
    // this test's reading of it, however slow the failing request was.
    t.clock.freeze();
    t.clock.advance((next - t.state().now()).num_seconds() + 1);
    let mut retries = Vec::new();
    for _ in 0..5 {
        let retry = refresher.round(handle).expect("a retry is planned");
        let wait = (retry - t.state().now()).num_milliseconds();
        retries.push(wait);
        t.clock.advance(wait / 1000 + 1);
    }
    assert_eq!(
        retries,
        vec![5_000, 10_000, 20_000, 40_000, 80_000],
        "backoff doubles from 5 s (milliseconds, exactly)"
    );
    let notes = t.notes.shown();
    let failing: Vec<_> = notes
        .iter()
        .filter(|n| n.summary == "Refreshing corp is failing (network)")
        .collect();
    assert_eq!(failing.len(), 1, "one notice for the streak: {notes:?}");
    assert!(
        failing[0].body.contains("3 times in a row"),
        "{:?}",
        failing[0]
    );
    let status = t.state().providers();
    assert_eq!(
        status[0].account.as_ref().map(|a| a.email.clone()),
        Some(Some("alice@example.com".into())),
        "network trouble keeps the session"
    );
}

/// Issue 12: a provider that issues no refresh token (a connector that cannot refresh, SAML behind
/// Dex) cannot keep its session going, so the person is told once, `settings.warning_minutes` before
/// it ends, with a "Sign in" button. A refreshable session that ends at the same moment is refreshed
/// instead and never gets that warning.
#[test]
fn a_session_that_cannot_refresh_is_warned_about_once_before_it_ends() {
    // Nobody answers for either provider: the warning needs no network, and dev's refreshes fail.
    let idp_down = ClosedPort::new();
    let began = Utc::now();
    let ends_at = began + TimeDelta::hours(1);
    let mut config = Config {
        providers: vec![
            provider("corp", &idp_down.url("/corp"), None),
            provider("dev", &idp_down.url("/dev"), None),
        ],
        clusters: vec![
            cluster("prod", "corp", Some("kubernetes")),
            cluster("staging", "dev", Some("kubernetes")),
        ],
        ..Config::default()
    };
    config.settings.warning_minutes = 15;
    let t = start_with(config, |seed| {
        seed.session("corp", "kubernetes", began, ends_at, None);
        seed.session(
            "dev",
            "kubernetes",
            began,
            ends_at,
            Some("dev-refresh-token"),
        );
    });
    t.clock.freeze();
    let handle = t.app.handle();
    let mut refresher = Refresher::new(1);
    let ends_soon = |notes: &[signet_app::notify::Note]| -> Vec<signet_app::notify::Note> {
        notes
            .iter()
            .filter(|n| n.summary.ends_with("ends soon"))
            .cloned()
            .collect()
    };
    // Moves the frozen clock to within a second after `at`.
    let move_to = |at: DateTime<Utc>| {
        let left = (at - t.state().now()).num_milliseconds();
        t.clock.advance(left.div_euclid(1000) + 1);
    };

    let warn_at = ends_at - TimeDelta::minutes(15);
    assert_eq!(
        refresher.round(handle),
        Some(warn_at),
        "the first thing planned is corp's warning, warning_minutes (15) before its session ends"
    );
    move_to(warn_at - TimeDelta::seconds(2));
    refresher.round(handle);
    assert!(
        t.notes.shown().is_empty(),
        "no warning before warning_minutes: {:?}",
        t.notes.shown()
    );

    move_to(warn_at);
    refresher.round(handle);
    let notes = t.notes.shown();
    assert_eq!(notes.len(), 1, "exactly one notification: {notes:?}");
    assert_eq!(notes[0].summary, "Session for corp ends soon");
    assert_eq!(
        notes[0].body,
        format!(
            "corp cannot refresh sessions; yours ends at {}. Sign in again to keep using prod.",
            ends_at.with_timezone(&Local).format("%H:%M")
        )
    );
    assert_eq!(
        notes[0].actions,
        vec![(refresher::ACTION_SIGN_IN.into(), "Sign in".into())],
        "the warning offers to sign in"
    );

    // The rest of both sessions, a minute at a time (longer than the 5-minute notification window):
    // dev is due for refresh and fails (its IdP is down), corp just runs out.
    for _ in 0..20 {
        t.clock.advance(60);
        refresher.round(handle);
    }
    assert!(t.state().now() > ends_at, "both sessions are over");
    let notes = t.notes.shown();
    let warnings = ends_soon(&notes);
    assert_eq!(
        warnings.len(),
        1,
        "one warning for corp's session, none for dev's refreshable one: {notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.summary == "Refreshing dev is failing (network)"),
        "dev was really due and tried to refresh (and so was in the warning window): {notes:?}"
    );
}

/// Issue 12: a device sign-in the tray runs (the code shown in a notification, `kubectl-signet` waiting
/// on it through the agent) can be cancelled from the tray ("Cancel sign-in to corp"): it ends at once
/// as cancelled for whoever waits — well inside the 5 s poll interval —, nothing is cached, nothing
/// else is notified, and the IdP sees no poll after it.
#[test]
fn a_device_sign_in_cancelled_from_the_tray_ends_at_once_and_stops_polling() {
    // Dex's poll interval (5 s), so "at once" is shorter than one wait between two polls.
    let idp = Idp::start(IdpOptions::default());
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Device;
    let t = start_with(
        Config {
            providers: vec![corp],
            clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
            ..Config::default()
        },
        |_| {},
    );
    let client = t.concurrent_logins(1).pop().expect("one client");
    let shown = t.wait("the device code to be shown", || {
        t.notes.shown().into_iter().next()
    });
    assert_eq!(shown.summary, "Sign in to corp", "{shown:?}");
    t.wait("the first poll", || {
        (idp.stats().token_requests.device_code >= 1).then_some(())
    });

    let cancelled_at = Instant::now();
    actions::perform(t.app.handle(), Action::CancelSignIn("corp".into()));
    t.wait(
        "the waiting request to be answered after the cancellation",
        || client.is_finished().then_some(()),
    );
    let failure = client
        .join()
        .expect("the client thread")
        .expect_err("a cancelled sign-in is a failure for whoever waited");
    let took = cancelled_at.elapsed();
    assert_eq!(failure.code, "app.sign_in_cancelled", "{failure:?}");
    assert!(
        took < Duration::from_millis(2500),
        "the sign-in ended at once, not at the next poll or when the code expired ({took:?})"
    );
    let polls = idp.stats().token_requests.device_code;

    // Longer than the poll interval: a poll loop still running would have polled again.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        idp.stats().token_requests.device_code,
        polls,
        "no poll after the cancellation"
    );
    assert!(
        TokenCache::new(&t.paths).read_session("corp").is_none(),
        "nothing is cached"
    );
    assert_eq!(t.state().providers()[0].account, None, "not signed in");
    let notes = t.notes.shown();
    assert_eq!(notes.len(), 1, "only the code was notified: {notes:?}");
    assert_eq!(
        t.app.state::<Logins>().window_of("corp"),
        None,
        "no sign-in left behind"
    );

    // A new sign-in can start, and signing out while it polls ends it the same way.
    let client = t.concurrent_logins(1).pop().expect("one client");
    t.wait("the second code to be shown", || {
        (t.notes.shown().len() == 2).then_some(())
    });
    login::sign_out(t.app.handle(), "corp").expect("sign out");
    t.wait(
        "the waiting request to be answered after the sign-out",
        || client.is_finished().then_some(()),
    );
    let failure = client
        .join()
        .expect("the client thread")
        .expect_err("signing out cancels the sign-in");
    assert_eq!(failure.code, "app.sign_in_cancelled", "{failure:?}");
    assert!(
        TokenCache::new(&t.paths).read_session("corp").is_none(),
        "still nothing cached"
    );
}

/// A desktop with no notification server: every note is reported unshown, as the desktop notifier does.
struct NoNotificationServer;

impl Notifier for NoNotificationServer {
    fn notify(&self, _note: Note, on_action: Option<OnAction>) {
        if let Some(on_action) = on_action {
            on_action(UNSHOWN);
        }
    }
}

/// The forwarding socket in-process: off → refused; on → `status` is not served, a token waits for the
/// person's "Allow for this session" and is then served (and listed in the Activity log) without a second
/// question; with no notification server to ask through, a request is refused at once, saying so.
#[test]
fn the_forwarding_socket_serves_tokens_only_with_the_persons_consent() {
    let now = Utc::now();
    let session = |seed: &Seed<'_>| {
        seed.session(
            "corp",
            "kubernetes",
            now,
            now + TimeDelta::hours(1),
            Some("rt"),
        );
    };
    let idp_down = ClosedPort::new();
    let mut config = Config {
        providers: vec![provider("corp", &idp_down.url("/dex"), None)],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    };
    let t = start_with(config.clone(), session);
    let socket = signet_app::forward::start(t.app.handle()).expect("the forwarding socket");
    let failure = ask(&socket, &Request::token("prod")).expect_err("forwarding is off");
    assert_eq!(failure.code, "forward.off", "{failure:?}");

    config.settings.allow_forwarding = true;
    config
        .save(&t.paths.config_file)
        .expect("turn forwarding on");
    t.state().reload();
    let failure = ask(&socket, &Request::Status).expect_err("not served to other hosts");
    assert_eq!(failure.code, "forward.not_served");
    let asking = {
        let socket = socket.clone();
        std::thread::spawn(move || ask(&socket, &Request::token("prod")))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.notes.shown().is_empty() {
        assert!(Instant::now() < deadline, "the person is asked");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        t.notes.shown()[0].summary,
        "kubectl on another host wants a token for prod"
    );
    assert!(t.notes.press(0, "allow-session"));
    let answer = asking
        .join()
        .expect("the request thread")
        .expect("served once allowed");
    let cached = TokenCache::new(&t.paths)
        .read("corp", "kubernetes")
        .expect("cached");
    assert_eq!(answer["token"], cached.id_token.expose());
    ask(&socket, &Request::token("prod")).expect("the session is allowed");
    assert_eq!(t.notes.shown().len(), 1, "asked once for the session");
    let forwarded = t
        .state()
        .activity()
        .into_iter()
        .filter(|e| e.kind == signet_app::dto::ActivityKind::Forwarded)
        .count();
    assert_eq!(forwarded, 2, "every forwarded token is in the Activity log");

    let quiet = start_noting(config, Some(Arc::new(NoNotificationServer)), session);
    let socket = signet_app::forward::start(quiet.app.handle()).expect("the forwarding socket");
    let asked = Instant::now();
    let failure = ask(&socket, &Request::token("prod")).expect_err("nobody could be asked");
    assert_eq!(failure.code, "forward.cannot_ask", "{failure:?}");
    assert!(
        failure.message.contains("no notification server"),
        "{failure:?}"
    );
    assert!(asked.elapsed() < Duration::from_secs(5), "refused at once");
}
