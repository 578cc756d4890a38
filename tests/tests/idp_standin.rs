//! Proves the test world's Dex stand-in, hostile issuer and form browser behave as documented
//! (tests/idp/README.md), so suites built on them can trust them.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use signet_tests::browser::{BrowserError, FormBrowser};
use signet_tests::idp::{
    CLIENT_ID, DEX_REFRESH_EXPIRED, DEX_REFRESH_INVALID, FaultEndpoint, FaultSpec, HOSTILE_MODES,
    Hostile, HostileOptions, Idp, IdpOptions, PASSWORD, audience_scope,
};
use signet_tests::tls::TestCa;
use url::Url;

const REDIRECT: &str = "http://127.0.0.1:45678/callback";

struct Login {
    verifier: String,
    state: String,
    nonce: String,
    url: String,
}

fn auth_request(issuer: &str, scope: &str) -> Login {
    auth_request_via(issuer, scope, None)
}

/// An authorization request, with `connector_id` when `connector` is given.
fn auth_request_via(issuer: &str, scope: &str, connector: Option<&str>) -> Login {
    let seed = format!("{:?}{:?}", Instant::now(), std::thread::current().id());
    let verifier = URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let (state, nonce) = (
        format!("state-{}", &verifier[..8]),
        format!("nonce-{}", &verifier[8..16]),
    );
    let mut url = Url::parse_with_params(
        &format!("{issuer}/auth"),
        [
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("auth url");
    if let Some(connector) = connector {
        url.query_pairs_mut().append_pair("connector_id", connector);
    }
    let url = url.to_string();
    Login {
        verifier,
        state,
        nonce,
        url,
    }
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn post_token(
    http: &reqwest::blocking::Client,
    issuer: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = http
        .post(format!("{issuer}/token"))
        .form(form)
        .send()
        .expect("POST /token");
    let status = response.status().as_u16();
    (
        status,
        response.json().expect("token endpoint answers JSON"),
    )
}

fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Whether `jwt` carries a valid RS256 signature by the key of its `kid` in `jwks`.
fn signature_valid(jwt: &str, jwks: &Value) -> bool {
    let kid = jwt_part(jwt, 0)["kid"].clone();
    let keys = jwks["keys"].as_array().expect("keys");
    let Some(key) = keys.iter().find(|k| k["kid"] == kid) else {
        return false;
    };
    let b64 = |v: &Value| {
        URL_SAFE_NO_PAD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    let (signed, signature) = jwt.rsplit_once('.').expect("JWT");
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    ring::signature::RsaPublicKeyComponents {
        n: b64(&key["n"]),
        e: b64(&key["e"]),
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        signed.as_bytes(),
        &signature,
    )
    .is_ok()
}

/// Logs `user` in through the form and exchanges the code; returns the token response.
fn sign_in(idp: &Idp, user: &str, scope: &str) -> Value {
    sign_in_via(idp, user, scope, None)
}

/// [`sign_in`] through the connector `connector` (`connector_id`), or the default one.
fn sign_in_via(idp: &Idp, user: &str, scope: &str, connector: Option<&str>) -> Value {
    let login = auth_request_via(idp.issuer(), scope, connector);
    let callback = FormBrowser::new(idp.ca())
        .login(&login.url, user, PASSWORD)
        .expect("login");
    let params = query(&callback);
    assert_eq!(params.get("state"), Some(&login.state));
    let code = params.get("code").expect("code in callback");
    let (status, body) = post_token(
        idp.http(),
        idp.issuer(),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("code_verifier", &login.verifier),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_part(body["id_token"].as_str().expect("id_token"), 1)["nonce"],
        login.nonce
    );
    body
}

fn refresh(idp: &Idp, token: &str, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("refresh_token", token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    post_token(idp.http(), idp.issuer(), &form)
}

fn get_json(http: &reqwest::blocking::Client, url: &str) -> Value {
    http.get(url).send().expect("GET").json().expect("JSON")
}

#[test]
fn discovery_looks_like_dex_and_revocation_is_only_an_option() {
    let started = Instant::now();
    let idp = Idp::start(IdpOptions {
        revocation: true,
        ..Default::default()
    });
    eprintln!("stand-in ready after {:?}", started.elapsed());
    let iss = idp.issuer();
    assert_eq!(iss, format!("http://127.0.0.1:{}/dex", idp.port()));
    let doc = get_json(idp.http(), &idp.discovery_url());
    for (field, path) in [
        ("authorization_endpoint", "/auth"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/keys"),
        ("userinfo_endpoint", "/userinfo"),
        ("device_authorization_endpoint", "/device/code"),
        ("revocation_endpoint", "/token/revoke"),
    ] {
        assert_eq!(doc[field], format!("{iss}{path}"), "{field}");
    }
    assert_eq!(doc["issuer"], iss);
    // Like Dex by default: no revocation endpoint at all.
    let quiet = Idp::start(IdpOptions {
        issuer_path: String::new(),
        ..Default::default()
    });
    let doc = get_json(quiet.http(), &quiet.discovery_url());
    assert_eq!(doc["issuer"], format!("http://127.0.0.1:{}", quiet.port()));
    assert!(doc.get("revocation_endpoint").is_none(), "{doc}");
}

#[test]
fn code_flow_gives_dex_cross_client_tokens_and_refresh_rotates() {
    let idp = Idp::start(IdpOptions::default());
    let scope = format!(
        "openid email profile groups offline_access {}",
        audience_scope("kubernetes")
    );
    let tokens = sign_in(&idp, "alice", &scope);
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["aud"], serde_json::json!(["kubernetes", "signet"]));
    assert_eq!(claims["azp"], "signet");
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["groups"], serde_json::json!(["dev", "ops"]));
    assert_eq!(claims["preferred_username"], "alice");
    assert!(
        !claims["sub"].as_str().expect("sub").contains("alice"),
        "sub is opaque"
    );
    assert_eq!(tokens["token_type"], "bearer");
    let jwks = get_json(idp.http(), &format!("{}/keys", idp.issuer()));
    assert!(
        signature_valid(id_token, &jwks),
        "ID token verifies with /keys"
    );

    // Refresh, narrowed to the peer audience: new ID token keeps aud/azp; the refresh token rotates.
    let first = tokens["refresh_token"].as_str().expect("refresh_token");
    let (status, renewed) = refresh(
        &idp,
        first,
        Some(&format!("openid {}", audience_scope("kubernetes"))),
    );
    assert_eq!(status, 200, "{renewed}");
    let claims = jwt_part(renewed["id_token"].as_str().expect("id_token"), 1);
    assert_eq!(claims["aud"], serde_json::json!(["kubernetes", "signet"]));
    assert_eq!(claims["azp"], "signet");
    let second = renewed["refresh_token"]
        .as_str()
        .expect("rotated refresh_token");
    assert_ne!(first, second);
    let (status, body) = refresh(&idp, first, None);
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (400, Some("invalid_request"), Some(DEX_REFRESH_INVALID)),
        "a replayed refresh token answers like Dex"
    );
    let (status, body) = refresh(&idp, second, None);
    assert_eq!(
        status, 200,
        "replaying the old token leaves the new one valid (Dex): {body}"
    );

    // Concurrent refreshes of one token: exactly one wins.
    let third = body["refresh_token"].as_str().expect("refresh_token");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| refresh(&idp, third, None).0))
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );

    // Without the audience scope: a plain aud and no azp.
    let plain = sign_in(&idp, "carol", "openid email offline_access");
    let claims = jwt_part(plain["id_token"].as_str().expect("id_token"), 1);
    assert_eq!(
        (claims["aud"].as_str(), claims.get("azp")),
        (Some("signet"), None)
    );
    assert_eq!(claims["email_verified"], false);

    let stats = idp.stats();
    assert_eq!(stats.token_requests.authorization_code, 2);
    assert_eq!(stats.token_requests.refresh_token, 7);
    assert_eq!(stats.token_requests.total, 9);
    assert_eq!(stats.refresh_failures, 4);
    idp.reset_stats();
    assert_eq!(idp.stats(), Default::default());
}

