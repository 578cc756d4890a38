//! The real app in the real webview, driven through WebDriver (DESIGN.md §5.1, §5.3, §5.5, §7):
//! `tauri-driver` + WebKitWebDriver start `signet` under Xvfb on a private D-Bus session with an unlocked
//! gnome-keyring and a recording notification server; the Dex stand-in signs people in, the API-server
//! stand-in authenticates their tokens, and the real `kubectl` runs the `kubectl-signet` exec entries
//! the app writes.
//!
//! Under automation the app opens its switcher window (`main`) at start, which the WebDriver session
//! attaches to, and login windows share its web context, so they show up among the window handles and
//! the test fills the IdP's form in them like a person would.
//!
//! Each test starts its own world (IdP, API server, session, app). They run one at a time: WebKit, the
//! app and twenty `kubectl-signet` processes on two cores would otherwise decide each other's timing.
//! Screenshots and the tray's state go to `tests/output/webview_e2e/` (git-ignored).
//!
//! Needs tauri-driver (`cargo install tauri-driver --locked`), WebKitWebDriver (`webkit2gtk-driver`),
//! Xvfb, dbus-run-session, busctl, gnome-keyring-daemon and kubectl: `scripts/setup.sh` installs them.
//! Never skipped: a missing tool fails the test saying what to install.

mod common;
use common::Received;
use common::session::{APP, Session, Tray, descendant, kubectl_signet, require_tools};

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_core::config::{Config, LoginMode};
use signet_core::token_store::{CachedToken, TokenCache};
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::webdriver::{Driver, WebDriver, wait_until};
use signet_tests::world::{cluster, provider};

/// One world at a time (see the module docs).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SIGN_IN_ROW: &str = "Sign in to corp…";
const SIGNED_IN_AS_ALICE: &str = "Signed in to corp as alice@example.com";

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the screenshots and tray dumps go.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/output/webview_e2e");
    std::fs::create_dir_all(&dir).expect("create tests/output/webview_e2e");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One test's world. Fields drop in order: the WebDriver session, tauri-driver with the app, the
/// desktop session, the servers, and last the root directory.
struct World {
    webdriver: WebDriver,
    driver: Driver,
    session: Session,
    api: ApiServer,
    idp: Idp,
    plugin: PathBuf,
    /// The switcher window's handle (the one the session attached to).
    main: String,
    app_pid: u32,
    tray: Tray,
    cache: TokenCache,
    root: tempfile::TempDir,
}

impl World {
    /// IdP (ID tokens living `ttl` seconds, or its default), API server, config with provider `corp`
    /// (embedded sign-in) and cluster `prod`, the desktop session, and the app under WebDriver.
    fn start(ttl: Option<u64>) -> World {
        World::start_with(ttl, &[])
    }

    /// [`World::start`] with more providers at the same IdP, without clusters and never signed in.
    fn start_with(ttl: Option<u64>, more_providers: &[&str]) -> World {
        require_tools(&["kubectl"]);
        // Before anything starts: a missing driver fails here, saying what to install.
        signet_tests::webdriver::tauri_driver();
        signet_tests::webdriver::webkit_webdriver();
        let plugin = kubectl_signet();
        let root = tempfile::tempdir().expect("create the test root");
        let idp = Idp::start(IdpOptions {
            id_token_ttl: ttl,
            ..IdpOptions::default()
        });
        let api = ApiServer::start(ApiServerOptions::new(idp.issuer(), "kubernetes"));
        let ca = root.path().join("apiserver-ca.pem");
        std::fs::write(&ca, &api.ca().ca_pem).expect("write the API server's CA");
        let mut corp = provider("corp", idp.issuer(), None);
        corp.login = LoginMode::Embedded;
        let mut prod = cluster("prod", "corp", Some("kubernetes"));
        prod.server = api.url().to_string();
        prod.ca_file = Some(ca);
        let mut providers = vec![corp];
        providers.extend(
            more_providers
                .iter()
                .map(|name| provider(name, idp.issuer(), None)),
        );
        let config = Config {
            providers,
            clusters: vec![prod],
            ..Config::default()
        };
        let session = Session::start(root.path(), Some(&config));
        let driver = Driver::start(&root.path().join("driver.log"), |cmd| session.env(cmd));
        let started = Instant::now();
        let webdriver = driver.session(Path::new(APP), &[]).unwrap_or_else(|e| {
            panic!(
                "a WebDriver session starts the app: {e}\ndriver log:\n{}",
                driver.log_text()
            )
        });
        eprintln!(
            "webdriver session {} on {} after {:?}",
            webdriver.session_id(),
            webdriver.capabilities()["browserName"],
            started.elapsed()
        );
        let main = webdriver
            .window_handle()
            .expect("the session is attached to the switcher window");
        let app_pid = session.wait("the app process below tauri-driver", 30, || {
            descendant(driver.pid(), Path::new(APP))
        });
        let tray = session.tray(app_pid);
        let cache = TokenCache::new(&session.paths());
        World {
            webdriver,
            driver,
            session,
            api,
            idp,
            plugin,
            main,
            app_pid,
            tray,
            cache,
            root,
        }
    }

