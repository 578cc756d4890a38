//! The sign-in engine against the real Dex stand-in: login (auth code + PKCE through the loopback
//! listener, and the device grant), refresh and rotation, narrowed scopes, logout, and every way the
//! identity provider can fail. In-process with an in-memory secret store; the real keyring and many
//! processes are covered by `processes.rs`.

use std::sync::Arc;
use std::time::Duration;

use signet_core::clock::SystemClock;
use signet_core::http::HttpOptions;
use signet_core::oidc::OidcProvider;
use signet_core::session::{LoginMethod, Revocation};
use signet_core::token_store::{MemoryStore, SecretStore, TokenCache};
use signet_core::{Error, Signet};
use signet_tests::browser::FormBrowser;
use signet_tests::idp::{FaultEndpoint, FaultSpec, Idp, IdpOptions, PASSWORD};
use signet_tests::tls::TestCa;
use signet_tests::world::{FormOpener, TestClock, World, cluster};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(20);

fn login(
    signet: &Signet,
    world: &World,
    user: &str,
) -> Result<signet_core::token_store::SessionRecord, Error> {
    let opener = FormOpener::new(world.idp.ca(), user, PASSWORD);
    let result = signet.login(
        "corp",
        LoginMethod::Browser {
            opener: &opener,
            timeout: LOGIN_TIMEOUT,
        },
    );
    // A browser-side failure (the form, or delivering the redirect) is the test world's, not Signet's: say
    // so instead of letting it pass as the sign-in error a test may expect.
    let failures = opener.failures();
    assert!(
        failures.is_empty(),
        "the browser side of the sign-in failed: {failures:?} (Signet answered {:?})",
        result
            .as_ref()
            .map(|_| "a session")
            .map_err(|e| e.to_string())
    );
    result
}

struct Case {
    world: World,
    store: Arc<MemoryStore>,
    clock: Arc<TestClock>,
    signet: Signet,
}

fn case(opts: IdpOptions) -> Case {
    let world = World::new(Idp::start(opts));
    let store = Arc::new(MemoryStore::new());
    let clock = TestClock::new();
    let signet = world.signet(world.config(), store.clone(), clock.clone());
    Case {
        world,
        store,
        clock,
        signet,
    }
}

fn signed_in(opts: IdpOptions) -> Case {
    let c = case(opts);
    login(&c.signet, &c.world, "alice").expect("alice signs in");
    c.world.idp.reset_stats();
    c
}

