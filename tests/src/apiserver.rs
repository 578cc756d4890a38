//! API-server stand-in: an HTTPS server that authenticates bearer tokens the way kube-apiserver's OIDC
//! authenticator does, and serves just enough of the Kubernetes API for `kubectl auth whoami`,
//! `kubectl get ns` and `kubectl get --raw /version` (DESIGN.md §7).
//!
//! What it mirrors (reference/dex-kubernetes-protocols.md §B):
//! - `kubernetes/apiserver:plugin/pkg/authenticator/token/oidc/oidc.go`: the unverified-`iss` pre-check
//!   (`hasCorrectIssuer`; a token for another issuer is "not ours", which with no other authenticator
//!   means 401), audiences with `MatchAny`, the username claim with the legacy prefix rule
//!   (`<issuer>#` when no prefix is given and the claim is not `email`, `-` = none), the
//!   `email_verified` rule (if present it must be `true`), a groups claim that is a string or an
//!   array, the groups prefix, and `system:authenticated` for every user.
//! - `coreos/go-oidc:oidc/verify.go` + `jwks.go`: discovery from `{issuer}/.well-known/openid-configuration`
//!   whose `issuer` must match exactly, `iss == issuer`, `exp` in the future with no leeway, `nbf` with
//!   1 min leeway, exactly one signature with an allowed alg (never `none`/`HS*`), and a remote key set
//!   that is cached and re-fetched when no cached key verifies the token (e.g. an unknown `kid`).
//!
//! Deviations, all on the strict side: no token cache (kube caches successes for 10 s); no
//! distributed claims; ES512 (P-521) is not verifiable with `ring` and is rejected; RSA keys must
//! be ≥ 2048 bits. Every route, `/version` included, requires a valid token (as with
//! `--anonymous-auth=false`). The uid is the `sub` claim.
//!
//! Requests are counted per token (keyed by [`token_key`], a SHA-256 prefix, never the token) so
//! tests can assert on them. The reason for every 401 goes to stderr, without the token.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::tls::TestCa;

/// The algorithms kube-apiserver accepts for `--oidc-signing-algs` (ES512 is listed there too, but
/// `ring` cannot verify P-521, so it is left out and such tokens are rejected).
pub const ALLOWED_SIGNING_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384", "PS512",
];

/// The `gitVersion` the stand-in reports on `/version`.
pub const GIT_VERSION: &str = "v1.33.0-signet-standin";

const LOG: &str = "signet-apiserver-standin";
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How the stand-in authenticates, like kube-apiserver's `--oidc-*` flags.
#[derive(Debug, Clone)]
pub struct ApiServerOptions {
    /// `--oidc-issuer-url`: must equal the token's `iss` and the discovery document's `issuer`.
    /// http on loopback is accepted (kube requires https).
    pub issuer: String,
    /// `--oidc-ca-file` contents: the only CA trusted when fetching discovery and JWKS over https.
    /// `None` = the system roots.
    pub issuer_ca_pem: Option<String>,
    /// The token's `aud` must contain at least one of these (`MatchAny`).
    pub audiences: Vec<String>,
    /// `--oidc-username-claim`. Default `email`.
    pub username_claim: String,
    /// `--oidc-username-prefix`. `None`: `<issuer>#` unless the claim is `email`; `Some("-")`: none.
    pub username_prefix: Option<String>,
    /// `--oidc-groups-claim`. Default `groups`.
    pub groups_claim: String,
    /// `--oidc-groups-prefix`.
    pub groups_prefix: Option<String>,
    /// `--oidc-signing-algs`. Default: all of [`ALLOWED_SIGNING_ALGS`].
    pub signing_algs: Vec<String>,
    /// Namespaces served by `GET /api/v1/namespaces`.
    pub namespaces: Vec<String>,
    /// Usernames (after prefixing) that get 403 Forbidden on listing/getting namespaces.
    pub forbid_namespace_list_for: Vec<String>,
    /// Where to write the server's CA and certificate (`apiserver-ca.pem`, …). `None`: a private
    /// temporary directory removed on drop.
    pub tls_dir: Option<PathBuf>,
}

