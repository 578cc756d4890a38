//! The Activity log: what the switcher's Activity view lists (sign-ins, refreshes, sign-outs, failures,
//! context switches, config edits), kept in the app state and pushed to open windows as
//! [`ACTIVITY_EVENT`]. Entries carry names, messages and error codes only — never a token.

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::dto::{ActivityEntry, ActivityKind};
use crate::state::AppState;

/// Emitted with an [`ActivityEntry`] for every new entry.
pub const ACTIVITY_EVENT: &str = "signet:activity";

/// Records something that happened and tells the open windows.
pub fn record<R: Runtime>(
    app: &AppHandle<R>,
    kind: ActivityKind,
    provider: Option<&str>,
    message: impl Into<String>,
) {
    push(app, kind, provider, message.into(), None);
}

/// Records a failure with its code (the message says what to do next).
pub fn failed<R: Runtime>(
    app: &AppHandle<R>,
    provider: Option<&str>,
    code: &str,
    message: impl std::fmt::Display,
) {
    push(
        app,
        ActivityKind::Failed,
        provider,
        message.to_string(),
        Some(code.to_string()),
    );
}

fn push<R: Runtime>(
    app: &AppHandle<R>,
    kind: ActivityKind,
    provider: Option<&str>,
    message: String,
    code: Option<String>,
) {
    let state = app.state::<AppState>();
    let entry = state.record(ActivityEntry {
        at: state.now(),
        provider: provider.map(str::to_owned),
        kind,
        message,
        code,
    });
    if let Err(e) = app.emit(ACTIVITY_EVENT, entry) {
        tracing::debug!(error = %e, "could not emit the activity event");
    }
}
