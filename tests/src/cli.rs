//! The CLI's test world: a [`World`] (temporary root and Dex stand-in) with its own keyring session, in
//! which `kubectl-signet`, kubectl and `signet-probe` run with every path inside the root. With
//! [`CliWorld::browser`], a sign-in's "browser" is `signet-probe browse <user>`, which fills in the
//! stand-in's form and logs each launch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::keyring::KeyringSession;
use crate::world::World;

/// A world for `kubectl-signet` and kubectl.
#[derive(Debug)]
pub struct CliWorld {
    pub world: World,
    pub keyring: KeyringSession,
    plugin: PathBuf,
    browser: Option<String>,
    browser_log: PathBuf,
}

impl CliWorld {
    /// `plugin` is the `kubectl-signet` under test (`env!("CARGO_BIN_EXE_kubectl-signet")`).
    pub fn new(plugin: impl Into<PathBuf>, world: World) -> CliWorld {
        let keyring = KeyringSession::start(&world.paths.home);
        let browser_log = world.root.path().join("browser.log");
        CliWorld {
            world,
            keyring,
            plugin: plugin.into(),
            browser: None,
            browser_log,
        }
    }

    /// Sign-ins open `signet-probe browse <user>` as the browser (`$BROWSER`).
    pub fn browser(mut self, user: &str) -> CliWorld {
        self.browser = Some(user.to_string());
        self
    }

    /// The `kubectl-signet` under test.
    pub fn plugin_path(&self) -> &Path {
        &self.plugin
    }

    /// A command in this world: its paths, the private keyring's bus, no stdin.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.world.command(program);
        self.keyring.apply(&mut cmd);
        if let Some(user) = &self.browser {
            cmd.env(
                "BROWSER",
                format!("{} browse {user}", probe(&self.plugin).display()),
            )
            .env("SIGNET_TEST_BROWSER_LOG", &self.browser_log);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `kubectl-signet args…`.
    pub fn plugin(&self, args: &[&str]) -> Output {
        self.command(&self.plugin)
            .args(args)
            .output()
            .expect("run kubectl-signet")
    }

    /// Runs `kubectl args…`.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.command("kubectl")
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// How many times a sign-in opened the browser.
    pub fn browser_launches(&self) -> usize {
        std::fs::read_to_string(&self.browser_log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

/// `signet-probe`, built next to `plugin` by the workspace build.
pub fn probe(plugin: &Path) -> PathBuf {
    let probe = plugin.parent().expect("target dir").join("signet-probe");
    assert!(
        probe.exists(),
        "{} is missing: run `cargo test --workspace` (scripts/test.sh)",
        probe.display()
    );
    probe
}

/// A process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
