//! The API-server stand-in against a tiny in-test issuer (discovery + JWKS served here, tokens minted
//! here with generated keys), and against the real kubectl.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};
use signet_tests::apiserver::{
    ApiServer, ApiServerOptions, GIT_VERSION, token_key, versioned_kubectl,
};
use signet_tests::tls::TestCa;

// ---------------------------------------------------------------------------------------------
// Keys and tokens.

struct RsaKey {
    kid: String,
    pair: RsaKeyPair,
    jwk: Value,
}

fn rsa_key(kid: &str) -> RsaKey {
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate RSA key");
    let der = key.to_pkcs8_der().expect("PKCS#8");
    let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).expect("ring RSA key");
    let jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    });
    RsaKey {
        kid: kid.to_string(),
        pair,
        jwk,
    }
}

/// RSA key generation is slow in debug builds: one key per test binary (plus one for rotation).
fn key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| rsa_key("key-1"))
}

fn other_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| rsa_key("key-2"))
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

fn sign_rs256(key: &RsaKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64json(header), b64json(claims));
    let mut sig = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn mint(key: &RsaKey, claims: &Value) -> String {
    sign_rs256(
        key,
        &json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"}),
        claims,
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Claims as Dex issues them for a cross-client login to `kubernetes`.
fn claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "sub": "CgNqYW5lEgVsb2NhbA",
        "aud": ["kubernetes", "kube-desktop"],
        "azp": "kube-desktop",
        "exp": now + 600,
        "iat": now,
        "email": "jane@example.com",
        "email_verified": true,
        "groups": ["admins", "devs"],
        "name": "Jane"
    })
}

