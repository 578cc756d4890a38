//! The Dex stand-in (`tests/idp/server.mjs`) and the hostile issuer (`tests/idp/hostile.mjs`), started
//! as child processes of the test.
//!
//! The child's stdin is a pipe held by the harness: when the test process dies, the pipe closes and the
//! server exits, so a crashed test cannot leak it. Contracts: `tests/idp/README.md`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::tls::TestCa;

/// The public (native) client the stand-in registers for Signet.
pub const CLIENT_ID: &str = "signet";
/// The confidential peer that trusts [`CLIENT_ID`] (`trustedPeers: [signet]`).
pub const PEER_CLIENT_ID: &str = "kubernetes";
/// A peer that does not trust [`CLIENT_ID`]; asking for its audience fails with `invalid_scope`.
pub const UNTRUSTED_PEER_CLIENT_ID: &str = "other-peer";
/// The connectors the stand-in offers (`connector_id` values); the first is used when none is given.
pub const CONNECTORS: &[&str] = &["local", "ldap"];
/// Dex's `error_description` for a refresh token that is unknown, deleted (a newer sign-in through the same
/// client replaced it) or already used.
pub const DEX_REFRESH_INVALID: &str =
    "Refresh token is invalid or has already been claimed by another client.";
/// Dex's `error_description` for a refresh token past `absoluteLifetime` / `validIfNotUsedFor`.
pub const DEX_REFRESH_EXPIRED: &str = "Refresh token expired.";
/// Every user's password.
pub const PASSWORD: &str = "password";
/// The modes [`Hostile::set_mode`] accepts.
pub const HOSTILE_MODES: &[&str] = &[
    "good",
    "wrong-iss",
    "wrong-aud",
    "expired",
    "bad-signature",
    "alg-none",
    "hs256",
    "nonce-mismatch",
    "state-mismatch",
    "unknown-kid",
    "no-azp",
    "wrong-azp",
    "extra-aud",
];

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The cross-client audience scope Dex understands, e.g. `audience:server:client_id:kubernetes`.
pub fn audience_scope(client_id: &str) -> String {
    format!("audience:server:client_id:{client_id}")
}

/// The claims of a JWT, read without verifying it (tests compare them with what Signet reports).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("not a JWT: it has no payload part"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the JWT payload is base64url");
    serde_json::from_slice(&bytes).expect("the JWT payload is JSON")
}

/// How to start the Dex stand-in.
#[derive(Debug, Clone)]
pub struct IdpOptions {
    /// `--id-token-ttl` in seconds (the server's default is 300). Also the access-token TTL.
    pub id_token_ttl: Option<u64>,
    /// Serve HTTPS with this CA's loopback leaf certificate.
    pub tls: Option<TestCa>,
    /// `--revocation`: advertise and serve `/token/revoke`. Real Dex has no revocation endpoint, so the
    /// default is `false`; only generic-OIDC tests turn it on.
    pub revocation: bool,
    /// Path part of the issuer, default `/dex`; `""` for an issuer without a path.
    pub issuer_path: String,
    /// `--device-interval` in seconds (the server's default is Dex's 5). Polling earlier than the interval
    /// answers `slow_down`.
    pub device_interval: Option<u64>,
}

impl Default for IdpOptions {
    fn default() -> Self {
        IdpOptions {
            id_token_ttl: None,
            tls: None,
            revocation: false,
            issuer_path: "/dex".to_string(),
            device_interval: None,
        }
    }
}

/// Token-endpoint requests by `grant_type` (counted before faults are applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct TokenRequests {
    pub authorization_code: u64,
    pub refresh_token: u64,
    pub device_code: u64,
    /// Every `POST /token`, whatever its grant type.
    pub total: u64,
}

