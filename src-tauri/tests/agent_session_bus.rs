//! The real `signet` binary as the agent, end to end (DESIGN.md §5.3, §5.5, §7): under Xvfb on its own
//! D-Bus session, with an unlocked gnome-keyring on that bus, a recording notification server, and the
//! Dex stand-in issuing 20-second ID tokens.
//!
//! One test walks the whole story, because each step needs the state the previous one left:
//! 1. a session made by `signet-probe login` (real keyring, real cache) is kept fresh by the running app —
//!    the IdP sees refreshes and the cached token never expires, long past the first token's end;
//! 2. the IdP revokes the session → the tray menu says "Sign-in needed" / "Sign in" and exactly one
//!    notification appears ("Sign-in needed", with a "Sign in" button);
//! 3. 20 concurrent `kubectl-signet token` calls (interactive, as kubectl in a terminal) with the dead
//!    session → exactly one login window opens (counted in the app's log and among the X server's
//!    windows). Filling the IdP's form in that window needs WebDriver, which this test does not use: it
//!    closes the window instead (WM_DELETE_WINDOW, as a window manager would), and all 20 calls fail
//!    with the cancellation.
//!
//! Runs in the shared private desktop (`common::session`). Needs Xvfb, dbus-run-session, busctl,
//! gnome-keyring-daemon and python3 (its ctypes drives libX11 to list and close windows):
//! `scripts/setup.sh` installs them. Never skipped. `kubectl-signet` and
//! `signet-probe` come from the same target directory (built by `cargo test --workspace`; built here if
//! missing or older than their sources).

mod common;
use common::Received;
use common::session::{Session, kubectl_signet, require_tools};

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::Duration;

use signet_core::config::{Config, LoginMode};
use signet_core::token_store::TokenCache;
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::{cluster, provider};

/// The ID-token lifetime the IdP issues in this test, in seconds.
const TTL: u64 = 20;

/// Lists the X server's windows titled `argv[2]` (`count`) or asks them to close (`close`), the way a
/// window manager does: a `WM_PROTOCOLS`/`WM_DELETE_WINDOW` client message. Prints the number found.
const X11: &str = r#"
import ctypes, sys
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_ubyte, c_uint, c_ulong, c_void_p
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = c_void_p
x.XOpenDisplay.argtypes = [c_char_p]
x.XDefaultRootWindow.restype = c_ulong
x.XDefaultRootWindow.argtypes = [c_void_p]
x.XInternAtom.restype = c_ulong
x.XInternAtom.argtypes = [c_void_p, c_char_p, c_int]
x.XQueryTree.argtypes = [c_void_p, c_ulong, POINTER(c_ulong), POINTER(c_ulong), POINTER(POINTER(c_ulong)), POINTER(c_uint)]
x.XGetWindowProperty.argtypes = [c_void_p, c_ulong, c_ulong, c_long, c_long, c_int, c_ulong, POINTER(c_ulong), POINTER(c_int), POINTER(c_ulong), POINTER(c_ulong), POINTER(POINTER(c_ubyte))]
x.XFree.argtypes = [c_void_p]
x.XFlush.argtypes = [c_void_p]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", c_int), ("serial", c_ulong), ("send_event", c_int), ("display", c_void_p),
                ("window", c_ulong), ("message_type", c_ulong), ("format", c_int), ("data", c_long * 5)]
class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", c_long * 24)]
x.XSendEvent.argtypes = [c_void_p, c_ulong, c_int, c_long, POINTER(XEvent)]
d = x.XOpenDisplay(None)
if not d:
    sys.exit("cannot open the display")
atom = lambda name: x.XInternAtom(d, name.encode(), 0)
NET_WM_NAME, UTF8 = atom("_NET_WM_NAME"), atom("UTF8_STRING")
def title(w):
    kind, fmt, n, left, data = c_ulong(), c_int(), c_ulong(), c_ulong(), POINTER(c_ubyte)()
    if x.XGetWindowProperty(d, w, NET_WM_NAME, 0, 1024, 0, UTF8, byref(kind), byref(fmt), byref(n), byref(left), byref(data)) != 0 or not data:
        return None
    text = bytes(data[: n.value]).decode("utf-8", "replace")
    x.XFree(data)
    return text
