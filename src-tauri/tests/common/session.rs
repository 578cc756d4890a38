//! A private desktop for one real-binary test (DESIGN.md §7): its own D-Bus session with an unlocked
//! gnome-keyring, Xvfb on a free display, a throw-away `HOME`/`XDG_*`/`KUBECONFIG` under the test's root,
//! and the recording notification server on that bus. The app is started separately — directly
//! ([`Session::spawn_app`]) or by tauri-driver — with [`Session::env`]; so is anything else the test runs.
//!
//! The environment is set on `dbus-run-session` itself, so services the bus activates (the keyring,
//! portals) also live in the test's root, never in the real `HOME`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use signet_core::config::Config;
use signet_core::paths::Paths;

use super::Recorder;

/// The app under test.
pub const APP: &str = env!("CARGO_BIN_EXE_signet");
/// `TrayIconBuilder::with_id("signet")` as libayatana-appindicator exports it.
pub const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_signet";

/// Unlocks a fresh keyring, starts Xvfb on a free display, prints the bus and the display, and waits on
/// stdin; closing stdin ends Xvfb, and with the script the bus and everything it activated.
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
echo "BUS $DBUS_SESSION_BUS_ADDRESS"
echo "DISPLAY :$(cat "$ROOT/display")"
cat >/dev/null
kill $xvfb 2>/dev/null
wait $xvfb 2>/dev/null
"#;

/// Whether `tool` is on `PATH`.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Fails (never skips) when a tool is missing, saying how to get it.
pub fn require_tools(tools: &[&str]) {
    for tool in tools {
        assert!(
            on_path(tool),
            "`{tool}` is not installed: run scripts/setup.sh (it installs xvfb, dbus, gnome-keyring, \
             python3 and webkit2gtk-driver) — these tests never skip"
        );
    }
}

/// The environment of everything in a session rooted at `root` (set before dbus-run-session, so
/// services it activates use it too).
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

