//! `kubectl-signet`, as kubectl runs it: a small front binary (DESIGN.md §8, `token` ≤ 1.15× the floor).
//!
//! kubectl starts its exec plugin once per kubectl process, and most of that process's time is the kernel
//! loading the image: a 10 MB position-independent CLI costs ~40 copy-on-write faults for its relocations
//! alone. This binary holds only the exec entry's fast path ([`exec_entry`]) and serves a fresh cached
//! token itself. For anything else — another command, a stale token, `SIGNET_LOG` set — it replaces
//! itself with the full CLI, `signet-cli`, with the same arguments and environment: next to this binary
//! (a build tree, the release tarball), else in `../lib/signet/` (the Debian package).

mod exec_entry;

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The full CLI's file name.
const FULL: &str = "signet-cli";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if std::env::var_os("SIGNET_LOG").is_none() && exec_entry::serve_from_index(&args) {
        return ExitCode::SUCCESS;
    }
    let Some(full) = full_cli() else {
        eprintln!(
            "signet: the full CLI ({FULL}) is missing next to kubectl-signet or in ../lib/signet/; reinstall Signet"
        );
        return ExitCode::from(1);
    };
    let error = std::process::Command::new(&full)
        .arg0("kubectl-signet")
        .args(&args)
        .exec();
    eprintln!("signet: could not run {}: {error}", full.display());
    ExitCode::from(1)
}

/// Where the full CLI is, beside this binary (symlinks resolved) or in `../lib/signet/`.
fn full_cli() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [
        dir.join(FULL),
        dir.join("..").join("lib").join("signet").join(FULL),
    ]
    .into_iter()
    .find(|p| p.is_file())
}
