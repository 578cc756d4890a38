//! The switcher window (label `main`): the app's own page from `ui/`, and the only window a capability
//! names (`capabilities/main.json`), so the only one whose page may call Signet's commands.
//!
//! It opens from the tray ("Open Signet…"), on a second launch, on first run (no provider configured
//! yet: the onboarding of DESIGN.md J1), with `signet --open`, and at start-up under WebDriver automation (tauri-driver's
//! session attaches to the first webview the app creates). Closing it keeps the app running.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::error::AppError;
use crate::state::AppState;
use crate::tray::Emitted;

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
        .initialization_script(initial_status_script(app))
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

/// The global the page reads its first status from (`ui/src/lib/api.ts` `initialStatus`).
pub const INITIAL_STATUS: &str = "__SIGNET_INITIAL_STATUS__";

/// A script that hands the page the status the tray shows, so that it paints its first view without
/// waiting for a call to the app: two event subscriptions and a `status` call take ~60 ms in a fresh
/// web process (README "Benchmarks"). The page still subscribes and asks for the status at once, which
/// brings anything that changed since. Before the publisher's first redraw the status is computed here.
fn initial_status_script<R: Runtime>(app: &AppHandle<R>) -> String {
    let status = app
        .state::<Emitted>()
        .last()
        .unwrap_or_else(|| app.state::<AppState>().status());
    script_setting(INITIAL_STATUS, &status)
}

/// `window.<name> = <value as JSON>;`. JSON is JavaScript, but for U+2028 and U+2029 in strings before
/// ES2019, which are escaped too.
fn script_setting(name: &str, value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("window.{name} = {json};")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_status_script_sets_one_global_to_the_json_whatever_the_names_hold() {
        let hostile = serde_json::json!({"name": "a\"; alert(1); //\u{2028}</script>\n"});
        let script = script_setting(INITIAL_STATUS, &hostile);
        assert_eq!(
            script,
            r#"window.__SIGNET_INITIAL_STATUS__ = {"name":"a\"; alert(1); //\u2028</script>\n"};"#
        );
    }
}
