//! One test's world: a temporary root with its own `HOME`, XDG directories and Signet config, a Dex
//! stand-in, and the adapters a test needs (a clock it can move, an opener that signs in through the
//! IdP's form like a person in a browser would).

use std::process::Command;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use signet_core::Secret;
use signet_core::Signet;
use signet_core::clock::Clock;
use signet_core::config::{ClusterConfig, Config, Credentials, LoginMode, ProviderConfig};
use signet_core::oidc::Identity;
use signet_core::oidc::opener::UrlOpener;
use signet_core::paths::Paths;
use signet_core::token_store::{CachedToken, SecretStore, SessionRecord, TokenCache};
use url::Url;

use crate::browser::FormBrowser;
use crate::idp::Idp;
use crate::tls::TestCa;

/// A temporary root plus the Dex stand-in.
#[derive(Debug)]
pub struct World {
    pub root: tempfile::TempDir,
    pub paths: Paths,
    pub idp: Idp,
}

impl World {
    pub fn new(idp: Idp) -> World {
        let root = tempfile::tempdir().expect("create the test root");
        let paths = Paths::under(root.path());
        std::fs::create_dir_all(&paths.home).expect("create HOME");
        World { root, paths, idp }
    }

    /// Provider `corp` (client `signet`, scope `groups`, the IdP's CA when it has one) and cluster `prod`
    /// (audience `kubernetes`).
    pub fn config(&self) -> Config {
        Config {
            providers: vec![provider("corp", self.idp.issuer(), self.idp.ca())],
            clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
            ..Config::default()
        }
    }

    pub fn write_config(&self, config: &Config) {
        config
            .save(&self.paths.config_file)
            .expect("save the test config");
    }

    pub fn signet(
        &self,
        config: Config,
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
    ) -> Signet {
        Signet::new(self.paths.clone(), config, secrets, clock)
    }

    /// A command whose environment points every Signet path into this world (and nowhere else).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let root = self.root.path();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.paths.home)
            .env("SIGNET_CONFIG", &self.paths.config_file)
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("XDG_STATE_HOME", root.join("state"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("KUBECONFIG", root.join("kubeconfig"))
            .env("RUST_BACKTRACE", "1");
        cmd
    }
}

pub fn provider(name: &str, issuer: &str, ca: Option<&TestCa>) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        issuer: issuer.into(),
        client_id: "signet".into(),
        client_secret: None,
        connector: None,
        scopes: vec!["groups".into()],
        ca_file: ca.map(|ca| ca.ca_file.clone()),
        ca_data: None,
        login: LoginMode::Browser,
        username_claim: "email".into(),
    }
}

pub fn cluster(name: &str, provider: &str, audience: Option<&str>) -> ClusterConfig {
    ClusterConfig {
        name: name.into(),
        provider: provider.into(),
        server: "https://127.0.0.1:6443".into(),
        ca_data: None,
        ca_file: None,
        insecure_skip_tls_verify: false,
        audience: audience.map(String::from),
        namespace: None,
        context: None,
        credentials: Credentials::Exec,
        kubeconfig: None,
    }
}

