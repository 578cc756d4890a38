//! The [`ImportPlan`] both planners produce, and [`ImportPlan::apply`], the only step that writes: the
//! config first, then the kubeconfig (the kubeconfig module backs each file up before changing it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::legacy::OldAuth;
use super::{ImportError, ImportSource};
use crate::config::{ClusterConfig, Config, ConfigError, ProviderConfig};
use crate::kubeconfig::{
    self, Adoption, EditOutcome, EntryCredentials, KubeconfigTarget, SignetEntry,
};

/// What happens to the kubeconfig cluster an adopted context uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEntryChange {
    /// The old entry already has Signet's cluster name and only adopted contexts use it: it gets Signet's
    /// mark and keeps its fields.
    TakenOver,
    /// Signet's cluster entry is created as a copy of the old one, which stays for `kept_for` (other
    /// contexts) or because its name is taken.
    Copied { kept_for: Vec<String> },
    /// Signet's entry exists already.
    Existing,
}

/// A kubeconfig context that becomes Signet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextAdoption {
    pub context: String,
    /// The file the context lives in.
    pub file: PathBuf,
    pub old_user: String,
    pub old_auth: OldAuth,
    pub old_cluster: String,
    /// The Signet cluster (also its kubeconfig cluster name; the user is `signet-<cluster>`).
    pub cluster: String,
    pub provider: String,
    pub cluster_entry: ClusterEntryChange,
    /// Contexts that are not adopted and still use the old user.
    pub old_user_also_used_by: Vec<String>,
    pub(super) target: KubeconfigTarget,
}

/// Kubeconfig entries written for a new catalog cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntries {
    pub cluster: String,
    pub context: String,
    pub file: PathBuf,
    pub(super) target: KubeconfigTarget,
}

/// Something found that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub what: String,
    pub reason: String,
}

/// Everything an import will change. Reading it changes nothing; [`apply`](Self::apply) does the work.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub source: ImportSource,
    pub config_file: PathBuf,
    /// Providers added to the config (a client secret here is shown redacted).
    pub providers: Vec<ProviderConfig>,
    /// Clusters added to the config.
    pub clusters: Vec<ClusterConfig>,
    /// Entries that exist already and are used as they are (`provider corp`, …).
    pub reused: Vec<String>,
    pub adoptions: Vec<ContextAdoption>,
    pub new_entries: Vec<NewEntries>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
    pub(super) base: Config,
    pub(super) merged: Config,
    pub(super) home: PathBuf,
}

/// What [`ImportPlan::apply`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The config file, when it was written.
    pub config_saved: Option<PathBuf>,
    /// `(context, cluster)` of every adopted context.
    pub adopted: Vec<(String, String)>,
    /// `(context, cluster)` of the entries written for new catalog clusters.
    pub entries_written: Vec<(String, String)>,
    /// Kubeconfig files written and backups made.
    pub kubeconfig: EditOutcome,
    /// The providers to sign in to next.
    pub sign_in: Vec<String>,
}