fn with(mut v: Value, patch: Value) -> Value {
    for (k, val) in patch.as_object().expect("object").clone() {
        if val.is_null() {
            v.as_object_mut().expect("object").remove(&k);
        } else {
            v[k] = val;
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// A tiny issuer: discovery + JWKS over http (or https with its own CA) on loopback.

struct Issuer {
    url: String,
    jwks: Arc<Mutex<Value>>,
    /// The `issuer` the discovery document claims (to test a mismatch).
    claimed_issuer: Arc<Mutex<Option<String>>>,
    hits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
    ca: Option<TestCa>,
}

impl Issuer {
    fn start(https: bool) -> Issuer {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = https.then(|| TestCa::generate(dir.path(), "issuer"));
        let tls = ca.as_ref().map(|ca| {
            use rustls::pki_types::pem::PemObject as _;
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(&ca.cert_file)
                .expect("cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("cert");
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&ca.key_file).expect("key");
            Arc::new(
                rustls::ServerConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("tls config"),
            )
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let url = format!("{}://{addr}", if https { "https" } else { "http" });
        let issuer = Issuer {
            jwks: Arc::new(Mutex::new(json!({"keys": [key().jwk]}))),
            claimed_issuer: Arc::new(Mutex::new(None)),
            hits: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            url,
            addr,
            _dir: dir,
            ca,
        };
        let (jwks, claimed, hits, stop, url) = (
            Arc::clone(&issuer.jwks),
            Arc::clone(&issuer.claimed_issuer),
            Arc::clone(&issuer.hits),
            Arc::clone(&issuer.stop),
            issuer.url.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = stream else { continue };
                let respond = |path: &str| -> Value {
                    hits.fetch_add(1, Ordering::SeqCst);
                    match path {
                        "/.well-known/openid-configuration" => json!({
                            "issuer": claimed.lock().expect("lock").clone().unwrap_or(url.clone()),
                            "jwks_uri": format!("{url}/keys"),
                            "id_token_signing_alg_values_supported": ["RS256"],
                        }),
                        "/keys" => jwks.lock().expect("lock").clone(),
                        _ => Value::Null,
                    }
                };
                match &tls {
                    Some(cfg) => {
                        let conn = rustls::ServerConnection::new(Arc::clone(cfg)).expect("conn");
                        serve_one(rustls::StreamOwned::new(conn, tcp), respond);
                    }
                    None => serve_one(tcp, respond),
                }
            }
        });
        issuer
    }

    fn ca_pem(&self) -> Option<String> {
        self.ca.as_ref().map(|c| c.ca_pem.clone())
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// Answers one GET with `Connection: close`.
fn serve_one(stream: impl Read + Write, respond: impl Fn(&str) -> Value) {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    let body = respond(&path);
    let (status, body) = if body.is_null() {
        ("404 Not Found", "{}".to_string())
    } else {
        ("200 OK", body.to_string())
    };
    let w = r.get_mut();
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = w.flush();
}

// ---------------------------------------------------------------------------------------------
// Talking to the stand-in.

fn client(server: &ApiServer) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(server.ca().ca_pem.as_bytes()).expect("CA"),
        )
        .no_proxy()
        .build()
        .expect("client")
}

fn call(server: &ApiServer, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let c = client(server);
    let url = format!("{}{path}", server.url());
    let mut req = match method {
        "POST" => c
            .post(url)
            .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
        _ => c.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().expect("request to the stand-in");
    let status = resp.status().as_u16();
    (status, resp.json().expect("JSON body"))
}

fn whoami(server: &ApiServer, token: &str) -> (u16, Value) {
    call(
        server,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        Some(token),
    )
}

fn start(issuer: &Issuer, patch: impl FnOnce(&mut ApiServerOptions)) -> ApiServer {
    let mut opts = ApiServerOptions::new(&issuer.url, "kubernetes");
    opts.issuer_ca_pem = issuer.ca_pem();
    patch(&mut opts);
    ApiServer::start(opts)
}

fn assert_unauthorized(server: &ApiServer, token: &str, reason_contains: &str) {
    let (status, body) = whoami(server, token);
    assert_eq!(status, 401, "expected 401 ({reason_contains}), got {body}");
    assert_eq!(
        body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    let reason = server.last_auth_failure().expect("a failure reason");
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should contain {reason_contains:?}"
    );
    assert!(
        !reason.contains(token),
        "the reason must not echo the token"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn valid_token_is_reviewed_like_kube_apiserver() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |_| {});
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let token = mint(key(), &claims(&issuer.url));

    let (status, body) = whoami(&server, &token);
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {
                "username": "jane@example.com",
                "uid": "CgNqYW5lEgVsb2NhbA",
                "groups": ["admins", "devs", "system:authenticated"]
            }}
        })
    );

    let (status, version) = call(&server, "GET", "/version", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(version["gitVersion"], GIT_VERSION);
    let (status, groups) = call(&server, "GET", "/apis", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(groups["groups"][0]["name"], "authentication.k8s.io");
    let (status, res) = call(
        &server,
        "GET",
        "/apis/authentication.k8s.io/v1",
        Some(&token),
    );
    assert_eq!(status, 200);
    assert_eq!(res["resources"][0]["name"], "selfsubjectreviews");
    assert_eq!(res["resources"][0]["verbs"], json!(["create"]));
    let (status, _) = call(&server, "GET", "/openapi/v3", Some(&token));
    assert_eq!(status, 404);

    let stats = server.stats();
    assert_eq!(server.requests_for_token_count(&token), 5);
    assert_eq!(stats.per_token.get(&token_key(&token)), Some(&5));
    assert_eq!(stats.total_requests, 5);
    assert_eq!(stats.authenticated_requests, 5);
    assert_eq!(stats.unauthorized_requests, 0);
    assert_eq!(
        (stats.discovery_fetches, stats.jwks_fetches),
        (1, 1),
        "discovery and keys are cached"
    );
    assert_eq!(
        stats.requests[0].username.as_deref(),
        Some("jane@example.com")
    );
    assert_eq!(server.requests_for_token_count("some other token"), 0);
}

#[test]
fn rejects_tokens_kube_apiserver_rejects() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |_| {});
    let good = claims(&issuer.url);
    let now = now();

    let wrong_aud = mint(key(), &with(good.clone(), json!({"aud": "kube-desktop"})));
    assert_unauthorized(&server, &wrong_aud, "audience");
    let expired = mint(key(), &with(good.clone(), json!({"exp": now - 1})));
    assert_unauthorized(&server, &expired, "token is expired");
    let no_exp = mint(key(), &with(good.clone(), json!({"exp": null})));
    assert_unauthorized(&server, &no_exp, "token is expired");
    let wrong_iss = mint(
        key(),
        &with(good.clone(), json!({"iss": "https://evil.example"})),
    );
    assert_unauthorized(&server, &wrong_iss, "issuer");
    let trailing_slash = mint(
        key(),
        &with(good.clone(), json!({"iss": format!("{}/", issuer.url)})),
    );
    assert_unauthorized(&server, &trailing_slash, "issuer");
    let unverified = mint(key(), &with(good.clone(), json!({"email_verified": false})));
    assert_unauthorized(&server, &unverified, "oidc: email not verified");
    let no_email = mint(key(), &with(good.clone(), json!({"email": null})));
    assert_unauthorized(&server, &no_email, "claim not present");
    let nbf_future = mint(key(), &with(good.clone(), json!({"nbf": now + 120})));
    assert_unauthorized(&server, &nbf_future, "nbf");

    // Bad signature: the payload changed after signing.
    let valid = mint(key(), &good);
    let mut parts: Vec<String> = valid.split('.').map(String::from).collect();
    parts[1] = b64json(&with(good.clone(), json!({"email": "root@example.com"})));
    assert_unauthorized(&server, &parts.join("."), "signature");
    // Signed by a key the issuer does not publish, under the published kid.
    let foreign = sign_rs256(other_key(), &json!({"alg": "RS256", "kid": "key-1"}), &good);
    assert_unauthorized(&server, &foreign, "signature");
    // alg none and HS256 (with the RSA modulus as the "secret") are refused outright.
    let none = format!(
        "{}.{}.",
        b64json(&json!({"alg": "none", "typ": "JWT"})),
        b64json(&good)
    );
    assert_unauthorized(&server, &none, "unexpected signature algorithm \"none\"");
    let hs = format!(
        "{}.{}.c2ln",
        b64json(&json!({"alg": "HS256", "kid": "key-1"})),
        b64json(&good)
    );
    assert_unauthorized(&server, &hs, "unexpected signature algorithm \"HS256\"");
    assert_unauthorized(&server, "not-a-jwt", "not a JWT");

    let (status, _) = call(&server, "GET", "/version", None);
    assert_eq!(status, 401);
    assert!(
        server
            .last_auth_failure()
            .expect("reason")
            .contains("no bearer token")
    );

    // email_verified absent is fine; the valid token still works after all that.
    let absent = mint(key(), &with(good.clone(), json!({"email_verified": null})));
    assert_eq!(whoami(&server, &absent).0, 201);
    assert_eq!(whoami(&server, &valid).0, 201);
    // nbf within the 1 minute leeway is accepted.
    let nbf_soon = mint(key(), &with(good, json!({"nbf": now + 30})));
    assert_eq!(whoami(&server, &nbf_soon).0, 201);

    let stats = server.stats();
    assert_eq!(stats.unauthorized_requests, 14);
    assert_eq!(server.requests_for_token_count(&expired), 1);
}

