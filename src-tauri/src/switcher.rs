//! The switcher window (label `main`): the app's own page from `ui/`, and the only window a capability
//! names (`capabilities/main.json`), so the only one whose page may call Signet's commands.
//!
//! It opens from the tray ("Open Signet…"), on a second launch, on first run (no provider configured
//! yet: the onboarding of DESIGN.md J1), with `signet --open`, and at start-up under WebDriver automation (tauri-driver's
//! session attaches to the first webview the app creates). Closing it keeps the app running.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::error::AppError;

/// The switcher window's label (the capability names it).
pub const LABEL: &str = "main";

/// Brings the switcher forward, creating it if it is not open.
pub fn open<R: Runtime>(app: &AppHandle<R>) -> Result<(), AppError> {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return Ok(());
    }
    WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title("Signet")
        .inner_size(920.0, 640.0)
        .min_inner_size(640.0, 420.0)
        .center()
        .focused(true)
        .build()
        .map_err(AppError::Window)?;
    tracing::info!("switcher window opened");
    Ok(())
}

/// Whether the switcher opens at start-up: on first run, when asked (`signet --open`), and when a
/// WebDriver session drives the app.
pub fn opens_at_start(providers_configured: bool, requested: bool) -> bool {
    !providers_configured || requested || under_automation()
}

/// tauri-driver sets `TAURI_WEBVIEW_AUTOMATION=true` for the app it starts.
pub fn under_automation() -> bool {
    std::env::var("TAURI_WEBVIEW_AUTOMATION").is_ok_and(|v| v == "true")
}
