//! Keeping kubeconfig in step with the config: writing every cluster's entries (`sync`), switching the
//! current context (`use`), and rewriting static tokens after a refresh (token mode).
//!
//! The kubeconfig rules (which file, the `.lock`, atomic replace, ownership) live in [`crate::kubeconfig`];
//! this module decides *what* to write for Signet's clusters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::config::{ClusterConfig, Credentials};
use crate::kubeconfig::{self, EditOutcome, EntryCredentials, KubeconfigTarget, SignetEntry};
use crate::session::Signet;

/// What `sync` wrote for one kubeconfig file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The clusters whose entries were checked or written, with their context names.
    pub contexts: Vec<(String, String)>,
    /// Token-mode clusters left without a token because there is no session yet.
    pub awaiting_sign_in: Vec<String>,
    /// The context made current because the kubeconfig had none.
    pub made_current: Option<String>,
    pub outcome: EditOutcome,
}

impl Signet {
    /// The kubeconfig files for a cluster: its own `kubeconfig` setting, else client-go's choice.
    pub fn kubeconfig_target(&self, cluster: &ClusterConfig) -> KubeconfigTarget {
        let explicit = cluster
            .kubeconfig
            .as_deref()
            .map(|p| self.paths.expand_home(p));
        KubeconfigTarget::resolve(
            self.paths.kubeconfig_env.as_deref(),
            &self.paths.home,
            explicit.as_deref(),
        )
    }

    /// Writes or repairs the kubeconfig entries of every cluster (or of one provider's clusters), one
    /// locked edit per target file. `plugin` is the exec entry's command (`kubectl-signet` or a path).
    pub fn sync_kubeconfig(
        &self,
        provider: Option<&str>,
        plugin: &str,
    ) -> Result<Vec<SyncReport>, Error> {
        if let Some(p) = provider {
            self.provider_config(p)?;
        }
        let mut by_target: BTreeMap<Option<PathBuf>, Vec<&ClusterConfig>> = BTreeMap::new();
        for c in self
            .config
            .clusters
            .iter()
            .filter(|c| provider.is_none_or(|p| c.provider == p))
        {
            by_target.entry(c.kubeconfig.clone()).or_default().push(c);
        }
        let mut reports = Vec::new();
        for clusters in by_target.values() {
            let target = self.kubeconfig_target(clusters[0]);
            let mut entries = Vec::new();
            let mut awaiting = Vec::new();
            for c in clusters {
                let credentials = match c.credentials {
                    Credentials::Exec => EntryCredentials::exec(plugin, &c.name),
                    Credentials::Token => match self.cached_token(&c.name)? {
                        Some(token) => EntryCredentials::Token(token.id_token),
                        None => {
                            awaiting.push(c.name.clone());
                            continue;
                        }
                    },
                };
                entries.push(SignetEntry::from_config(c, credentials));
            }
            // A kubeconfig with no current context (a first sign-in on a fresh machine): the first
            // cluster's context becomes current in the same locked edit, so `kubectl get pods` works at
            // once (DESIGN.md J2). An existing current context is never changed by a sign-in.
            let (outcome, made_current) = match entries.first() {
                Some(first) => {
                    let (outcome, made) = kubeconfig::upsert_cluster_entries_current_if_unset(
                        &target,
                        &entries,
                        &first.context,
                    )?;
                    (outcome, made.then(|| first.context.clone()))
                }
                None => (kubeconfig::upsert_cluster_entries(&target, &entries)?, None),
            };
            reports.push(SyncReport {
                made_current,
                contexts: entries
                    .iter()
                    .map(|e| (e.cluster.clone(), e.context.clone()))
                    .collect(),
                awaiting_sign_in: awaiting,
                outcome,
            });
        }
        Ok(reports)
    }

    /// Makes a cluster's context current (and sets its namespace).
    pub fn use_cluster(
        &self,
        cluster: &str,
        namespace: Option<&str>,
    ) -> Result<EditOutcome, Error> {
        let c = self.cluster_config(cluster)?;
        Ok(kubeconfig::use_context(
            &self.kubeconfig_target(c),
            c.context_name(),
            namespace,
        )?)
    }

    /// Rewrites the static token of every token-mode cluster of `provider` from the cache (after a
    /// sign-in or refresh). Failures are logged: the cache holds the token either way.
    pub(crate) fn write_static_tokens(&self, provider: &str) {
        for c in self
            .config
            .clusters_of(provider)
            .filter(|c| c.credentials == Credentials::Token)
        {
            let Some(p) = self.config.provider(provider) else {
                continue;
            };
            let Some(token) = self.cache.read(provider, c.audience_or(p)) else {
                continue;
            };
            let target = self.kubeconfig_target(c);
            let result = match kubeconfig::set_token(&target, &c.name, &token.id_token) {
                Err(kubeconfig::KubeconfigError::NotFound { .. }) => {
                    kubeconfig::upsert_cluster_entries(
                        &target,
                        &[SignetEntry::from_config(
                            c,
                            EntryCredentials::Token(token.id_token.clone()),
                        )],
                    )
                }
                other => other,
            };
            if let Err(e) = result {
                tracing::warn!(cluster = %c.name, error = %e, "could not rewrite the static token in kubeconfig");
            }
        }
    }
}

