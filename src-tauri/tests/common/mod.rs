//! Shared by the real-binary tests: a recording `org.freedesktop.Notifications` server, and the private
//! desktop session ([`session`]) the app runs in.
// Each test crate uses a different part of this module.
#![allow(dead_code)]

pub mod session;

/// One `Notify` call as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

/// `org.freedesktop.Notifications` that records instead of showing.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut received = self.received.lock().expect("recorder lock");
        received.push(Received {
            app_name,
            summary,
            body,
            actions,
        });
        u32::try_from(received.len()).expect("few notifications")
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "signet-test-recorder".into(),
            "signet".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

impl Recorder {
    /// Serves on the session bus at `address` until the returned connection is dropped.
    pub fn serve(&self, address: &str) -> zbus::blocking::Connection {
        zbus::blocking::connection::Builder::address(address)
            .and_then(|b| b.name("org.freedesktop.Notifications"))
            .and_then(|b| b.serve_at("/org/freedesktop/Notifications", self.clone()))
            .and_then(|b| b.build())
            .expect("serve the recording notification server")
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("recorder lock").clone()
    }
}
