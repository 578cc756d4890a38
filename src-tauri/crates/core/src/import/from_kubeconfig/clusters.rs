//! Step 3 of planning from a kubeconfig: a Signet cluster per adopted context, named after the context,
//! and what happens to the kubeconfig cluster entry the context uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::super::naming::sanitize;
use super::super::plan::{ClusterEntryChange, ContextAdoption, Skipped};
use super::super::view::{Merged, mark_cluster};
use super::{CaChoice, Candidate, Findings, KubeconfigPlanner};
use crate::config::{ClusterConfig, Credentials};
use crate::kubeconfig;

impl KubeconfigPlanner<'_> {
    /// Step 3: the clusters added to the config and the contexts adopted. `adopted` names every
    /// candidate's context; `provider_of` is step 2's provider per issuer + client id.
    pub(super) fn clusters(
        &self,
        view: &Merged<'_>,
        candidates: &[Candidate],
        adopted: &BTreeSet<&str>,
        provider_of: &BTreeMap<(String, String), String>,
        found: &mut Findings,
    ) -> (Vec<ClusterConfig>, Vec<ContextAdoption>) {
        let mut clusters: Vec<ClusterConfig> = Vec::new();
        let mut adoptions: Vec<ContextAdoption> = Vec::new();
        let mut cluster_names: BTreeSet<String> = self
            .config
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect();
        for c in candidates {
            let client_id = self.client_id.unwrap_or(&c.oidc.client_id).to_owned();
            let provider = provider_of[&(c.oidc.issuer.clone(), client_id)].clone();
            let usable = |n: &str| entry_change(view, adopted, &c.old_cluster, n);
            let (name, change) = match &c.existing_cluster {
                Some(name) => match usable(name) {
                    Some(change) => (name.clone(), change),
                    None => {
                        found.skipped.push(Skipped {
                            what: format!("context {} (user {})", c.context, c.user),
                            reason: format!(
                                "Signet's cluster '{name}' needs the kubeconfig names '{name}' and 'signet-{name}', and another entry has one of them"
                            ),
                        });
                        continue;
                    }
                },
                None => free_cluster_name(&sanitize(&c.context, "cluster"), &cluster_names, usable),
            };
            let change = match change {
                ClusterEntryChange::Copied { .. } => ClusterEntryChange::Copied {
                    kept_for: view
                        .contexts_using_cluster(&c.old_cluster)
                        .into_iter()
                        .filter(|u| !adopted.contains(u))
                        .map(str::to_owned)
                        .collect(),
                },
                other => other,
            };
            if c.existing_cluster.is_none() {
                cluster_names.insert(name.clone());
                clusters.push(self.new_cluster(c, &name, &provider, &mut found.notes));
            } else {
                found.reused.push(format!(
                    "cluster {name}: already configured for context {}, used as it is",
                    c.context
                ));
            }
            adoptions.push(ContextAdoption {
                context: c.context.clone(),
                file: self.files[c.file_index].path.clone(),
                old_user: c.user.clone(),
                old_auth: c.oidc.kind,
                old_cluster: c.old_cluster.clone(),
                cluster: name,
                provider,
                cluster_entry: change,
                old_user_also_used_by: other_contexts_of_user(view, adopted, &c.user),
                target: self.write_target.clone(),
            });
        }
        (clusters, adoptions)
    }

    /// The Signet cluster `name` for a candidate, with its server and CA (a note when the kubeconfig
    /// skipped TLS verification).
    fn new_cluster(
        &self,
        c: &Candidate,
        name: &str,
        provider: &str,
        notes: &mut Vec<String>,
    ) -> ClusterConfig {
        let (ca_data, ca_file, insecure) = match &c.ca {
            CaChoice::System => (None, None, false),
            CaChoice::Data(d) => (Some(d.clone()), None, false),
            CaChoice::File(f) => (None, Some(f.clone()), false),
            CaChoice::Insecure => (None, None, true),
        };
        if insecure {
            notes.push(format!(
                "cluster {name}: the kubeconfig skips TLS verification of {} (insecure-skip-tls-verify); Signet keeps that only if you allow it, since your token could be read by anyone on the network path",
                c.server
            ));
        }
        ClusterConfig {
            name: name.to_owned(),
            provider: provider.to_owned(),
            server: c.server.clone(),
            ca_data,
            ca_file,
            insecure_skip_tls_verify: insecure,
            audience: Some(c.oidc.client_id.clone()),
            namespace: c.namespace.clone(),
            context: (name != c.context).then(|| c.context.clone()),
            credentials: Credentials::Exec,
            kubeconfig: self.outside.map(Path::to_path_buf),
        }
    }
}

/// What happens to the kubeconfig entries named `n` if the Signet cluster `n` takes them for a context
/// that used `old_cluster`; `None` when a foreign entry holds the cluster name or the user name
/// `signet-<n>`.
fn entry_change(
    view: &Merged<'_>,
    adopted: &BTreeSet<&str>,
    old_cluster: &str,
    n: &str,
) -> Option<ClusterEntryChange> {
    if let Some((_, user)) = view.users.get(kubeconfig::user_name(n).as_str()) {
        let owner = mark_cluster(user.auth_info.as_ref().and_then(|u| u.extensions.as_ref()));
        if owner.as_deref() != Some(n) {
            return None;
        }
    }
    match view.clusters.get(n) {
        None => Some(ClusterEntryChange::Copied {
            kept_for: Vec::new(),
        }),
        Some((_, entry)) => {
            match mark_cluster(entry.cluster.as_ref().and_then(|x| x.extensions.as_ref())) {
                Some(owner) if owner == n => Some(ClusterEntryChange::Existing),
                Some(_) => None,
                None => {
                    let users = view.contexts_using_cluster(n);
                    (old_cluster == n && users.iter().all(|u| adopted.contains(u)))
                        .then_some(ClusterEntryChange::TakenOver)
                }
            }
        }
    }
}

/// `base`, else `base-2`, `base-3`, …: the first name the config does not hold and the kubeconfig can
/// take (`usable`).
fn free_cluster_name(
    base: &str,
    taken: &BTreeSet<String>,
    usable: impl Fn(&str) -> Option<ClusterEntryChange>,
) -> (String, ClusterEntryChange) {
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        n += 1;
        if taken.contains(&candidate) {
            continue;
        }
        if let Some(change) = usable(&candidate) {
            break (candidate, change);
        }
    }
}

/// The contexts that are not adopted and still use the old user `user`.
fn other_contexts_of_user(view: &Merged<'_>, adopted: &BTreeSet<&str>, user: &str) -> Vec<String> {
    view.contexts
        .iter()
        .filter(|(_, x)| {
            !adopted.contains(x.name.as_str())
                && x.context.as_ref().and_then(|x| x.user.as_deref()) == Some(user)
        })
        .map(|(_, x)| x.name.clone())
        .collect()
}