impl ImportPlan {
    /// Whether applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
            && self.clusters.is_empty()
            && self.adoptions.is_empty()
            && self.new_entries.is_empty()
    }

    /// The config as it will be saved.
    pub fn merged_config(&self) -> &Config {
        &self.merged
    }

    /// The clusters this import adds that skip TLS verification of their API server: applying needs the
    /// person's consent naming each of them.
    pub fn insecure_clusters(&self) -> Vec<String> {
        self.clusters
            .iter()
            .filter(|c| c.insecure_skip_tls_verify)
            .map(|c| c.name.clone())
            .collect()
    }

    /// Saves the config, then adopts the contexts (and writes the new clusters' entries) with `plugin` as
    /// the exec command. The kubeconfig module backs each file up before changing it.
    ///
    /// `insecure_allowed` is the person's consent: every cluster of [`insecure_clusters`](Self::insecure_clusters)
    /// must be in it, else nothing is changed ([`ImportError::InsecureNotAllowed`]).
    pub fn apply(
        &self,
        plugin: &str,
        insecure_allowed: &[String],
    ) -> Result<ImportOutcome, ImportError> {
        let mut outcome = ImportOutcome::default();
        if self.is_empty() {
            return Ok(outcome);
        }
        let refused: Vec<String> = self
            .insecure_clusters()
            .into_iter()
            .filter(|c| !insecure_allowed.contains(c))
            .collect();
        if !refused.is_empty() {
            return Err(ImportError::InsecureNotAllowed { clusters: refused });
        }
        let now = Config::load_or_default(&self.config_file, &self.home)?;
        if now != self.base {
            return Err(ImportError::ConfigChanged {
                path: self.config_file.clone(),
            });
        }
        if !self.providers.is_empty() || !self.clusters.is_empty() {
            self.merged.save(&self.config_file)?;
            outcome.config_saved = Some(self.config_file.clone());
        }
        self.adopt_contexts(plugin, &mut outcome)?;
        self.write_new_entries(plugin, &mut outcome)?;

        let mut sign_in = BTreeSet::new();
        for a in &self.adoptions {
            sign_in.insert(a.provider.clone());
        }
        for p in &self.providers {
            sign_in.insert(p.name.clone());
        }
        outcome.sign_in = sign_in.into_iter().collect();
        Ok(outcome)
    }

    /// Signet's kubeconfig entry for the merged config's cluster `name`, with `plugin` as exec command.
    fn entry_for(&self, plugin: &str, name: &str) -> Option<SignetEntry> {
        let cluster = self.merged.cluster(name)?;
        Some(SignetEntry::from_config(
            cluster,
            EntryCredentials::exec(plugin, &cluster.name),
        ))
    }

    /// Adopts the contexts, one kubeconfig edit per target.
    fn adopt_contexts(&self, plugin: &str, outcome: &mut ImportOutcome) -> Result<(), ImportError> {
        let mut by_target: Vec<(KubeconfigTarget, Vec<Adoption>)> = Vec::new();
        for a in &self.adoptions {
            let Some(entry) = self.entry_for(plugin, &a.cluster) else {
                continue;
            };
            let adoption = Adoption {
                previous_user: a.old_user.clone(),
                entry,
            };
            match by_target.iter_mut().find(|(t, _)| *t == a.target) {
                Some((_, list)) => list.push(adoption),
                None => by_target.push((a.target.clone(), vec![adoption])),
            }
            outcome.adopted.push((a.context.clone(), a.cluster.clone()));
        }
        for (target, adoptions) in &by_target {
            let edit = kubeconfig::adopt_contexts(target, adoptions)?;
            merge_edit(&mut outcome.kubeconfig, edit);
        }
        Ok(())
    }

    /// Writes the entries of the new catalog clusters, one kubeconfig edit per target.
    fn write_new_entries(
        &self,
        plugin: &str,
        outcome: &mut ImportOutcome,
    ) -> Result<(), ImportError> {
        let mut new_by_target: Vec<(KubeconfigTarget, Vec<SignetEntry>)> = Vec::new();
        for n in &self.new_entries {
            let Some(entry) = self.entry_for(plugin, &n.cluster) else {
                continue;
            };
            match new_by_target.iter_mut().find(|(t, _)| *t == n.target) {
                Some((_, list)) => list.push(entry),
                None => new_by_target.push((n.target.clone(), vec![entry])),
            }
            outcome
                .entries_written
                .push((n.context.clone(), n.cluster.clone()));
        }
        for (target, entries) in &new_by_target {
            let edit = kubeconfig::upsert_cluster_entries(target, entries)?;
            merge_edit(&mut outcome.kubeconfig, edit);
        }
        Ok(())
    }
}

fn merge_edit(into: &mut EditOutcome, edit: EditOutcome) {
    for w in edit.written {
        if !into.written.contains(&w) {
            into.written.push(w);
        }
    }
    into.backups.extend(edit.backups);
    into.tightened.extend(edit.tightened);
}

/// Renders the config and parses it back, so an import gets the same checks as a hand-written file.
pub(super) fn validate(config: &Config, path: &Path, home: &Path) -> Result<Config, ImportError> {
    let text = toml::to_string_pretty(config).map_err(|e| {
        ImportError::Invalid(ConfigError::Syntax {
            path: path.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })
    })?;
    Config::parse(&text, path, home).map_err(ImportError::Invalid)
}