#[test]
fn username_and_groups_claims_and_prefixes() {
    let issuer = Issuer::start(false);
    let good = claims(&issuer.url);

    let server = start(&issuer, |o| o.groups_prefix = Some("oidc:".into()));
    let (status, body) = whoami(&server, &mint(key(), &good));
    assert_eq!(status, 201);
    assert_eq!(
        body["status"]["userInfo"]["groups"],
        json!(["oidc:admins", "oidc:devs", "system:authenticated"])
    );
    // A single-string groups claim.
    let one = mint(key(), &with(good.clone(), json!({"groups": "admins"})));
    assert_eq!(
        whoami(&server, &one).1["status"]["userInfo"]["groups"],
        json!(["oidc:admins", "system:authenticated"])
    );
    let bad_groups = mint(key(), &with(good.clone(), json!({"groups": {"a": 1}})));
    assert_unauthorized(&server, &bad_groups, "groups claim");
    drop(server);

    // claim sub without a prefix: kube prefixes with "<issuer>#".
    let server = start(&issuer, |o| o.username_claim = "sub".into());
    let (_, body) = whoami(&server, &mint(key(), &good));
    assert_eq!(
        body["status"]["userInfo"]["username"],
        format!("{}#CgNqYW5lEgVsb2NhbA", issuer.url)
    );
    // ...and email_verified is only checked for the email claim.
    let unverified = mint(key(), &with(good.clone(), json!({"email_verified": false})));
    assert_eq!(whoami(&server, &unverified).0, 201);
    drop(server);

    let server = start(&issuer, |o| {
        o.username_claim = "sub".into();
        o.username_prefix = Some("-".into());
    });
    let (_, body) = whoami(&server, &mint(key(), &good));
    assert_eq!(body["status"]["userInfo"]["username"], "CgNqYW5lEgVsb2NhbA");
    drop(server);

    let server = start(&issuer, |o| o.username_prefix = Some("oidc:".into()));
    let (_, body) = whoami(&server, &mint(key(), &good));
    assert_eq!(
        body["status"]["userInfo"]["username"],
        "oidc:jane@example.com"
    );
}

