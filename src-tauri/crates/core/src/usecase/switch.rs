//! Switching: make a cluster's kubeconfig context current, optionally with a namespace; list the
//! namespaces the person may pick there; ask the cluster who the person is.

use std::path::PathBuf;

use crate::cluster_api::{ClusterApi, Namespaces, Review};
use crate::{Error, Signet, names};

/// What `use` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    pub cluster: String,
    /// The provider the cluster signs in with.
    pub provider: String,
    pub context: String,
    pub namespace: Option<String>,
    /// The kubeconfig file that now holds the current context.
    pub kubeconfig: PathBuf,
}

/// Makes `cluster`'s context current and (with `namespace`) sets its namespace. A namespace must be an
/// RFC 1123 label; blank means none.
pub fn use_cluster(
    signet: &Signet,
    cluster: &str,
    namespace: Option<&str>,
) -> Result<Switched, Error> {
    let namespace = namespace.map(str::trim).filter(|n| !n.is_empty());
    if let Some(ns) = namespace {
        names::check(names::NameKind::Namespace, ns)?;
    }
    let config = signet.cluster_config(cluster)?.clone();
    let outcome = signet.use_cluster(cluster, namespace)?;
    let kubeconfig = outcome.written.first().cloned().unwrap_or_else(|| {
        signet
            .kubeconfig_target(&config)
            .default_file()
            .to_path_buf()
    });
    Ok(Switched {
        cluster: config.name.clone(),
        provider: config.provider.clone(),
        context: config.context_name().to_string(),
        namespace: namespace.map(str::to_owned),
        kubeconfig,
    })
}

/// The namespaces the person may list on `cluster`, asked with their own token (`Forbidden` when RBAC
/// does not let them list; the switcher then lets them type one).
pub fn namespaces(signet: &Signet, cluster: &str) -> Result<Namespaces, Error> {
    let config = signet.cluster_config(cluster)?;
    let token = signet.token_for(cluster)?;
    Ok(ClusterApi::new(config)?.namespaces(&token.id_token)?)
}

/// Who `cluster` says the person is (SelfSubjectReview), with their current token. A session that
/// ended is `session.sign_in_required`: sign in, then ask again.
pub fn review(signet: &Signet, cluster: &str) -> Result<Review, Error> {
    let config = signet.cluster_config(cluster)?;
    let token = signet.token_for(cluster)?;
    Ok(ClusterApi::new(config)?.review(&token.id_token)?)
}
