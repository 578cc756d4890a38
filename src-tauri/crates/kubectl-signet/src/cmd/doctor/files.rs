//! Doctor checks of files: modes of files that hold secrets, stale locks, and Signet's kubeconfig
//! entries against the config.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kube::config::{Kubeconfig, NamedContext};
use signet_core::config::{ClusterConfig, Config, Credentials};
use signet_core::kubeconfig::{self, KubeconfigTarget, STALE_LOCK_AGE};
use signet_core::paths::Paths;

use super::{Report, quoted, target_index};

/// The permission bits of `path` (symlinks followed), or `None` when it does not exist.
#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// Whether kubeconfig text carries a bearer token (a `token:` key with a value).
fn holds_token(text: &str) -> bool {
    text.lines().any(|line| {
        line.trim_start()
            .trim_start_matches("- ")
            .strip_prefix("token:")
            .is_some_and(|value| !value.trim().is_empty())
    })
}

/// Every directory and file under the token cache (two levels: provider, then token), sorted; symlinks are
/// not followed.
fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let list = |dir: &Path| -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|it| it.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        entries.sort();
        entries
    };
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let mut all = Vec::new();
    for entry in list(dir) {
        if is_dir(&entry) {
            let inner = list(&entry);
            all.push(entry);
            all.extend(inner.into_iter().filter(|p| !is_dir(p)));
        } else {
            all.push(entry);
        }
    }
    all
}

/// The modes of the files that can hold secrets: the config (warn), the token cache and its files (fail:
/// only Signet writes there), every kubeconfig of the chains that holds a bearer token (token mode, or a
/// token the person put there: warn) and the kubeconfig backups (warn). One line per file readable by
/// others, with the `chmod` that fixes it.
pub(super) fn check_file_modes(report: &mut Report, paths: &Paths, targets: &[KubeconfigTarget]) {
    let mut loose = 0;
    let mut line = |report: &mut Report, path: &Path, private: u32, fail: bool, what: &str| {
        let Some(mode) = mode_of(path) else { return };
        if mode & 0o077 == 0 {
            return;
        }
        loose += 1;
        let detail = format!("{} is mode {mode:04o}: {what}", path.display());
        let fix = format!("chmod {private:o} {}", quoted(path));
        if fail {
            report.fail("file modes", detail, fix);
        } else {
            report.warn("file modes", detail, fix);
        }
    };
    line(
        report,
        &paths.config_file,
        0o600,
        false,
        "others can read the config",
    );
    let tokens = paths.tokens_dir();
    line(
        report,
        &tokens,
        0o700,
        true,
        "others can list the token cache",
    );
    for entry in cache_entries(&tokens) {
        if entry.is_dir() {
            line(
                report,
                &entry,
                0o700,
                true,
                "others can list this part of the token cache",
            );
        } else {
            line(
                report,
                &entry,
                0o600,
                true,
                "others can read this cached token",
            );
        }
    }
    let mut seen = Vec::new();
    for file in targets.iter().flat_map(|t| t.precedence()) {
        if seen.contains(file) {
            continue;
        }
        seen.push(file.clone());
        if std::fs::read_to_string(file).is_ok_and(|text| holds_token(&text)) {
            line(
                report,
                file,
                0o600,
                false,
                "others can read the bearer token in this kubeconfig",
            );
        }
        let backup = kubeconfig::backup_path(file);
        let backup_token = std::fs::read_to_string(&backup).is_ok_and(|text| holds_token(&text));
        line(
            report,
            &backup,
            0o600,
            false,
            if backup_token {
                "others can read the bearer token in this kubeconfig backup"
            } else {
                "others can read this kubeconfig backup"
            },
        );
    }
    if loose == 0 {
        report.ok(
            "file modes",
            "the config, the token cache and kubeconfigs with tokens are private",
        );
    }
}