impl Default for ApiServerOptions {
    fn default() -> Self {
        ApiServerOptions {
            issuer: String::new(),
            issuer_ca_pem: None,
            audiences: vec!["kubernetes".to_string()],
            username_claim: "email".to_string(),
            username_prefix: None,
            groups_claim: "groups".to_string(),
            groups_prefix: None,
            signing_algs: ALLOWED_SIGNING_ALGS.iter().map(|a| a.to_string()).collect(),
            namespaces: ["default", "kube-system", "team-a"]
                .map(String::from)
                .to_vec(),
            forbid_namespace_list_for: Vec::new(),
            tls_dir: None,
        }
    }
}

impl ApiServerOptions {
    /// Defaults for `issuer` with a single audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        ApiServerOptions {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            ..Default::default()
        }
    }
}

/// One request the stand-in answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    pub status: u16,
    /// [`token_key`] of the bearer token, if one was sent.
    pub token_key: Option<String>,
    /// The authenticated username, if authentication succeeded.
    pub username: Option<String>,
}

/// A snapshot of what the stand-in has seen.
#[derive(Debug, Clone, Default)]
pub struct ApiServerStats {
    pub total_requests: u64,
    pub authenticated_requests: u64,
    pub unauthorized_requests: u64,
    pub forbidden_requests: u64,
    /// Requests per bearer token, keyed by [`token_key`] (valid or not).
    pub per_token: BTreeMap<String, u64>,
    /// Why the most recent 401 happened (e.g. `oidc: email not verified`).
    pub last_auth_failure: Option<String>,
    /// How often discovery / JWKS were fetched from the issuer.
    pub discovery_fetches: u64,
    pub jwks_fetches: u64,
    pub requests: Vec<RequestRecord>,
}

/// The Google Cloud SDK's versioned kubectl build `kubectl.<version>` (the suites run the main flow with
/// 1.27 and 1.33 besides the kubectl on PATH). Panics naming what to install when it is missing: these
/// tests never skip a version silently.
pub fn versioned_kubectl(version: &str) -> PathBuf {
    let dirs = [
        "/usr/lib/google-cloud-sdk/bin",
        "/opt/google-cloud-sdk/bin",
        "/usr/local/google-cloud-sdk/bin",
    ];
    dirs.iter()
        .map(|d| std::path::Path::new(d).join(format!("kubectl.{version}")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "kubectl {version} is missing: install the Google Cloud SDK's kubectl.{version} (its apt package \
                 `kubectl` from packages.cloud.google.com; expected under one of {dirs:?}); this test does not skip"
            )
        })
}

