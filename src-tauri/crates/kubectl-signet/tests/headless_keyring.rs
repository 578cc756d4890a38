//! Issue 13, part 1: signing in on a server with no D-Bus session at all. The refresh token goes to the
//! Linux kernel keyring (keyutils), never to a file, and `status` / `doctor` name the store.
//!
//! Real parts: `kubectl-signet`, the Dex stand-in, the `signet-probe` browser, the kernel keyring and
//! `keyctl` (Debian `keyutils`).
//!
//! No D-Bus: every command runs with a cleared environment (no `DBUS_SESSION_BUS_ADDRESS`, no
//! `DISPLAY`, so neither zbus nor libdbus can autolaunch a bus) and an empty `XDG_RUNTIME_DIR` of the
//! test's own (no `bus` socket for zbus's fallback).
//!
//! Isolation from the real user's keyring: the kernel keyring is per uid, and the store links each
//! key into the uid's persistent keyring, which outlives every session. So each test owns a user
//! namespace (`unshare --user --map-root-user`, held open by a `sleep` the test kills at the end):
//! the kernel gives every user namespace its own user and persistent keyrings, so nothing the test
//! stores is visible to (or can collide with) the real user or another test running in parallel, and
//! the keys are garbage-collected with the namespace. Every command enters that namespace with
//! `nsenter --user` and runs in a fresh session keyring (`keyctl session -`), as a new SSH login
//! would: a second process finds the session only through the persistent keyring.
//!
//! The store-switching test also runs a Secret Service (gnome-keyring on `dbus-run-session`) inside the
//! namespace, so the bus, the daemon and the clients agree on one uid whether or not CI runs as root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_core::config::SecretStoreChoice;
use signet_tests::cli::{probe, text};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::World;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");
const ENTRY: &str = "keyring:corp@signet";

fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .any(|dir| dir.join(tool).is_file());
    assert!(
        found,
        "`{tool}` is not on PATH: install the Debian package `{package}` (scripts/setup.sh does)"
    );
}

/// A user namespace of the test's own, kept open by a `sleep` killed on drop.
struct KeyringNamespace {
    holder: Child,
}