#[test]
fn audiences_match_any() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |o| {
        o.audiences = vec!["other".into(), "kube-desktop".into()];
    });
    let only_desktop = mint(
        key(),
        &with(claims(&issuer.url), json!({"aud": "kube-desktop"})),
    );
    assert_eq!(whoami(&server, &only_desktop).0, 201);
    let neither = mint(
        key(),
        &with(claims(&issuer.url), json!({"aud": ["x", "y"]})),
    );
    assert_unauthorized(&server, &neither, "audience");
}

#[test]
fn unknown_kid_refetches_the_key_set() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |_| {});
    assert_eq!(whoami(&server, &mint(key(), &claims(&issuer.url))).0, 201);
    assert_eq!(server.stats().jwks_fetches, 1);

    // The issuer rotates to key-2 and publishes both keys.
    *issuer.jwks.lock().expect("lock") = json!({"keys": [other_key().jwk, key().jwk]});
    let rotated = mint(other_key(), &claims(&issuer.url));
    assert_eq!(whoami(&server, &rotated).0, 201);
    assert_eq!(server.stats().jwks_fetches, 2);
    assert_eq!(whoami(&server, &rotated).0, 201);
    assert_eq!(server.stats().jwks_fetches, 2, "the new key is cached");
    assert_eq!(server.stats().discovery_fetches, 1);
}

#[test]
fn es256_tokens_verify() {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("EC key");
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("EC key");
    let point = pair.public_key().as_ref();
    let issuer = Issuer::start(false);
    *issuer.jwks.lock().expect("lock") = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    }]});
    let input = format!(
        "{}.{}",
        b64json(&json!({"alg": "ES256", "kid": "ec-1"})),
        b64json(&claims(&issuer.url))
    );
    let sig = pair.sign(&rng, input.as_bytes()).expect("sign");
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));

    let server = start(&issuer, |_| {});
    assert_eq!(whoami(&server, &token).0, 201);
    drop(server);
    let rs256_only = start(&issuer, |o| o.signing_algs = vec!["RS256".into()]);
    assert_unauthorized(
        &rs256_only,
        &token,
        "unexpected signature algorithm \"ES256\"",
    );
}