    /// Everything a failure message needs: the app's log and what tauri-driver/WebKit printed.
    fn logs(&self) -> String {
        format!(
            "app log:\n{}\ndriver log (tail):\n{}",
            self.session.app_log(),
            tail(&self.driver.log_text(), 40)
        )
    }

    fn handles(&self) -> Vec<String> {
        self.webdriver
            .window_handles()
            .unwrap_or_else(|e| panic!("list the window handles: {e}\n{}", self.logs()))
    }

    /// Waits for the one login window among the window handles, and switches to it once it shows the
    /// IdP's login form.
    fn switch_to_login_window(&self) -> String {
        let login = self
            .webdriver
            .switch_to_the_other_window(&self.main, "#login", Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!(
                    "one login window next to the switcher, showing the IdP's form: {e} (url {:?})\n{}",
                    self.webdriver.current_url(),
                    self.logs()
                )
            });
        let url = self
            .webdriver
            .current_url()
            .expect("the login window's URL");
        assert!(
            url.starts_with(self.idp.issuer()),
            "the login window shows the IdP's page ({}), got {url}",
            self.idp.issuer()
        );
        login
    }

    /// Fills the IdP's form in the current (login) window as `user` and submits it; `screenshot` gets
    /// the filled form. Returns once the app has closed the login window (WebDriver is back on the
    /// switcher).
    fn fill_login_form(&self, user: &str, screenshot: Option<&Path>) {
        let field = |css: &str| {
            self.webdriver
                .find(css)
                .unwrap_or_else(|e| panic!("the IdP's form has {css}: {e}"))
        };
        field("#login").send_keys(user).expect("type the user name");
        field("#password")
            .send_keys(PASSWORD)
            .expect("type the password");
        assert_eq!(
            field("#login").property("value").expect("read #login"),
            Value::from(user),
            "the user name field holds what was typed"
        );
        if let Some(path) = screenshot {
            self.webdriver
                .save_screenshot(path)
                .expect("screenshot the filled login form");
        }
        self.webdriver
            .submit_and_wait_for_close("#submit-login", &self.main, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("the app closes the login window: {e}\n{}", self.logs()));
    }

    /// Clicks "Sign in to corp…" in the tray and signs in as alice in the login window.
    fn sign_in_from_the_tray(&self, screenshot: Option<&Path>) {
        self.session.click(&self.tray, SIGN_IN_ROW);
        self.switch_to_login_window();
        self.fill_login_form("alice", screenshot);
        self.wait_for_note(SIGNED_IN_AS_ALICE, 30);
    }

    /// The notifications received so far whose summary is `summary`.
    fn notes(&self, summary: &str) -> Vec<Received> {
        self.session
            .recorder
            .received()
            .into_iter()
            .filter(|n| n.summary == summary)
            .collect()
    }

    fn wait_for_note(&self, summary: &str, secs: u64) -> Received {
        self.session
            .wait(&format!("the notification {summary:?}"), secs, || {
                self.notes(summary).into_iter().next()
            })
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.session
            .command("kubectl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// `kubectl auth whoami` (current context) through the exec entry the app wrote: the username the
    /// API server saw.
    fn whoami(&self) -> String {
        let out = self.kubectl(&["auth", "whoami", "-o", "json"]);
        assert!(
            out.status.success(),
            "kubectl auth whoami succeeds with the app's kubeconfig: {}\n{}",
            text(&out.stderr),
            self.logs()
        );
        let review: Value = serde_json::from_slice(&out.stdout).expect("whoami prints JSON");
        review["status"]["userInfo"]["username"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn cached(&self) -> Option<CachedToken> {
        self.cache.read("corp", "kubernetes")
    }

    /// The tray's menu and item properties as text, and a copy of the icon it shows, under `name`.
    fn save_tray_state(&self, name: &str) -> (String, Option<PathBuf>) {
        let layout = self.session.layout(&self.tray);
        let mut dump = format!(
            "tray item {} (app pid {}), menu {}\n\nmenu (dbusmenu GetLayout, top to bottom):\n",
            self.tray.name, self.app_pid, self.tray.menu
        );
        for (id, label) in common::session::items(&layout) {
            dump.push_str(&format!("  [{id:>3}] {label}\n"));
        }
        dump.push_str("\nStatusNotifierItem properties:\n");
        dump.push_str(&self.session.item_properties(&self.tray));
        dump.push_str("\nraw layout (busctl --json=short):\n");
        dump.push_str(&layout.to_string());
        dump.push('\n');
        let dir = output_dir();
        std::fs::write(dir.join(format!("{name}.txt")), &dump).expect("write the tray dump");
        let icon = self.icon_file().map(|icon| {
            let copy = dir.join(format!("{name}-icon.png"));
            std::fs::copy(&icon, &copy).expect("copy the tray icon");
            copy
        });
        (dump, icon)
    }

    /// The PNG the tray item shows (tray-icon writes it under `$XDG_RUNTIME_DIR/tray-icon/`).
    fn icon_file(&self) -> Option<PathBuf> {
        let property = |name: &str| -> Option<String> {
            let out = self
                .session
                .busctl(&[
                    "get-property",
                    &self.tray.name,
                    common::session::ITEM_PATH,
                    "org.kde.StatusNotifierItem",
                    name,
                ])
                .ok()?;
            // `s "value"`
            Some(out.trim().strip_prefix("s ")?.trim_matches('"').to_string())
        };
        let icon = property("IconName")?;
        // libayatana passes tray-icon's absolute path as the name; a theme name lives in the theme path.
        let file = if Path::new(&icon).is_absolute() {
            PathBuf::from(icon)
        } else {
            Path::new(&property("IconThemePath")?).join(format!("{icon}.png"))
        };
        file.is_file().then_some(file)
    }

    /// `kubectl-signet token --cluster prod` as kubectl runs it from a terminal (interactive).
    /// Asks the app for a notification and waits until it arrives: the app shows notifications one after
    /// another in the order it was asked (one notification thread), so every note it was asked for before
    /// this one has arrived too. `provider` must be configured and never signed in: a non-interactive
    /// sign-in request through the agent then shows "Sign-in needed for <provider>".
    fn notification_barrier(&self, provider: &str) {
        let socket = self.root.path().join("runtime/signet/agent.sock");
        let mut client =
            signet_core::agent::AgentClient::connect(&socket).expect("connect to the agent");
        let request = signet_core::agent::Request::Login {
            provider: provider.into(),
            interactive: false,
        };
        let answer = client
            .request(&request, Duration::from_secs(10))
            .expect("the agent answers");
        assert_eq!(
            answer
                .expect_err("no session for the barrier's provider")
                .code,
            "session.sign_in_required"
        );
        self.wait_for_note(&format!("Sign-in needed for {provider}"), 10);
    }

    fn spawn_interactive_token(&self) -> Child {
        let exec_info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#;
        self.session
            .command(&self.plugin)
            .args(["token", "--cluster", "prod"])
            .env("KUBERNETES_EXEC_INFO", exec_info)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl-signet token")
    }

    /// No token of any kind in the app's log or the driver's output.
    fn assert_no_token_logged(&self, tokens: &[&str]) {
        let (log, driver) = (self.session.app_log(), self.driver.log_text());
        for token in tokens {
            assert!(
                !log.contains(token) && !driver.contains(token),
                "no token appears in the app's log or stderr"
            );
        }
        assert!(
            !log.contains("code=") && !log.contains("code_verifier"),
            "the app log never holds a code:\n{log}"
        );
    }
}

impl Drop for World {
    /// Keeps the logs next to the screenshots, for a look after a failure.
    fn drop(&mut self) {
        let Some(name) = std::thread::current().name().map(String::from) else {
            return;
        };
        let dir = output_dir().join("logs").join(name);
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        for (from, to) in [
            ("state/signet/signet.log", "signet.log"),
            ("driver.log", "driver.log"),
            ("session.log", "session.log"),
        ] {
            let _ = std::fs::copy(self.root.path().join(from), dir.join(to));
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn signing_in_through_the_embedded_webview_writes_a_kubeconfig_kubectl_uses_as_alice() {
    let _alone = one_at_a_time();
    let started = Instant::now();
    let world = World::start(None);
    let out = output_dir();
    assert_eq!(
        world.handles(),
        vec![world.main.clone()],
        "at start only the switcher window is open"
    );
    let labels = world.session.labels(&world.tray);
    assert!(
        labels.iter().any(|l| l == "corp — Sign-in needed"),
        "the tray starts signed out: {labels:?}"
    );

    world
        .webdriver
        .save_screenshot(&out.join("main-window-signed-out.png"))
        .expect("screenshot the switcher window");
    world.session.click(&world.tray, SIGN_IN_ROW);
    world.switch_to_login_window();
    world.fill_login_form("alice", Some(&out.join("login-window-filled.png")));
    assert_eq!(
        world.handles(),
        vec![world.main.clone()],
        "after the redirect the app closed the login window"
    );

    let note = world.wait_for_note(SIGNED_IN_AS_ALICE, 30);
    assert_eq!(
        note,
        Received {
            app_name: "Signet".into(),
            summary: SIGNED_IN_AS_ALICE.into(),
            body: "Signed in as alice@example.com (groups dev, ops). Clusters ready: prod.".into(),
            actions: vec![],
        },
        "the signed-in notification names alice, her groups and the cluster now in kubeconfig"
    );
    let contexts = world.kubectl(&["config", "get-contexts", "-o", "name"]);
    assert!(
        text(&contexts.stdout).lines().any(|c| c == "prod"),
        "kubeconfig has the context prod after sign-in: {}{}",
        text(&contexts.stdout),
        text(&contexts.stderr)
    );
    let current = world.kubectl(&["config", "current-context"]);
    assert_eq!(
        text(&current.stdout).trim(),
        "prod",
        "a sign-in into a kubeconfig without a current context makes prod current (J2: kubectl works at once): {}",
        text(&current.stderr)
    );
    let command = world.kubectl(&[
        "config",
        "view",
        "-o",
        "jsonpath={.users[?(@.name==\"signet-prod\")].user.exec.command}",
    ]);
    assert_eq!(
        text(&command.stdout),
        world.plugin.display().to_string(),
        "the exec entry runs the kubectl-signet next to the app, by absolute path (PATH does not matter)"
    );
    assert_eq!(
        world.whoami(),
        "alice@example.com",
        "the API server sees alice through the exec entry"
    );
    let stats = world.idp.stats();
    assert_eq!(
        stats.token_requests.authorization_code, 1,
        "one code was redeemed, by the app: {stats:?}"
    );
    assert!(
        world.api.stats().authenticated_requests >= 1,
        "the API server authenticated kubectl's token"
    );

    let labels = world.session.wait("the tray to show alice", 10, || {
        let labels = world.session.labels(&world.tray);
        labels
            .iter()
            .any(|l| l == "corp — alice@example.com")
            .then_some(labels)
    });
    assert!(
        labels.iter().any(|l| l == "Sign out of corp"),
        "signed in, the tray offers to sign out: {labels:?}"
    );
    let (dump, icon) = world.save_tray_state("tray-menu-signed-in");
    assert!(
        dump.contains("corp — alice@example.com"),
        "the tray dump holds the menu"
    );
    assert!(
        icon.is_some(),
        "the tray item names an icon file that exists:\n{dump}"
    );

    // The switcher, now that alice is signed in.
    wait_until(
        "the switcher window to show alice's session",
        Duration::from_secs(15),
        || {
            let body = world.webdriver.find("body")?.text()?;
            Ok(body.contains("alice@example.com").then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", world.logs()));
    world
        .webdriver
        .save_screenshot(&out.join("main-window-signed-in.png"))
        .expect("screenshot the switcher window");
    let token = world.cached().expect("the sign-in cached a token");
    world.assert_no_token_logged(&[token.id_token.expose()]);
    eprintln!("test took {:?}", started.elapsed());
}

#[test]
fn the_agent_refreshes_an_expiring_id_token_in_the_background_so_kubectl_never_notices() {
    const TTL: u64 = 40;
    let _alone = one_at_a_time();
    let started = Instant::now();
    let world = World::start(Some(TTL));
    world.sign_in_from_the_tray(None);
    let first = world.cached().expect("the sign-in cached a token");
    let first_file = world.cache.path_for("corp", "kubernetes");
    let first_written = std::fs::metadata(&first_file)
        .and_then(|m| m.modified())
        .expect("the token cache file exists");
    let stats = world.idp.stats();
    assert_eq!(
        stats.token_requests.refresh_token, 0,
        "no refresh right after sign-in: {stats:?}"
    );

    // No kubectl runs meanwhile: only the agent can change the cache.
    let refreshed = world.session.wait(
        "the agent to refresh the token in the background",
        TTL + 10,
        || {
            let now = world.cached()?;
            (now.id_token.expose() != first.id_token.expose()).then_some(now)
        },
    );
    let written = std::fs::metadata(&first_file)
        .and_then(|m| m.modified())
        .expect("the token cache file still exists");
    assert!(
        written > first_written,
        "the token cache file was rewritten by the refresh"
    );
    assert!(
        refreshed.expires_at > first.expires_at,
        "the refreshed token lives longer ({} > {})",
        refreshed.expires_at,
        first.expires_at
    );
    assert!(
        chrono::Utc::now() < first.expires_at,
        "the refresh came before the first token expired ({})",
        first.expires_at
    );
    let stats = world.idp.stats();
    assert!(
        stats.token_requests.refresh_token >= 1 && stats.refresh_failures == 0,
        "the IdP saw a successful refresh_token grant: {stats:?}"
    );

    // Past the first token's expiry, kubectl works without anyone signing in again.
    let wait = (first.expires_at - chrono::Utc::now()).num_milliseconds() + 1_000;
    std::thread::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0)));
    let cached = world.cached().expect("a token is cached");
    assert!(
        cached.expires_at > chrono::Utc::now(),
        "past the first token's end, the cache holds an unexpired token (until {})",
        cached.expires_at
    );
    assert_eq!(
        world.whoami(),
        "alice@example.com",
        "kubectl works as alice past the first token's expiry"
    );
    let stats = world.idp.stats();
    assert_eq!(
        stats.token_requests.authorization_code, 1,
        "no second sign-in: {stats:?}"
    );
    assert_eq!(
        world.handles(),
        vec![world.main.clone()],
        "no login window opened"
    );
    assert_eq!(
        world.notes(SIGNED_IN_AS_ALICE).len(),
        world.session.recorder.received().len(),
        "no notification besides the sign-in: {:?}",
        world.session.recorder.received()
    );
    world.assert_no_token_logged(&[first.id_token.expose(), refreshed.id_token.expose()]);
    eprintln!("test took {:?}", started.elapsed());
}

#[test]
fn a_revoked_refresh_token_turns_the_tray_to_sign_in_needed_with_exactly_one_notification() {
    const TTL: u64 = 20;
    let _alone = one_at_a_time();
    let started = Instant::now();
    let world = World::start(Some(TTL));
    world.sign_in_from_the_tray(None);
    let first = world.cached().expect("the sign-in cached a token");

    world.idp.revoke("alice");
    let labels = world.session.wait(
        "the tray to say sign-in is needed after the next background refresh",
        TTL + 20,
        || {
            let labels = world.session.labels(&world.tray);
            (labels.iter().any(|l| l == "corp — Sign-in needed")
                && labels.iter().any(|l| l == SIGN_IN_ROW))
            .then_some(labels)
        },
    );
    assert!(
        !labels.iter().any(|l| l == "Sign out of corp"),
        "nothing to sign out of: {labels:?}"
    );
    let stats = world.idp.stats();
    assert!(
        stats.refresh_failures >= 1,
        "the IdP refused a refresh with the revoked token: {stats:?}"
    );
    let note = world.wait_for_note("Sign-in needed for corp", 10);
    assert_eq!(
        note,
        Received {
            app_name: "Signet".into(),
            summary: "Sign-in needed for corp".into(),
            body: "Your session with corp has ended. Sign in again to keep using prod.".into(),
            actions: vec!["sign-in".into(), "Sign in".into()],
        },
        "the sign-in-needed notification names the provider and the cluster, with a Sign in button"
    );
    world.save_tray_state("tray-menu-sign-in-needed");

    // Longer than the refresh interval of these tokens: still one notification, no new attempts.
    let refreshes = world.idp.stats().token_requests.refresh_token;
    std::thread::sleep(Duration::from_secs(TTL / 2 + 5));
    assert_eq!(
        world.notes("Sign-in needed for corp").len(),
        1,
        "exactly one sign-in-needed notification: {:?}",
        world.session.recorder.received()
    );
    assert_eq!(
        world.idp.stats().token_requests.refresh_token,
        refreshes,
        "a dead session is not refreshed again"
    );
    assert_eq!(
        world.handles(),
        vec![world.main.clone()],
        "no login window opens by itself"
    );
    world.assert_no_token_logged(&[first.id_token.expose()]);
    eprintln!("test took {:?}", started.elapsed());
}

#[test]
fn twenty_interactive_token_calls_without_a_session_share_one_login_window_and_all_succeed() {
    const CALLS: usize = 20;
    let _alone = one_at_a_time();
    let started = Instant::now();
    // `lab` is never signed in: it serves the notification barrier below.
    let world = World::start_with(None, &["lab"]);
    let socket = world.root.path().join("runtime/signet/agent.sock");
    world
        .session
        .wait("the agent socket", 10, || socket.exists().then_some(()));

    let calls: Vec<Child> = (0..CALLS)
        .map(|_| world.spawn_interactive_token())
        .collect();
    world
        .session
        .wait("all 20 calls to ask the agent to sign in", 60, || {
            let handles = world.handles();
            assert!(
                handles.len() <= 2,
                "never more than one login window next to the switcher: {handles:?}"
            );
            (world.session.log_count("agent: sign-in requested") == CALLS).then_some(())
        });
    world.switch_to_login_window();
    // Every caller has been answered (it opened the window or joined the running sign-in), so no
    // straggler is left to open a second window: a condition, not a pause.
    world
        .session
        .wait("all 20 callers to be accounted for", 30, || {
            (world.session.log_count("login window opened")
                + world.session.log_count("joined the running sign-in")
                >= CALLS)
                .then_some(())
        });
    let handles = world.handles();
    assert_eq!(
        handles.len(),
        2,
        "20 callers, one login window next to the switcher: {handles:?}"
    );
    assert_eq!(
        world.session.log_count("login window opened"),
        1,
        "the app opened one login window\n{}",
        world.logs()
    );
    assert_eq!(
        world.session.log_count("joined the running sign-in"),
        CALLS - 1,
        "the other 19 joined it\n{}",
        world.logs()
    );

    world.fill_login_form("alice", None);
    let mut tokens = Vec::new();
    for call in calls {
        let out = call.wait_with_output().expect("kubectl-signet ends");
        assert!(
            out.status.success(),
            "every caller gets a token once the one sign-in ends: {}",
            text(&out.stderr)
        );
        let credential: Value =
            serde_json::from_slice(&out.stdout).expect("an ExecCredential on stdout");
        let token = credential["status"]["token"]
            .as_str()
            .expect("the ExecCredential carries a token")
            .to_string();
        tokens.push(token);
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "all 20 got the token of the one session");
    let stats = world.idp.stats();
    assert_eq!(
        stats.token_requests.authorization_code, 1,
        "one sign-in for 20 callers: {stats:?}"
    );
    // The app answers the callers before it notifies (kubeconfig, waiters, then the notification). A
    // second "signed in" note would have been asked for by now; the barrier makes sure it has arrived.
    world.wait_for_note(SIGNED_IN_AS_ALICE, 10);
    world.notification_barrier("lab");
    assert_eq!(
        world.notes(SIGNED_IN_AS_ALICE).len(),
        1,
        "one signed-in notification for one sign-in: {:?}",
        world.session.recorder.received()
    );
    world.assert_no_token_logged(&[tokens[0].as_str()]);
    eprintln!("test took {:?}", started.elapsed());
}
