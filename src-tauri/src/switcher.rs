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
    let mut builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()));
    if let Some(script) = desktop_fonts() {
        builder = builder.initialization_script(script);
    }
    builder
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

/// A script that hands the page the desktop's fonts as CSS custom properties (`ui/src/app.css` reads
/// them): GTK's interface font (`gtk-font-name`, e.g. "Cantarell 11") and the generic `monospace`.
///
/// The page could name `system-ui` and a list of likely families instead, but WebKitGTK asks
/// fontconfig about each name in turn until one is installed, and each name it tries costs ~90 font
/// matches (one for each family fontconfig lists under it) for each size and weight the page uses. The
/// old six-name list took ~60 ms of the switcher's first layout (DESIGN.md §8, open → first paint);
/// the desktop's own font is installed, so it is the only name tried. `None` off GTK's main thread
/// (GTK's settings may only be read there) or when GTK names no font: the page then uses `system-ui`.
#[cfg(target_os = "linux")]
fn desktop_fonts() -> Option<String> {
    if !gtk::is_initialized_main_thread() {
        return None;
    }
    use gtk::prelude::GtkSettingsExt;
    let name = gtk::Settings::default()?.gtk_font_name()?;
    let family = gtk::pango::FontDescription::from_string(&name).family()?;
    Some(fonts_script(&family))
}

#[cfg(not(target_os = "linux"))]
fn desktop_fonts() -> Option<String> {
    None
}

/// The script that sets `--desktop-font` to `family` (see [`css_family`]) and `--desktop-mono` to
/// `monospace` (fontconfig's, which the desktop configures) on the document element, which exists when
/// initialization scripts run.
fn fonts_script(family: &str) -> String {
    let set = |property: &str, value: &str| {
        format!(
            "document.documentElement.style.setProperty({}, {});",
            serde_json::Value::from(property),
            serde_json::Value::from(value)
        )
    };
    format!(
        "{}{}",
        set("--desktop-font", &css_family(family)),
        set("--desktop-mono", "monospace")
    )
}

/// `family` as CSS names it: Pango's generic families ("Sans", GTK's default, "Serif", "Monospace") as
/// CSS's generic keywords, which WebKitGTK resolves with one font match; any other as a quoted name.
fn css_family(family: &str) -> String {
    match family.to_ascii_lowercase().as_str() {
        "sans" | "sans-serif" => "sans-serif".into(),
        "serif" => "serif".into(),
        "mono" | "monospace" => "monospace".into(),
        _ => css_string(family),
    }
}

/// `text` as a quoted CSS string: quotes and backslashes escaped, control characters as hex escapes.
fn css_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\{:x} ", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_becomes_a_quoted_css_string_with_quotes_backslashes_and_controls_escaped() {
        assert_eq!(css_string("Cantarell"), r#""Cantarell""#);
        assert_eq!(css_string(r#"A "B" \ C"#), r#""A \"B\" \\ C""#);
        assert_eq!(css_string("A\nB\u{7}"), r#""A\a B\7 ""#);
    }

    #[test]
    fn pangos_generic_families_become_css_keywords() {
        assert_eq!(css_family("Sans"), "sans-serif");
        assert_eq!(css_family("serif"), "serif");
        assert_eq!(css_family("Monospace"), "monospace");
        assert_eq!(css_family("Adwaita Sans"), r#""Adwaita Sans""#);
    }

    #[test]
    fn the_script_sets_both_properties_with_json_strings() {
        assert_eq!(
            fonts_script("Noto \"Sans\""),
            r#"document.documentElement.style.setProperty("--desktop-font", "\"Noto \\\"Sans\\\"\"");document.documentElement.style.setProperty("--desktop-mono", "monospace");"#
        );
    }
}