#[test]
fn https_issuer_needs_its_ca_and_a_matching_discovery_issuer() {
    let issuer = Issuer::start(true);
    let token = mint(key(), &claims(&issuer.url));
    let server = start(&issuer, |_| {});
    assert_eq!(whoami(&server, &token).0, 201);
    drop(server);

    // Without the IdP's CA the authenticator never initialises.
    let server = start(&issuer, |o| o.issuer_ca_pem = None);
    assert_unauthorized(&server, &token, "authenticator not initialized");
    drop(server);

    // A discovery document naming another issuer is refused, on every attempt.
    *issuer.claimed_issuer.lock().expect("lock") = Some(format!("{}/", issuer.url));
    let server = start(&issuer, |_| {});
    assert_unauthorized(&server, &token, "issuer did not match");
    assert_unauthorized(&server, &token, "issuer did not match");
    assert_eq!(server.stats().discovery_fetches, 2);
    assert!(issuer.hits.load(Ordering::SeqCst) >= 3);
}

#[test]
fn namespaces_are_listed_and_can_be_forbidden() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |o| {
        o.forbid_namespace_list_for = vec!["eve@example.com".into()]
    });
    let jane = mint(key(), &claims(&issuer.url));
    let (status, list) = call(&server, "GET", "/api/v1/namespaces", Some(&jane));
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "NamespaceList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["default", "kube-system", "team-a"]);
    let (status, ns) = call(&server, "GET", "/api/v1/namespaces/team-a", Some(&jane));
    assert_eq!(
        (status, ns["status"]["phase"].as_str()),
        (200, Some("Active"))
    );
    let (status, missing) = call(&server, "GET", "/api/v1/namespaces/nope", Some(&jane));
    assert_eq!(
        (status, missing["reason"].as_str()),
        (404, Some("NotFound"))
    );

    let eve = mint(
        key(),
        &with(claims(&issuer.url), json!({"email": "eve@example.com"})),
    );
    let (status, body) = call(&server, "GET", "/api/v1/namespaces", Some(&eve));
    assert_eq!(status, 403);
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "namespaces is forbidden: User \"eve@example.com\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    assert_eq!(server.stats().forbidden_requests, 1);
    // Eve can still ask who she is.
    assert_eq!(whoami(&server, &eve).0, 201);
}

#[test]
fn drop_stops_the_server() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |_| {});
    let addr = server.addr();
    // Leave a keep-alive connection open: drop must not hang on it.
    let c = client(&server);
    let resp = c
        .get(format!("{}/version", server.url()))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    drop(server);
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

// ---------------------------------------------------------------------------------------------
// The real kubectl.

/// kubectl on PATH plus the 1.27 and 1.33 binaries shipped with the Google Cloud SDK; a missing one fails
/// the test (as in the CLI suite), it is never dropped.
fn kubectls() -> Vec<PathBuf> {
    vec![
        PathBuf::from("kubectl"),
        versioned_kubectl("1.27"),
        versioned_kubectl("1.33"),
    ]
}

