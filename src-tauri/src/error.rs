//! The one error type of the tray app, and the `{code, message}` shape the front end receives.
//!
//! Every command returns `Result<T, AppError>`; the front end gets `{"code": "...", "message": "..."}`
//! (a test pins that shape), never a bare string, so it can branch on `code` — the core's stable codes
//! (`session.sign_in_required`, `keyring.unavailable`, …) pass through unchanged. Messages never hold a
//! token, code or secret: the core's errors are built that way, and ours only name providers and paths.

use serde::ser::SerializeStruct;

/// What can go wrong in the tray app.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Anything the engine reports (config, OIDC, session, keyring, kubeconfig).
    #[error(transparent)]
    Core(#[from] signet_core::Error),
    /// No loopback port could be reserved for the sign-in redirect.
    #[error("could not reserve a loopback port for the sign-in redirect: {0}")]
    Reserve(#[source] std::io::Error),
    /// The login window could not be opened.
    #[error("could not open the sign-in window: {0}")]
    Window(#[source] tauri::Error),
    /// The sign-in ended without signing in: its window was closed, or the person signed out meanwhile.
    #[error(
        "the sign-in to '{provider}' was cancelled ({reason}); run `kubectl signet login {provider}` to try again"
    )]
    SignInCancelled { provider: String, reason: String },
    /// A sign-in this request waited on failed (the code and message are the sign-in's own).
    #[error("{message}")]
    SignInFailed { code: String, message: String },
    /// A sign-in this request waited on did not finish in time.
    #[error(
        "the sign-in to '{provider}' did not finish within {minutes} minutes; run `kubectl signet login {provider}`"
    )]
    SignInTimeout { provider: String, minutes: u64 },
    /// The switcher sent something the app cannot act on (an unknown cluster, a bad value).
    #[error("{0}")]
    Invalid(String),
    /// A background task the command waited on died.
    #[error("an internal task failed: {0}")]
    Internal(String),
}

impl AppError {
    /// A stable, dotted identifier: the core's code, `app.*` for the tray's own failures, or — for a
    /// sign-in this request waited on — that sign-in's own code (`oidc.*`, `app.sign_in_cancelled`, …).
    pub fn code(&self) -> &str {
        match self {
            AppError::Core(e) => e.code(),
            AppError::Reserve(_) => "app.reserve_port_failed",
            AppError::Window(_) => "app.window_failed",
            AppError::SignInCancelled { .. } => "app.sign_in_cancelled",
            AppError::Invalid(_) => "app.invalid_input",
            AppError::SignInFailed { code, .. } => code,
            AppError::SignInTimeout { .. } => "app.sign_in_timeout",
            AppError::Internal(_) => "app.internal",
        }
    }
}

impl From<signet_core::config::ConfigError> for AppError {
    fn from(e: signet_core::config::ConfigError) -> Self {
        AppError::Core(e.into())
    }
}

impl From<signet_core::cluster_api::ClusterApiError> for AppError {
    fn from(e: signet_core::cluster_api::ClusterApiError) -> Self {
        AppError::Core(e.into())
    }
}

impl From<signet_core::import::ImportError> for AppError {
    fn from(e: signet_core::import::ImportError) -> Self {
        AppError::Core(e.into())
    }
}

impl From<signet_core::kubeconfig::KubeconfigError> for AppError {
    fn from(e: signet_core::kubeconfig::KubeconfigError) -> Self {
        AppError::Core(e.into())
    }
}

impl From<signet_core::paths::NoHomeError> for AppError {
    fn from(e: signet_core::paths::NoHomeError) -> Self {
        AppError::Core(e.into())
    }
}

impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("AppError", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_core::session::SessionError;

    #[test]
    fn serializes_as_code_and_message() {
        let e = AppError::Core(
            SessionError::UnknownProvider {
                name: "nope".into(),
                known: "corp".into(),
            }
            .into(),
        );
        let json = serde_json::to_value(&e).expect("serialize the error");
        assert_eq!(
            json,
            serde_json::json!({
                "code": "session.unknown_provider",
                "message": "no provider named 'nope' in the Signet config (known: corp)",
            }),
            "the front end relies on exactly these two fields"
        );
    }

    #[test]
    fn app_failures_have_their_own_codes() {
        let e = AppError::Reserve(std::io::Error::other("no ports"));
        assert_eq!(e.code(), "app.reserve_port_failed");
        assert_eq!(
            serde_json::to_value(&e).expect("serialize")["code"],
            "app.reserve_port_failed"
        );
    }

    #[test]
    fn a_sign_in_waited_on_keeps_its_own_code() {
        let e = AppError::SignInFailed {
            code: "oidc.idp_error".into(),
            message: "the provider said access_denied".into(),
        };
        assert_eq!(e.code(), "oidc.idp_error");
        assert_eq!(
            serde_json::to_value(&e).expect("serialize")["code"],
            "oidc.idp_error",
            "the front end and the agent see the sign-in's code, not a generic one"
        );
    }
}
