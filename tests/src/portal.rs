//! A settings portal on a test's private session bus: `org.freedesktop.portal.Settings` at
//! `/org/freedesktop/portal/desktop`, as `xdg-desktop-portal` serves it to apps, holding only the
//! desktop's light/dark preference (`org.freedesktop.appearance` `color-scheme`). The test changes the
//! preference as a person does in the desktop's settings: [`Portal::set`] stores it and emits
//! `SettingChanged`.
//!
//! It answers as Debian 12's `xdg-desktop-portal` 1.16 (with `xdg-desktop-portal-gtk` 1.14 and the
//! desktop's `org.gnome.desktop.interface color-scheme` behind it) was seen to answer on a private bus:
//! interface version 1, so `Read` (the value wrapped in two variants) and `ReadAll`, but no `ReadOne`
//! (added in version 2; the app falls back to `Read`), and `SettingChanged` with the new value as a
//! `u` in one variant. Other settings are unknown, as a portal answers for a key it does not have
//! (`org.freedesktop.portal.Error.NotFound`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};

pub const NAMESPACE: &str = "org.freedesktop.appearance";
pub const KEY: &str = "color-scheme";
const PATH: &str = "/org/freedesktop/portal/desktop";

/// `color-scheme` values.
pub const PREFER_DARK: u32 = 1;
pub const PREFER_LIGHT: u32 = 2;

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.freedesktop.portal.Error")]
enum PortalError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NotFound(String),
}

#[derive(Debug, Clone)]
struct Settings {
    color_scheme: Arc<Mutex<u32>>,
}

impl Settings {
    fn get(&self, namespace: &str, key: &str) -> Result<u32, PortalError> {
        if namespace == NAMESPACE && key == KEY {
            Ok(*self.color_scheme.lock().expect("portal lock"))
        } else {
            Err(PortalError::NotFound(format!(
                "Requested setting {namespace}.{key} not found"
            )))
        }
    }
}

#[zbus::interface(name = "org.freedesktop.portal.Settings")]
impl Settings {
    fn read(&self, namespace: &str, key: &str) -> Result<OwnedValue, PortalError> {
        let scheme = self.get(namespace, key)?;
        Ok(Value::Value(Box::new(Value::U32(scheme)))
            .try_into()
            .expect("a u32 in a variant is an owned value"))
    }

    fn read_all(&self, _namespaces: Vec<String>) -> HashMap<String, HashMap<String, OwnedValue>> {
        let scheme = *self.color_scheme.lock().expect("portal lock");
        HashMap::from([(
            NAMESPACE.to_string(),
            HashMap::from([(KEY.to_string(), OwnedValue::from(scheme))]),
        )])
    }

    #[zbus(signal)]
    async fn setting_changed(
        emitter: &SignalEmitter<'_>,
        namespace: &str,
        key: &str,
        value: Value<'_>,
    ) -> zbus::Result<()>;

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

/// The portal, served until dropped.
#[derive(Debug)]
pub struct Portal {
    settings: Settings,
    connection: zbus::blocking::Connection,
}

impl Portal {
    /// Owns `org.freedesktop.portal.Desktop` on the bus at `address` with `color_scheme` set.
    pub fn serve(address: &str, color_scheme: u32) -> Portal {
        let settings = Settings {
            color_scheme: Arc::new(Mutex::new(color_scheme)),
        };
        let connection = zbus::blocking::connection::Builder::address(address)
            .and_then(|b| b.name("org.freedesktop.portal.Desktop"))
            .and_then(|b| b.serve_at(PATH, settings.clone()))
            .and_then(|b| b.build())
            .expect("serve the settings portal");
        Portal {
            settings,
            connection,
        }
    }

    /// The person picks `color_scheme` in the desktop's settings.
    pub fn set(&self, color_scheme: u32) {
        *self.settings.color_scheme.lock().expect("portal lock") = color_scheme;
        let emitter = SignalEmitter::new(self.connection.inner(), PATH).expect("the portal's path");
        zbus::block_on(Settings::setting_changed(
            &emitter,
            NAMESPACE,
            KEY,
            Value::U32(color_scheme),
        ))
        .expect("emit SettingChanged");
    }
}
