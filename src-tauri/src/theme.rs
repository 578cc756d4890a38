//! The desktop's light or dark preference, for the app's windows (thread `theme`).
//!
//! A desktop says which it prefers through the XDG settings portal: `org.freedesktop.appearance`
//! `color-scheme` (1 prefer dark, 2 prefer light, 0 no preference), read with `ReadOne` (`Read` on
//! portals before version 2) and changed with the `SettingChanged` signal. The preference goes to GTK
//! (`gtk-application-prefer-dark-theme`, through [`AppHandle::set_theme`]), which WebKitGTK answers
//! `prefers-color-scheme` from, so an open switcher follows a change at once.
//!
//! Tauri's default `dbus` feature does the same inside tao, but its thread processes its connection
//! with a 5-second timeout: 60 wake-ups every 5 minutes in an idle tray (README "Benchmarks"). Here the
//! thread blocks on the signal with no timeout. The app is built without that feature.
//!
//! Without a portal (no desktop, or one that does not implement the setting), nothing is changed:
//! `GTK_THEME` and GTK's own settings decide, as before.

use std::time::Duration;

use tauri::{AppHandle, Runtime, Theme};
use zbus::zvariant::{OwnedValue, Value};

const PORTAL: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const SETTINGS: &str = "org.freedesktop.portal.Settings";
const NAMESPACE: &str = "org.freedesktop.appearance";
const KEY: &str = "color-scheme";

/// What a `color-scheme` value asks of the app's windows: `None` for no preference (or a value this
/// version does not know), which leaves GTK's own setting alone.
fn preference(color_scheme: u32) -> Option<Theme> {
    match color_scheme {
        1 => Some(Theme::Dark),
        2 => Some(Theme::Light),
        _ => None,
    }
}

/// The `u32` inside a portal answer: `ReadOne` gives it in one variant, `Read` wraps it in two.
fn color_scheme(value: &Value<'_>) -> Option<u32> {
    match value {
        Value::U32(scheme) => Some(*scheme),
        Value::Value(inner) => color_scheme(inner),
        _ => None,
    }
}

/// Follows the desktop's preference for the app's lifetime. Logs and gives up when there is no session
/// bus; without a portal it still listens, for one that starts later.
pub fn follow<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("theme".into())
        .spawn(move || {
            if let Err(e) = listen(&app) {
                tracing::debug!(error = %e, "not following the desktop's light/dark preference");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot follow the desktop's light/dark preference");
    }
}

fn listen<R: Runtime>(app: &AppHandle<R>) -> zbus::Result<()> {
    // A portal being activated must not hold the thread for D-Bus's default 25 s; a later change still
    // arrives as a signal.
    let bus = zbus::blocking::connection::Builder::session()?
        .method_timeout(Duration::from_secs(5))
        .build()?;
    let portal: zbus::blocking::Proxy<'_> = zbus::blocking::proxy::Builder::new(&bus)
        .destination(PORTAL)?
        .path(PORTAL_PATH)?
        .interface(SETTINGS)?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()?;
    // Subscribed before the first read, so a change in between is not missed.
    let changes = portal.receive_signal_with_args("SettingChanged", &[(0, NAMESPACE), (1, KEY)])?;
    let mut applied = None;
    if let Some(scheme) = read(&portal) {
        apply(app, &mut applied, scheme);
    }
    for change in changes {
        let scheme = change
            .body()
            .deserialize::<(String, String, OwnedValue)>()
            .ok()
            .and_then(|(_, _, value)| color_scheme(&value));
        if let Some(scheme) = scheme {
            apply(app, &mut applied, scheme);
        }
    }
    Ok(())
}

/// The portal's current `color-scheme`, or `None` without a portal that has it.
fn read(portal: &zbus::blocking::Proxy<'_>) -> Option<u32> {
    ["ReadOne", "Read"].into_iter().find_map(|method| {
        let value: OwnedValue = portal.call(method, &(NAMESPACE, KEY)).ok()?;
        color_scheme(&value)
    })
}

/// Sets the windows' theme when the preference changed. "No preference" after a preference clears it.
fn apply<R: Runtime>(app: &AppHandle<R>, applied: &mut Option<Theme>, scheme: u32) {
    let wanted = preference(scheme);
    if wanted == *applied {
        return;
    }
    tracing::debug!(color_scheme = scheme, "the desktop's light/dark preference");
    app.set_theme(wanted);
    *applied = wanted;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portal_values_map_to_the_windows_theme() {
        assert_eq!(preference(1), Some(Theme::Dark));
        assert_eq!(preference(2), Some(Theme::Light));
        assert_eq!(preference(0), None);
        assert_eq!(preference(7), None);
    }

    #[test]
    fn read_one_and_the_older_read_both_give_the_scheme() {
        let read_one = Value::U32(1);
        let read = Value::Value(Box::new(Value::Value(Box::new(Value::U32(2)))));
        assert_eq!(color_scheme(&read_one), Some(1));
        assert_eq!(color_scheme(&read), Some(2));
        assert_eq!(color_scheme(&Value::from("dark")), None);
    }
}