/// The paths the app computes in a session rooted at `root`.
pub fn app_paths(root: &Path) -> Paths {
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

/// A running private desktop. Dropping it ends the bus, the keyring and Xvfb (drop apps first).
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    pub bus: String,
    pub display: String,
    pub root: PathBuf,
    pub recorder: Recorder,
    _notifications: zbus::blocking::Connection,
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The app started by [`Session::spawn_app`]; terminated when dropped.
pub struct App {
    child: Child,
}

impl App {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tray item of a running app: its unique bus name and its dbusmenu object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tray {
    pub name: String,
    pub menu: String,
}

impl Session {
    /// Creates the root's directories, writes `config` (when given), and starts the bus, keyring and
    /// display, and the recording notification server.
    pub fn start(root: &Path, config: Option<&Config>) -> Session {
        require_tools(&["Xvfb", "dbus-run-session", "busctl", "gnome-keyring-daemon"]);
        for dir in ["home", "runtime", "config", "cache", "state", "data"] {
            std::fs::create_dir_all(root.join(dir)).expect("create a test directory");
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.join("runtime"), std::fs::Permissions::from_mode(0o700))
                .expect("chmod XDG_RUNTIME_DIR");
        }
        if let Some(config) = config {
            config
                .save(&root.join("config/signet/config.toml"))
                .expect("save the test config");
        }
        let mut cmd = Command::new("dbus-run-session");
        world_env(&mut cmd, root);
        cmd.args(["--", "sh", "-c", SCRIPT])
            .env("ROOT", root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The bus, Xvfb and the services it activates (portals, keyring) are noisy; keep it aside.
            .stderr(Stdio::from(
                std::fs::File::create(root.join("session.log")).expect("create session.log"),
            ));
        let mut child = cmd.spawn().expect("start dbus-run-session");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut next = |prefix: &str| next_line(&mut lines, prefix, root);
        let bus = next("BUS ");
        let display = next("DISPLAY ");
        let recorder = Recorder::default();
        let notifications = recorder.serve(&bus);
        Session {
            stdin: child.stdin.take(),
            child,
            bus,
            display,
            root: root.to_path_buf(),
            recorder,
            _notifications: notifications,
        }
    }

    /// Points `cmd` at this session: the root's `HOME`/`XDG_*`/`KUBECONFIG`, the bus and the display.
    pub fn env(&self, cmd: &mut Command) {
        world_env(cmd, &self.root);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("DISPLAY", &self.display);
    }

    /// A command in this session.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.env(&mut cmd);
        cmd
    }

    /// The paths the app uses in this session.
    pub fn paths(&self) -> Paths {
        app_paths(&self.root)
    }

    /// Starts the app (its stdout and stderr go to `app.log` in the root).
    pub fn spawn_app(&self) -> App {
        self.spawn(self.command(APP))
    }

    /// Starts `cmd` (made with [`Session::command`]) as the app: another build of it, or the installed
    /// one (its stdout and stderr go to `app.log` in the root).
    pub fn spawn(&self, mut cmd: Command) -> App {
        let log = std::fs::File::create(self.root.join("app.log")).expect("create app.log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start signet");
        App { child }
    }

    /// The app's own log (`$XDG_STATE_HOME/signet/signet.log`).
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.root.join("state/signet/signet.log")).unwrap_or_default()
    }

    /// Lines of the app's log that contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.app_log()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub fn busctl(&self, args: &[&str]) -> Result<String, String> {
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

    /// Polls `f` every 200 ms for up to `secs` seconds; on timeout fails naming `what`, with the app log.
    pub fn wait<T>(&self, what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs} s waiting for {what}; app log:\n{}",
                self.app_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The tray item exported by the process `pid`. The app holds several connections (GTK, zbus for
    /// single-instance, …); the one exporting the item answers for the StatusNotifierItem's `Menu`.
    pub fn tray(&self, pid: u32) -> Tray {
        let pid = pid.to_string();
        self.wait("the StatusNotifierItem on the session bus", 30, || {
            let list = self.busctl(&["list", "--no-legend"]).ok()?;
            list.lines().find_map(|line| {
                let mut cols = line.split_whitespace();
                let name = cols.next()?;
                if !name.starts_with(':') || cols.next()? != pid {
                    return None;
                }
                // `o "/org/ayatana/NotificationItem/…/Menu"`
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
                Some(Tray {
                    name: name.to_string(),
                    menu,
                })
            })
        })
    }

    /// The tray menu's layout as busctl's JSON (`u(ia{sv}av)`).
    pub fn layout(&self, tray: &Tray) -> Value {
        let out = self
            .busctl(&[
                "--json=short",
                "--",
                "call",
                &tray.name,
                &tray.menu,
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

    /// The labels of the tray menu, top to bottom.
    pub fn labels(&self, tray: &Tray) -> Vec<String> {
        labels(&self.layout(tray))
    }

    /// Clicks the tray menu row labelled `label`, as a panel does (dbusmenu `Event … clicked`).
    pub fn click(&self, tray: &Tray, label: &str) {
        let layout = self.layout(tray);
        let (id, _) = items(&layout)
            .into_iter()
            .find(|(_, l)| l == label)
            .unwrap_or_else(|| panic!("the tray menu has a row {label:?}: {:?}", labels(&layout)));
        self.busctl(&[
            "--",
            "call",
            &tray.name,
            &tray.menu,
            "com.canonical.dbusmenu",
            "Event",
            "isvu",
            &id.to_string(),
            "clicked",
            "i",
            "0",
            "0",
        ])
        .unwrap_or_else(|e| panic!("clicking {label:?} through dbusmenu failed: {e}"));
    }

    /// The StatusNotifierItem's properties (`busctl introspect` of the item: status, icon name and
    /// theme path, title…), as busctl prints them.
    pub fn item_properties(&self, tray: &Tray) -> String {
        self.busctl(&[
            "introspect",
            &tray.name,
            ITEM_PATH,
            "org.kde.StatusNotifierItem",
        ])
        .unwrap_or_else(|e| panic!("introspecting the tray item failed: {e}"))
    }
}

fn next_line(
    lines: &mut std::io::Lines<BufReader<ChildStdout>>,
    prefix: &str,
    root: &Path,
) -> String {
    let line = lines.next().and_then(Result::ok).unwrap_or_else(|| {
        panic!(
            "the session script ended before printing {prefix}: {}",
            std::fs::read_to_string(root.join("session.log")).unwrap_or_default()
        )
    });
    line.strip_prefix(prefix)
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("expected {prefix}…, got {line:?}"))
}

/// `(id, label)` of every item in a dbusmenu layout (`u(ia{sv}av)` as busctl's JSON), with GTK's
/// mnemonic escape (`__`) undone.
pub fn items(layout: &Value) -> Vec<(i64, String)> {
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

pub fn labels(layout: &Value) -> Vec<String> {
    items(layout).into_iter().map(|(_, l)| l).collect()
}

/// A process below `ancestor` (child, grandchild…) running `exe`, if there is one.
pub fn descendant(ancestor: u32, exe: &Path) -> Option<u32> {
    let exe = std::fs::canonicalize(exe).ok()?;
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe))
        .find(|&pid| {
            let mut at = pid;
            for _ in 0..16 {
                match parent_of(at) {
                    Some(p) if p == ancestor => return true,
                    Some(p) if p > 1 => at = p,
                    _ => return false,
                }
            }
            false
        })
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
pub fn workspace_bin(name: &str, package: &str, sources: &[&str]) -> PathBuf {
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
        eprintln!("building {name}: it is missing or older than its sources");
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

/// `kubectl-signet` from this target directory (what the app writes into kubeconfig exec entries).
pub fn kubectl_signet() -> PathBuf {
    workspace_bin(
        "kubectl-signet",
        "kubectl-signet",
        &[
            "src-tauri/crates/kubectl-signet/src",
            "src-tauri/crates/core/src",
        ],
    )
}