#[test]
fn wrong_password_and_untrusted_peer_are_refused() {
    let idp = Idp::start(IdpOptions::default());
    let login = auth_request(idp.issuer(), "openid");
    match FormBrowser::new(None).login(&login.url, "alice", "wrong") {
        Err(BrowserError::LoginRejected { status: 401, body }) => {
            assert!(body.contains("id=\"login-error\""))
        }
        other => panic!("expected a 401 login page, got {other:?}"),
    }
    let login = auth_request(
        idp.issuer(),
        &format!("openid {}", audience_scope("other-peer")),
    );
    let callback = FormBrowser::new(None)
        .login(&login.url, "alice", PASSWORD)
        .expect("error redirect");
    let params = query(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_scope")
    );
    assert_eq!(params.get("state"), Some(&login.state));
    assert_eq!(idp.stats().token_requests.total, 0);
}

#[test]
fn revoke_faults_and_key_rotation() {
    let idp = Idp::start(IdpOptions {
        id_token_ttl: Some(60),
        ..Default::default()
    });
    let tokens = sign_in(&idp, "bob", "openid groups offline_access");
    let claims = jwt_part(tokens["id_token"].as_str().expect("id_token"), 1);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        60
    );
    assert_eq!(tokens["expires_in"], 60);
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();

    idp.fault(FaultSpec::status(FaultEndpoint::Token, 500, 1));
    let (status, body) = refresh(&idp, &refresh_token, None);
    assert_eq!(
        (status, body),
        (500, serde_json::json!({"error": "invalid_request"}))
    );
    idp.fault(FaultSpec::delay(
        FaultEndpoint::Token,
        Duration::from_millis(400),
        1,
    ));
    let started = Instant::now();
    let (status, body) = refresh(&idp, &refresh_token, None);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(status, 200, "{body}");
    let refresh_token = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    idp.fault(FaultSpec::status(FaultEndpoint::Discovery, 503, 5));
    assert_eq!(
        idp.http()
            .get(idp.discovery_url())
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        503
    );
    idp.clear_faults();
    assert_eq!(
        idp.http()
            .get(idp.discovery_url())
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        200
    );

    let old_kid = jwt_part(body["id_token"].as_str().expect("id_token"), 0)["kid"].clone();
    let new_kid = idp.rotate_keys();
    let kids: Vec<Value> = get_json(idp.http(), &format!("{}/keys", idp.issuer()))["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, [old_kid, Value::from(new_kid.clone())]);
    let (status, body) = refresh(&idp, &refresh_token, None);
    assert_eq!(status, 200, "{body}");
    let jwt = body["id_token"].as_str().expect("id_token");
    assert_eq!(jwt_part(jwt, 0)["kid"], new_kid);
    assert!(signature_valid(
        jwt,
        &get_json(idp.http(), &format!("{}/keys", idp.issuer()))
    ));

    idp.revoke("bob");
    let latest = body["refresh_token"].as_str().expect("refresh_token");
    let (status, body) = refresh(&idp, latest, None);
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (400, Some("invalid_request"), Some(DEX_REFRESH_INVALID)),
        "a deleted refresh token answers like Dex"
    );
    let stats = idp.stats();
    assert_eq!(
        (stats.token_requests.refresh_token, stats.refresh_failures),
        (4, 2)
    );
}

