//! A private Secret Service for one test: `gnome-keyring-daemon`, unlocked, on its own D-Bus session.
//!
//! `dbus-run-session` starts a bus that lives as long as its child; the child unlocks a fresh
//! gnome-keyring (its login keyring is created under the throw-away `HOME` with a known password),
//! prints the bus address, and waits on stdin. Dropping [`KeyringSession`] closes stdin, which ends the
//! bus and the daemon. Nothing touches the real user's keyring.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// A running, unlocked keyring on a private session bus.
#[derive(Debug)]
pub struct KeyringSession {
    child: Child,
    stdin: Option<ChildStdin>,
    bus_address: String,
    home: PathBuf,
    runtime_dir: PathBuf,
}

const SCRIPT: &str = r#"
printf '%s' signet-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || { echo "FAILED gnome-keyring-daemon --unlock"; exit 1; }
i=0
until busctl --user status org.freedesktop.secrets >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done
echo "BUS $DBUS_SESSION_BUS_ADDRESS"
cat >/dev/null
"#;

impl KeyringSession {
    /// Starts the bus and keyring with `HOME=home` (created if needed).
    pub fn start(home: &Path) -> KeyringSession {
        let runtime_dir = home.join(".runtime");
        std::fs::create_dir_all(&runtime_dir).expect("create XDG_RUNTIME_DIR");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
                .expect("chmod runtime dir");
        }
        for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
            assert!(
                which(tool),
                "`{tool}` is not installed: run scripts/test.sh (it installs gnome-keyring and dbus) — keyring tests never skip"
            );
        }
        let mut child = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", SCRIPT])
            .env("HOME", home)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("NO_AT_BRIDGE", "1")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dbus-run-session");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read bus address");
        let bus_address = match line.trim().strip_prefix("BUS ") {
            Some(address) if !address.is_empty() => address.to_string(),
            _ => panic!("the private keyring did not start: {line:?}"),
        };
        KeyringSession {
            stdin: child.stdin.take(),
            child,
            bus_address,
            home: home.to_path_buf(),
            runtime_dir,
        }
    }

    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// Points a command at this keyring (and this `HOME`).
    pub fn apply(&self, command: &mut Command) {
        command
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address);
    }

    /// `secret-tool lookup service <service> username <user>` in this session: `Some(secret)`, or `None`
    /// when there is no such entry. Panics when the lookup itself fails (no bus, no Secret Service, a locked
    /// collection…), so a broken keyring never reads as "the entry is gone".
    pub fn lookup(&self, service: &str, user: &str) -> Option<String> {
        let mut cmd = Command::new("secret-tool");
        cmd.args(["lookup", "service", service, "username", user]);
        self.apply(&mut cmd);
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run `secret-tool` ({e}): install libsecret-tools (scripts/test.sh does)")
        });
        let stderr = String::from_utf8_lossy(&out.stderr);
        // secret-tool exits 1 with nothing on stderr when no item matches; any message is a failure.
        assert!(
            stderr.trim().is_empty(),
            "`secret-tool lookup` failed (exit {:?}): {}",
            out.status.code(),
            stderr.trim()
        );
        match out.status.code() {
            Some(0) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
            Some(1) => None,
            other => panic!("`secret-tool lookup` exited with {other:?}"),
        }
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.wait();
    }
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false)
}
