//! On a remote host (an SSH host, a dev container): write kubeconfig entries for the clusters the
//! desktop's agent offers through the forwarded socket ([`crate::forward`]). Each entry runs
//! `kubectl-signet token --cluster <name>` with [`SOCKET_ENV`] set to the socket, so kubectl works in any
//! shell of the host while the forward is open, and keeps nothing on disk but the entries.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::forward::{self, RemoteCluster, SOCKET_ENV};
use crate::kubeconfig::{
    self, ClusterCa, EditOutcome, EntryCredentials, KubeconfigTarget, SignetEntry,
};
use crate::names::{self, NameKind};

/// What `remote setup` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSetup {
    /// `(cluster, context)` of every entry written, in the desktop's order.
    pub contexts: Vec<(String, String)>,
    pub outcome: EditOutcome,
    /// The context made current (only when the kubeconfig had none).
    pub made_current: Option<String>,
    /// The socket the entries name.
    pub socket: PathBuf,
}

/// Asks the desktop through `socket` for its clusters and writes their entries into `target`; `command`
/// is what the entries run (`kubectl-signet`, or this program's absolute path when it is not on PATH).
/// Names the desktop sends are checked by the one validator before anything is written; an empty offer
/// writes nothing.
pub fn setup(
    target: &KubeconfigTarget,
    socket: &Path,
    command: &str,
) -> Result<RemoteSetup, Error> {
    let clusters = forward::ask_clusters(socket)?;
    for c in &clusters {
        names::check(NameKind::Provider, &c.provider)?;
        names::check(NameKind::Cluster, &c.name)?;
        names::check(NameKind::Context, &c.context)?;
        if let Some(ns) = &c.namespace {
            names::check(NameKind::Namespace, ns)?;
        }
    }
    let socket = std::path::absolute(socket).unwrap_or_else(|_| socket.to_path_buf());
    let entries: Vec<SignetEntry> = clusters
        .iter()
        .map(|c| entry(c, &socket, command))
        .collect();
    let Some(first) = entries.first() else {
        return Ok(RemoteSetup {
            contexts: Vec::new(),
            outcome: EditOutcome::default(),
            made_current: None,
            socket,
        });
    };
    let first = first.context.clone();
    let (outcome, made_current) =
        kubeconfig::upsert_cluster_entries_current_if_unset(target, &entries, &first)?;
    Ok(RemoteSetup {
        contexts: entries
            .iter()
            .map(|e| (e.cluster.clone(), e.context.clone()))
            .collect(),
        outcome,
        made_current: made_current.then_some(first),
        socket,
    })
}

/// The kubeconfig entry of one offered cluster.
fn entry(cluster: &RemoteCluster, socket: &Path, command: &str) -> SignetEntry {
    let ca = match (&cluster.ca_data, cluster.insecure_skip_tls_verify) {
        (_, true) => ClusterCa::InsecureSkipTlsVerify,
        (Some(data), false) => ClusterCa::Data(data.clone()),
        (None, false) => ClusterCa::System,
    };
    let mut credentials = EntryCredentials::exec(command, &cluster.name);
    if let EntryCredentials::Exec { env, .. } = &mut credentials {
        env.push((SOCKET_ENV.to_owned(), socket.display().to_string()));
    }
    SignetEntry {
        provider: cluster.provider.clone(),
        cluster: cluster.name.clone(),
        context: cluster.context.clone(),
        server: cluster.server.clone(),
        ca,
        namespace: cluster.namespace.clone(),
        credentials,
    }
}