#[test]
fn device_flow_with_both_verification_uris() {
    let idp = Idp::start(IdpOptions {
        device_interval: Some(1),
        ..Default::default()
    });
    for complete in [true, false] {
        let started: Value = idp
            .http()
            .post(format!("{}/device/code", idp.issuer()))
            .form(&[
                ("client_id", CLIENT_ID),
                ("scope", "openid email groups offline_access"),
            ])
            .send()
            .expect("POST /device/code")
            .json()
            .expect("JSON");
        assert_eq!(started["interval"], 1);
        let device_code = started["device_code"].as_str().expect("device_code");
        let grant = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", CLIENT_ID),
            ("device_code", device_code),
        ];
        let (status, body) = post_token(idp.http(), idp.issuer(), &grant);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("authorization_pending"))
        );
        let browser = FormBrowser::new(None);
        if complete {
            let uri = started["verification_uri_complete"]
                .as_str()
                .expect("complete uri");
            browser.approve_device(uri, None, "alice", PASSWORD)
        } else {
            let uri = started["verification_uri"].as_str().expect("uri");
            browser.approve_device(uri, started["user_code"].as_str(), "alice", PASSWORD)
        }
        .expect("approve device");
        let (status, body) = post_token(idp.http(), idp.issuer(), &grant);
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            jwt_part(body["id_token"].as_str().expect("id_token"), 1)["email"],
            "alice@example.com"
        );
        assert!(body["refresh_token"].is_string(), "{body}");
    }
    assert_eq!(idp.stats().token_requests.device_code, 4);
}