/// The key under which requests carrying `token` are counted: the first 16 hex digits of its SHA-256.
pub fn token_key(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The running stand-in. Dropping it stops the server and closes every connection.
pub struct ApiServer {
    url: String,
    addr: SocketAddr,
    ca: TestCa,
    state: Arc<State>,
    accept_thread: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("url", &self.url)
            .field("issuer", &self.state.auth.opts.issuer)
            .finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Starts the stand-in on `127.0.0.1:<ephemeral>` with a freshly generated CA. Panics on bad
    /// options (an unknown signing alg, a bad issuer CA) or if it cannot listen.
    pub fn start(opts: ApiServerOptions) -> ApiServer {
        for alg in &opts.signing_algs {
            assert!(
                ALLOWED_SIGNING_ALGS.contains(&alg.as_str()),
                "oidc: unsupported signing alg: {alg:?}"
            );
        }
        assert!(!opts.audiences.is_empty(), "at least one audience");
        let (tls_dir, owned_dir) = match &opts.tls_dir {
            Some(d) => (d.clone(), None),
            None => {
                let d = tempfile::tempdir().expect("temp dir for the API server's CA");
                (d.path().to_path_buf(), Some(d))
            }
        };
        let ca = TestCa::generate(&tls_dir, "apiserver");
        let tls = Arc::new(server_tls_config(&ca));

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            auth: Authenticator::new(opts),
            addr,
            started: now_secs(),
            stop: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            stats: Mutex::new(ApiServerStats::default()),
        });
        let accept_state = Arc::clone(&state);
        let accept_thread = std::thread::Builder::new()
            .name("apiserver-accept".into())
            .spawn(move || accept_loop(listener, accept_state, tls))
            .expect("spawn accept thread");
        ApiServer {
            url: format!("https://{addr}"),
            addr,
            ca,
            state,
            accept_thread: Some(accept_thread),
            _dir: owned_dir,
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA that signed the server's certificate (what kubeconfig's `certificate-authority` needs).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The issuer this server trusts.
    pub fn issuer(&self) -> &str {
        &self.state.auth.opts.issuer
    }

    /// How many requests carried `token` as their bearer token (whether it was accepted or not).
    pub fn requests_for_token_count(&self, token: &str) -> u64 {
        let key = token_key(token);
        self.state.stats().per_token.get(&key).copied().unwrap_or(0)
    }

    /// Why the most recent request was rejected with 401.
    pub fn last_auth_failure(&self) -> Option<String> {
        self.state.stats().last_auth_failure.clone()
    }

    pub fn stats(&self) -> ApiServerStats {
        self.state.stats().clone()
    }

    /// Forgets all counters and the request log (the JWKS cache is kept).
    pub fn reset_stats(&self) {
        *self.state.stats() = ApiServerStats::default();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        for (_, conn) in lock(&self.state.conns).drain() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server plumbing: TLS over std TCP, one thread per connection, HTTP/1.1 with keep-alive.

struct State {
    auth: Authenticator,
    addr: SocketAddr,
    started: u64,
    stop: AtomicBool,
    next_conn: AtomicU64,
    conns: Mutex<HashMap<u64, TcpStream>>,
    stats: Mutex<ApiServerStats>,
}

impl State {
    fn stats(&self) -> MutexGuard<'_, ApiServerStats> {
        lock(&self.stats)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn server_tls_config(ca: &TestCa) -> rustls::ServerConfig {
    let certs = CertificateDer::pem_file_iter(&ca.cert_file)
        .expect("read server cert")
        .collect::<Result<Vec<_>, _>>()
        .expect("parse server cert");
    let key = PrivateKeyDer::from_pem_file(&ca.key_file).expect("read server key");
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server TLS config");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

fn accept_loop(listener: TcpListener, state: Arc<State>, tls: Arc<rustls::ServerConfig>) {
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = state.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&state.conns).insert(id, clone);
        }
        let (conn_state, conn_tls) = (Arc::clone(&state), Arc::clone(&tls));
        let spawned = std::thread::Builder::new()
            .name(format!("apiserver-conn-{id}"))
            .spawn(move || {
                if let Err(e) = serve_connection(&conn_state, stream, conn_tls)
                    && !conn_state.stop.load(Ordering::SeqCst)
                    && !matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::BrokenPipe
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    )
                {
                    eprintln!("{LOG}: connection error: {e}");
                }
                lock(&conn_state.conns).remove(&id);
            });
        if spawned.is_err() {
            lock(&state.conns).remove(&id);
        }
    }
}

fn serve_connection(
    state: &State,
    tcp: TcpStream,
    tls: Arc<rustls::ServerConfig>,
) -> io::Result<()> {
    tcp.set_read_timeout(Some(IDLE_TIMEOUT))?;
    tcp.set_nodelay(true)?;
    let conn = rustls::ServerConnection::new(tls).map_err(io::Error::other)?;
    let mut stream = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    while let Some(req) = read_request(&mut stream)? {
        let resp = state.handle(&req);
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let w = stream.get_mut();
        write!(
            w,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache, private\r\n{}\r\n",
            resp.status,
            reason_phrase(resp.status),
            resp.content_type,
            resp.body.len(),
            if close { "Connection: close\r\n" } else { "" },
        )?;
        if req.method != "HEAD" {
            w.write_all(&resp.body)?;
        }
        w.flush()?;
        if close || state.stop.load(Ordering::SeqCst) {
            break;
        }
    }
    let w = stream.get_mut();
    w.conn.send_close_notify();
    let _ = w.flush();
    Ok(())
}

struct Request {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(v).expect("serialize JSON"),
        }
    }
}

