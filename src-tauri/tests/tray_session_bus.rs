//! The real `signet` binary under Xvfb on its own D-Bus session (DESIGN.md §7): the tray's
//! StatusNotifierItem is exported, its dbusmenu lists the provider section, "Sign in" clicked through
//! dbusmenu `Event` opens the login window (the menu then says the sign-in runs), and a second launch
//! leaves the first instance in charge (single-instance plugin) and tells the person so through a
//! recording notification server on the same bus.
//!
//! Needs Xvfb, dbus-run-session and busctl: `scripts/test.sh` installs them. Never skipped.

mod common;
use common::{Received, Recorder};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_core::Secret;
use signet_core::config::{Config, LoginMode};
use signet_core::oidc::Identity;
use signet_core::paths::Paths;
use signet_core::token_store::{CachedToken, SessionRecord, TokenCache};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::{cluster, provider};

const APP: &str = env!("CARGO_BIN_EXE_signet");
/// `TrayIconBuilder::with_id("signet")` as libayatana-appindicator exports it.
const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_signet";

/// Starts a private bus, Xvfb on a free display, and the app; prints the bus address and the app's pid,
/// then waits on stdin. Closing stdin ends the app, Xvfb and the bus.
const SCRIPT: &str = r#"
set -u
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$ROOT/display" 2>"$ROOT/xvfb.log" &
xvfb=$!
i=0
until [ -s "$ROOT/display" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
[ -s "$ROOT/display" ] || { echo "FAILED Xvfb did not start: $(cat "$ROOT/xvfb.log")"; exit 1; }
export DISPLAY=":$(cat "$ROOT/display")"
"$APP" >"$ROOT/app.log" 2>&1 &
app=$!
echo "BUS $DBUS_SESSION_BUS_ADDRESS"
echo "PID $app"
echo "DISPLAY $DISPLAY"
cat >/dev/null
kill $app 2>/dev/null
wait $app 2>/dev/null
kill $xvfb 2>/dev/null
"#;

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    bus: String,
    app_pid: String,
    display: String,
    root: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn require_tools() {
    for tool in ["Xvfb", "dbus-run-session", "busctl"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "`{tool}` is not installed: run scripts/test.sh (it installs xvfb and dbus) — these tests never skip"
        );
    }
}

/// An environment that points everything at `root` (set before dbus-run-session, so services it
/// activates use it too).
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

fn start_session(root: &Path, config: &Config) -> Session {
    require_tools();
    for dir in ["home", "runtime", "config", "cache", "state", "data"] {
        std::fs::create_dir_all(root.join(dir)).expect("create a test directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("runtime"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod XDG_RUNTIME_DIR");
    }
    config
        .save(&root.join("config/signet/config.toml"))
        .expect("save the test config");
    let mut cmd = Command::new("dbus-run-session");
    world_env(&mut cmd, root);
    cmd.args(["--", "sh", "-c", SCRIPT])
        .env("ROOT", root)
        .env("APP", APP)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // The bus, Xvfb and the services it activates (portals, keyring) are noisy; keep it aside.
        .stderr(Stdio::from(
            std::fs::File::create(root.join("session.log")).expect("create session.log"),
        ));
    let mut child = cmd.spawn().expect("start dbus-run-session");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut next = |prefix: &str| -> String {
        let line = lines.next().and_then(Result::ok).unwrap_or_else(|| {
            panic!(
                "the session script ended before printing {prefix}: {}",
                std::fs::read_to_string(root.join("session.log")).unwrap_or_default()
            )
        });
        line.strip_prefix(prefix)
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("expected {prefix}…, got {line:?}"))
    };
    let bus = next("BUS ");
    let app_pid = next("PID ");
    let display = next("DISPLAY ");
    Session {
        stdin: child.stdin.take(),
        child,
        bus,
        app_pid,
        display,
        root: root.to_path_buf(),
    }
}

impl Session {
    fn busctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("busctl")
            .arg("--user")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
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

    /// Polls `f` for up to 30 s.
    fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
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