/// `<file>.lock` sentinels of kubectl/client-go: one older than a minute blocks every kubeconfig write.
pub(super) fn check_kubeconfig_locks(report: &mut Report, targets: &[KubeconfigTarget]) {
    let mut files: Vec<&PathBuf> = targets.iter().flat_map(|t| t.precedence()).collect();
    files.sort();
    files.dedup();
    let mut found = false;
    for file in files {
        let lock = kubeconfig::lock_path(file);
        let Ok(meta) = std::fs::symlink_metadata(&lock) else {
            continue;
        };
        found = true;
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        if age >= STALE_LOCK_AGE {
            report.fail(
                "kubeconfig lock",
                format!(
                    "{} is {}s old: kubectl and Signet cannot change {} while it exists",
                    lock.display(),
                    age.as_secs(),
                    file.display()
                ),
                format!(
                    "if no kubectl or Signet is running, delete it: rm '{}'",
                    lock.display()
                ),
            );
        } else {
            report.warn(
                "kubeconfig lock",
                format!(
                    "{} exists ({}s old): a kubectl or Signet is writing right now",
                    lock.display(),
                    age.as_secs()
                ),
                "run doctor again in a minute; if it stays, delete it",
            );
        }
    }
    if !found {
        report.ok("kubeconfig lock", "no stale .lock file");
    }
}

/// Signet's own locks are OS file locks, released when their process ends, so a left-over file is
/// harmless; a lock held now means a refresh or sign-in is running (or hanging).
pub(super) fn check_signet_locks(report: &mut Report, paths: &Paths) {
    let dir = paths.locks_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        report.ok("Signet locks", "none held");
        return;
    };
    let mut held = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "lock") {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            held.push(path);
        }
    }
    if held.is_empty() {
        report.ok("Signet locks", format!("none held ({})", dir.display()));
    } else {
        let names: Vec<String> = held
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        report.warn(
            "Signet locks",
            format!(
                "held now: {} (a refresh or sign-in is running)",
                names.join(", ")
            ),
            "if it stays, finish or cancel the pending sign-in (or end the `kubectl-signet` process that waits)",
        );
    }
}

/// Whether each configured cluster has the kubeconfig entries `sync` would write, and no Signet context
/// is left from a cluster that is gone.
pub(super) fn check_entries(
    report: &mut Report,
    paths: &Paths,
    config: &Config,
    targets: &[KubeconfigTarget],
) {
    let merged = read_targets(report, targets);
    let mut problems = 0;
    for c in &config.clusters {
        let Some(view) = &merged[target_index(paths, targets, c)] else {
            continue;
        };
        if let Some((detail, fix)) = cluster_issue(view, c) {
            problems += 1;
            report.warn(&format!("kubeconfig {}", c.context_name()), detail, fix);
        }
    }
    problems += warn_orphans(report, config, &merged, targets);
    if problems == 0 {
        report.ok(
            "kubeconfig",
            format!(
                "entries of {} cluster{} match the config",
                config.clusters.len(),
                if config.clusters.len() == 1 { "" } else { "s" }
            ),
        );
    }
}

/// Each target's merged view; `None` (reported) where a file does not parse.
fn read_targets(report: &mut Report, targets: &[KubeconfigTarget]) -> Vec<Option<Kubeconfig>> {
    targets
        .iter()
        .map(|target| match kubeconfig::read_merged(target) {
            Ok(view) => Some(view),
            Err(e) => {
                report.fail(
                    "kubeconfig",
                    e.to_string(),
                    "fix the file, or move it away and run `kubectl signet sync`",
                );
                None
            }
        })
        .collect()
}

/// The Signet cluster a context's extension names, if it carries Signet's mark.
fn signet_owner(ctx: &NamedContext) -> Option<String> {
    ctx.context
        .as_ref()
        .and_then(|x| x.extensions.as_ref())
        .and_then(|list| list.iter().find(|e| e.name == kubeconfig::EXTENSION_NAME))
        .and_then(|e| e.extension.get("cluster")?.as_str().map(str::to_owned))
}