/// Reads one HTTP/1.1 request (the body is read and discarded: no route needs it). `None` at EOF.
fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(bad("malformed request line"));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("EOF in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').ok_or_else(|| bad("malformed header"))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
        if headers.len() > 200 {
            return Err(bad("too many headers"));
        }
    }
    let req = Request {
        method,
        target,
        headers,
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size_hex = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            io::copy(&mut r.by_ref().take(size as u64 + 2), &mut io::sink())?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: u64 = len.parse().map_err(|_| bad("content-length"))?;
        io::copy(&mut r.by_ref().take(len), &mut io::sink())?;
    }
    Ok(Some(req))
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Unknown",
    }
}

// ---------------------------------------------------------------------------------------------
// Routing and the Kubernetes objects.

impl State {
    fn handle(&self, req: &Request) -> Response {
        let token = req.header("authorization").and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        let key = token.map(token_key);
        let auth = match token {
            Some(t) if !t.is_empty() => self.auth.authenticate(t),
            _ => Err("no bearer token in the request (anonymous auth is off)".to_string()),
        };
        let resp = match &auth {
            Ok(user) => self.route(req, user),
            Err(_) => Response::json(401, &unauthorized_status()),
        };

        let mut stats = self.stats();
        stats.total_requests += 1;
        if let Some(k) = &key {
            *stats.per_token.entry(k.clone()).or_insert(0) += 1;
        }
        match &auth {
            Ok(_) => stats.authenticated_requests += 1,
            Err(reason) => {
                stats.unauthorized_requests += 1;
                stats.last_auth_failure = Some(reason.clone());
                let tok = key
                    .as_deref()
                    .map(|k| format!(" (token sha256:{k}…)"))
                    .unwrap_or_default();
                eprintln!("{LOG}: 401 {} {}: {reason}{tok}", req.method, req.path());
            }
        }
        if resp.status == 403 {
            stats.forbidden_requests += 1;
        }
        let (fetches_d, fetches_j) = self.auth.fetch_counts();
        stats.discovery_fetches = fetches_d;
        stats.jwks_fetches = fetches_j;
        stats.requests.push(RequestRecord {
            method: req.method.clone(),
            path: req.target.clone(),
            status: resp.status,
            token_key: key,
            username: auth.ok().map(|u| u.username),
        });
        resp
    }