impl KeyringNamespace {
    fn new() -> KeyringNamespace {
        require("keyctl", "keyutils");
        require("unshare", "util-linux");
        require("nsenter", "util-linux");
        let holder = Command::new("unshare")
            .args(["--user", "--map-root-user", "sleep", "3600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run unshare");
        let ns = KeyringNamespace { holder };
        // unshare execs sleep once the namespace and its uid map exist.
        let comm = PathBuf::from(format!("/proc/{}/comm", ns.holder.id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep" {
            assert!(
                Instant::now() < deadline,
                "`unshare --user --map-root-user` did not start; user namespaces must be enabled (sysctl kernel.unprivileged_userns_clone=1)"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let own = std::fs::read_link("/proc/self/ns/user").expect("own user namespace");
        let held = std::fs::read_link(format!("/proc/{}/ns/user", ns.holder.id()))
            .expect("the holder's user namespace");
        assert_ne!(
            own, held,
            "the holder must be in a user namespace of its own"
        );
        ns
    }

    /// `program args` inside the namespace, in a fresh session keyring.
    fn wrap(&self, cmd: &mut Command, program: &str) {
        cmd.args([
            "--target",
            &self.holder.id().to_string(),
            "--user",
            "--preserve-credentials",
            "keyctl",
            "session",
            "-",
            program,
        ]);
    }
}

impl Drop for KeyringNamespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A Secret Service (gnome-keyring, unlocked) on a private D-Bus session inside the namespace, as
/// `signet_tests::keyring::KeyringSession` starts one outside; closing stdin ends both.
struct NamespacedSecretService {
    child: Child,
    bus_address: String,
}

const SECRET_SERVICE: &str = r#"
printf '%s' signet-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || { echo "FAILED gnome-keyring-daemon --unlock"; exit 1; }
i=0
until busctl --user status org.freedesktop.secrets >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done
echo "BUS $DBUS_SESSION_BUS_ADDRESS"
cat >/dev/null
"#;

impl Drop for NamespacedSecretService {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

struct Headless {
    world: World,
    ns: KeyringNamespace,
    runtime_dir: PathBuf,
    browser_log: PathBuf,
    bus: Option<NamespacedSecretService>,
}

impl Headless {
    fn new(store: Option<SecretStoreChoice>) -> Headless {
        let world = World::new(Idp::start(IdpOptions::default()));
        let mut config = world.config();
        if let Some(store) = store {
            config.settings.secret_store = store;
        }
        world.write_config(&config);
        let runtime_dir = world.root.path().join("runtime");
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        let browser_log = world.root.path().join("browser.log");
        Headless {
            world,
            ns: KeyringNamespace::new(),
            runtime_dir,
            browser_log,
            bus: None,
        }
    }

    /// Starts a Secret Service in the namespace; later commands see it on their session bus.
    fn start_secret_service(&mut self) {
        require("dbus-run-session", "dbus");
        require("gnome-keyring-daemon", "gnome-keyring");
        let home = &self.world.paths.home;
        let mut cmd = self.world.command("nsenter");
        cmd.args([
            "--target",
            &self.ns.holder.id().to_string(),
            "--user",
            "--preserve-credentials",
            "dbus-run-session",
            "--",
            "sh",
            "-c",
            SECRET_SERVICE,
        ])
        .env("XDG_RUNTIME_DIR", &self.runtime_dir)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("NO_AT_BRIDGE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .expect("start dbus-run-session in the namespace");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("piped stdout")),
            &mut line,
        )
        .expect("read the bus address");
        let bus_address = match line.trim().strip_prefix("BUS ") {
            Some(address) if !address.is_empty() => address.to_string(),
            _ => panic!("the namespace's Secret Service did not start: {line:?}"),
        };
        self.bus = Some(NamespacedSecretService { child, bus_address });
    }

    fn set_store(&self, store: SecretStoreChoice) {
        let mut config = self.world.config();
        config.settings.secret_store = store;
        self.world.write_config(&config);
    }

    /// `program args` in the test's keyring namespace, with no D-Bus session.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = self.world.command("nsenter");
        self.ns.wrap(&mut cmd, program);
        cmd.args(args)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env(
                "BROWSER",
                format!("{} browse alice", probe(Path::new(PLUGIN)).display()),
            )
            .env("SIGNET_TEST_BROWSER_LOG", &self.browser_log)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        if let Some(bus) = &self.bus {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.bus_address);
        }
        cmd.output().expect("run nsenter")
    }

    fn plugin(&self, args: &[&str]) -> Output {
        self.run(PLUGIN, args)
    }

    /// The refresh token in the namespace's keyring (reached, as Signet does, through the persistent
    /// keyring linked into a fresh session), or `None` when there is no such key.
    fn keyring_entry(&self) -> Option<String> {
        let script = format!(
            "keyctl get_persistent @s >/dev/null && id=$(keyctl search @s user '{ENTRY}') && keyctl pipe \"$id\""
        );
        let out = self.run("sh", &["-c", &script]);
        let stderr = text(&out.stderr);
        if out.status.success() {
            return Some(text(&out.stdout));
        }
        // A deleted entry is revoked at once and garbage-collected a moment later: until then a search
        // finds it but can read nothing ("Key has been revoked"), which is gone all the same.
        assert!(
            stderr.contains("Required key not available")
                || stderr.contains("Key has been revoked"),
            "keyctl failed for another reason than a missing key: {stderr}"
        );
        None
    }

    fn browser_launches(&self) -> usize {
        std::fs::read_to_string(&self.browser_log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

/// Every regular file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8], found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files_containing(&path, needle, found);
        } else if kind.is_file()
            && std::fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        {
            found.push(path);
        }
    }
}

#[test]
fn headless_sign_in_keeps_the_refresh_token_in_the_kernel_keyring() {
    let env = Headless::new(None);

    let out = env.plugin(&["login", "corp", "--browser"]);
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Signed in to corp as alice@example.com"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(env.browser_launches(), 1, "one browser sign-in");

    // The refresh token is in the kernel keyring and in no file under HOME or the XDG directories.
    let refresh = env
        .keyring_entry()
        .expect("keyctl finds the refresh token in the user's persistent keyring");
    assert!(
        refresh.len() >= 16,
        "a real refresh token: {} bytes",
        refresh.len()
    );
    let mut leaked = Vec::new();
    files_containing(env.world.root.path(), refresh.as_bytes(), &mut leaked);
    assert!(
        leaked.is_empty(),
        "the refresh token is in files: {leaked:?}"
    );

    // A second process (a new session keyring, as after an SSH logout and login) refreshes without
    // signing in: the cached ID tokens are gone, so only the keyring's refresh token can serve it.
    std::fs::remove_file(
        env.world
            .paths
            .tokens_dir()
            .join("corp/aud-kubernetes.json"),
    )
    .expect("remove the cached ID token");
    env.world.idp.reset_stats();
    let out = env.plugin(&["token", "--cluster", "prod"]);
    assert!(out.status.success(), "token: {}", text(&out.stderr));
    let cred: Value = serde_json::from_slice(&out.stdout).expect("ExecCredential JSON");
    assert_eq!(
        cred["status"]["token"]
            .as_str()
            .map(|t| t.split('.').count()),
        Some(3),
        "a JWT: {cred}"
    );
    let stats = env.world.idp.stats();
    assert_eq!(stats.token_requests.refresh_token, 1, "{stats:?}");
    assert_eq!(stats.auth_requests, 0, "no sign-in: {stats:?}");
    assert_eq!(env.browser_launches(), 1, "no second browser");

    // status and doctor name the store and what it keeps across reboots.
    let out = env.plugin(&["status", "--json"]);
    assert!(out.status.success(), "status: {}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let store = &status["providers"][0]["store"];
    assert_eq!(store["kind"], "keyutils", "{status}");
    assert_eq!(store["holds_session"], true, "{status}");
    assert!(
        store["keeps"]
            .as_str()
            .is_some_and(|k| k.contains("until the machine reboots")),
        "{status}"
    );
    let out = env.plugin(&["status"]);
    assert!(
        text(&out.stdout).contains("session kept in the kernel keyring (keyutils)"),
        "{}",
        text(&out.stdout)
    );
    let out = env.plugin(&["doctor"]);
    let doctor = text(&out.stdout) + &text(&out.stderr);
    let line = doctor
        .lines()
        .find(|l| l.contains("keyring"))
        .unwrap_or_else(|| panic!("doctor has a keyring line: {doctor}"));
    assert!(
        line.contains("kernel keyring (keyutils)") && line.contains("a session for corp is stored"),
        "{doctor}"
    );
    assert!(!doctor.contains(&refresh), "doctor never prints the secret");

    // logout removes the key.
    let out = env.plugin(&["logout", "corp"]);
    assert!(out.status.success(), "logout: {}", text(&out.stderr));
    assert_eq!(env.keyring_entry(), None, "logout removed the key");
}

#[test]
fn forcing_the_secret_service_without_one_fails_with_the_clear_error_and_writes_nothing() {
    let env = Headless::new(Some(SecretStoreChoice::SecretService));
    let out = env.plugin(&["login", "corp", "--browser"]);
    assert!(
        !out.status.success(),
        "login must fail without a Secret Service"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no keyring is reachable") && stderr.contains("secret_store"),
        "{stderr}"
    );
    assert_eq!(env.keyring_entry(), None, "nothing in the kernel keyring");
}

/// Moving between stores needs a sign-in: a session in the Secret Service is not copied to (or read
/// through) the kernel keyring when `secret_store = "keyutils"` is forced; status says to sign in again.
#[test]
fn switching_stores_asks_for_a_sign_in_and_copies_nothing() {
    let mut env = Headless::new(None);
    env.start_secret_service();

    // auto with a Secret Service on the bus: it takes the session.
    let out = env.plugin(&["login", "corp", "--browser"]);
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    let out = env.plugin(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(
        status["providers"][0]["store"]["kind"], "secret-service",
        "{status}"
    );
    assert_eq!(
        status["providers"][0]["store"]["holds_session"], true,
        "{status}"
    );
    assert_eq!(
        env.keyring_entry(),
        None,
        "auto put nothing in the kernel keyring"
    );

    // Forced to the kernel keyring: the session is not there, status says so, and nothing is copied.
    env.set_store(SecretStoreChoice::Keyutils);
    let out = env.plugin(&["status", "--json"]);
    assert!(out.status.success(), "status: {}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let store = &status["providers"][0]["store"];
    assert_eq!(store["kind"], "keyutils", "{status}");
    assert_eq!(store["holds_session"], false, "{status}");
    assert_eq!(store["sign_in_again"], true, "{status}");
    let out = env.plugin(&["status"]);
    assert!(
        text(&out.stdout).contains(
            "the session is in the Secret Service but Signet now uses the kernel keyring (keyutils): sign in again"
        ),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_file(
        env.world
            .paths
            .tokens_dir()
            .join("corp/aud-kubernetes.json"),
    )
    .expect("remove the cached ID token");
    let out = env.plugin(&["doctor"]);
    let doctor = text(&out.stdout) + &text(&out.stderr);
    assert!(
        doctor.contains(
            "the session for corp is in the Secret Service but Signet now uses the kernel keyring (keyutils)"
        ) && doctor.contains("sign in again: `kubectl signet login corp`"),
        "{doctor}"
    );
    let out = env.plugin(&["token", "--cluster", "prod"]);
    assert!(
        !out.status.success(),
        "no refresh token in the kernel keyring: must not refresh"
    );
    assert_eq!(
        env.keyring_entry(),
        None,
        "nothing was copied to the kernel keyring"
    );

    // A sign-in puts the session in the kernel keyring.
    let out = env.plugin(&["login", "corp", "--browser"]);
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    assert!(
        env.keyring_entry().is_some(),
        "the new sign-in is in the kernel keyring"
    );
}