/// A loopback TCP port that refuses connections, reserved for as long as the value lives. Tests that need
/// "an identity provider that is down" use it instead of assuming some port (9, say) is closed: the port is
/// the local end of a connection this value holds, so nothing else can listen on it meanwhile.
#[derive(Debug)]
pub struct ClosedPort {
    port: u16,
    _listener: std::net::TcpListener,
    _stream: std::net::TcpStream,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
        let stream = std::net::TcpStream::connect(listener.local_addr().expect("listener address"))
            .expect("connect to the loopback listener");
        let port = stream.local_addr().expect("local address").port();
        let refused = std::net::TcpStream::connect(("127.0.0.1", port));
        assert!(
            refused.is_err(),
            "port {port} must refuse connections (nothing listens on a connection's local end)"
        );
        ClosedPort {
            port,
            _listener: listener,
            _stream: stream,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`, e.g. an issuer nobody answers for.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        ClosedPort::new()
    }
}

/// A clock a test can move forward (to make cached tokens stale without sleeping), and freeze (so what it
/// computes from "now" does not depend on how fast the machine runs).
#[derive(Debug, Default)]
pub struct TestClock {
    offset: Mutex<TimeDelta>,
    frozen_at: Mutex<Option<DateTime<Utc>>>,
}

impl TestClock {
    pub fn new() -> Arc<TestClock> {
        Arc::new(TestClock::default())
    }

    pub fn advance(&self, seconds: i64) {
        let mut offset = self.offset.lock().expect("clock lock");
        *offset += TimeDelta::seconds(seconds);
    }

    /// Stops real time from moving this clock: from now on only [`TestClock::advance`] does.
    pub fn freeze(&self) {
        let mut frozen = self.frozen_at.lock().expect("clock lock");
        frozen.get_or_insert_with(Utc::now);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let base = (*self.frozen_at.lock().expect("clock lock")).unwrap_or_else(Utc::now);
        base + *self.offset.lock().expect("clock lock")
    }
}

/// A "browser" that signs in through the IdP's login form and delivers the redirect to the loopback
/// listener, as a person would. Records the redirect URLs it delivered (they carry the codes), and every
/// failure — of the sign-in form or of the delivery — in `failures` (also printed to stderr at once), so a
/// sign-in that times out can say why.
#[derive(Debug)]
pub struct FormOpener {
    ca: Option<TestCa>,
    user: String,
    password: String,
    pub delivered: Arc<Mutex<Vec<Url>>>,
    pub failures: Arc<Mutex<Vec<String>>>,
}

impl FormOpener {
    pub fn new(ca: Option<&TestCa>, user: &str, password: &str) -> FormOpener {
        FormOpener {
            ca: ca.cloned(),
            user: user.into(),
            password: password.into(),
            delivered: Arc::default(),
            failures: Arc::default(),
        }
    }
}

impl FormOpener {
    /// What went wrong on the browser side so far (empty when nothing did).
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().expect("lock").clone()
    }
}

impl UrlOpener for FormOpener {
    fn open(&self, url: &Url) -> Result<(), String> {
        let (ca, user, password) = (self.ca.clone(), self.user.clone(), self.password.clone());
        let (delivered, failures) = (self.delivered.clone(), self.failures.clone());
        let url = url.to_string();
        std::thread::spawn(move || {
            let browser = FormBrowser::new(ca.as_ref());
            let failed = |what: String| {
                eprintln!("FormOpener: {what}");
                failures.lock().expect("lock").push(what);
            };
            match browser.login(&url, &user, &password) {
                Ok(callback) => {
                    delivered.lock().expect("lock").push(callback.clone());
                    // Deliver the redirect to the loopback listener like a browser. The page itself is
                    // Signet's business (it may be an error page); not reaching the listener is a failure.
                    // The URL carries the authorization code: the message leaves it out.
                    let listener = format!(
                        "{}:{}",
                        callback.host_str().unwrap_or_default(),
                        callback.port_or_known_default().unwrap_or_default()
                    );
                    if let Err(e) = reqwest::blocking::get(callback) {
                        failed(format!(
                            "delivering the redirect to the loopback listener {listener} failed: {}",
                            e.without_url()
                        ));
                    }
                }
                Err(e) => failed(format!("signing in through the IdP's form failed: {e}")),
            }
        });
        Ok(())
    }
}

/// A kubeconfig with `n` clusters, users and contexts of a realistic size (a CA bundle per cluster, a token
/// per user): 2,000 of each is ~2 MB, the size DESIGN.md §8 budgets for.
pub fn generated_kubeconfig(n: usize) -> String {
    let ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".repeat(24);
    let mut text = String::from("apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- name: cluster-{i}\n  cluster:\n    server: https://api-{i}.example.com:6443\n    certificate-authority-data: {ca}\n"
        ));
    }
    text.push_str("users:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- name: user-{i}\n  user:\n    token: token-{i}-0123456789abcdef0123456789abcdef\n"
        ));
    }
    text.push_str("contexts:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- name: ctx-{i}\n  context:\n    cluster: cluster-{i}\n    user: user-{i}\n    namespace: team-{i}\n"
        ));
    }
    text.push_str("current-context: ctx-0\n");
    text
}

/// Everything this process logs, at every level down to TRACE, kept in memory: for the tests that look
/// for secrets in logs. Installs the global subscriber, so call it once per test binary.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn install_at_trace() -> CapturedLogs {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `kubectl signet login <provider>` leaves in the token cache, written by this (another) process:
/// alice's session record and an ID token for audience `kubernetes`, valid for an hour. No refresh
/// token is stored.
pub fn seed_session(paths: &Paths, provider: &str) {
    let cache = TokenCache::new(paths);
    let now = chrono::Utc::now();
    let identity = Identity {
        subject: "CgVhbGljZQ".into(),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        name: Some("Alice".into()),
        groups: vec!["dev".into()],
        audiences: vec!["kubernetes".into()],
    };
    cache
        .write_session(&SessionRecord {
            provider: provider.into(),
            identity: identity.clone(),
            signed_in_at: now,
            refreshed_at: None,
            refreshable: true,
        })
        .expect("seed the session record");
    cache
        .write(&CachedToken {
            version: 1,
            provider: provider.into(),
            audience: "kubernetes".into(),
            id_token: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
            expires_at: now + chrono::TimeDelta::hours(1),
            issued_at: now,
            identity,
        })
        .expect("seed the cached token");
}
