//! `signet-floor FILE`: the floor of DESIGN.md §8 that `kubectl-signet token` is measured against. It reads
//! one cached-token file of Signet's cache and prints the ExecCredential `kubectl-signet token` prints for
//! it (`client.authentication.k8s.io/v1`), and nothing else: no config, no freshness check, no
//! `KUBERNETES_EXEC_INFO`, no logging. No exec plugin serving that cache can do less. `signet-bench` runs
//! it in the same rotation and checks that both print the same bytes.
//!
//! Deliberately independent of `signet-core` (a floor must not share the code it is the floor of); it is
//! built with the same release profile as `kubectl-signet`.

use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;

#[derive(Deserialize)]
struct Cached {
    id_token: String,
    expires_at: DateTime<Utc>,
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: signet-floor <cached token file>");
        return ExitCode::from(2);
    };
    let cached: Cached = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(cached) => cached,
        Err(e) => {
            eprintln!("signet-floor: {}: {e}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    // kubectl is told the token expires 30 s early, in whole seconds, never before now.
    let now = Utc::now();
    let early = cached.expires_at - TimeDelta::seconds(30);
    let early = DateTime::from_timestamp(early.timestamp(), 0).unwrap_or(early);
    let expiry = if early >= now {
        early
    } else {
        DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now) + TimeDelta::seconds(1)
    };
    let token = serde_json::to_string(&cached.id_token).unwrap_or_default();
    println!(
        "{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":{token},\"expirationTimestamp\":\"{}\"}}}}\n",
        expiry.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    ExitCode::SUCCESS
}
