//! `token`: the exec plugin. Fresh cached token → one file read; stale → refresh under the provider
//! lock; session over → sign in when interactive (one sign-in per provider at a time, through the tray's
//! agent when it runs), else one line saying what to run.
//!
//! On a remote host, with [`SOCKET_ENV`] naming a socket forwarded from the desktop, a cluster this
//! host does not configure (or whose session here has ended) is served by the desktop's Signet through
//! that socket ([`signet_core::forward`]); nothing is kept here.
//!
//! Two paths print the same ExecCredential. `crate::exec_entry::serve_from_index` is tried first (in the small
//! `kubectl-signet` front binary, and again in this one), before clap and logging:
//! it serves a fresh cached token that the cluster index routes, without loading the config
//! (`signet_core::cluster_index`). Whenever it cannot, [`run`] loads and validates the config and calls
//! `token_for`; after serving a cluster it records the cluster's route, so the next call is fast.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use signet_core::cluster_index::ClusterIndex;
use signet_core::config::{Config, LoginMode};
use signet_core::exec_credential::ExecInfo;
use signet_core::file_stamp::FileStamp;
use signet_core::forward::{self, SOCKET_ENV};
use signet_core::paths::Paths;
use signet_core::secret::Secret;
use signet_core::session::SessionError;
use signet_core::{Error, Signet, usecase};

use super::engine_at;
use crate::output::Failure;
use crate::sign_in::{self, BROWSER_TIMEOUT};

pub fn run(cluster: &str) -> Result<(), Failure> {
    let exec_info = exec_info();
    let paths = Paths::from_env()?;
    let forwarded = std::env::var_os(SOCKET_ENV)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    if let Some(socket) = &forwarded
        && !configured_here(&paths, cluster)
    {
        return run_forwarded(socket, cluster, &exec_info);
    }
    // Taken before the config is read: an edit racing the load leaves a stamp that no longer matches.
    let stamp = FileStamp::of(&paths.config_file);
    let signet = engine_at(paths)?;
    let token = match signet.token_for(cluster) {
        Ok(token) => token,
        Err(Error::Session(SessionError::SignInRequired { provider, reason })) => {
            // On a remote host, the desktop serves what this host's session no longer can.
            if let Some(socket) = &forwarded {
                return run_forwarded(socket, cluster, &exec_info);
            }
            let interactive = exec_info
                .interactive
                .unwrap_or_else(|| std::io::stdin().is_terminal());
            // The tray's agent, when it runs, owns sign-in: one login window per provider however many
            // kubectl processes ask, and one notification for non-interactive callers.
            if let Some(answer) = ask_agent_to_sign_in(&signet, &provider, interactive) {
                answer?;
                signet.token_for(cluster)?
            } else if !interactive {
                return Err(Failure(format!(
                    "sign-in to '{provider}' required ({reason}); run `kubectl signet login {provider}`"
                )));
            } else {
                let device = signet.provider_config(&provider)?.login == LoginMode::Device
                    || sign_in::prefer_device();
                usecase::login::sign_in_once(&signet, &provider, || {
                    sign_in::sign_in(&signet, &provider, device, None)
                })?;
                signet.token_for(cluster)?
            }
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(stamp) = stamp {
        let index = ClusterIndex::new(signet.paths());
        if let Err(e) = index.record(&stamp, signet.config(), cluster, SystemTime::now()) {
            tracing::debug!(error = %e, "could not record the cluster's route; the next call loads the config again");
        }
    }
    print_credential(&exec_info, &token.id_token, token.expires_at, Utc::now());
    Ok(())
}

/// Whether this host's config has `cluster` (a config that cannot be read has none).
fn configured_here(paths: &Paths, cluster: &str) -> bool {
    Config::load(&paths.config_file, &paths.home).is_ok_and(|c| c.cluster(cluster).is_some())
}

/// Asks the desktop's Signet through the forwarded `socket` and prints what it serves.
fn run_forwarded(socket: &Path, cluster: &str, exec_info: &ExecInfo) -> Result<(), Failure> {
    let interactive = exec_info
        .interactive
        .unwrap_or_else(|| std::io::stdin().is_terminal());
    let token = forward::ask_token(socket, cluster, interactive).map_err(Error::from)?;
    print_credential(exec_info, &token.id_token, token.expires_at, Utc::now());
    Ok(())
}

fn exec_info() -> ExecInfo {
    ExecInfo::from_env_value(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref())
}

fn print_credential(
    exec_info: &ExecInfo,
    id_token: &Secret,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    let json =
        signet_core::exec_credential::render(exec_info.api_version, id_token, expires_at, now);
    println!("{json}");
}

/// Asks a running agent to sign in; `None` when no agent listens (the CLI then works on its own).
fn ask_agent_to_sign_in(
    signet: &Signet,
    provider: &str,
    interactive: bool,
) -> Option<Result<(), Failure>> {
    let path = signet_core::agent::socket_path(signet.paths())?;
    let mut client = signet_core::agent::AgentClient::connect(&path)?;
    let request = signet_core::agent::Request::Login {
        provider: provider.to_string(),
        interactive,
    };
    let wait = if interactive {
        BROWSER_TIMEOUT
    } else {
        Duration::from_secs(5)
    };
    match client.request(&request, wait) {
        Ok(Ok(_)) => Some(Ok(())),
        Ok(Err(failure)) => Some(Err(Failure(failure.message))),
        Err(e) => {
            tracing::warn!(error = %e, "the agent did not answer; signing in without it");
            None
        }
    }
}