    /// The app's unique bus name that exports the tray item, and the item's menu path. The app holds
    /// several connections (GTK, zbus for single-instance, …); the one exporting the item is found by
    /// asking each of them for the StatusNotifierItem's `Menu` property.
    fn tray_item(&self) -> (String, String) {
        self.wait("the StatusNotifierItem on the session bus", || {
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
                // `o "/org/ayatana/NotificationItem/…/Menu"`
                let menu = out.trim().strip_prefix("o ")?.trim_matches('"').to_string();
                Some((name.to_string(), menu))
            })
        })
    }

    /// The menu layout as JSON (`busctl --json=short`).
    fn layout(&self, name: &str, menu: &str) -> Value {
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
        serde_json::from_str(&out).expect("busctl prints JSON")
    }
}

/// `(id, label)` of every item in a dbusmenu layout (`u(ia{sv}av)` as busctl's JSON).
fn items(layout: &Value) -> Vec<(i64, String)> {
    fn walk(node: &Value, out: &mut Vec<(i64, String)>) {
        // node = [id, {props}, [children as {"type","data"}]]
        let Some(parts) = node.as_array() else { return };
        if let (Some(id), Some(props)) = (parts.first().and_then(Value::as_i64), parts.get(1))
            && let Some(label) = props["label"]["data"].as_str()
        {
            out.push((id, label.replace("__", "_")));
        }
        for child in parts.get(2).and_then(Value::as_array).into_iter().flatten() {
            walk(&child["data"], out);
        }
    }
    let mut out = Vec::new();
    walk(&layout["data"][1], &mut out);
    out
}

fn labels(layout: &Value) -> Vec<String> {
    items(layout).into_iter().map(|(_, l)| l).collect()
}