#[test]
fn tls_mode_needs_the_ca_and_login_can_be_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::generate(dir.path(), "idp");
    let idp = Idp::start(IdpOptions {
        tls: Some(ca),
        ..Default::default()
    });
    assert!(idp.issuer().starts_with("https://127.0.0.1:"));
    assert_eq!(
        get_json(idp.http(), &idp.discovery_url())["issuer"],
        idp.issuer()
    );
    let stranger = reqwest::blocking::Client::new();
    assert!(
        stranger.get(idp.discovery_url()).send().is_err(),
        "a client without the CA must fail"
    );
    assert!(matches!(
        FormBrowser::new(None).login(&auth_request(idp.issuer(), "openid").url, "alice", PASSWORD),
        Err(BrowserError::Http { .. })
    ));

    // A real loopback listener receives the callback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).expect("read request");
        let request = String::from_utf8_lossy(&buf[..n]).to_string();
        stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nsigned in",
            )
            .expect("write");
        request
    });
    let login = auth_request(idp.issuer(), "openid");
    let url = login.url.replace("45678", &port.to_string());
    let body = FormBrowser::new(idp.ca())
        .login_and_deliver(&url, "alice", PASSWORD)
        .expect("deliver");
    assert_eq!(body, "signed in");
    let request = server.join().expect("listener thread");
    assert!(request.starts_with("GET /callback?code="), "{request}");
}

