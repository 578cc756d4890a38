//! The commands the switcher window may call. Each is a one-liner over the app state and the core;
//! blocking work (discovery, token requests, revocation) runs on a blocking thread, never on the main
//! thread. Only the `main` window has a capability, so the login window and any remote page cannot call
//! these (a test proves it).

use tauri::{AppHandle, Runtime, State};

use crate::dto::{ProviderDto, SignInStarted, SignedOut};
use crate::error::AppError;
use crate::state::AppState;

/// Every provider, its account, expiry and clusters. Never a token.
#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Result<Vec<ProviderDto>, AppError> {
    Ok(state.providers())
}

/// Starts a sign-in in the provider's mode; resolves once the login window (or browser) is open.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    provider: String,
) -> Result<SignInStarted, AppError> {
    blocking(move || crate::login::start(&app, &provider)).await
}

/// Signs out of a provider.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    provider: String,
) -> Result<SignedOut, AppError> {
    blocking(move || crate::login::sign_out(&app, &provider)).await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}