/// What `GET /__admin/stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IdpStats {
    pub token_requests: TokenRequests,
    /// Refresh-token grant requests answered with a status >= 400 (faults included).
    pub refresh_failures: u64,
    /// `POST /token/revoke` requests (only counted with `--revocation`).
    pub revocations: u64,
    /// `GET /keys` requests (faults included).
    pub keys_requests: u64,
    /// `GET /.well-known/openid-configuration` requests (faults included).
    pub discovery_requests: u64,
    /// `GET /auth` requests.
    pub auth_requests: u64,
    /// `GET /auth` requests by their `connector_id` parameter (`""` when it was absent).
    pub connector_ids: std::collections::BTreeMap<String, u64>,
    /// Device-code polls answered `slow_down` (polled before the interval had passed).
    pub slow_downs: u64,
    /// Milliseconds between consecutive polls of one device code (whatever the answer), in order.
    pub device_poll_gaps_ms: Vec<u64>,
}

/// The endpoints a fault can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// `POST {issuer}/token`
    Token,
    /// `GET {issuer}/.well-known/openid-configuration`
    Discovery,
    /// `GET {issuer}/keys`
    Keys,
    /// `POST {issuer}/device/code`
    DeviceCode,
    /// `{issuer}/userinfo`
    Userinfo,
}

/// A fault for the next `count` requests to `endpoint`: delay them, answer them with an error status, or
/// both (delay first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultSpec {
    pub endpoint: FaultEndpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The `error` of the JSON body; the server defaults to `invalid_client` for 401, else `invalid_request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub count: u32,
}

impl FaultSpec {
    /// The next `count` requests get `status` as Dex answers it: Dex's token-error JSON
    /// (`{"error":"invalid_request"}`) at the token and device endpoints, Dex's HTML error page elsewhere.
    pub fn status(endpoint: FaultEndpoint, status: u16, count: u32) -> FaultSpec {
        FaultSpec {
            endpoint,
            status: Some(status),
            delay_ms: None,
            error: None,
            count,
        }
    }

    /// The next `count` requests are answered normally, but only after `delay`.
    pub fn delay(endpoint: FaultEndpoint, delay: Duration, count: u32) -> FaultSpec {
        FaultSpec {
            endpoint,
            status: None,
            delay_ms: Some(u64::try_from(delay.as_millis()).expect("delay fits in u64 ms")),
            error: None,
            count,
        }
    }
}

/// The Dex stand-in, running until dropped.
#[derive(Debug)]
pub struct Idp {
    server: NodeServer,
}

impl Idp {
    /// Starts `node tests/idp/server.mjs` and waits (≤ 15 s) for its ready line. Panics with the server's
    /// stderr if it does not come up.
    pub fn start(opts: IdpOptions) -> Idp {
        let mut args: Vec<String> = vec!["--issuer-path".into(), opts.issuer_path.clone()];
        if let Some(ttl) = opts.id_token_ttl {
            args.extend(["--id-token-ttl".into(), ttl.to_string()]);
        }
        if let Some(interval) = opts.device_interval {
            args.extend(["--device-interval".into(), interval.to_string()]);
        }
        if opts.revocation {
            args.push("--revocation".into());
        }
        Idp {
            server: NodeServer::start("server.mjs", args, opts.tls),
        }
    }

    /// Stops the stand-in: from now on its port refuses connections ("the IdP is down").
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// `http(s)://127.0.0.1:<port><issuer_path>`
    pub fn issuer(&self) -> &str {
        &self.server.issuer
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn ca(&self) -> Option<&TestCa> {
        self.server.ca.as_ref()
    }

    /// `{issuer}/.well-known/openid-configuration`
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.server.issuer)
    }

    /// A blocking HTTP client that trusts the stand-in's CA (if any).
    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.server.http
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.server.stderr()
    }

    pub fn stats(&self) -> IdpStats {
        self.server.admin_get("stats")
    }

    pub fn reset_stats(&self) {
        self.server
            .admin_post("reset-stats", &serde_json::json!({}));
    }

    /// Invalidates every grant, refresh and access token of `user` (next refresh: 400 `invalid_request`,
    /// [`DEX_REFRESH_INVALID`]).
    pub fn revoke(&self, user: &str) {
        self.server
            .admin_post("revoke", &serde_json::json!({ "user": user }));
    }

    /// Makes every refresh token `user` holds so far answer Dex's 400 `invalid_request`
    /// [`DEX_REFRESH_EXPIRED`] (Dex's `absoluteLifetime` / `validIfNotUsedFor` running out).
    pub fn expire_refresh_tokens(&self, user: &str) {
        self.server
            .admin_post("expire-refresh", &serde_json::json!({ "user": user }));
    }

    /// Makes the next `count` pending device polls answer `slow_down` as if they came too early (the
    /// device code's interval then grows by 5 s, as Dex does), to see how a client backs off.
    pub fn force_device_slow_downs(&self, count: u32) {
        self.server
            .admin_post("device-slow-down", &serde_json::json!({ "count": count }));
    }

    /// Every `device_code` the stand-in has issued so far (secrets: tests check they reach no log).
    pub fn device_codes(&self) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Codes {
            device_codes: Vec<String>,
        }
        self.server.admin_get::<Codes>("device-codes").device_codes
    }

    /// Makes every device code issued so far answer its polls with Dex's 400 `expired_token` (Dex's
    /// `expiry.deviceRequests` running out), however long its `expires_in` said it would live.
    pub fn expire_device_codes(&self) {
        self.server
            .admin_post("expire-device-codes", &serde_json::json!({}));
    }

    /// Makes every answer from now on carry an HTTP `Date` `seconds` off the real time (negative: behind),
    /// as a server whose clock is wrong would send; `0` puts it right.
    pub fn set_clock_skew(&self, seconds: i64) {
        self.server
            .admin_post("clock-skew", &serde_json::json!({ "seconds": seconds }));
    }

    /// Sets the lifetime of the ID and access tokens issued from now on (`--id-token-ttl` at run time), e.g.
    /// to sign in with a short-lived token and have the refresh give a long-lived one.
    pub fn set_id_token_ttl(&self, seconds: u64) {
        self.server
            .admin_post("id-token-ttl", &serde_json::json!({ "seconds": seconds }));
    }

    pub fn fault(&self, spec: FaultSpec) {
        self.server.admin_post("fault", &spec);
    }

    pub fn clear_faults(&self) {
        self.server
            .admin_post("fault/clear", &serde_json::json!({}));
    }

    /// Adds a new signing key (new `kid`), signs from now on with it and keeps the old ones in `/keys`.
    /// Returns the new `kid`.
    pub fn rotate_keys(&self) -> String {
        let answer = self
            .server
            .admin_post("rotate-keys", &serde_json::json!({}));
        answer["kid"]
            .as_str()
            .expect("rotate-keys answers the new kid")
            .to_string()
    }
}