#[test]
fn hostile_issuer_serves_every_mode() {
    let hostile = Hostile::start(HostileOptions::default());
    let doc = get_json(
        hostile.http(),
        &format!("{}/.well-known/openid-configuration", hostile.issuer()),
    );
    assert_eq!(doc["issuer"], hostile.issuer());
    let jwks = get_json(hostile.http(), &format!("{}/keys", hostile.issuer()));
    assert_eq!(jwks["keys"][0]["kid"], "hostile-1");
    let browser = FormBrowser::new(None);
    for mode in HOSTILE_MODES {
        hostile.set_mode(mode);
        let login = auth_request(hostile.issuer(), "openid");
        let callback = browser
            .login(&login.url, "alice", PASSWORD)
            .expect("hostile redirect");
        let params = query(&callback);
        assert_eq!(params["code"], *mode);
        let expected_state = if *mode == "state-mismatch" {
            "not-the-state"
        } else {
            &login.state
        };
        assert_eq!(params["state"], expected_state);
        let (status, body) = post_token(
            hostile.http(),
            hostile.issuer(),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", *mode),
            ],
        );
        assert_eq!(status, 200);
        assert_eq!(body["refresh_token"], format!("r-{mode}"));
        let jwt = body["id_token"].as_str().expect("id_token");
        let (header, claims) = (jwt_part(jwt, 0), jwt_part(jwt, 1));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let nonce_ok = claims["nonce"] == login.nonce.as_str();
        let expired = claims["exp"].as_i64().expect("exp") < now;
        let (alg, kid) = (header["alg"].as_str(), header["kid"].as_str());
        match *mode {
            "good" | "state-mismatch" | "bad-signature" => {
                assert_eq!(
                    (alg, kid, nonce_ok, expired),
                    (Some("RS256"), Some("hostile-1"), true, false)
                );
                assert_eq!(
                    signature_valid(jwt, &jwks),
                    *mode != "bad-signature",
                    "{mode}"
                );
            }
            "wrong-iss" => assert_ne!(claims["iss"], hostile.issuer()),
            "wrong-aud" => assert_ne!(claims["aud"], CLIENT_ID),
            "expired" => assert!(expired),
            "alg-none" => assert!(alg == Some("none") && jwt.ends_with('.')),
            "hs256" => assert_eq!(alg, Some("HS256")),
            "nonce-mismatch" => assert!(!nonce_ok),
            "unknown-kid" => assert_eq!(kid, Some("hostile-unknown")),
            // No audience scope was asked for: Dex would give aud = signet and no azp.
            "no-azp" => assert_eq!(
                (claims["aud"].clone(), claims.get("azp")),
                (serde_json::json!(["kubernetes", CLIENT_ID]), None)
            ),
            "wrong-azp" => assert_eq!(
                (claims["aud"].as_str(), claims["azp"].as_str()),
                (Some(CLIENT_ID), Some("someone-else"))
            ),
            "extra-aud" => assert_eq!(
                (claims["aud"].clone(), claims["azp"].as_str()),
                (
                    serde_json::json!([CLIENT_ID, "someone-else"]),
                    Some(CLIENT_ID)
                )
            ),
            other => panic!("untested mode {other}"),
        }
    }
    let stats = hostile.stats();
    assert_eq!(
        stats.token_requests.authorization_code,
        HOSTILE_MODES.len() as u64
    );
    assert_eq!(stats.auth_requests, HOSTILE_MODES.len() as u64);
}

