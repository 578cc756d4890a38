//! A private desktop for one real-binary test or benchmark (DESIGN.md §7): its own D-Bus session with an
//! unlocked gnome-keyring, Xvfb on a free display, a throw-away `HOME`/`XDG_*`/`KUBECONFIG` under the
//! root, and a recording notification server on that bus. The app is started separately — directly
//! ([`Session::spawn`]) or by tauri-driver — with [`Session::env`]; so is anything else that runs there.
//! Tests use [`Session::start`] (the app logs at debug level to stderr); benchmarks use
//! [`Session::quiet`], which leaves logging as a person's machine has it.
//!
//! The environment is set on `dbus-run-session` itself, so services the bus activates (the keyring,
//! portals) also live in the test's root, never in the real `HOME`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_core::config::Config;
use signet_core::paths::Paths;

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
/// services it activates use it too). `verbose`: the app logs at debug level on stderr, with backtraces.
fn world_env(cmd: &mut Command, root: &Path, verbose: bool) {
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
        .env("LIBGL_ALWAYS_SOFTWARE", "1");
    if verbose {
        cmd.env("SIGNET_LOG", "signet_app=debug,signet_core=info")
            .env("RUST_BACKTRACE", "1");
    }
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
#[derive(Debug)]
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    pub bus: String,
    pub display: String,
    pub root: PathBuf,
    pub recorder: Recorder,
    verbose: bool,
    notifications: zbus::blocking::Connection,
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The app started by [`Session::spawn`]; terminated when dropped.
#[derive(Debug)]
pub struct App {
    child: Option<Child>,
}

impl App {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its exit status, if it has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, then SIGKILL after 5 s; reaps it.
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.terminate();
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
    /// display, and the recording notification server. The app logs at debug level to stderr.
    pub fn start(root: &Path, config: Option<&Config>) -> Session {
        Session::begin(root, config, true)
    }

    /// [`Session::start`] for benchmarks: nothing extra is logged.
    pub fn quiet(root: &Path, config: Option<&Config>) -> Session {
        Session::begin(root, config, false)
    }

    fn begin(root: &Path, config: Option<&Config>, verbose: bool) -> Session {
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
        world_env(&mut cmd, root, verbose);
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
            verbose,
            notifications,
        }
    }

    /// Presses button `key` of the `index`-th notification received (from 0), as a notification server does:
    /// the `ActionInvoked` signal on the bus.
    pub fn press(&self, index: usize, key: &str) {
        let id = u32::try_from(index + 1).expect("few notifications");
        self.notifications
            .emit_signal(
                None::<&str>,
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications",
                "ActionInvoked",
                &(id, key),
            )
            .expect("emit ActionInvoked");
    }

    /// Points `cmd` at this session: the root's `HOME`/`XDG_*`/`KUBECONFIG`, the bus and the display.
    pub fn env(&self, cmd: &mut Command) {
        world_env(cmd, &self.root, self.verbose);
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

    /// Starts `cmd` (made with [`Session::command`]) as the app: the build under test, or the installed
    /// one. Its stdout and stderr are appended to `app.log` in the root.
    pub fn spawn(&self, mut cmd: Command) -> App {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("app.log"))
            .expect("open app.log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start signet");
        App { child: Some(child) }
    }

    /// Where the app keeps its own log.
    pub fn app_log_path(&self) -> PathBuf {
        self.root.join("state/signet/signet.log")
    }

    /// The app's own log (`$XDG_STATE_HOME/signet/signet.log`).
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.app_log_path()).unwrap_or_default()
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

    /// Closes the top-level window titled `title` as a window manager does when its close button is
    /// clicked: it sends the window `WM_DELETE_WINDOW` (ICCCM §4.2.8.1). There is no window manager on
    /// the session's Xvfb, so a small script does it (Debian's python3, ctypes over libX11). Fails
    /// unless exactly one window has that title.
    pub fn close_window(&self, title: &str) -> Result<(), String> {
        let out = self
            .command("/usr/bin/python3")
            .args(["-c", CLOSE_BY_TITLE, title])
            .output()
            .map_err(|e| format!("run /usr/bin/python3 (Debian's python3 package): {e}"))?;
        let sent = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && sent == "1" {
            Ok(())
        } else {
            Err(format!(
                "expected one window titled {title:?}, sent WM_DELETE_WINDOW to {sent:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
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

/// Sends `WM_DELETE_WINDOW` to every top-level window named `argv[1]`; prints how many got it.
const CLOSE_BY_TITLE: &str = r#"
import ctypes, sys
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
d = x.XOpenDisplay(None)
if not d: sys.exit("cannot open the display")
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)), ctypes.POINTER(ctypes.c_uint)]
x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = [ctypes.c_void_p]
class Msg(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]
class Event(ctypes.Union):
    _fields_ = [("xclient", Msg), ("pad", ctypes.c_long * 24)]
protocols = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
delete = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
root, parent = ctypes.c_ulong(), ctypes.c_ulong()
children, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
x.XQueryTree(d, x.XDefaultRootWindow(d), ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(n))
sent = 0
for i in range(n.value):
    name = ctypes.c_char_p()
    if x.XFetchName(d, children[i], ctypes.byref(name)) and name.value == sys.argv[1].encode():
        e = Event()
        e.xclient.type, e.xclient.window, e.xclient.message_type, e.xclient.format = 33, children[i], protocols, 32
        e.xclient.l[0], e.xclient.l[1] = delete, 0
        x.XSendEvent(d, children[i], 0, 0, ctypes.byref(e))
        sent += 1
x.XFlush(d)
print(sent)
"#;

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

/// One `Notify` call as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

/// `org.freedesktop.Notifications` that records instead of showing.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut received = self.received.lock().expect("recorder lock");
        received.push(Received {
            app_name,
            summary,
            body,
            actions,
        });
        u32::try_from(received.len()).expect("few notifications")
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "signet-test-recorder".into(),
            "signet".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

impl Recorder {
    /// Serves on the session bus at `address` until the returned connection is dropped.
    pub fn serve(&self, address: &str) -> zbus::blocking::Connection {
        zbus::blocking::connection::Builder::address(address)
            .and_then(|b| b.name("org.freedesktop.Notifications"))
            .and_then(|b| b.serve_at("/org/freedesktop/Notifications", self.clone()))
            .and_then(|b| b.build())
            .expect("serve the recording notification server")
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("recorder lock").clone()
    }
}

/// `(pid, comm)` of every process below `ancestor`.
pub fn descendants(ancestor: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let procs: Vec<(u32, u32, String)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            let name = head.split_once('(').map_or("?", |(_, n)| n).to_string();
            Some((pid, ppid, name))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![ancestor];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid, name) in &procs {
            if *ppid == parent {
                found.push((*pid, name.clone()));
                frontier.push(*pid);
            }
        }
    }
    found
}