    fn route(&self, req: &Request, user: &UserInfo) -> Response {
        let path = req.path().trim_end_matches('/');
        let get = req.method == "GET" || req.method == "HEAD";
        match (req.method.as_str(), path) {
            (_, "/version") if get => Response::json(200, &version()),
            (_, "/api") if get => Response::json(
                200,
                &json!({
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": self.addr.to_string()}
                    ]
                }),
            ),
            (_, "/api/v1") if get => Response::json(
                200,
                &json!({
                    "kind": "APIResourceList",
                    "groupVersion": "v1",
                    "resources": [{
                        "name": "namespaces",
                        "singularName": "namespace",
                        "namespaced": false,
                        "kind": "Namespace",
                        "verbs": ["get", "list"],
                        "shortNames": ["ns"]
                    }]
                }),
            ),
            (_, "/apis") if get => Response::json(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [auth_group()]}),
            ),
            (_, "/apis/authentication.k8s.io") if get => Response::json(
                200,
                &json!({"kind": "APIGroup", "apiVersion": "v1"}).merged(auth_group()),
            ),
            (_, "/apis/authentication.k8s.io/v1" | "/apis/authentication.k8s.io/v1beta1")
                if get =>
            {
                let version = path.rsplit('/').next().unwrap_or_default();
                Response::json(
                    200,
                    &json!({
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": format!("authentication.k8s.io/{version}"),
                        "resources": [{
                            "name": "selfsubjectreviews",
                            "singularName": "selfsubjectreview",
                            "namespaced": false,
                            "kind": "SelfSubjectReview",
                            "verbs": ["create"]
                        }]
                    }),
                )
            }
            (
                "POST",
                "/apis/authentication.k8s.io/v1/selfsubjectreviews"
                | "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews",
            ) => {
                let version = path.split('/').nth(3).unwrap_or_default();
                let mut info = json!({"username": user.username, "groups": user.groups});
                if !user.uid.is_empty() {
                    info["uid"] = json!(user.uid);
                }
                Response::json(
                    201,
                    &json!({
                        "apiVersion": format!("authentication.k8s.io/{version}"),
                        "kind": "SelfSubjectReview",
                        "metadata": {"creationTimestamp": null},
                        "status": {"userInfo": info}
                    }),
                )
            }
            (_, "/api/v1/namespaces") if get => {
                if self.forbidden(user) {
                    return forbidden(user, "list", None);
                }
                let names: Vec<&str> = self
                    .auth
                    .opts
                    .namespaces
                    .iter()
                    .map(String::as_str)
                    .collect();
                if wants_table(req) {
                    Response::json(200, &self.namespace_table(&names))
                } else {
                    let items: Vec<Value> = names.iter().map(|n| self.namespace(n)).collect();
                    Response::json(
                        200,
                        &json!({
                            "kind": "NamespaceList",
                            "apiVersion": "v1",
                            "metadata": {"resourceVersion": "1"},
                            "items": items
                        }),
                    )
                }
            }
            (_, p) if get && p.starts_with("/api/v1/namespaces/") => {
                let name = &p["/api/v1/namespaces/".len()..];
                if name.contains('/') {
                    return not_found(None);
                }
                if self.forbidden(user) {
                    return forbidden(user, "get", Some(name));
                }
                if !self.auth.opts.namespaces.iter().any(|n| n == name) {
                    return not_found(Some(name));
                }
                if wants_table(req) {
                    Response::json(200, &self.namespace_table(&[name]))
                } else {
                    Response::json(200, &self.namespace(name))
                }
            }
            (m, p) if !get && is_known_path(p) => Response::json(
                405,
                &json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("the server does not allow this method on the requested resource ({m})"),
                    "reason": "MethodNotAllowed", "details": {}, "code": 405
                }),
            ),
            // /openapi/v2, /openapi/v3, aggregated discovery sub-paths and anything else.
            _ => not_found(None),
        }
    }

    fn forbidden(&self, user: &UserInfo) -> bool {
        self.auth
            .opts
            .forbid_namespace_list_for
            .contains(&user.username)
    }

    fn namespace_metadata(&self, name: &str) -> Value {
        json!({
            "name": name,
            "uid": format!("00000000-0000-4000-8000-{}", &token_key(name)[..12]),
            "resourceVersion": "1",
            "creationTimestamp": rfc3339(self.started),
            "labels": {"kubernetes.io/metadata.name": name}
        })
    }

    fn namespace(&self, name: &str) -> Value {
        json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": self.namespace_metadata(name),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        })
    }

    /// The server-side printing kubectl asks for with `Accept: application/json;as=Table;…`.
    fn namespace_table(&self, names: &[&str]) -> Value {
        let age = human_age(now_secs().saturating_sub(self.started));
        let rows: Vec<Value> = names
            .iter()
            .map(|n| {
                json!({
                    "cells": [n, "Active", age],
                    "object": {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": self.namespace_metadata(n)
                    }
                })
            })
            .collect();
        let col = |name: &str, format: &str, description: &str| json!({"name": name, "type": "string", "format": format, "description": description, "priority": 0});
        json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": "1"},
            "columnDefinitions": [
                col("Name", "name", "Name must be unique within a namespace."),
                col("Status", "", "The status of the namespace"),
                col("Age", "", "CreationTimestamp is a timestamp representing the server time when this object was created.")
            ],
            "rows": rows
        })
    }
}

trait Merge {
    fn merged(self, other: Value) -> Value;
}

impl Merge for Value {
    fn merged(mut self, other: Value) -> Value {
        if let (Some(a), Value::Object(b)) = (self.as_object_mut(), other) {
            a.extend(b);
        }
        self
    }
}

fn is_known_path(p: &str) -> bool {
    matches!(
        p,
        "/version"
            | "/api"
            | "/api/v1"
            | "/apis"
            | "/apis/authentication.k8s.io"
            | "/apis/authentication.k8s.io/v1"
            | "/apis/authentication.k8s.io/v1beta1"
            | "/api/v1/namespaces"
    ) || p.starts_with("/api/v1/namespaces/")
}

