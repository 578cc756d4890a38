//! Agent forwarding, the desktop's end (DESIGN.md §5.5, [`signet_core::forward`]): the socket
//! `$XDG_RUNTIME_DIR/signet/forward.sock` that `ssh -R` (or a dev container's mount) carries to another
//! host.
//!
//! - Off unless `[settings] allow_forwarding` is on: each request is answered `forward.off`, with the
//!   setting to change. Turning it off forgets every session's permission.
//! - Serves `token` and `clusters` only; `status` and `login` are the local agent's.
//! - The first request of a new session asks the person in a notification ("kubectl on devbox wants a
//!   token for prod": Allow once / Allow for this session / Deny), unless `forward_without_asking` is on.
//!   Closing the notification denies; with no notification server the request is refused at once, saying
//!   so. A session is the process holding the forward open (the `ssh`), so
//!   "this session" ends with that ssh connection, or when the app quits.
//! - A token is served as for a local caller ([`crate::agent::Agent::token`]): fresh from the cache,
//!   refreshed under the provider lock, or — when the session has ended — a sign-in at the desktop for an
//!   interactive remote caller, and one "Sign-in needed" notification for the others. The refresh token
//!   never crosses the socket. Every forwarded token is written to the Activity view.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use signet_core::agent::{AgentFailure, AgentHandler, Peer, Request};
use signet_core::forward::{self, CONSENT_WAIT, ConsentBook, Decision, PromptId};
use tauri::{AppHandle, Manager, Runtime};

use crate::agent::Agent;
use crate::dto::ActivityKind;
use crate::notify::{CLOSED, Note, UNSHOWN};
use crate::state::AppState;

/// Who may be served through the forwarding socket (managed state, so turning forwarding off can forget).
#[derive(Debug, Default)]
pub struct Consent(pub Arc<ConsentBook>);

/// Binds the forwarding socket and serves it (answering `forward.off` while forwarding is off). Returns its
/// path, or `None` without a runtime dir or when it could not be bound (logged).
pub fn start<R: Runtime>(app: &AppHandle<R>) -> Option<PathBuf> {
    let state = app.state::<AppState>();
    let path = signet_core::agent::forward_socket_path(state.paths())?;
    let consent = app.state::<Consent>().0.clone();
    let handler = Arc::new(Forwarder {
        app: app.clone(),
        consent,
    });
    crate::agent::serve(app, &path, handler)
}

/// The forwarding socket's [`AgentHandler`].
#[derive(Debug)]
pub struct Forwarder<R: Runtime> {
    app: AppHandle<R>,
    consent: Arc<ConsentBook>,
}

impl<R: Runtime> AgentHandler for Forwarder<R> {
    fn handle(&self, request: Request, peer: &Peer) -> Result<serde_json::Value, AgentFailure> {
        let settings = self
            .app
            .state::<AppState>()
            .signet()
            .config()
            .settings
            .clone();
        if !settings.allow_forwarding {
            self.consent.forget();
            tracing::info!("a forwarded request was refused: forwarding is off");
            return Err(refusal(
                "forward.off",
                "forwarding is off on the desktop: turn on \"Allow kubectl on other hosts\" in Signet's Settings (or `allow_forwarding = true` under [settings])",
            ));
        }
        match request {
            Request::Token {
                cluster,
                host,
                interactive,
            } => {
                let host = forward::shown_host(host.as_deref());
                let what = format!("a token for {}", signet_core::text::printable(&cluster));
                if !settings.forward_without_asking {
                    self.admit(peer, &host, &what)?;
                }
                self.token(&cluster, &host, peer, interactive)
            }
            Request::Clusters { host } => {
                let host = forward::shown_host(host.as_deref());
                if !settings.forward_without_asking {
                    self.admit(peer, &host, "the list of your clusters")?;
                }
                let signet = self.app.state::<AppState>().signet();
                Ok(json!({ "clusters": forward::offered_clusters(&signet) }))
            }
            Request::Status | Request::Login { .. } => Err(refusal(
                "forward.not_served",
                "only `token` and `clusters` requests are served to other hosts",
            )),
        }
    }
}

impl<R: Runtime> Forwarder<R> {
    /// Waits for the person's permission for this request's session (asking them when nobody has yet).
    fn admit(&self, peer: &Peer, host: &str, what: &str) -> Result<(), AgentFailure> {
        let session = forward::session_of(peer);
        let through = forward::describe_peer(peer);
        self.consent
            .admit(&session, CONSENT_WAIT, |prompt| {
                self.ask(prompt, host, what, &through);
            })
            .map_err(|e| {
                tracing::info!(host, code = e.code(), "a forwarded request was not allowed");
                refusal(e.code(), &e.to_string())
            })
    }

    /// Shows the question; its buttons (or closing it) answer question `prompt`.
    fn ask(&self, prompt: PromptId, host: &str, what: &str, through: &str) {
        tracing::info!(
            host,
            what,
            through,
            "asking whether to serve a forwarded request"
        );
        let mut note = Note::new(
            format!("kubectl on {host} wants {what}"),
            format!(
                "Asked through {through}. Signet would send an ID token; your refresh token stays on this computer."
            ),
        );
        for (key, label) in Decision::KEYS {
            note = note.with_action(key, label);
        }
        let consent = self.consent.clone();
        self.app.state::<AppState>().ask(
            note,
            Box::new(move |key: &str| {
                let decision = match key {
                    CLOSED => Some(Decision::Deny),
                    UNSHOWN => Some(Decision::CannotAsk),
                    key => Decision::from_key(key),
                };
                if let Some(decision) = decision {
                    tracing::info!(?decision, "forwarding question answered");
                    consent.decide(prompt, decision);
                }
            }),
        );
    }

    /// Serves a token as for a local caller; an ended session signs in at the desktop when a person waits
    /// at the remote terminal.
    fn token(
        &self,
        cluster: &str,
        host: &str,
        peer: &Peer,
        interactive: bool,
    ) -> Result<serde_json::Value, AgentFailure> {
        let agent = Agent::new(&self.app);
        let provider = self
            .app
            .state::<AppState>()
            .signet()
            .config()
            .cluster(cluster)
            .map(|c| c.provider.clone());
        let answer = match (agent.token(cluster), &provider) {
            (Err(failure), Some(provider)) if failure.code == SIGN_IN_REQUIRED => {
                agent.login(provider, interactive)?;
                agent.token(cluster)
            }
            (answer, _) => answer,
        }?;
        let message = format!(
            "token for {cluster} forwarded to kubectl on {host} (through {})",
            forward::describe_peer(peer)
        );
        tracing::info!("{message}");
        crate::events::record(
            &self.app,
            ActivityKind::Forwarded,
            provider.as_deref(),
            message,
        );
        Ok(answer)
    }
}

/// The code of an ended session ([`signet_core::session::SessionError::SignInRequired`]).
const SIGN_IN_REQUIRED: &str = "session.sign_in_required";

fn refusal(code: &str, message: &str) -> AgentFailure {
    AgentFailure {
        code: code.to_string(),
        message: message.to_string(),
    }
}
