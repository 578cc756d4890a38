//! `doctor`: checks what Signet depends on and prints one line per check — `ok`, `warn` or `fail`, with
//! the fix — on stdout. Exits 1 when any check fails. Every check only reads (it takes no lock, writes no
//! file, and never shows a token); network checks use short timeouts.
//!
//! The checks: `provider` (the config, each identity provider and the clock against it), `host` (the
//! keyring, kubectl and the exec plugin on PATH), `forwarding` (agent forwarding, on either end), `files`
//! (file modes, locks and kubeconfig entries).

mod files;
mod forwarding;
mod host;
mod provider;

use std::path::Path;

use signet_core::config::{ClusterConfig, Config};
use signet_core::kubeconfig::KubeconfigTarget;
use signet_core::paths::Paths;

use crate::output::Failure;
use files::{check_entries, check_file_modes, check_kubeconfig_locks, check_signet_locks};
use host::{check_keyring, check_kubectl, check_plugin};
use provider::{check_config, check_provider, check_shared_clients};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// Prints checks as they finish and counts the failures.
#[derive(Debug, Default)]
struct Report {
    failures: usize,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, check: &str, detail: impl AsRef<str>) {
        self.line(Level::Ok, check, detail.as_ref(), None);
    }

    fn warn(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.line(Level::Warn, check, detail.as_ref(), Some(fix.as_ref()));
    }

    fn fail(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.line(Level::Fail, check, detail.as_ref(), Some(fix.as_ref()));
    }

    fn line(&mut self, level: Level, check: &str, detail: &str, fix: Option<&str>) {
        let tag = match level {
            Level::Ok => "ok",
            Level::Warn => {
                self.warnings += 1;
                "warn"
            }
            Level::Fail => {
                self.failures += 1;
                "fail"
            }
        };
        match fix {
            Some(fix) => println!("{tag:<5} {check}: {detail} — fix: {fix}"),
            None => println!("{tag:<5} {check}: {detail}"),
        }
    }
}

pub fn run() -> Result<(), Failure> {
    let mut report = Report::default();
    let paths = match Paths::from_env() {
        Ok(paths) => paths,
        Err(e) => {
            report.fail("environment", e.to_string(), "set HOME");
            return finish(&report);
        }
    };
    let config = check_config(&mut report, &paths);
    if let Some(config) = &config {
        for provider in &config.providers {
            check_provider(&mut report, provider);
        }
        check_shared_clients(&mut report, config);
    }
    // A remote host served through a forwarded socket needs neither a config nor a keyring.
    let remote = config.is_none() && forwarding::forwarded_socket().is_some();
    if !remote {
        check_keyring(&mut report, config.as_ref());
    }
    forwarding::check_forwarding(&mut report, config.as_ref());
    check_kubectl(&mut report);
    let targets = targets(&paths, config.as_ref());
    check_plugin(&mut report, &paths, config.as_ref(), &targets);
    check_kubeconfig_locks(&mut report, &targets);
    check_signet_locks(&mut report, &paths);
    check_file_modes(&mut report, &paths, &targets);
    if let Some(config) = &config {
        check_entries(&mut report, &paths, config, &targets);
    }
    finish(&report)
}

fn finish(report: &Report) -> Result<(), Failure> {
    if report.failures == 0 {
        return Ok(());
    }
    Err(Failure(format!(
        "{} check{} failed; see the fixes above",
        report.failures,
        if report.failures == 1 { "" } else { "s" }
    )))
}

/// The kubeconfig chain of a cluster: its own `kubeconfig` file, else `KUBECONFIG` / `~/.kube/config`.
fn target_for(paths: &Paths, cluster: Option<&ClusterConfig>) -> KubeconfigTarget {
    let explicit = cluster
        .and_then(|c| c.kubeconfig.as_deref())
        .map(|f| paths.expand_home(f));
    KubeconfigTarget::resolve(
        paths.kubeconfig_env.as_deref(),
        &paths.home,
        explicit.as_deref(),
    )
}

/// Every kubeconfig chain in play: the default one and each cluster's own file.
fn targets(paths: &Paths, config: Option<&Config>) -> Vec<KubeconfigTarget> {
    let mut list = vec![target_for(paths, None)];
    for c in config.map(|c| c.clusters.as_slice()).unwrap_or_default() {
        let target = target_for(paths, Some(c));
        if !list.contains(&target) {
            list.push(target);
        }
    }
    list
}

/// The index in [`targets`] of a cluster's chain.
fn target_index(paths: &Paths, targets: &[KubeconfigTarget], c: &ClusterConfig) -> usize {
    let target = target_for(paths, Some(c));
    targets.iter().position(|t| *t == target).unwrap_or(0)
}

/// A shell-quoted path for a fix line.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}