fn wants_table(req: &Request) -> bool {
    req.header("accept").is_some_and(|a| a.contains("as=Table"))
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch())
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn auth_group() -> Value {
    json!({
        "name": "authentication.k8s.io",
        "versions": [
            {"groupVersion": "authentication.k8s.io/v1", "version": "v1"},
            {"groupVersion": "authentication.k8s.io/v1beta1", "version": "v1beta1"}
        ],
        "preferredVersion": {"groupVersion": "authentication.k8s.io/v1", "version": "v1"}
    })
}

fn unauthorized_status() -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401
    })
}

fn forbidden(user: &UserInfo, verb: &str, name: Option<&str>) -> Response {
    let what = match name {
        Some(n) => format!("namespaces {n:?} is forbidden"),
        None => "namespaces is forbidden".to_string(),
    };
    let mut details = json!({"kind": "namespaces"});
    if let Some(n) = name {
        details["name"] = json!(n);
    }
    Response::json(
        403,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!(
                "{what}: User {:?} cannot {verb} resource \"namespaces\" in API group \"\" at the cluster scope",
                user.username
            ),
            "reason": "Forbidden", "details": details, "code": 403
        }),
    )
}

fn not_found(namespace: Option<&str>) -> Response {
    let (message, details) = match namespace {
        Some(n) => (
            format!("namespaces {n:?} not found"),
            json!({"name": n, "kind": "namespaces"}),
        ),
        None => (
            "the server could not find the requested resource".to_string(),
            json!({}),
        ),
    };
    Response::json(
        404,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "NotFound", "details": details, "code": 404
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// The OIDC authenticator.

#[derive(Debug, Clone)]
struct UserInfo {
    username: String,
    uid: String,
    groups: Vec<String>,
}

#[derive(Debug, Clone)]
enum Jwk {
    Rsa {
        kid: Option<String>,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ec {
        kid: Option<String>,
        crv: String,
        /// Uncompressed SEC1 point: `04 || x || y`.
        point: Vec<u8>,
    },
}

impl Jwk {
    fn parse(v: &Value) -> Option<Jwk> {
        let b64 = |name: &str| URL_SAFE_NO_PAD.decode(v.get(name)?.as_str()?).ok();
        let kid = v.get("kid").and_then(Value::as_str).map(String::from);
        match v.get("kty")?.as_str()? {
            "RSA" => Some(Jwk::Rsa {
                kid,
                n: b64("n")?,
                e: b64("e")?,
            }),
            "EC" => {
                let mut point = vec![4u8];
                point.extend(b64("x")?);
                point.extend(b64("y")?);
                Some(Jwk::Ec {
                    kid,
                    crv: v.get("crv")?.as_str()?.to_string(),
                    point,
                })
            }
            _ => None,
        }
    }

    fn kid(&self) -> Option<&str> {
        match self {
            Jwk::Rsa { kid, .. } | Jwk::Ec { kid, .. } => kid.as_deref(),
        }
    }

    fn verify(&self, alg: &str, message: &[u8], sig: &[u8]) -> bool {
        let rsa = |a: &'static signature::RsaParameters| match self {
            Jwk::Rsa { n, e, .. } => RsaPublicKeyComponents { n, e }
                .verify(a, message, sig)
                .is_ok(),
            Jwk::Ec { .. } => false,
        };
        let ec = |curve: &str, a: &'static dyn VerificationAlgorithm| match self {
            Jwk::Ec { crv, point, .. } if crv == curve => UnparsedPublicKey::new(a, point)
                .verify(message, sig)
                .is_ok(),
            _ => false,
        };
        match alg {
            "RS256" => rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            "RS384" => rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
            "RS512" => rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
            "PS256" => rsa(&signature::RSA_PSS_2048_8192_SHA256),
            "PS384" => rsa(&signature::RSA_PSS_2048_8192_SHA384),
            "PS512" => rsa(&signature::RSA_PSS_2048_8192_SHA512),
            "ES256" => ec("P-256", &signature::ECDSA_P256_SHA256_FIXED),
            "ES384" => ec("P-384", &signature::ECDSA_P384_SHA384_FIXED),
            _ => false,
        }
    }
}

struct Authenticator {
    opts: ApiServerOptions,
    /// Resolved `--oidc-username-prefix`.
    username_prefix: String,
    http: reqwest::blocking::Client,
    /// `jwks_uri` from discovery, once initialised.
    jwks_uri: Mutex<Option<String>>,
    /// The cached key set; the lock is held while re-fetching, so concurrent misses fetch once.
    keys: Mutex<Option<Vec<Jwk>>>,
    discovery_fetches: AtomicU64,
    jwks_fetches: AtomicU64,
}

impl Authenticator {
    fn new(opts: ApiServerOptions) -> Authenticator {
        let username_prefix = match opts.username_prefix.as_deref() {
            Some("-") => String::new(),
            Some(p) if !p.is_empty() => p.to_string(),
            _ if opts.username_claim != "email" => format!("{}#", opts.issuer),
            _ => String::new(),
        };
        let mut http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy();
        if let Some(pem) = &opts.issuer_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).expect("issuer CA PEM");
            http = http
                .tls_built_in_root_certs(false)
                .add_root_certificate(cert);
        }
        Authenticator {
            username_prefix,
            http: http.build().expect("HTTP client for the issuer"),
            opts,
            jwks_uri: Mutex::new(None),
            keys: Mutex::new(None),
            discovery_fetches: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
        }
    }

    fn fetch_counts(&self) -> (u64, u64) {
        (
            self.discovery_fetches.load(Ordering::SeqCst),
            self.jwks_fetches.load(Ordering::SeqCst),
        )
    }

    fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self.http.get(url).send().map_err(|e| format!("{e:#}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("{url}: {status}"));
        }
        resp.json().map_err(|e| format!("{url}: {e}"))
    }

    /// Discovery, like go-oidc `NewProvider`: retried on every token until it succeeds.
    fn jwks_uri(&self) -> Result<String, String> {
        let mut cached = lock(&self.jwks_uri);
        if let Some(uri) = &*cached {
            return Ok(uri.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.opts.issuer.trim_end_matches('/')
        );
        self.discovery_fetches.fetch_add(1, Ordering::SeqCst);
        let doc = self
            .get_json(&url)
            .map_err(|e| format!("oidc: authenticator not initialized: {e}"))?;
        let issuer = doc
            .get("issuer")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if issuer != self.opts.issuer {
            return Err(format!(
                "oidc: authenticator not initialized: oidc: issuer did not match the issuer returned by provider, expected {:?} got {issuer:?}",
                self.opts.issuer
            ));
        }
        let uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("oidc: authenticator not initialized: discovery has no jwks_uri")?
            .to_string();
        *cached = Some(uri.clone());
        Ok(uri)
    }

    /// go-oidc `RemoteKeySet.verify`: cached keys first (matching `kid` if the header has one), then
    /// one re-fetch of the key set.
    fn verify_signature(
        &self,
        alg: &str,
        kid: Option<&str>,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        let try_keys = |keys: &[Jwk]| {
            keys.iter()
                .filter(|k| kid.is_none() || k.kid() == kid)
                .any(|k| k.verify(alg, message, sig))
        };
        let jwks_uri = self.jwks_uri()?;
        let mut cache = lock(&self.keys);
        if cache.as_deref().is_some_and(try_keys) {
            return Ok(());
        }
        self.jwks_fetches.fetch_add(1, Ordering::SeqCst);
        let set = self
            .get_json(&jwks_uri)
            .map_err(|e| format!("oidc: verify signature: fetching keys {e}"))?;
        let keys: Vec<Jwk> = set
            .get("keys")
            .and_then(Value::as_array)
            .map(|ks| ks.iter().filter_map(Jwk::parse).collect())
            .unwrap_or_default();
        let ok = try_keys(&keys);
        *cache = Some(keys);
        if ok {
            Ok(())
        } else {
            Err("oidc: verify signature: failed to verify id token signature".to_string())
        }
    }

    fn authenticate(&self, token: &str) -> Result<UserInfo, String> {
        let issuer = &self.opts.issuer;
        let parts: Vec<&str> = token.split('.').collect();
        let decode = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        };
        // kube `hasCorrectIssuer`: a token that is not a JWT for our issuer is not ours; with no
        // other authenticator configured the request is unauthorized.
        let claims = match (parts.len(), parts.get(1).and_then(|p| decode(p))) {
            (3, Some(c)) => c,
            _ => return Err("invalid bearer token: not a JWT (oidc authenticator skipped)".into()),
        };
        match claims.get("iss").and_then(Value::as_str) {
            Some(iss) if iss == issuer => {}
            other => {
                return Err(format!(
                    "invalid bearer token: token issuer {other:?} is not {issuer:?} (oidc authenticator skipped)"
                ));
            }
        }
        let header = decode(parts[0]).ok_or("oidc: malformed jwt: bad JOSE header")?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self.opts.signing_algs.iter().any(|a| a == alg) {
            return Err(format!(
                "oidc: malformed jwt: unexpected signature algorithm {alg:?}; expected {:?}",
                self.opts.signing_algs
            ));
        }
        let sig = URL_SAFE_NO_PAD
            .decode(parts[2])
            .map_err(|e| format!("oidc: malformed jwt: signature: {e}"))?;

        // go-oidc IDTokenVerifier.Verify: audience, expiry (no leeway), nbf (1 min leeway).
        let aud: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !self
            .opts
            .audiences
            .iter()
            .any(|a| aud.contains(&a.as_str()))
        {
            return Err(format!(
                "oidc: verify token: audience mismatch: expected any of {:?} got {aud:?}",
                self.opts.audiences
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0);
        if exp < now {
            return Err(format!(
                "oidc: verify token: oidc: token is expired (Token Expiry: {})",
                rfc3339(exp as u64)
            ));
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64)
            && now + 60.0 < nbf
        {
            return Err(format!(
                "oidc: verify token: oidc: current time {} before the nbf (not before) time: {}",
                rfc3339(now as u64),
                rfc3339(nbf as u64)
            ));
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];
        self.verify_signature(alg, kid, signing_input.as_bytes(), &sig)?;

        // kube: claim mappings.
        let claim = &self.opts.username_claim;
        let username = match claims.get(claim) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(format!(
                    "oidc: parse username claims {claim:?}: claim is not a string: {other}"
                ));
            }
            None => {
                return Err(format!(
                    "oidc: parse username claims {claim:?}: claim not present"
                ));
            }
        };
        if claim == "email"
            && let Some(v) = claims.get("email_verified")
        {
            match v.as_bool() {
                Some(true) => {}
                Some(false) => return Err("oidc: email not verified".into()),
                None => {
                    return Err(format!(
                        "oidc: parse 'email_verified' claim: not a boolean: {v}"
                    ));
                }
            }
        }
        let group_prefix = self.opts.groups_prefix.as_deref().unwrap_or_default();
        let mut groups: Vec<String> = match claims.get(&self.opts.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(g)) => vec![g.clone()],
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            Some(other) => {
                return Err(format!(
                    "oidc: parse groups claim {:?}: not a string or a string array: {other}",
                    self.opts.groups_claim
                ));
            }
        };
        for g in &mut groups {
            g.insert_str(0, group_prefix);
        }
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".to_string());
        }
        Ok(UserInfo {
            username: format!("{}{username}", self.username_prefix),
            uid: claims
                .get("sub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            groups,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Time helpers (no date crate needed for RFC 3339 in UTC).

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (Howard Hinnant's civil-from-days).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Roughly apimachinery's `duration.HumanDuration`, as in kubectl's AGE column.
fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_745_366_400 + 3_723), "2025-04-23T01:02:03Z");
    }

    #[test]
    fn username_prefix_follows_the_legacy_flag_rules() {
        let p = |claim: &str, prefix: Option<&str>| {
            Authenticator::new(ApiServerOptions {
                issuer: "https://dex.example".into(),
                username_claim: claim.into(),
                username_prefix: prefix.map(String::from),
                ..Default::default()
            })
            .username_prefix
        };
        assert_eq!(p("email", None), "");
        assert_eq!(p("sub", None), "https://dex.example#");
        assert_eq!(p("sub", Some("-")), "");
        assert_eq!(p("email", Some("oidc:")), "oidc:");
    }
}
