//! `signet-core`: everything Signet does without a GUI.
//!
//! Config, OpenID Connect sign-in and refresh against Dex, sessions, the token cache and keyring, and
//! (in later modules) kubeconfig writing and the exec-credential format. The tray app and the
//! `kubectl-signet` CLI are thin adapters over [`session::Signet`]. This crate must never link Tauri or
//! WebKit: `cargo test -p signet-core` builds without them.

#[cfg(unix)]
pub mod agent;
pub mod atomic_file;
pub mod clock;
pub mod cluster_api;
pub mod cluster_index;
pub mod config;
pub mod exec_credential;
pub mod file_stamp;
pub mod forward;
pub mod http;
pub mod import;
pub mod kubeconfig;
pub mod names;
pub mod oidc;
pub mod paths;
pub mod schedule;
pub mod secret;
pub mod session;
pub mod sync;
pub mod text;
pub mod token_store;
pub mod usecase;

pub use secret::Secret;
pub use session::Signet;

/// Every error the core returns, with a stable [`Error::code`] for the UI, logs and tests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
    #[error(transparent)]
    Session(#[from] session::SessionError),
    #[error(transparent)]
    TokenStore(#[from] token_store::TokenStoreError),
    #[error(transparent)]
    Keyring(#[from] token_store::KeyringError),
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(transparent)]
    NoHome(#[from] paths::NoHomeError),
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error(transparent)]
    Import(#[from] import::ImportError),
    #[error(transparent)]
    ClusterApi(#[from] cluster_api::ClusterApiError),
    #[error(transparent)]
    Name(#[from] names::NameError),
    #[error(transparent)]
    Setup(#[from] usecase::setup::SetupError),
    #[error(transparent)]
    Forward(#[from] forward::ForwardError),
}

impl Error {
    /// A stable, dotted identifier (`session.sign_in_required`, `keyring.unavailable`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(e) => e.code(),
            Error::Oidc(e) => e.code(),
            Error::Session(e) => e.code(),
            Error::TokenStore(e) => e.code(),
            Error::Keyring(e) => e.code(),
            Error::Http(_) => "oidc.unreachable",
            Error::NoHome(_) => "config.no_home",
            Error::Kubeconfig(e) => e.code(),
            Error::Import(e) => e.code(),
            Error::ClusterApi(e) => e.code(),
            Error::Name(e) => e.code(),
            Error::Setup(e) => e.code(),
            Error::Forward(e) => e.code(),
        }
    }

    /// Whether a later retry may succeed without the person doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Session(session::SessionError::RefreshFailed { .. })
        ) || matches!(self, Error::Oidc(e) if e.is_transient())
            || matches!(
                self,
                Error::Kubeconfig(kubeconfig::KubeconfigError::Locked { .. })
            )
    }
}