#[test]
fn tray_menu_is_on_the_session_bus_and_sign_in_opens_the_login_window() {
    let idp = Idp::start(IdpOptions::default());
    let root = tempfile::tempdir().expect("create the test root");
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Embedded;
    let config = Config {
        providers: vec![corp],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
    };
    let session = start_session(root.path(), &config);
    let started = Instant::now();
    let recorder = Recorder::default();
    let _notifications = recorder.serve(&session.bus);
    let (name, menu) = session.tray_item();
    eprintln!(
        "tray exported {:?} after launch (display {})",
        started.elapsed(),
        session.display
    );
    let layout = session.layout(&name, &menu);
    let shown = labels(&layout);
    for expected in [
        "corp — Not signed in",
        "Cluster prod",
        "Sign in to corp…",
        "Quit Signet",
    ] {
        assert!(
            shown.iter().any(|l| l == expected),
            "the tray menu lists {expected:?}; it shows {shown:?}"
        );
    }
    assert!(
        shown.iter().any(|l| l == "Start at login"),
        "the autostart toggle is there: {shown:?}"
    );

    // A second launch hands over to the first and exits.
    let mut second = Command::new(APP);
    world_env(&mut second, root.path());
    second
        .env("DBUS_SESSION_BUS_ADDRESS", &session.bus)
        .env("DISPLAY", &session.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut second = second.spawn().expect("start a second signet");
    let exited = session.wait("the second instance to exit", || {
        second.try_wait().expect("poll the second instance")
    });
    assert!(
        exited.success(),
        "the second instance exits cleanly: {exited}"
    );
    assert_eq!(
        session.tray_item(),
        (name.clone(), menu.clone()),
        "the first instance keeps running and keeps its tray"
    );

    let note = session.wait("the already-running notification", || {
        recorder.received().into_iter().next()
    });
    assert_eq!(
        note,
        Received {
            app_name: "Signet".into(),
            summary: "Signet is already running".into(),
            body: "Use its icon in the system tray.".into(),
            actions: vec![],
        },
        "the first instance tells the person where it is"
    );

    // "Sign in" through dbusmenu, as a click in the panel would.
    let (sign_in_id, _) = items(&layout)
        .into_iter()
        .find(|(_, l)| l == "Sign in to corp…")
        .expect("the sign-in row has an id");
    session
        .busctl(&[
            "--",
            "call",
            &name,
            &menu,
            "com.canonical.dbusmenu",
            "Event",
            "isvu",
            &sign_in_id.to_string(),
            "clicked",
            "i",
            "0",
            "0",
        ])
        .expect("send the click");
    session.wait("the login window", || {
        session
            .app_log()
            .contains("login window opened")
            .then_some(())
    });
    let shown = session.wait("the menu to say the sign-in runs", || {
        let shown = labels(&session.layout(&name, &menu));
        shown
            .iter()
            .any(|l| l == "Signing in to corp… (show)")
            .then_some(shown)
    });
    assert!(!shown.iter().any(|l| l == "Sign in to corp…"), "{shown:?}");
    let log = session.app_log();
    assert!(
        !log.contains("code=") && !log.contains("code_verifier"),
        "the app log never holds a code:\n{log}"
    );

    // Keep a copy of the log with the test output.
    let _ = std::io::stderr().write_all(format!("app log:\n{log}\n").as_bytes());
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

#[test]
fn a_signed_in_session_shows_in_the_tray_and_sign_out_forgets_it() {
    let root = tempfile::tempdir().expect("create the test root");
    // The IdP is never contacted: the session comes from the cache, and sign-out finds no refresh token.
    let config = Config {
        providers: vec![provider("corp", "http://127.0.0.1:9/dex", None)],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
    };
    let paths = app_paths(root.path());
    let cache = TokenCache::new(&paths);
    let now = chrono::Utc::now();
    let identity = Identity {
        subject: "CgVhbGljZQ".into(),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        name: Some("Alice".into()),
        groups: vec!["dev".into()],
        audiences: vec!["kubernetes".into()],
    };
    cache
        .write_session(&SessionRecord {
            provider: "corp".into(),
            identity: identity.clone(),
            signed_in_at: now,
            refreshed_at: None,
            refreshable: true,
        })
        .expect("seed the session record");
    cache
        .write(&CachedToken {
            version: 1,
            provider: "corp".into(),
            audience: "kubernetes".into(),
            id_token: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
            expires_at: now + chrono::TimeDelta::hours(1),
            issued_at: now,
            identity,
        })
        .expect("seed the cached token");

    let session = start_session(root.path(), &config);
    let recorder = Recorder::default();
    let _notifications = recorder.serve(&session.bus);
    let (name, menu) = session.tray_item();
    let layout = session.layout(&name, &menu);
    let shown = labels(&layout);
    for expected in [
        "corp — alice@example.com",
        "Cluster prod",
        "Sign out of corp",
    ] {
        assert!(
            shown.iter().any(|l| l == expected),
            "the tray menu lists {expected:?}; it shows {shown:?}"
        );
    }
    assert!(
        shown.iter().any(|l| l.starts_with("Token valid until ")),
        "the expiry is shown: {shown:?}"
    );
    assert!(
        !shown.iter().any(|l| l == "Sign in to corp…"),
        "no sign-in row while signed in: {shown:?}"
    );

    let (sign_out_id, _) = items(&layout)
        .into_iter()
        .find(|(_, l)| l == "Sign out of corp")
        .expect("the sign-out row has an id");
    session
        .busctl(&[
            "--",
            "call",
            &name,
            &menu,
            "com.canonical.dbusmenu",
            "Event",
            "isvu",
            &sign_out_id.to_string(),
            "clicked",
            "i",
            "0",
            "0",
        ])
        .expect("send the click");
    let shown = session.wait("the menu to show the sign-out", || {
        let shown = labels(&session.layout(&name, &menu));
        shown
            .iter()
            .any(|l| l == "corp — Not signed in")
            .then_some(shown)
    });
    assert!(shown.iter().any(|l| l == "Sign in to corp…"), "{shown:?}");
    let note = session.wait("the signed-out notification", || {
        recorder.received().into_iter().next()
    });
    assert_eq!(note.summary, "Signed out of corp", "{note:?}");
    assert!(
        !paths.tokens_dir().join("corp").exists(),
        "the cached tokens are gone"
    );

    // "Start at login" writes an XDG autostart entry under this test's HOME.
    let (autostart_id, _) = items(&session.layout(&name, &menu))
        .into_iter()
        .find(|(_, l)| l == "Start at login")
        .expect("the autostart row has an id");
    session
        .busctl(&[
            "--",
            "call",
            &name,
            &menu,
            "com.canonical.dbusmenu",
            "Event",
            "isvu",
            &autostart_id.to_string(),
            "clicked",
            "i",
            "0",
            "0",
        ])
        .expect("send the click");
    let autostart_dir = root.path().join("home/.config/autostart");
    let entry = session.wait("the autostart entry", || {
        std::fs::read_dir(&autostart_dir)
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "desktop"))
            .map(|e| std::fs::read_to_string(e.path()).expect("read the autostart entry"))
    });
    assert!(
        entry.contains("signet"),
        "the autostart entry starts signet:\n{entry}"
    );
}