/// What the hostile issuer's `GET /__admin/stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HostileStats {
    pub token_requests: TokenRequests,
    pub auth_requests: u64,
    pub discovery_requests: u64,
    pub keys_requests: u64,
    /// `POST /device/code` requests.
    pub device_codes: u64,
    /// The current mode.
    pub mode: String,
}

/// How to start the hostile issuer.
#[derive(Debug, Clone)]
pub struct HostileOptions {
    pub tls: Option<TestCa>,
    /// Path part of the issuer, default `/dex`.
    pub issuer_path: String,
}

impl Default for HostileOptions {
    fn default() -> Self {
        HostileOptions {
            tls: None,
            issuer_path: "/dex".to_string(),
        }
    }
}

/// The hostile issuer (`tests/idp/hostile.mjs`), running until dropped.
#[derive(Debug)]
pub struct Hostile {
    server: NodeServer,
}

impl Hostile {
    pub fn start(opts: HostileOptions) -> Hostile {
        let args = vec!["--issuer-path".to_string(), opts.issuer_path];
        Hostile {
            server: NodeServer::start("hostile.mjs", args, opts.tls),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.server.issuer
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn ca(&self) -> Option<&TestCa> {
        self.server.ca.as_ref()
    }

    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.server.http
    }

    pub fn stderr(&self) -> String {
        self.server.stderr()
    }

    /// Chooses the ID token `/token` crafts (one of [`HOSTILE_MODES`]); panics on an unknown mode.
    pub fn set_mode(&self, mode: &str) {
        self.server
            .admin_post("mode", &serde_json::json!({ "mode": mode }));
    }

    pub fn stats(&self) -> HostileStats {
        self.server.admin_get("stats")
    }
}

/// `tests/idp/` in this repository.
pub fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp")
}

