//! The real `signet` binary as the agent, end to end (DESIGN.md §5.3, §5.5, §7): under Xvfb on its own
//! D-Bus session, with an unlocked gnome-keyring on that bus, a recording notification server, and the
//! Dex stand-in issuing 20-second ID tokens.
//!
//! One test walks the whole story, because each step needs the state the previous one left:
//! 1. a session made by `signet-probe login` (real keyring, real cache) is kept fresh by the running app —
//!    the IdP sees refreshes and the cached token never expires, long past the first token's end;
//! 2. the IdP revokes the session → the tray menu says "Not signed in" / "Sign in" and exactly one
//!    notification appears ("Sign-in needed", with a "Sign in" button);
//! 3. 20 concurrent `kubectl-signet token` calls (interactive, as kubectl in a terminal) with the dead
//!    session → exactly one login window opens (counted in the app's log and among the X server's
//!    windows). Filling the IdP's form in that window needs WebDriver, which this test does not use: it
//!    closes the window instead (WM_DELETE_WINDOW, as a window manager would), and all 20 calls fail
//!    with the cancellation.
//!
//! Needs Xvfb, dbus-run-session, busctl, gnome-keyring-daemon and python3 (its ctypes drives libX11 to
//! list and close windows): `scripts/test.sh` installs them. Never skipped. `kubectl-signet` and
//! `signet-probe` come from the same target directory (built by `cargo test --workspace`; built here if
//! missing or older than their sources).

mod common;
use common::{Received, Recorder};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use signet_core::config::{Config, LoginMode};
use signet_core::paths::Paths;
use signet_core::token_store::TokenCache;
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::{cluster, provider};

const APP: &str = env!("CARGO_BIN_EXE_signet");
/// `TrayIconBuilder::with_id("signet")` as libayatana-appindicator exports it.
const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_signet";
/// The ID-token lifetime the IdP issues in this test, in seconds.
const TTL: u64 = 20;
const LOGIN_TITLE: &str = "Sign in to corp — Signet";

/// A private bus with an unlocked keyring and Xvfb; prints the bus and display, waits for one line on
/// stdin (the test seeds the session meanwhile), starts the app and prints its pid; closing stdin ends
/// the app, Xvfb and the bus.
const SCRIPT: &str = r#"
set -u
printf '%s' signet-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || { echo "FAILED gnome-keyring-daemon --unlock"; exit 1; }
i=0
until busctl --user status org.freedesktop.secrets >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$ROOT/display" 2>"$ROOT/xvfb.log" &
xvfb=$!
i=0
until [ -s "$ROOT/display" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
[ -s "$ROOT/display" ] || { echo "FAILED Xvfb did not start: $(cat "$ROOT/xvfb.log")"; exit 1; }
export DISPLAY=":$(cat "$ROOT/display")"
echo "BUS $DBUS_SESSION_BUS_ADDRESS"
echo "DISPLAY $DISPLAY"
read -r _go
"$APP" >"$ROOT/app.log" 2>&1 &
app=$!
echo "PID $app"
cat >/dev/null
kill $app 2>/dev/null
wait $app 2>/dev/null
kill $xvfb 2>/dev/null
"#;

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

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn require_tools() {
    for tool in [
        "Xvfb",
        "dbus-run-session",
        "busctl",
        "gnome-keyring-daemon",
        "python3",
    ] {
        assert!(
            on_path(tool),
            "`{tool}` is not installed: run scripts/test.sh (it installs xvfb, dbus and gnome-keyring) — these tests never skip"
        );
    }
}

/// The newest modification time of any file under `dirs`.
fn newest(dirs: &[PathBuf]) -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(modified);
            }
        }
    }
    let mut time = SystemTime::UNIX_EPOCH;
    for dir in dirs {
        walk(dir, &mut time);
    }
    time
}

/// Another workspace package's binary from this target directory, built first if it is missing or
/// older than its sources (`cargo test -p signet` alone does not build other packages' binaries).
fn workspace_bin(name: &str, package: &str, sources: &[&str]) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("src-tauri has a parent");
    let bin = Path::new(APP)
        .parent()
        .expect("the app binary has a directory")
        .join(name);
    let sources: Vec<PathBuf> = sources.iter().map(|s| workspace.join(s)).collect();
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    if built.is_none_or(|b| b < newest(&sources)) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .current_dir(workspace)
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p {package} --bin {name} failed"
        );
    }
    assert!(bin.is_file(), "{} exists", bin.display());
    bin
}

