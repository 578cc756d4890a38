//! The session bus as the benchmark sees it: its own connection, the app's connections and tray item,
//! and a minimal StatusNotifierWatcher it can put on the bus or take off.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `TrayIconBuilder::with_id("signet")` as libayatana-appindicator exports it.
const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_signet";
const ITEM_INTERFACE: &str = "org.kde.StatusNotifierItem";
const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";
/// How long the benchmark waits for an answer to a D-Bus call.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection of the app that did not answer this many calls in a row is not asked again (GTK's
/// connection may be slow while the app starts; a connection with no object server never answers).
const SILENT_AFTER: u32 = 3;

/// The benchmark's own connection to the desktop's bus.
pub struct Bus {
    conn: zbus::blocking::Connection,
    dbus: zbus::blocking::fdo::DBusProxy<'static>,
}

impl Bus {
    pub fn connect(address: &str) -> Bus {
        // A connection with no object server never answers a call (zbus queues it): without a timeout,
        // asking such a connection of the app for the item would hang the benchmark.
        let conn = zbus::blocking::connection::Builder::address(address)
            .map(|b| b.method_timeout(CALL_TIMEOUT))
            .and_then(|b| b.build())
            .expect("connect to the desktop's session bus");
        let dbus = zbus::blocking::fdo::DBusProxy::new(&conn).expect("the bus's own interface");
        Bus { conn, dbus }
    }

    fn unique_names(&self) -> Vec<String> {
        self.dbus
            .list_names()
            .map(|names| {
                names
                    .into_iter()
                    .map(|n| n.to_string())
                    .filter(|n| n.starts_with(':'))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn pid_of(&self, name: &str) -> Option<u32> {
        let name = zbus::names::BusName::try_from(name).ok()?;
        self.dbus.get_connection_unix_process_id(name).ok()
    }

    fn has_owner(&self, name: &str) -> bool {
        zbus::names::BusName::try_from(name)
            .ok()
            .and_then(|n| self.dbus.name_has_owner(n).ok())
            .unwrap_or(false)
    }

    /// Whether the connection `name` serves the tray item (`Properties.Get(StatusNotifierItem, Id)`);
    /// `None` when it does not answer at all.
    fn ask_for_item(&self, name: &str) -> Option<bool> {
        match self.conn.call_method(
            Some(name),
            ITEM_PATH,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(ITEM_INTERFACE, "Id"),
        ) {
            Ok(_) => Some(true),
            Err(zbus::Error::InputOutput(_)) => None,
            Err(e) if e.to_string().contains("imed out") => None,
            Err(_) => Some(false),
        }
    }
}

/// The bus connections of one process, learnt as they appear.
pub struct AppNames {
    pid: u32,
    seen: std::collections::HashSet<String>,
    ours: Vec<String>,
    /// Calls in a row each connection left unanswered.
    unanswered: std::collections::HashMap<String, u32>,
    /// The process's connections that stopped being asked (still waited for in `wait_gone`).
    silent: Vec<String>,
}

impl AppNames {
    pub fn new(pid: u32) -> AppNames {
        AppNames {
            pid,
            seen: Default::default(),
            ours: Vec::new(),
            unanswered: Default::default(),
            silent: Vec::new(),
        }
    }

    /// Looks for new connections of the process, then asks each for the tray item.
    pub fn item_exported(&mut self, bus: &Bus) -> bool {
        for name in bus.unique_names() {
            if self.seen.insert(name.clone()) && bus.pid_of(&name) == Some(self.pid) {
                self.ours.push(name);
            }
        }
        let mut found = false;
        for name in &self.ours {
            match bus.ask_for_item(name) {
                Some(true) => {
                    found = true;
                    break;
                }
                Some(false) => {
                    self.unanswered.remove(name);
                }
                None => *self.unanswered.entry(name.clone()).or_default() += 1,
            }
        }
        let silent: Vec<String> = self
            .unanswered
            .iter()
            .filter(|(_, n)| **n >= SILENT_AFTER)
            .map(|(name, _)| name.clone())
            .collect();
        if !silent.is_empty() {
            eprintln!(
                "  (connection(s) {silent:?} of the app did not answer {SILENT_AFTER} calls of {CALL_TIMEOUT:?}; not asked again)"
            );
            self.ours.retain(|n| !silent.contains(n));
            for name in silent {
                self.unanswered.remove(&name);
                self.silent.push(name);
            }
        }
        found
    }

    /// Waits (≤ 5 s) until none of the process's connections is on the bus any more.
    pub fn wait_gone(&self, bus: &Bus) {
        let until = Instant::now() + Duration::from_secs(5);
        while self
            .ours
            .iter()
            .chain(&self.silent)
            .any(|n| bus.has_owner(n))
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A minimal `org.kde.StatusNotifierWatcher` (what a desktop panel provides): records when items
/// register.
#[derive(Clone, Default)]
struct Watcher {
    registered: Arc<Mutex<Vec<(Instant, String)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String) {
        let at = Instant::now();
        if let Ok(mut registered) = self.registered.lock() {
            registered.push((at, service));
        }
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.registered
            .lock()
            .map(|r| r.iter().map(|(_, s)| s.clone()).collect())
            .unwrap_or_default()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The watcher, on the bus or not.
pub struct WatcherHost {
    address: String,
    watcher: Watcher,
    conn: Option<zbus::blocking::Connection>,
}

impl WatcherHost {
    pub fn new(address: &str) -> WatcherHost {
        WatcherHost {
            address: address.to_string(),
            watcher: Watcher::default(),
            conn: None,
        }
    }

    /// Puts the watcher on the bus (`on`) or takes it off, and forgets earlier registrations.
    pub fn set(&mut self, on: bool, bus: &Bus) {
        if let Ok(mut registered) = self.watcher.registered.lock() {
            registered.clear();
        }
        match (on, self.conn.is_some()) {
            (true, false) => {
                let conn = zbus::blocking::connection::Builder::address(self.address.as_str())
                    .and_then(|b| b.name(WATCHER_NAME))
                    .and_then(|b| b.serve_at("/StatusNotifierWatcher", self.watcher.clone()))
                    .and_then(|b| b.build())
                    .expect("serve the StatusNotifierWatcher");
                self.conn = Some(conn);
            }
            (false, true) => {
                self.conn = None;
                let until = Instant::now() + Duration::from_secs(5);
                while bus.has_owner(WATCHER_NAME) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            _ => {}
        }
    }

    pub fn registered_since(&self, started: Instant) -> Option<Duration> {
        self.watcher
            .registered
            .lock()
            .ok()?
            .iter()
            .find(|(at, _)| *at >= started)
            .map(|(at, _)| at.duration_since(started))
    }
}
