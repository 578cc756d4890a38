//! The merged view kubectl has of a kubeconfig chain, and Signet's mark on the entries it owns. Shared by
//! both planners; reads only.

use std::collections::{BTreeMap, BTreeSet};

use kube::config::{NamedAuthInfo, NamedCluster, NamedContext, NamedExtension};

use crate::kubeconfig::{self, KubeconfigFile};

/// The merged view kubectl sees: the first file to define a name wins.
pub(super) struct Merged<'a> {
    pub(super) contexts: Vec<(usize, &'a NamedContext)>,
    pub(super) clusters: BTreeMap<&'a str, (usize, &'a NamedCluster)>,
    pub(super) users: BTreeMap<&'a str, (usize, &'a NamedAuthInfo)>,
}

impl<'a> Merged<'a> {
    pub(super) fn new(files: &'a [KubeconfigFile]) -> Merged<'a> {
        let mut merged = Merged {
            contexts: Vec::new(),
            clusters: BTreeMap::new(),
            users: BTreeMap::new(),
        };
        let mut seen = BTreeSet::new();
        for (fi, file) in files.iter().enumerate() {
            for c in &file.config.contexts {
                if seen.insert(c.name.as_str()) {
                    merged.contexts.push((fi, c));
                }
            }
            for c in &file.config.clusters {
                merged.clusters.entry(c.name.as_str()).or_insert((fi, c));
            }
            for u in &file.config.auth_infos {
                merged.users.entry(u.name.as_str()).or_insert((fi, u));
            }
        }
        merged
    }

    pub(super) fn contexts_using_cluster(&self, cluster: &str) -> Vec<&'a str> {
        self.contexts
            .iter()
            .filter(|(_, c)| c.context.as_ref().is_some_and(|x| x.cluster == cluster))
            .map(|(_, c)| c.name.as_str())
            .collect()
    }
}

/// The Signet cluster whose mark an entry's extensions carry.
pub(super) fn mark_cluster(extensions: Option<&Vec<NamedExtension>>) -> Option<String> {
    extensions?
        .iter()
        .find(|e| e.name == kubeconfig::EXTENSION_NAME)?
        .extension
        .get("cluster")?
        .as_str()
        .map(str::to_owned)
}
