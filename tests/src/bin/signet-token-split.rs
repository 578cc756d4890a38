//! Experiment (not shipped): `kubectl-signet token`'s fast path alone in a small binary, to measure what
//! a separate exec binary would cost. `signet-token-split token --cluster X` prints the ExecCredential when
//! the cluster index routes X to a fresh cached token, else exits 3 (a real split binary would then exec
//! the full CLI). Run it in the benchmark's token rotation with `--also-plugin`.

use std::process::ExitCode;

use chrono::Utc;
use signet_core::exec_credential::{ExecInfo, render};
use signet_core::paths::Paths;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ["token", "--cluster", cluster] = args.as_slice() else {
        return ExitCode::from(2);
    };
    let Ok(paths) = Paths::from_env() else {
        return ExitCode::from(3);
    };
    let now = Utc::now();
    let Some(token) = signet_core::cluster_index::fresh_token(&paths, cluster, now) else {
        return ExitCode::from(3);
    };
    let info = ExecInfo::from_env_value(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref());
    let json = render(info.api_version, &token.id_token, token.expires_at, now);
    println!("{json}");
    ExitCode::SUCCESS
}
