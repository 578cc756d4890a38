//! kubectl's exec entry, `token --cluster X`, served before anything else: a fresh cached token found
//! through the cluster index (`signet_core::cluster_index`) is printed without clap, logging or the config
//! (DESIGN.md §8). Shared by the small `kubectl-signet` front binary and the full CLI (`signet-cli`).

use std::ffi::OsString;

use chrono::Utc;
use signet_core::exec_credential::{ExecInfo, render};
use signet_core::paths::Paths;

/// The cluster of `token --cluster X` or `token --cluster=X`, the two spellings the exec entry may use;
/// `None` for anything else, including every input clap would read differently (another order, more
/// arguments, a value that looks like a flag, text that is not UTF-8), which clap then handles.
pub fn exec_entry_cluster(args: &[OsString]) -> Option<&str> {
    let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let cluster = match args.as_slice() {
        ["token", "--cluster", cluster] => *cluster,
        ["token", flag] => flag.strip_prefix("--cluster=")?,
        _ => return None,
    };
    (!cluster.is_empty() && !cluster.starts_with('-')).then_some(cluster)
}

/// Prints the ExecCredential and returns `true` when `args` are the exec entry and the cluster index routes
/// its cluster to a fresh cached token; `false` (having printed nothing) when the full CLI must run.
pub fn serve_from_index(args: &[OsString]) -> bool {
    let Some(cluster) = exec_entry_cluster(args) else {
        return false;
    };
    let Ok(paths) = Paths::from_env() else {
        return false;
    };
    let now = Utc::now();
    let Some(token) = signet_core::cluster_index::fresh_token(&paths, cluster, now) else {
        return false;
    };
    tracing::debug!(
        cluster,
        "served a fresh cached token through the cluster index"
    );
    let info = ExecInfo::from_env_value(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref());
    println!(
        "{}",
        render(info.api_version, &token.id_token, token.expires_at, now)
    );
    true
}