#[test]
fn login_by_auth_code_with_pkce_through_the_loopback_listener() {
    let c = case(IdpOptions::default());
    let record = login(&c.signet, &c.world, "alice").expect("sign-in succeeds");
    assert_eq!(record.identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(
        record.identity.groups,
        vec!["dev", "ops"],
        "groups from the ID token"
    );
    assert!(
        record.refreshable,
        "offline_access must yield a refresh token"
    );

    let token = c
        .signet
        .cached_token("prod")
        .expect("known cluster")
        .expect("a fresh token is cached");
    assert_eq!(
        token.identity.audiences,
        vec!["kubernetes", "signet"],
        "Dex cross-client aud"
    );
    assert!(
        c.store.get("corp").expect("store").is_some(),
        "refresh token kept in the secret store"
    );
    let stats = c.world.idp.stats();
    assert_eq!(
        stats.token_requests.authorization_code, 1,
        "one code redemption: {stats:?}"
    );
}

#[test]
fn a_fresh_token_is_served_from_the_cache_without_any_request() {
    let c = signed_in(IdpOptions::default());
    for _ in 0..5 {
        c.signet.token_for("prod").expect("cached token");
    }
    assert_eq!(
        c.world.idp.stats().token_requests.total,
        0,
        "no token request while fresh"
    );
}

#[test]
fn device_flow_signs_in_after_the_code_is_approved_polling_no_faster_than_the_interval() {
    // A 1 s interval (Dex says 5) keeps the test short; polling earlier than it answers `slow_down`.
    let c = case(IdpOptions {
        device_interval: Some(1),
        ..IdpOptions::default()
    });
    let ca = c.world.idp.ca().cloned();
    let idp = &c.world.idp;
    let record = std::thread::scope(|s| {
        let approver = std::cell::RefCell::new(None);
        let show = |code: &signet_core::oidc::DeviceCode| {
            assert!(!code.user_code.is_empty(), "a user code is shown");
            assert_eq!(code.interval, Duration::from_secs(1), "the IdP's interval");
            let (uri, user_code, ca) = (
                code.verification_uri.clone(),
                code.user_code.clone(),
                ca.clone(),
            );
            *approver.borrow_mut() = Some(s.spawn(move || {
                // Approve only after three polls, so the gaps between them can be measured.
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while idp.stats().token_requests.device_code < 3 {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "Signet polled fewer than 3 times in 60 s: {:?}",
                        idp.stats()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                FormBrowser::new(ca.as_ref())
                    .approve_device(&uri, Some(&user_code), "bob", PASSWORD)
                    .expect("bob approves the device code");
            }));
        };
        let record = c.signet.login(
            "corp",
            LoginMethod::Device {
                show: &show,
                cancel: None,
            },
        );
        // Joined here, so a failed approval fails the test now with its own message.
        if let Some(approver) = approver.borrow_mut().take() {
            approver.join().expect("the approver thread");
        }
        record
    })
    .expect("device sign-in");
    assert_eq!(record.identity.email.as_deref(), Some("bob@example.com"));
    assert_eq!(record.identity.groups, vec!["viewers"]);
    let stats = c.world.idp.stats();
    assert!(stats.token_requests.device_code >= 4, "{stats:?}");
    assert_eq!(stats.slow_downs, 0, "never polled too early: {stats:?}");
    assert!(
        stats.device_poll_gaps_ms.len() >= 2
            && stats.device_poll_gaps_ms.iter().all(|&gap| gap >= 1000),
        "every poll waits the 1 s interval: {:?}",
        stats.device_poll_gaps_ms
    );
}

#[test]
fn device_flow_waits_five_seconds_longer_after_slow_down() {
    // RFC 8628 §3.5 (and Dex): after `slow_down` the interval grows by 5 s; polling sooner earns another.
    let c = case(IdpOptions {
        device_interval: Some(1),
        ..IdpOptions::default()
    });
    let idp = &c.world.idp;
    idp.force_device_slow_downs(1);
    let ca = idp.ca().cloned();
    let record = std::thread::scope(|s| {
        let approver = std::cell::RefCell::new(None);
        let show = |code: &signet_core::oidc::DeviceCode| {
            let (uri, user_code, ca) = (
                code.verification_uri.clone(),
                code.user_code.clone(),
                ca.clone(),
            );
            *approver.borrow_mut() = Some(s.spawn(move || {
                // Approve once the first poll was told to slow down; the next poll then succeeds.
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while idp.stats().slow_downs < 1 {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no slow_down within 60 s: {:?}",
                        idp.stats()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                FormBrowser::new(ca.as_ref())
                    .approve_device(&uri, Some(&user_code), "bob", PASSWORD)
                    .expect("bob approves the device code");
            }));
        };
        let record = c.signet.login(
            "corp",
            LoginMethod::Device {
                show: &show,
                cancel: None,
            },
        );
        if let Some(approver) = approver.borrow_mut().take() {
            approver.join().expect("the approver thread");
        }
        record
    })
    .expect("device sign-in");
    assert_eq!(record.identity.email.as_deref(), Some("bob@example.com"));
    let stats = c.world.idp.stats();
    assert_eq!(
        stats.slow_downs, 1,
        "the poll after slow_down waited long enough: {stats:?}"
    );
    assert!(
        !stats.device_poll_gaps_ms.is_empty()
            && stats.device_poll_gaps_ms.iter().all(|&gap| gap >= 6000),
        "after slow_down every poll waits 1 + 5 s: {:?}",
        stats.device_poll_gaps_ms
    );
}

#[test]
fn a_stale_token_is_refreshed_once_and_the_refresh_token_rotates() {
    let c = signed_in(IdpOptions::default());
    let before = c.signet.token_for("prod").expect("fresh");
    let old_refresh = c.store.get("corp").expect("store").expect("refresh token");
    c.clock.advance(3600);
    let after = c.signet.token_for("prod").expect("refreshed");
    assert!(
        after.expires_at >= before.expires_at,
        "a token at least as new"
    );
    assert_eq!(
        after.identity.audiences,
        vec!["kubernetes", "signet"],
        "aud kept on refresh"
    );
    let new_refresh = c.store.get("corp").expect("store").expect("refresh token");
    assert_ne!(
        new_refresh, old_refresh,
        "Dex-style rotation: the new refresh token is stored"
    );
    assert_eq!(c.world.idp.stats().token_requests.refresh_token, 1);

    // The rotated-out token is dead at the IdP; only the stored one works.
    let oidc = c.signet.oidc("corp").expect("discovered");
    let err = oidc
        .refresh(&old_refresh, None, &["kubernetes".into()])
        .expect_err("old refresh token");
    assert_eq!(err.code(), "oidc.rejected");
}

#[test]
fn refresh_with_narrowed_scopes_yields_a_narrower_token() {
    let c = signed_in(IdpOptions::default());
    let oidc = c.signet.oidc("corp").expect("discovered");
    let rt = c.store.get("corp").expect("store").expect("refresh token");
    let narrowed: Vec<String> = ["openid", "email", "offline_access"]
        .map(String::from)
        .to_vec();
    let tokens = oidc
        .refresh(&rt, Some(&narrowed), &[])
        .expect("narrowed refresh");
    assert_eq!(
        tokens.identity.audiences,
        vec!["signet"],
        "no peer audience without its scope"
    );
    assert!(
        tokens.identity.groups.is_empty(),
        "no groups without the groups scope"
    );
    assert_eq!(tokens.identity.email.as_deref(), Some("alice@example.com"));
}

#[test]
fn clusters_with_different_audiences_get_their_own_narrowed_tokens() {
    let world = World::new(Idp::start(IdpOptions::default()));
    let mut config = world.config();
    config.clusters.push(cluster("dev", "corp", None));
    let store = Arc::new(MemoryStore::new());
    let signet = world.signet(config, store, Arc::new(SystemClock));
    login(&signet, &world, "alice").expect("sign-in");
    let prod = signet.token_for("prod").expect("prod token");
    let dev = signet.token_for("dev").expect("dev token");
    assert_eq!(prod.identity.audiences, vec!["kubernetes", "signet"]);
    assert_eq!(
        dev.identity.audiences,
        vec!["signet"],
        "dev's API server expects the client id only"
    );
}

#[test]
fn logout_revokes_when_offered_and_forgets_everything() {
    // A generic OIDC provider with RFC 7009 revocation (Dex has none).
    let c = signed_in(IdpOptions {
        revocation: true,
        ..IdpOptions::default()
    });
    let rt = c.store.get("corp").expect("store").expect("refresh token");
    assert_eq!(
        c.signet.logout("corp").expect("logout"),
        Revocation::Revoked
    );
    assert_eq!(c.world.idp.stats().revocations, 1, "revoked at the IdP");
    assert!(
        c.store.get("corp").expect("store").is_none(),
        "refresh token deleted"
    );
    assert!(
        TokenCache::new(&c.world.paths)
            .read("corp", "kubernetes")
            .is_none(),
        "cache deleted"
    );
    let err = c.signet.token_for("prod").expect_err("no session");
    assert_eq!(err.code(), "session.sign_in_required");
    let oidc = c.signet.oidc("corp").expect("discovered");
    assert_eq!(
        oidc.refresh(&rt, None, &[]).expect_err("revoked").code(),
        "oidc.rejected"
    );
    assert_eq!(
        c.signet.logout("corp").expect("second logout"),
        Revocation::NoSession
    );
}

#[test]
fn logout_without_a_revocation_endpoint_forgets_locally_like_dex_needs() {
    // The stand-in's default, like Dex: no revocation endpoint.
    let c = signed_in(IdpOptions::default());
    assert_eq!(
        c.signet.logout("corp").expect("logout"),
        Revocation::NotOffered
    );
    assert!(c.store.get("corp").expect("store").is_none());
}

#[test]
fn a_rejected_refresh_means_sign_in_required_and_forgets_the_dead_token() {
    let c = signed_in(IdpOptions::default());
    c.world.idp.revoke("alice");
    c.clock.advance(3600);
    let err = c.signet.token_for("prod").expect_err("revoked session");
    assert_eq!(err.code(), "session.sign_in_required", "{err}");
    assert!(
        err.to_string().contains("kubectl signet login corp"),
        "says what to run: {err}"
    );
    assert!(
        c.store.get("corp").expect("store").is_none(),
        "dead refresh token forgotten"
    );
}

#[test]
fn idp_down_is_a_retryable_error_that_keeps_the_tokens() {
    let Case {
        world,
        store,
        clock,
        signet,
    } = signed_in(IdpOptions::default());
    let World { root, paths, idp } = world;
    drop(idp);
    clock.advance(3600);
    let err = signet.token_for("prod").expect_err("IdP is down");
    assert_eq!(err.code(), "session.refresh_failed", "{err}");
    assert!(err.is_transient());
    assert!(
        store.get("corp").expect("store").is_some(),
        "refresh token kept"
    );
    assert!(
        TokenCache::new(&paths).read("corp", "kubernetes").is_some(),
        "cached token kept"
    );
    drop(root);
}

#[test]
fn a_slow_idp_times_out_and_keeps_the_tokens() {
    let c = signed_in(IdpOptions::default());
    let signet = Signet::new(
        c.world.paths.clone(),
        c.world.config(),
        c.store.clone(),
        c.clock.clone(),
    )
    .with_http_options(HttpOptions {
        timeout: Duration::from_secs(1),
        ..HttpOptions::default()
    });
    c.world.idp.fault(FaultSpec::delay(
        FaultEndpoint::Token,
        Duration::from_secs(4),
        1,
    ));
    c.clock.advance(3600);
    let err = signet
        .token_for("prod")
        .expect_err("token endpoint too slow");
    assert_eq!(err.code(), "session.refresh_failed", "{err}");
    assert!(
        err.to_string().contains("did not answer within 1s"),
        "{err}"
    );
    assert!(
        c.store.get("corp").expect("store").is_some(),
        "refresh token kept"
    );
}

#[test]
fn a_500_is_retried_once_then_means_sign_in_required() {
    let c = signed_in(IdpOptions::default());
    c.clock.advance(3600);
    c.world
        .idp
        .fault(FaultSpec::status(FaultEndpoint::Token, 500, 1));
    c.signet.token_for("prod").expect("the retry succeeds");
    assert_eq!(
        c.world.idp.stats().token_requests.refresh_token,
        2,
        "one retry"
    );

    c.clock.advance(3600);
    c.world
        .idp
        .fault(FaultSpec::status(FaultEndpoint::Token, 500, 2));
    let err = c.signet.token_for("prod").expect_err("two 500s");
    assert_eq!(err.code(), "session.sign_in_required", "{err}");
    assert!(
        c.store.get("corp").expect("store").is_some(),
        "a 500 does not prove the token dead; kept"
    );
}

#[test]
fn tls_works_with_the_configured_ca_and_fails_clearly_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::generate(dir.path(), "idp");
    let c = case(IdpOptions {
        tls: Some(ca),
        ..IdpOptions::default()
    });
    assert!(c.world.idp.issuer().starts_with("https://"));
    login(&c.signet, &c.world, "alice").expect("sign-in over TLS with the CA");

    let mut config = c.world.config();
    config.providers[0].ca_file = None;
    let signet = c
        .world
        .signet(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock));
    let err = login(&signet, &c.world, "alice").expect_err("untrusted CA");
    assert_eq!(err.code(), "oidc.tls_failed", "{err}");
    assert!(
        err.to_string().contains("ca_file"),
        "says how to fix it: {err}"
    );
}

#[test]
fn an_idp_error_reply_says_what_the_idp_said() {
    let c = case(IdpOptions::default());
    let oidc = c.signet.oidc("corp").expect("discovered");
    let redirect = url::Url::parse("http://127.0.0.1:9/callback").expect("url");
    let pending = oidc
        .begin_login(&redirect, &["kubernetes".into()])
        .expect("auth url");
    let auth = pending.url.clone();
    let scope = auth
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .expect("scope")
        .1
        .into_owned();
    assert_eq!(
        scope,
        "openid email offline_access groups audience:server:client_id:kubernetes"
    );
    assert!(
        auth.query_pairs()
            .any(|(k, v)| k == "code_challenge_method" && v == "S256")
    );
    // An error reply counts only with this sign-in's state (a forged one is a state mismatch).
    let denied = url::Url::parse(&format!(
        "http://127.0.0.1:9/callback?error=access_denied&error_description=user+said+no&state={}",
        pending.state()
    ))
    .expect("url");
    let err = oidc.finish_login(pending, &denied).expect_err("denied");
    assert_eq!(err.code(), "oidc.refused");
    assert_eq!(
        err.to_string(),
        "the identity provider said 'access_denied': user said no"
    );
}

#[test]
fn discovery_with_a_mismatched_issuer_is_refused() {
    let c = case(IdpOptions::default());
    let mut config = c.world.config();
    config.providers[0].issuer = c.world.idp.issuer().replace("127.0.0.1", "localhost");
    let err = OidcProvider::discover(&config.providers[0], HttpOptions::default())
        .expect_err("issuer mismatch");
    assert_eq!(err.code(), "oidc.discovery_failed", "{err}");
}

#[test]
fn jwks_is_refetched_once_when_the_idp_rotates_its_key() {
    let c = signed_in(IdpOptions::default());
    c.signet
        .oidc("corp")
        .expect("discovered with the first key");
    c.world.idp.rotate_keys();
    c.world.idp.reset_stats();
    c.clock.advance(3600);
    c.signet
        .token_for("prod")
        .expect("token signed by the new key verifies after a JWKS refetch");
    assert_eq!(
        c.world.idp.stats().keys_requests,
        1,
        "one JWKS refetch for the unknown kid"
    );
    // The refetched keys are kept: the next token signed by the new key needs no further fetch.
    c.clock.advance(3600);
    c.signet.token_for("prod").expect("second refresh");
    let stats = c.world.idp.stats();
    assert_eq!(
        (stats.token_requests.refresh_token, stats.keys_requests),
        (2, 1),
        "refetched once, not per token: {stats:?}"
    );
}

#[test]
fn the_provider_connector_setting_reaches_the_authorization_request() {
    let world = World::new(Idp::start(IdpOptions::default()));
    let mut config = world.config();
    config.providers[0].connector = Some("ldap".into());
    let store = Arc::new(MemoryStore::new());
    let signet = world.signet(config, store.clone(), Arc::new(SystemClock));
    let record = login(&signet, &world, "alice").expect("sign-in through the ldap connector");
    let stats = world.idp.stats();
    assert_eq!(
        stats.connector_ids,
        [("ldap".to_string(), 1)].into(),
        "one /auth request, with connector_id=ldap"
    );

    // The same person through the default connector is another Dex user (the connector is in `sub`).
    let plain = world.signet(world.config(), store, Arc::new(SystemClock));
    let default = login(&plain, &world, "alice").expect("sign-in, default connector");
    assert_ne!(record.identity.subject, default.identity.subject);
    assert_eq!(
        world.idp.stats().connector_ids.get(""),
        Some(&1),
        "no connector_id without the setting"
    );
}

#[test]
fn two_providers_sharing_issuer_and_client_sign_each_other_out_and_the_message_says_why() {
    // Dex keeps one refresh token per (user, connector, client): signing in to `corp-b` deletes `corp`'s.
    let world = World::new(Idp::start(IdpOptions::default()));
    let mut config = world.config();
    let mut twin = config.providers[0].clone();
    twin.name = "corp-b".into();
    config.providers.push(twin);
    config
        .clusters
        .push(cluster("staging", "corp-b", Some("kubernetes")));
    let clock = TestClock::new();
    let signet = world.signet(config, Arc::new(MemoryStore::new()), clock.clone());
    login(&signet, &world, "alice").expect("corp signs in");
    let opener = FormOpener::new(world.idp.ca(), "alice", PASSWORD);
    signet
        .login(
            "corp-b",
            LoginMethod::Browser {
                opener: &opener,
                timeout: LOGIN_TIMEOUT,
            },
        )
        .expect("corp-b signs in");
    clock.advance(3600);
    let err = signet
        .token_for("prod")
        .expect_err("corp's refresh token was deleted by Dex");
    assert_eq!(err.code(), "session.sign_in_required", "{err}");
    let message = err.to_string();
    for part in [
        "kubectl signet login corp",
        "provider 'corp-b'",
        "same issuer and client id",
        "its own client id",
    ] {
        assert!(message.contains(part), "expected '{part}' in: {message}");
    }
    signet
        .token_for("staging")
        .expect("the newest sign-in (corp-b) still refreshes");
}

#[test]
fn a_session_whose_refresh_token_is_gone_from_the_store_is_forgotten_not_shown_as_an_error() {
    // A new or reset keyring (scripts/run.sh's throw-away one on a second run): the session record says
    // "refreshable" but the store has no refresh token. The record must go, so the tray and switcher show
    // the calm "sign-in needed" state instead of an error row.
    let c = signed_in(IdpOptions::default());
    c.store.delete("corp").expect("drop the refresh token");
    let err = c
        .signet
        .refresh("corp")
        .expect_err("nothing to refresh with");
    assert_eq!(err.code(), "session.sign_in_required", "{err}");
    let cache = TokenCache::new(&c.world.paths);
    assert!(
        cache.read_session("corp").is_none(),
        "the stale session record is forgotten"
    );
    assert!(
        c.signet
            .cached_token("prod")
            .expect("known cluster")
            .is_none(),
        "its cached tokens too"
    );
    assert_eq!(
        c.world.idp.stats().token_requests.total,
        0,
        "no request without a refresh token"
    );
}