def windows(w):
    root, parent, children, n = c_ulong(), c_ulong(), POINTER(c_ulong)(), c_uint()
    if not x.XQueryTree(d, w, byref(root), byref(parent), byref(children), byref(n)):
        return []
    found = [children[i] for i in range(n.value)]
    if children:
        x.XFree(children)
    return found + [c for f in found for c in windows(f)]
matches = [w for w in windows(x.XDefaultRootWindow(d)) if title(w) == sys.argv[2]]
if sys.argv[1] == "close":
    for w in matches:
        ev = XEvent()
        ev.xclient.type, ev.xclient.window, ev.xclient.format = 33, w, 32
        ev.xclient.message_type = atom("WM_PROTOCOLS")
        ev.xclient.data[0] = atom("WM_DELETE_WINDOW")
        x.XSendEvent(d, w, 0, 0, byref(ev))
    x.XFlush(d)
print(len(matches))
"#;

/// Counts (or closes) the session's X windows titled `title`.
fn x_windows(session: &Session, verb: &str, title: &str) -> usize {
    let out = session
        .command("python3")
        .args(["-c", X11, verb, title])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "the X11 helper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the helper prints a count")
}

#[test]
fn the_agent_keeps_sessions_fresh_reports_a_revoked_one_once_and_opens_one_login_window_for_many_callers()
 {
    let idp = Idp::start(IdpOptions {
        id_token_ttl: Some(TTL),
        ..IdpOptions::default()
    });
    let plugin = kubectl_signet();
    require_tools(&["python3"]);
    let root = tempfile::tempdir().expect("create the test root");
    // The login window's title names the IdP's host (the stand-in serves its pages on the issuer's).
    let login_title = signet_app::login::window_title(
        "corp",
        &tauri::Url::parse(idp.issuer()).expect("the issuer is a URL"),
    );
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Embedded;
    let config = Config {
        providers: vec![corp],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    };
    let session = Session::start(root.path(), Some(&config));
    let recorder = &session.recorder;
    let cache = TokenCache::new(&session.paths());

    // A session in the real keyring and cache, made without the app.
    common::session::probe_login(&session, "corp", "alice");
    let first = cache
        .read("corp", "kubernetes")
        .expect("the sign-in cached a token");
    let refreshes_before = idp.stats().token_requests.refresh_token;

    let app = common::session::spawn_app(&session);
    let tray = session.tray(app.pid());
    let labels = session.labels(&tray);
    assert!(
        labels.iter().any(|l| l == "corp — alice@example.com"),
        "the tray shows the session: {labels:?}"
    );
    let socket = root.path().join("runtime/signet/agent.sock");
    session.wait("the agent socket", 10, || socket.exists().then_some(()));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket)
            .expect("stat the socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the agent socket is private");
    }

    // 1. The agent refreshes before expiry: well past the first token's end, the cache still holds an
    //    unexpired token, and it never held an expired one while we watched.
    let mut tokens = vec![first.id_token.expose().to_string()];
    session.wait(
        "two background refreshes, past the first token's expiry",
        60,
        || {
            let now = chrono::Utc::now();
            let cached = cache.read("corp", "kubernetes");
            // Written atomically, so a read never sees a half-written file; a refresh keeps a token there.
            let cached = cached.expect("the session stays in the cache while refreshing");
            assert!(
                cached.expires_at > now,
                "the cached token expired at {} before the agent refreshed it (now {now})",
                cached.expires_at
            );
            if !tokens.iter().any(|t| t == cached.id_token.expose()) {
                tokens.push(cached.id_token.expose().to_string());
            }
            // The IdP counts a refresh when it answers, before the agent has written the new token,
            // so the wait is for the cached tokens themselves, not only for the IdP's count.
            let refreshes = idp.stats().token_requests.refresh_token - refreshes_before;
            (refreshes >= 2
                && tokens.len() >= 3
                && now > first.expires_at + chrono::TimeDelta::seconds(2))
            .then_some(())
        },
    );
    // kubectl is served from the cache the agent keeps fresh.
    let out = session
        .command(&plugin)
        .args(["token", "--cluster", "prod"])
        .output()
        .expect("run kubectl-signet token");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("\"token\""),
        "kubectl-signet token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        recorder.received().is_empty(),
        "no notification while all is well: {:?}",
        recorder.received()
    );

    // 2. The IdP ends the session: the tray changes and one notification appears.
    idp.revoke("alice");
    let labels = session.wait("the tray to show the ended session", 40, || {
        let labels = session.labels(&tray);
        (labels.iter().any(|l| l == "corp — Sign-in needed")
            && labels.iter().any(|l| l == "Sign in to corp…"))
        .then_some(labels)
    });
    assert!(
        !labels.iter().any(|l| l == "Sign out of corp"),
        "nothing to sign out of: {labels:?}"
    );
    let note = session.wait("the sign-in-needed notification", 10, || {
        recorder.received().into_iter().next()
    });
    assert_eq!(
        note,
        Received {
            app_name: "Signet".into(),
            summary: "Sign-in needed for corp".into(),
            body: "Your session with corp has ended. Sign in again to keep using prod.".into(),
            actions: vec!["sign-in".into(), "Sign in".into()],
        }
    );
    let refreshes = idp.stats().token_requests.refresh_token;
    // Longer than the refresh interval of 20 s tokens and than a re-plan: nothing more happens.
    std::thread::sleep(Duration::from_secs(TTL / 2 + 5));
    assert_eq!(
        recorder.received().len(),
        1,
        "exactly one notification: {:?}",
        recorder.received()
    );
    assert_eq!(
        idp.stats().token_requests.refresh_token,
        refreshes,
        "a dead session is not tried again"
    );

    // 3. Twenty kubectl calls at once with the dead session: one login window.
    let exec_info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#;
    let calls: Vec<Child> = (0..20)
        .map(|_| {
            session
                .command(&plugin)
                .args(["token", "--cluster", "prod"])
                .env("KUBERNETES_EXEC_INFO", exec_info)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start kubectl-signet token")
        })
        .collect();
    session.wait("all 20 calls to ask the agent to sign in", 60, || {
        (session.log_count("agent: sign-in requested") == 20).then_some(())
    });
    session.wait("the login window on the X server", 30, || {
        (x_windows(&session, "count", &login_title) >= 1).then_some(())
    });
    // Every one of the 20 callers has been answered by the app (it opened the window or joined the
    // running sign-in): no straggler is left to open a second window. A condition, not a pause.
    session.wait("all 20 callers to be accounted for", 30, || {
        (session.log_count("login window opened") + session.log_count("joined the running sign-in")
            >= 20)
            .then_some(())
    });
    let log = session.app_log();
    assert_eq!(
        session.log_count("login window opened"),
        1,
        "20 callers, one login window (app log):\n{log}"
    );
    assert_eq!(
        session.log_count("joined the running sign-in"),
        19,
        "the others joined it:\n{log}"
    );
    assert_eq!(
        x_windows(&session, "count", &login_title),
        1,
        "exactly one login window exists"
    );
    let labels = session.labels(&tray);
    assert!(
        labels.iter().any(|l| l == "Signing in to corp… (show)"),
        "the tray says a sign-in runs: {labels:?}"
    );

    // The person closes the window: every caller gets the cancellation.
    assert_eq!(
        x_windows(&session, "close", &login_title),
        1,
        "the one login window was asked to close"
    );
    for call in calls {
        let out = call.wait_with_output().expect("kubectl-signet ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("was cancelled (the login window was closed)"),
            "a cancelled sign-in fails every caller with the reason, got {}: {stderr}",
            out.status
        );
    }
    session.wait("the login window to be gone", 10, || {
        (x_windows(&session, "count", &login_title) == 0).then_some(())
    });
    let log = session.app_log();
    assert_eq!(
        session.log_count("login window opened"),
        1,
        "still one window:\n{log}"
    );
    assert_eq!(
        recorder.received().len(),
        1,
        "interactive callers get a window, not notifications: {:?}",
        recorder.received()
    );
    for token in &tokens {
        assert!(
            !log.contains(token.as_str()),
            "the app log never holds a token"
        );
    }
    let _ = std::io::stderr().write_all(format!("app log:\n{log}\n").as_bytes());
}