/// What is wrong with a configured cluster's context, with the fix.
fn cluster_issue(view: &Kubeconfig, c: &ClusterConfig) -> Option<(String, String)> {
    let context = c.context_name();
    let user = kubeconfig::user_name(&c.name);
    let Some(ctx) = view.contexts.iter().find(|x| x.name == context) else {
        return Some((
            format!("no context {context} for cluster {}", c.name),
            format!(
                "run `kubectl signet sync` (or sign in: `kubectl signet login {}`)",
                c.provider
            ),
        ));
    };
    let inner = ctx.context.as_ref();
    match signet_owner(ctx) {
        None => Some((
            format!("context {context} exists but is not Signet's"),
            "adopt it with `kubectl signet import`, or give the cluster another `context` in the config".to_string(),
        )),
        Some(owner) if owner != c.name => Some((
            format!("context {context} belongs to Signet cluster {owner}"),
            "give one of the clusters another `context` in the config".to_string(),
        )),
        Some(_) if inner.map(|x| (x.cluster.as_str(), x.user.as_deref()))
            != Some((c.name.as_str(), Some(user.as_str()))) =>
        {
            Some((
                format!(
                    "context {context} does not use cluster {} and user {user}",
                    c.name
                ),
                "run `kubectl signet sync`".to_string(),
            ))
        }
        Some(_) => entry_issue(view, c, &user),
    }
}

/// Warns about Signet contexts whose cluster is no longer configured; returns how many.
fn warn_orphans(
    report: &mut Report,
    config: &Config,
    merged: &[Option<Kubeconfig>],
    targets: &[KubeconfigTarget],
) -> usize {
    let mut found = 0;
    for (view, target) in merged.iter().zip(targets) {
        let Some(view) = view else { continue };
        for ctx in &view.contexts {
            if let Some(owner) = signet_owner(ctx)
                && config.cluster(&owner).is_none()
            {
                found += 1;
                report.warn(
                    &format!("kubeconfig {}", ctx.name),
                    format!(
                        "Signet's context {} in {} belongs to cluster {owner}, which is not in the config",
                        ctx.name,
                        target.precedence().first().map(|p| p.display().to_string()).unwrap_or_default()
                    ),
                    format!(
                        "remove it with `kubectl config delete-context {}`, or add the cluster back",
                        ctx.name
                    ),
                );
            }
        }
    }
    found
}

/// Differences between Signet's cluster and user entries and the config.
fn entry_issue(
    view: &kube::config::Kubeconfig,
    c: &ClusterConfig,
    user: &str,
) -> Option<(String, String)> {
    let sync = || "run `kubectl signet sync`".to_string();
    let server = view
        .clusters
        .iter()
        .find(|x| x.name == c.name)
        .and_then(|x| x.cluster.as_ref()?.server.clone());
    if server.as_deref() != Some(c.server.as_str()) {
        return Some((
            format!(
                "kubeconfig cluster {} has server {}, the config says {}",
                c.name,
                server.as_deref().unwrap_or("(none)"),
                c.server
            ),
            sync(),
        ));
    }
    let info = view
        .auth_infos
        .iter()
        .find(|x| x.name == user)
        .and_then(|x| x.auth_info.as_ref());
    let Some(info) = info else {
        return Some((format!("no kubeconfig user {user}"), sync()));
    };
    match c.credentials {
        Credentials::Exec => {
            let args = info.exec.as_ref().and_then(|e| e.args.clone());
            let wanted = vec!["token".to_string(), "--cluster".to_string(), c.name.clone()];
            (args.as_ref() != Some(&wanted)).then(|| {
                (
                    format!(
                        "user {user} does not run `kubectl-signet token --cluster {}`",
                        c.name
                    ),
                    sync(),
                )
            })
        }
        Credentials::Token => info.token.is_none().then(|| {
            (
                format!("user {user} has no token yet (token mode)"),
                format!("sign in: `kubectl signet login {}`", c.provider),
            )
        }),
    }
}