#[derive(Debug)]
struct NodeServer {
    child: Child,
    stdin: Option<ChildStdin>,
    issuer: String,
    port: u16,
    ca: Option<TestCa>,
    http: reqwest::blocking::Client,
    admin_base: String,
    stderr: Arc<Mutex<String>>,
}

#[derive(Deserialize)]
struct ReadyLine {
    ready: bool,
    issuer: String,
    port: u16,
}

impl NodeServer {
    fn start(script: &str, mut args: Vec<String>, tls: Option<TestCa>) -> NodeServer {
        let dir = idp_dir();
        assert!(
            dir.join("node_modules").is_dir(),
            "{} is missing: run `npm ci --prefix tests/idp` (scripts/test.sh does it)",
            dir.join("node_modules").display()
        );
        if let Some(ca) = &tls {
            args.extend([
                "--tls-cert".to_string(),
                ca.cert_file.display().to_string(),
                "--tls-key".to_string(),
                ca.key_file.display().to_string(),
            ]);
        }
        let node = std::env::var("SIGNET_TEST_NODE").unwrap_or_else(|_| "node".to_string());
        let mut child = Command::new(&node)
            .arg(dir.join(script))
            .args(["--port", "0"])
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `{node} {script}` (is Node.js on PATH?): {e}")
            });
        let stdin = child.stdin.take();

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let echo = std::env::var_os("SIGNET_TEST_IDP_LOG").is_some();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = child_stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                if echo {
                    eprint!("{text}");
                }
                sink.lock().expect("stderr buffer").push_str(&text);
            }
        });

        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });

        let fail = |why: String, child: &mut Child| -> String {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            format!("{script} did not start: {why}\n--- stderr ---\n{log}")
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(e))) => panic!("{}", fail(format!("reading stdout: {e}"), &mut child)),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!(
                    "{}",
                    fail("it exited before the ready line".into(), &mut child)
                )
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "{}",
                fail(
                    format!("no ready line within {READY_TIMEOUT:?}"),
                    &mut child
                )
            ),
        };
        let ready: ReadyLine = match serde_json::from_str::<ReadyLine>(&line) {
            Ok(ready) if ready.ready => ready,
            Ok(_) => panic!("{}", fail(format!("not ready: {line}"), &mut child)),
            Err(e) => panic!(
                "{}",
                fail(format!("bad ready line {line:?}: {e}"), &mut child)
            ),
        };

        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
        if let Some(ca) = &tls {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).expect("parse test CA"),
            );
        }
        let http = builder.build().expect("build reqwest client");
        let scheme = if tls.is_some() { "https" } else { "http" };
        NodeServer {
            child,
            stdin,
            admin_base: format!("{scheme}://127.0.0.1:{}/__admin", ready.port),
            issuer: ready.issuer,
            port: ready.port,
            ca: tls,
            http,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn admin_get<T: serde::de::DeserializeOwned>(&self, what: &str) -> T {
        let url = format!("{}/{what}", self.admin_base);
        let response = self
            .http
            .get(&url)
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        Self::admin_answer(&url, response)
    }

    fn admin_post<B: Serialize>(&self, what: &str, body: &B) -> serde_json::Value {
        let url = format!("{}/{what}", self.admin_base);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        Self::admin_answer(&url, response)
    }

    fn admin_answer<T: serde::de::DeserializeOwned>(
        url: &str,
        response: reqwest::blocking::Response,
    ) -> T {
        let status = response.status();
        let text = response
            .text()
            .unwrap_or_else(|e| panic!("read answer of {url}: {e}"));
        assert!(status.is_success(), "{url} answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url} answered {text:?}: {e}"))
    }
}

impl NodeServer {
    fn stop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        self.stop();
    }
}
