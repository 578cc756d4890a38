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

/// The exec entry's command: `kubectl-signet` when that name on `PATH` is this very program, else the
/// absolute path of `exe` (DESIGN.md §3).
pub fn plugin_command(exe: &Path, path_var: Option<&std::ffi::OsStr>) -> String {
    let exe_real = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let on_path = path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("kubectl-signet"))
        .find(|candidate| candidate.is_file());
    match on_path {
        Some(found)
            if std::fs::canonicalize(&found).ok().as_deref() == Some(exe_real.as_path()) =>
        {
            "kubectl-signet".into()
        }
        _ => exe_real.display().to_string(),
    }
}
