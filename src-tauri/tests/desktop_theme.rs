//! The switcher looks like the desktop: the real app in the real webview under tauri-driver.
//! - It follows the light/dark preference (src/theme.rs), on a private desktop whose settings portal
//!   (`signet_tests::portal`) prefers dark at start and then changes, as a person changes it in the
//!   desktop's settings. The page's `prefers-color-scheme` is what WebKitGTK derives from GTK, which the
//!   app sets.
//! - It uses the desktop's interface font (src/switcher.rs `desktop_fonts`), named in GTK's settings.
//!
//! Needs tauri-driver, WebKitWebDriver, Xvfb, dbus-run-session, busctl and gnome-keyring-daemon
//! (`scripts/setup.sh` installs them). Never skipped: a missing tool fails the test saying what to install.

mod common;
use common::session::{APP, Session};

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use signet_tests::portal::{PREFER_DARK, PREFER_LIGHT, Portal};
use signet_tests::webdriver::{Driver, WebDriver, wait_until};

const UI: Duration = Duration::from_secs(30);

/// Whether the switcher's page matches `(prefers-color-scheme: dark)` now.
fn page_is_dark(webdriver: &WebDriver) -> signet_tests::webdriver::Result<bool> {
    let value = webdriver.execute(
        "return window.matchMedia('(prefers-color-scheme: dark)').matches;",
        &[],
    )?;
    Ok(value == Value::Bool(true))
}

fn wait_for_scheme(webdriver: &WebDriver, dark: bool, what: &str, logs: &dyn Fn() -> String) {
    wait_until(what, Duration::from_secs(10), || {
        Ok((page_is_dark(webdriver)? == dark).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs()));
}

/// The app under tauri-driver on `session`'s desktop (its environment changed by `tweak`), once the
/// switcher shows its first status.
fn switcher(root: &Path, session: &Session, tweak: impl Fn(&mut Command)) -> (Driver, WebDriver) {
    signet_tests::webdriver::tauri_driver();
    signet_tests::webdriver::webkit_webdriver();
    let driver = Driver::start(&root.join("driver.log"), |cmd| {
        session.env(cmd);
        tweak(cmd);
    });
    let webdriver = driver.session(Path::new(APP), &[]).unwrap_or_else(|e| {
        panic!(
            "a WebDriver session starts the app: {e}\n{}",
            driver.log_text()
        )
    });
    webdriver
        .wait_for("main[data-ready=true]", UI)
        .unwrap_or_else(|e| {
            panic!(
                "the switcher shows its first status: {e}\n{}",
                both_logs(session, &driver)
            )
        });
    (driver, webdriver)
}

fn both_logs(session: &Session, driver: &Driver) -> String {
    format!(
        "app log:\n{}\ndriver log:\n{}",
        session.app_log(),
        driver.log_text()
    )
}

#[test]
fn the_switcher_follows_the_desktops_light_or_dark_preference_as_it_changes() {
    let root = tempfile::tempdir().expect("create the test root");
    let session = Session::start(root.path(), None);
    let portal = Portal::serve(&session.bus, PREFER_DARK);
    // No GTK_THEME and a fresh XDG_CONFIG_HOME: GTK's own default is light, so dark can only come
    // from the portal.
    let (driver, webdriver) = switcher(root.path(), &session, |cmd| {
        cmd.env_remove("GTK_THEME");
    });
    let logs = || both_logs(&session, &driver);

    wait_for_scheme(
        &webdriver,
        true,
        "the switcher to open dark, as the desktop prefers",
        &logs,
    );
    portal.set(PREFER_LIGHT);
    wait_for_scheme(&webdriver, false, "the open switcher to turn light", &logs);
    portal.set(PREFER_DARK);
    wait_for_scheme(
        &webdriver,
        true,
        "the open switcher to turn dark again",
        &logs,
    );

    let _ = webdriver.delete();
}

/// The computed `font-family` of a new element `tag` in the switcher's page.
fn font_family(webdriver: &WebDriver, tag: &str) -> String {
    let value = webdriver
        .execute(
            "const e = document.createElement(arguments[0]); document.body.append(e); \
             const f = getComputedStyle(e).fontFamily; e.remove(); return f;",
            &[Value::from(tag)],
        )
        .expect("read the page's font");
    value
        .as_str()
        .expect("a font-family is a string")
        .to_string()
}

#[test]
fn the_switcher_uses_the_desktops_interface_font() {
    let root = tempfile::tempdir().expect("create the test root");
    let session = Session::start(root.path(), None);
    // GTK reads the interface font from its settings file, where the desktop's settings write it.
    let gtk = root.path().join("config/gtk-3.0");
    std::fs::create_dir_all(&gtk).expect("create the GTK settings folder");
    std::fs::write(
        gtk.join("settings.ini"),
        "[Settings]\ngtk-font-name=DejaVu Serif 11\n",
    )
    .expect("write GTK's settings");
    let (_driver, webdriver) = switcher(root.path(), &session, |_| {});

    let text = font_family(&webdriver, "span");
    assert!(
        text.starts_with("\"DejaVu Serif\"") && text.ends_with("sans-serif"),
        "the page's text is in GTK's font, then a generic one: {text}"
    );
    let code = font_family(&webdriver, "code");
    assert_eq!(
        code, "monospace, monospace",
        "code is in the desktop's monospace"
    );
    let installed = webdriver
        .execute("return document.fonts.check('14px \"DejaVu Serif\"');", &[])
        .expect("ask the page about the font");
    assert_eq!(installed, Value::Bool(true), "WebKit has the font to draw");

    let _ = webdriver.delete();
}
