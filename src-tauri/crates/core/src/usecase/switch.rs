//! Switching: make a cluster's kubeconfig context current, optionally with a namespace.

use std::path::PathBuf;

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
