//! The agent: the tray's end of the socket `kubectl-signet` talks to (DESIGN.md §5.5).
//!
//! The socket itself — `$XDG_RUNTIME_DIR/signet/agent.sock`, dir 0700, socket 0600, peer uid checked, JSON
//! lines — is `signet_core::agent`'s business; this module decides what the requests do in the tray:
//!
//! - `status`: the same [`ProviderDto`](crate::dto::ProviderDto)s the `status` command returns. Never a token.
//! - `token`: a valid ID token for a cluster through [`Signet::token_for`](signet_core::Signet::token_for),
//!   as `{"token", "expires_at"}`. The one place a token crosses IPC (to a process of the same user);
//!   it is never logged.
//! - `login` (interactive): starts the provider's sign-in through the app's own flow ([`crate::login`]) or
//!   joins the one running, and answers when it ends. However many `kubectl` processes ask at once, one
//!   login window opens, and all of them get its result.
//! - `clusters`: the configured clusters as a remote kubeconfig needs them (never a secret).
//! - `login` (non-interactive): answers "sign-in needed" at once, and shows at most one "Sign-in needed"
//!   notification per provider per few minutes ([`crate::refresher::sign_in_needed`]).
//!
//! The forwarding socket for other hosts is [`crate::forward`]'s; it shares [`serve`] and [`AgentSocket`].
//!
//! Without a runtime dir there is no socket (logged); another agent already listening is left alone
//! (logged). `kubectl-signet` then works on its own.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use signet_core::agent::{AgentError, AgentFailure, AgentHandler, AgentServer, Peer, Request};
use signet_core::session::SessionError;
use tauri::{AppHandle, Manager, Runtime};

use crate::error::AppError;
use crate::state::AppState;

/// How long a `login` request waits for the sign-in it started or joined (the CLI waits 5 minutes).
pub const LOGIN_WAIT: Duration = Duration::from_secs(10 * 60);

/// The sockets this instance serves (managed state): the agent's and the forwarding one; removed when
/// the app exits.
#[derive(Debug, Default)]
pub struct AgentSocket(Mutex<Vec<PathBuf>>);

/// Binds the agent socket and serves it on a background thread. Returns its path, or `None` when there
/// is no socket (no runtime dir, another agent runs, or it could not be bound: each is logged).
pub fn start<R: Runtime>(app: &AppHandle<R>) -> Option<PathBuf> {
    let state = app.state::<AppState>();
    let Some(path) = signet_core::agent::socket_path(state.paths()) else {
        tracing::info!(
            "XDG_RUNTIME_DIR is not set: no agent socket; kubectl-signet works without the tray"
        );
        return None;
    };
    serve(app, &path, Arc::new(Agent { app: app.clone() }))
}

/// Binds `path` and serves it with `handler` on a background thread (see [`start`]).
pub(crate) fn serve<R: Runtime>(
    app: &AppHandle<R>,
    path: &std::path::Path,
    handler: Arc<dyn AgentHandler>,
) -> Option<PathBuf> {
    let path = path.to_path_buf();
    let server = match AgentServer::bind(&path) {
        Ok(server) => server,
        Err(e @ AgentError::AlreadyRunning { .. }) => {
            tracing::warn!(error = %e, "the agent socket is served by another process; this app does not serve it");
            return None;
        }
        Err(e) => {
            let cause = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            tracing::warn!(error = %e, %cause, "no agent socket; kubectl-signet works without the tray");
            return None;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("agent".into())
        .spawn(move || server.serve(handler));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the agent thread");
        return None;
    }
    if let Ok(mut ours) = app.state::<AgentSocket>().0.lock() {
        ours.push(path.clone());
    }
    tracing::info!(socket = %path.display(), "agent listening");
    Some(path)
}

/// Removes the sockets this instance serves (at exit), so clients do not try a dead one.
pub fn stop<R: Runtime>(app: &AppHandle<R>) {
    let Some(socket) = app.try_state::<AgentSocket>() else {
        return;
    };
    let paths = socket
        .0
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    for path in paths {
        let _ = std::fs::remove_file(&path);
        tracing::debug!(socket = %path.display(), "agent socket removed");
    }
}

/// The tray's [`AgentHandler`].
#[derive(Debug)]
pub struct Agent<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Agent<R> {
    pub fn new(app: &AppHandle<R>) -> Agent<R> {
        Agent { app: app.clone() }
    }

    pub(crate) fn status(&self) -> Result<serde_json::Value, AgentFailure> {
        let providers = self.app.state::<AppState>().providers();
        serde_json::to_value(&providers)
            .map(|providers| json!({ "providers": providers }))
            .map_err(|e| failure(&AppError::Internal(e.to_string())))
    }

    pub(crate) fn token(&self, cluster: &str) -> Result<serde_json::Value, AgentFailure> {
        let state = self.app.state::<AppState>();
        match state.signet().token_for(cluster) {
            Ok(token) => {
                tracing::debug!(cluster, expires_at = %token.expires_at, "agent served a token");
                Ok(json!({ "token": token.id_token.expose(), "expires_at": token.expires_at }))
            }
            Err(e) => {
                tracing::info!(cluster, code = e.code(), "agent could not serve a token");
                Err(failure(&AppError::Core(e)))
            }
        }
    }

    pub(crate) fn login(
        &self,
        provider: &str,
        interactive: bool,
    ) -> Result<serde_json::Value, AgentFailure> {
        tracing::info!(provider, interactive, "agent: sign-in requested");
        let state = self.app.state::<AppState>();
        let signet = state.signet();
        if let Err(e) = signet.provider_config(provider) {
            return Err(failure(&AppError::Core(e)));
        }
        if has_fresh_token(&signet, provider) {
            // Someone signed in between the client's failed attempt and this request.
            return Ok(json!({ "provider": provider, "signed_in": true }));
        }
        if !interactive {
            crate::refresher::sign_in_needed(&self.app, provider);
            let e = SessionError::SignInRequired {
                provider: provider.into(),
                reason: "the session has ended or never began".into(),
            };
            return Err(AgentFailure {
                code: e.code().into(),
                message: e.to_string(),
            });
        }
        crate::login::sign_in_and_wait(&self.app, provider, LOGIN_WAIT)
            .map(|()| json!({ "provider": provider, "signed_in": true }))
            .map_err(|e| failure(&e))
    }
}

impl<R: Runtime> AgentHandler for Agent<R> {
    fn handle(&self, request: Request, _peer: &Peer) -> Result<serde_json::Value, AgentFailure> {
        match request {
            Request::Status => self.status(),
            Request::Token { cluster, .. } => self.token(&cluster),
            Request::Login {
                provider,
                interactive,
            } => self.login(&provider, interactive),
            Request::Clusters { .. } => Ok(
                json!({ "clusters": signet_core::forward::offered_clusters(&self.app.state::<AppState>().signet()) }),
            ),
        }
    }
}

/// Whether any of the provider's clusters has a fresh cached token (so a retry will succeed).
fn has_fresh_token(signet: &signet_core::Signet, provider: &str) -> bool {
    signet
        .config()
        .clusters_of(provider)
        .any(|c| matches!(signet.cached_token(&c.name), Ok(Some(_))))
}

pub(crate) fn failure(e: &AppError) -> AgentFailure {
    AgentFailure {
        code: e.code().into(),
        message: e.to_string(),
    }
}