fn kubeconfig(dir: &Path, server: &ApiServer, token: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: jane\n  user:\n    token: {token}\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: jane\ncurrent-context: standin\n",
        server.url(),
        server.ca().ca_file.display()
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

fn kubectl(bin: &Path, home: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", config)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env_remove("KUBECTL_KUBERC")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()))
}

#[test]
fn real_kubectl_whoami_get_ns_and_version() {
    let issuer = Issuer::start(false);
    let server = start(&issuer, |o| {
        o.forbid_namespace_list_for = vec!["eve@example.com".into()]
    });
    let jane = mint(key(), &claims(&issuer.url));
    let eve = mint(
        key(),
        &with(claims(&issuer.url), json!({"email": "eve@example.com"})),
    );

    for bin in kubectls() {
        let home = tempfile::tempdir().expect("HOME");
        let cfg = kubeconfig(home.path(), &server, &jane);
        let ok = |args: &[&str]| {
            let out = kubectl(&bin, home.path(), &cfg, args);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{} {args:?} failed: {stdout}\n{stderr}",
                bin.display()
            );
            stdout
        };

        let who: Value =
            serde_json::from_str(&ok(&["auth", "whoami", "-o", "json"])).expect("whoami JSON");
        assert_eq!(who["status"]["userInfo"]["username"], "jane@example.com");
        assert_eq!(
            who["status"]["userInfo"]["groups"],
            json!(["admins", "devs", "system:authenticated"])
        );

        let table = ok(&["get", "ns"]);
        let first = table.lines().next().unwrap_or_default();
        assert!(
            first.contains("NAME") && first.contains("STATUS") && first.contains("AGE"),
            "{table}"
        );
        for ns in ["default", "kube-system", "team-a"] {
            assert!(table.contains(ns), "{table}");
        }
        let list: Value =
            serde_json::from_str(&ok(&["get", "ns", "-o", "json"])).expect("list JSON");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(3));
        assert!(ok(&["get", "ns", "team-a"]).contains("Active"));

        let version: Value =
            serde_json::from_str(&ok(&["get", "--raw", "/version"])).expect("version JSON");
        assert_eq!(version["gitVersion"], GIT_VERSION);

        // Forbidden and unauthorized users get kubectl's usual errors.
        let eve_cfg = kubeconfig(home.path(), &server, &eve);
        let out = kubectl(&bin, home.path(), &eve_cfg, &["get", "ns"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("Forbidden"));
        let bad_cfg = kubeconfig(home.path(), &server, "not-a-jwt");
        let out = kubectl(&bin, home.path(), &bad_cfg, &["auth", "whoami"]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("You must be logged in to the server")
                || stderr.contains("Unauthorized"),
            "{stderr}"
        );
    }
    let paths: Vec<String> = server
        .stats()
        .requests
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    eprintln!("requests kubectl made:\n{}", paths.join("\n"));
    assert!(server.requests_for_token_count(&jane) >= 5);
}

// ---------------------------------------------------------------------------------------------
// The standalone binary.

#[test]
fn binary_prints_a_ready_line_and_never_logs_the_token() {
    let exe = env!("CARGO_BIN_EXE_signet-apiserver-standin");
    let issuer = Issuer::start(false);
    let tls_dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(exe)
        .args(["--issuer", &issuer.url, "--audience", "kubernetes"])
        .args(["--groups-prefix", "oidc:", "--exit-on-stdin-eof"])
        .arg("--tls-dir")
        .arg(tls_dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the stand-in");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("ready line");
    let ready: Value = serde_json::from_str(&line).expect("ready JSON");
    assert_eq!(ready["ready"], true);
    let url = ready["url"].as_str().expect("url").to_string();
    let ca_file = PathBuf::from(ready["ca_file"].as_str().expect("ca_file"));
    assert!(ca_file.starts_with(tls_dir.path()));

    let http = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&ca_file).expect("CA")).expect("CA"),
        )
        .no_proxy()
        .build()
        .expect("client");
    let review = |token: &str| {
        http.post(format!(
            "{url}/apis/authentication.k8s.io/v1/selfsubjectreviews"
        ))
        .bearer_auth(token)
        .body("{}")
        .send()
        .expect("request")
    };
    let good = mint(key(), &claims(&issuer.url));
    let resp = review(&good);
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().expect("json");
    assert_eq!(body["status"]["userInfo"]["groups"][0], "oidc:admins");
    let expired = mint(key(), &with(claims(&issuer.url), json!({"exp": now() - 1})));
    assert_eq!(review(&expired).status().as_u16(), 401);

    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("token is expired"), "{stderr}");
    assert!(stderr.contains(&token_key(&expired)), "{stderr}");
    let signature = expired.rsplit('.').next().expect("signature");
    assert!(
        !stderr.contains(signature) && !stderr.contains(&expired),
        "{stderr}"
    );
}