/// The points where Signet depends on Dex's behaviour (reference/dex-kubernetes-protocols.md A.6–A.9),
/// checked against the stand-in started with its defaults.
#[test]
fn the_stand_in_behaves_like_dex_where_signet_depends_on_it() {
    let idp = Idp::start(IdpOptions::default());
    let iss = idp.issuer().to_string();

    // 1. No revocation endpoint (dexidp/dex#1778): not in discovery, and the path does not exist.
    let doc = get_json(idp.http(), &idp.discovery_url());
    assert!(doc.get("revocation_endpoint").is_none(), "{doc}");
    let status = idp
        .http()
        .post(format!("{iss}/token/revoke"))
        .form(&[("token", "x"), ("client_id", CLIENT_ID)])
        .send()
        .expect("POST /token/revoke")
        .status();
    assert_eq!(status.as_u16(), 404, "Dex has no /token/revoke");

    // 2. Refresh errors in Dex's words: a missing token, an expired one, and Dex's 500.
    let (status, body) = post_token(
        idp.http(),
        &iss,
        &[("grant_type", "refresh_token"), ("client_id", CLIENT_ID)],
    );
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (
            400,
            Some("invalid_request"),
            Some("No refresh token is found in request.")
        )
    );
    let bob = sign_in(&idp, "bob", "openid offline_access");
    idp.expire_refresh_tokens("bob");
    let (status, body) = refresh(&idp, bob["refresh_token"].as_str().expect("rt"), None);
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (400, Some("invalid_request"), Some(DEX_REFRESH_EXPIRED))
    );
    idp.fault(FaultSpec::status(FaultEndpoint::Token, 500, 1));
    let response = idp
        .http()
        .post(format!("{iss}/token"))
        .form(&[("grant_type", "refresh_token"), ("client_id", CLIENT_ID)])
        .send()
        .expect("POST /token");
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "Dex's token errors are JSON"
    );
    assert_eq!(
        response.json::<Value>().expect("JSON"),
        serde_json::json!({"error": "invalid_request"}),
        "Dex's upstream-refresh 500 has no description"
    );
    idp.fault(FaultSpec::status(FaultEndpoint::Keys, 500, 1));
    let response = idp.http().get(format!("{iss}/keys")).send().expect("GET");
    assert_eq!(response.status().as_u16(), 500);
    assert!(
        response
            .text()
            .expect("body")
            .contains("Internal server error."),
        "Dex's /keys failure is its HTML error page"
    );

    // 3. One refresh token per (user, connector, client): a new sign-in deletes the older token; another
    //    connector is another Dex user and keeps its own; another user is untouched.
    let scope = "openid email offline_access";
    let first = sign_in(&idp, "alice", scope);
    let carol = sign_in(&idp, "carol", scope);
    let second = sign_in(&idp, "alice", scope);
    let via_ldap = sign_in_via(&idp, "alice", scope, Some("ldap"));
    let rt = |v: &Value| {
        v["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string()
    };
    let (status, body) = refresh(&idp, &rt(&first), None);
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (400, Some("invalid_request"), Some(DEX_REFRESH_INVALID)),
        "the second sign-in of alice through the same client deleted the first refresh token"
    );
    for (who, tokens) in [
        ("alice (newest)", &second),
        ("alice via ldap", &via_ldap),
        ("carol", &carol),
    ] {
        let (status, body) = refresh(&idp, &rt(tokens), None);
        assert_eq!(status, 200, "{who}: {body}");
    }
    let (local, ldap) = (
        jwt_part(second["id_token"].as_str().expect("id_token"), 1),
        jwt_part(via_ldap["id_token"].as_str().expect("id_token"), 1),
    );
    assert_ne!(
        local["sub"], ldap["sub"],
        "the connector is part of Dex's sub"
    );
    assert_eq!(ldap["email"], "alice@example.com");

    // 4. connector_id: a known one is used (counted), an unknown one is Dex's 400 error page.
    let stats = idp.stats();
    assert_eq!(stats.connector_ids.get("ldap"), Some(&1), "{stats:?}");
    let unknown = auth_request_via(&iss, "openid", Some("github"));
    let response = FormBrowser::new(None).login(&unknown.url, "alice", PASSWORD);
    match response {
        Err(BrowserError::Status {
            status: 400, body, ..
        }) => assert!(
            body.contains("Connector ID does not match a valid Connector"),
            "{body}"
        ),
        other => panic!("an unknown connector_id must be Dex's 400 page, got {other:?}"),
    }

    // 5. Device flow: Dex's interval 5, and slow_down (interval + 5) for a poll before it has passed.
    let started: Value = idp
        .http()
        .post(format!("{iss}/device/code"))
        .form(&[("client_id", CLIENT_ID), ("scope", "openid")])
        .send()
        .expect("POST /device/code")
        .json()
        .expect("JSON");
    assert_eq!(started["interval"], 5);
    let grant = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", CLIENT_ID),
        (
            "device_code",
            started["device_code"].as_str().expect("device_code"),
        ),
    ];
    let (_, first_poll) = post_token(idp.http(), &iss, &grant);
    let (_, second_poll) = post_token(idp.http(), &iss, &grant);
    assert_eq!(
        (first_poll["error"].as_str(), second_poll["error"].as_str()),
        (Some("authorization_pending"), Some("slow_down"))
    );
    assert_eq!(idp.stats().slow_downs, 1);

    // 6. azp: set whenever a cross-client audience is asked for, even the client's own (one aud).
    let own = sign_in(
        &idp,
        "carol",
        &format!("openid {}", audience_scope(CLIENT_ID)),
    );
    let claims = jwt_part(own["id_token"].as_str().expect("id_token"), 1);
    assert_eq!(
        (claims["aud"].as_str(), claims["azp"].as_str()),
        (Some(CLIENT_ID), Some(CLIENT_ID))
    );

    // 7. /keys requests are counted (the fault above included).
    let before = idp.stats().keys_requests;
    get_json(idp.http(), &format!("{iss}/keys"));
    assert_eq!(idp.stats().keys_requests, before + 1);
}
