//! The private desktop of `signet_tests::desktop`, plus what only this package's tests know: the app
//! binary cargo built for them, and other workspace binaries built on demand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

pub use signet_tests::desktop::*;

/// The app under test.
pub const APP: &str = env!("CARGO_BIN_EXE_signet");

/// Starts the app under test in `session`.
pub fn spawn_app(session: &Session) -> App {
    session.spawn(session.command(APP))
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

/// `kubectl-signet` from this target directory (what the app writes into kubeconfig exec entries), with
/// the full CLI it runs, `signet-cli`, built beside it.
pub fn kubectl_signet() -> PathBuf {
    let sources = [
        "src-tauri/crates/kubectl-signet/src",
        "src-tauri/crates/core/src",
    ];
    workspace_bin("signet-cli", "kubectl-signet", &sources);
    workspace_bin("kubectl-signet", "kubectl-signet", &sources)
}

/// `signet-probe` from this target directory.
pub fn signet_probe() -> PathBuf {
    workspace_bin(
        "signet-probe",
        "signet-tests",
        &["tests/src", "src-tauri/crates/core/src"],
    )
}

/// Signs `user` in to `provider` without the app (`signet-probe login`): a session in the session's real
/// keyring and token cache.
pub fn probe_login(session: &Session, provider: &str, user: &str) {
    let out = session
        .command(signet_probe())
        .args(["login", provider, user, signet_tests::idp::PASSWORD])
        .output()
        .expect("run signet-probe login");
    assert!(
        out.status.success(),
        "signet-probe login: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