impl Signet {
    /// Removes the kubeconfig entries Signet wrote for every configured cluster (the clusters stay in
    /// the config; `sync_kubeconfig` writes them back). Entries without Signet's mark are never touched.
    pub fn remove_kubeconfig_entries(&self) -> Result<Vec<(String, EditOutcome)>, Error> {
        self.config
            .clusters
            .iter()
            .map(|c| {
                let outcome =
                    kubeconfig::remove_cluster_entries(&self.kubeconfig_target(c), &c.name)?;
                Ok((c.name.clone(), outcome))
            })
            .collect()
    }
}

/// The directories on the `PATH` that every Linux session gives its programs (login shells, desktop
/// sessions and the apps they start, systemd user services, sshd): an exec command found here works
/// wherever kubectl runs.
pub const SYSTEM_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The exec entry's command for the plugin program `exe` (DESIGN.md §3, "the exec entry's command"):
///
/// 1. `kubectl-signet` when `exe` is the `kubectl-signet` of a system directory ([`SYSTEM_PATH`], where
///    the package installs it): kubectl finds it from a terminal, an IDE, or Lens and k9s started from
///    the desktop menu with a short `PATH`, and the kubeconfig stays valid on another machine with Signet;
/// 2. else the path under which the person's `PATH` reaches `exe` (`~/.krew/bin/kubectl-signet`,
///    `~/.local/bin/kubectl-signet`), as found rather than resolved: krew and Homebrew keep that link
///    stable across upgrades while its target moves, and a desktop-started IDE does not have those
///    directories on its `PATH`;
/// 3. else (a build tree) the absolute path of `exe` itself. `kubectl signet sync` run from an installed
///    Signet later repairs such entries to rule 1 or 2.
pub fn plugin_command(exe: &Path, path_var: Option<&std::ffi::OsStr>) -> String {
    let system: Vec<PathBuf> = SYSTEM_PATH.iter().map(PathBuf::from).collect();
    plugin_command_with(exe, path_var, &system)
}

fn plugin_command_with(
    exe: &Path,
    path_var: Option<&std::ffi::OsStr>,
    system_dirs: &[PathBuf],
) -> String {
    let exe_real = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let is_exe = |candidate: &Path| {
        candidate.is_file()
            && std::fs::canonicalize(candidate).ok().as_deref() == Some(exe_real.as_path())
    };
    let in_dir = |dir: &PathBuf| dir.join("kubectl-signet");
    if system_dirs.iter().map(in_dir).any(|c| is_exe(&c)) {
        return "kubectl-signet".into();
    }
    let on_path = path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| dir.is_absolute())
        .map(|dir| in_dir(&dir))
        .find(|c| is_exe(c));
    on_path.unwrap_or(exe_real).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `kubectl-signet` file in `dir`.
    fn program(dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).expect("create dir");
        let path = dir.join("kubectl-signet");
        std::fs::write(&path, "#!/bin/sh\n").expect("write program");
        path
    }

    #[test]
    fn the_installed_plugin_in_a_system_directory_is_run_by_name() {
        let root = tempfile::tempdir().expect("tempdir");
        let usr_bin = root.path().join("usr/bin");
        let exe = program(&usr_bin);
        let command = plugin_command_with(&exe, Some("".as_ref()), std::slice::from_ref(&usr_bin));
        assert_eq!(
            command, "kubectl-signet",
            "a system directory needs no PATH"
        );
    }

    #[test]
    fn a_plugin_on_the_persons_path_keeps_the_link_it_is_reached_through() {
        let root = tempfile::tempdir().expect("tempdir");
        let store = program(&root.path().join("krew/store/signet/v0.1.0"));
        let bin = root.path().join("krew/bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let link = bin.join("kubectl-signet");
        std::os::unix::fs::symlink(&store, &link).expect("symlink");
        let path_var = std::env::join_paths([root.path().join("elsewhere"), bin]).expect("PATH");
        assert_eq!(
            plugin_command_with(&store, Some(&path_var), &[root.path().join("usr/bin")]),
            link.display().to_string(),
            "the krew link survives an upgrade; the versioned target does not"
        );
    }

    #[test]
    fn a_plugin_off_path_is_run_by_its_absolute_path() {
        let root = tempfile::tempdir().expect("tempdir");
        let exe = program(&root.path().join("target/release"));
        // Another kubectl-signet on PATH is not this one.
        program(&root.path().join("bin"));
        let path_var = std::env::join_paths([root.path().join("bin")]).expect("PATH");
        assert_eq!(
            plugin_command_with(&exe, Some(&path_var), &[]),
            std::fs::canonicalize(&exe)
                .expect("canonical")
                .display()
                .to_string()
        );
    }
}