/// An environment that points everything at `root`.
fn world_env(cmd: &mut Command, root: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root.join("home"))
        .env("SIGNET_CONFIG", root.join("config/signet/config.toml"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_CACHE_HOME", root.join("cache"))
        .env("XDG_STATE_HOME", root.join("state"))
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_RUNTIME_DIR", root.join("runtime"))
        .env("KUBECONFIG", root.join("kubeconfig"))
        .env("NO_AT_BRIDGE", "1")
        .env("GDK_BACKEND", "x11")
        .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("SIGNET_LOG", "signet_app=debug,signet_core=info")
        .env("RUST_BACKTRACE", "1");
}

/// The paths the app computes from [`world_env`].
fn app_paths(root: &Path) -> Paths {
    let vars = [
        ("HOME", root.join("home")),
        ("SIGNET_CONFIG", root.join("config/signet/config.toml")),
        ("XDG_CONFIG_HOME", root.join("config")),
        ("XDG_CACHE_HOME", root.join("cache")),
        ("XDG_STATE_HOME", root.join("state")),
        ("XDG_RUNTIME_DIR", root.join("runtime")),
        ("KUBECONFIG", root.join("kubeconfig")),
    ];
    Paths::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone().into_os_string())
    })
    .expect("HOME is set")
}

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    bus: String,
    display: String,
    app_pid: String,
    root: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Session {
    /// Starts the bus, keyring and display (not the app yet).
    fn start(root: &Path) -> Session {
        require_tools();
        for dir in ["home", "runtime", "config", "cache", "state", "data"] {
            std::fs::create_dir_all(root.join(dir)).expect("create a test directory");
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.join("runtime"), std::fs::Permissions::from_mode(0o700))
                .expect("chmod XDG_RUNTIME_DIR");
        }
        let mut cmd = Command::new("dbus-run-session");
        world_env(&mut cmd, root);
        cmd.args(["--", "sh", "-c", SCRIPT])
            .env("ROOT", root)
            .env("APP", APP)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(root.join("session.log")).expect("create session.log"),
            ));
        let mut child = cmd.spawn().expect("start dbus-run-session");
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut session = Session {
            stdin: child.stdin.take(),
            child,
            lines,
            bus: String::new(),
            display: String::new(),
            app_pid: String::new(),
            root: root.to_path_buf(),
        };
        session.bus = session.next("BUS ");
        session.display = session.next("DISPLAY ");
        session
    }

    fn next(&mut self, prefix: &str) -> String {
        let line = self.lines.next().and_then(Result::ok).unwrap_or_else(|| {
            panic!(
                "the session script ended before printing {prefix}: {}",
                std::fs::read_to_string(self.root.join("session.log")).unwrap_or_default()
            )
        });
        line.strip_prefix(prefix)
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("expected {prefix}…, got {line:?}"))
    }

    fn start_app(&mut self) {
        let stdin = self.stdin.as_mut().expect("the session's stdin");
        writeln!(stdin, "go").expect("tell the session to start the app");
        stdin.flush().expect("flush");
        self.app_pid = self.next("PID ");
    }

    /// A command in this world and on this bus and display.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        world_env(&mut cmd, &self.root);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("DISPLAY", &self.display);
        cmd
    }

    fn busctl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .command("busctl")
            .arg("--user")
            .args(args)
            .output()
            .expect("run busctl");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn app_log(&self) -> String {
        std::fs::read_to_string(self.root.join("app.log")).unwrap_or_default()
    }

    /// Polls `f` for up to `secs` seconds.
    fn wait<T>(&self, what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; app log:\n{}",
                self.app_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The app's bus name that exports the tray item, and the item's menu path.
    fn tray_item(&self) -> (String, String) {
        self.wait("the StatusNotifierItem on the session bus", 30, || {
            let list = self.busctl(&["list", "--no-legend"]).ok()?;
            list.lines().find_map(|line| {
                let mut cols = line.split_whitespace();
                let name = cols.next()?;
                let pid = cols.next()?;
                if !name.starts_with(':') || pid != self.app_pid {
                    return None;
                }
                let out = self
                    .busctl(&[
                        "get-property",
                        name,
                        ITEM_PATH,
                        "org.kde.StatusNotifierItem",
                        "Menu",
                    ])
                    .ok()?;
                let menu = out.trim().strip_prefix("o ")?.trim_matches('"').to_string();
                Some((name.to_string(), menu))
            })
        })
    }

    /// The labels of the tray menu (dbusmenu `GetLayout`).
    fn menu_labels(&self, name: &str, menu: &str) -> Vec<String> {
        let out = self
            .busctl(&[
                "--json=short",
                "--",
                "call",
                name,
                menu,
                "com.canonical.dbusmenu",
                "GetLayout",
                "iias",
                "0",
                "-1",
                "1",
                "label",
            ])
            .unwrap_or_else(|e| panic!("GetLayout failed: {e}\napp log:\n{}", self.app_log()));
        let layout: Value = serde_json::from_str(&out).expect("busctl prints JSON");
        fn walk(node: &Value, out: &mut Vec<String>) {
            let Some(parts) = node.as_array() else { return };
            if let Some(label) = parts.get(1).and_then(|p| p["label"]["data"].as_str()) {
                out.push(label.replace("__", "_"));
            }
            for child in parts.get(2).and_then(Value::as_array).into_iter().flatten() {
                walk(&child["data"], out);
            }
        }
        let mut labels = Vec::new();
        walk(&layout["data"][1], &mut labels);
        labels
    }

    /// Counts (or closes) the X server's windows titled `title`.
    fn x_windows(&self, verb: &str, title: &str) -> usize {
        let out = self
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
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn the_agent_keeps_sessions_fresh_reports_a_revoked_one_once_and_opens_one_login_window_for_many_callers()
 {
    let idp = Idp::start(IdpOptions {
        id_token_ttl: Some(TTL),
        ..IdpOptions::default()
    });
    let probe = workspace_bin(
        "signet-probe",
        "signet-tests",
        &["tests/src", "src-tauri/crates/core/src"],
    );
    let plugin = workspace_bin(
        "kubectl-signet",
        "kubectl-signet",
        &[
            "src-tauri/crates/kubectl-signet/src",
            "src-tauri/crates/core/src",
        ],
    );
    let root = tempfile::tempdir().expect("create the test root");
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Embedded;
    let config = Config {
        providers: vec![corp],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    };
    config
        .save(&root.path().join("config/signet/config.toml"))
        .expect("save the test config");
    let paths = app_paths(root.path());
    let cache = TokenCache::new(&paths);

    let mut session = Session::start(root.path());
    let recorder = Recorder::default();
    let _notifications = recorder.serve(&session.bus);

    // A session in the real keyring and cache, made without the app.
    let out = session
        .command(&probe)
        .args(["login", "corp", "alice", signet_tests::idp::PASSWORD])
        .output()
        .expect("run signet-probe login");
    assert!(
        out.status.success(),
        "signet-probe login: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first = cache
        .read("corp", "kubernetes")
        .expect("the sign-in cached a token");
    let refreshes_before = idp.stats().token_requests.refresh_token;

    session.start_app();
    let (name, menu) = session.tray_item();
    let labels = session.menu_labels(&name, &menu);
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
            let refreshes = idp.stats().token_requests.refresh_token - refreshes_before;
            (refreshes >= 2 && now > first.expires_at + chrono::TimeDelta::seconds(2)).then_some(())
        },
    );
    assert!(
        tokens.len() >= 3,
        "new tokens were cached: {}",
        tokens.len()
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
        let labels = session.menu_labels(&name, &menu);
        (labels.iter().any(|l| l == "corp — Not signed in")
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
        (count(&session.app_log(), "agent: sign-in requested") == 20).then_some(())
    });
    session.wait("the login window on the X server", 30, || {
        (session.x_windows("count", LOGIN_TITLE) >= 1).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = session.app_log();
    assert_eq!(
        count(&log, "login window opened"),
        1,
        "20 callers, one login window (app log):\n{log}"
    );
    assert_eq!(
        count(&log, "agent: joined the running sign-in"),
        19,
        "the others joined it:\n{log}"
    );
    assert_eq!(
        session.x_windows("count", LOGIN_TITLE),
        1,
        "exactly one login window exists"
    );
    let labels = session.menu_labels(&name, &menu);
    assert!(
        labels.iter().any(|l| l == "Signing in to corp… (show)"),
        "the tray says a sign-in runs: {labels:?}"
    );

    // The person closes the window: every caller gets the cancellation.
    assert_eq!(session.x_windows("close", LOGIN_TITLE), 1);
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
        (session.x_windows("count", LOGIN_TITLE) == 0).then_some(())
    });
    let log = session.app_log();
    assert_eq!(
        count(&log, "login window opened"),
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
