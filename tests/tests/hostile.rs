//! Hostile identity providers: every forged or mismatched ID token is refused, and a redirect whose
//! `state` is not ours is refused before the code is redeemed.

use std::sync::Arc;
use std::time::Duration;

use signet_core::Signet;
use signet_core::clock::SystemClock;
use signet_core::config::Config;
use signet_core::paths::Paths;
use signet_core::session::LoginMethod;
use signet_core::token_store::{MemoryStore, SecretStore};
use signet_tests::idp::{Hostile, HostileOptions};
use signet_tests::world::{FormOpener, cluster, provider};

fn login_against(
    hostile: &Hostile,
    mode: &str,
) -> (Result<(), signet_core::Error>, Arc<MemoryStore>) {
    login_for_audience(hostile, mode, None)
}

/// Signs in for a cluster that expects `audience` (`None`: Signet's own client id, so no audience scope).
fn login_for_audience(
    hostile: &Hostile,
    mode: &str,
    audience: Option<&str>,
) -> (Result<(), signet_core::Error>, Arc<MemoryStore>) {
    hostile.set_mode(mode);
    let root = tempfile::tempdir().expect("tempdir");
    let config = Config {
        providers: vec![provider("corp", hostile.issuer(), None)],
        clusters: vec![cluster("prod", "corp", audience)],
        ..Config::default()
    };
    let store = Arc::new(MemoryStore::new());
    let signet = Signet::new(
        Paths::under(root.path()),
        config,
        store.clone(),
        Arc::new(SystemClock),
    );
    let opener = FormOpener::new(None, "alice", "password");
    let result = signet
        .login(
            "corp",
            LoginMethod::Browser {
                opener: &opener,
                timeout: Duration::from_secs(10),
            },
        )
        .map(|_| ());
    let failures = opener.failures();
    assert!(
        failures.is_empty(),
        "{mode}: the browser side failed: {failures:?}"
    );
    (result, store)
}

#[test]
fn a_well_formed_token_from_the_same_server_is_accepted() {
    // Proves the hostile server is a fair test: only its forgeries fail.
    let hostile = Hostile::start(HostileOptions::default());
    let (result, store) = login_against(&hostile, "good");
    result.expect("the good mode signs in");
    assert!(store.get("corp").expect("store").is_some());
}

#[test]
fn a_dex_cross_client_token_with_azp_is_accepted() {
    // The fair counterpart of the azp forgeries below: aud = [kubernetes, signet], azp = signet.
    let hostile = Hostile::start(HostileOptions::default());
    let (result, store) = login_for_audience(&hostile, "good", Some("kubernetes"));
    result.expect("Dex's cross-client token signs in");
    assert!(store.get("corp").expect("store").is_some());
}

#[test]
fn a_missing_or_foreign_azp_and_an_unasked_audience_are_refused() {
    let hostile = Hostile::start(HostileOptions::default());
    for (mode, audience, expected) in [
        // aud = [kubernetes, signet] but no azp.
        ("no-azp", Some("kubernetes"), "no azp"),
        // azp names another client, with one audience and with Dex's two.
        ("wrong-azp", None, "wrong authorized party"),
        ("wrong-azp", Some("kubernetes"), "wrong authorized party"),
        // An audience nobody asked for next to ours.
        ("extra-aud", None, "wrong audience"),
        ("extra-aud", Some("kubernetes"), "wrong audience"),
    ] {
        let (result, store) = login_for_audience(&hostile, mode, audience);
        let err = result.expect_err(mode);
        assert_eq!(
            err.code(),
            "oidc.invalid_id_token",
            "{mode} ({audience:?}): {err}"
        );
        assert!(
            err.to_string().contains(expected),
            "{mode} ({audience:?}): expected '{expected}' in: {err}"
        );
        assert!(
            store.get("corp").expect("store").is_none(),
            "{mode} ({audience:?}): nothing stored"
        );
    }
}

#[test]
fn forged_and_mismatched_id_tokens_are_rejected() {
    let hostile = Hostile::start(HostileOptions::default());
    for (mode, expected) in [
        ("wrong-iss", "wrong issuer"),
        ("wrong-aud", "wrong audience"),
        ("expired", "expired"),
        ("bad-signature", "bad signature"),
        ("alg-none", "signature"),
        ("hs256", "signature"),
        ("nonce-mismatch", "nonce"),
        ("unknown-kid", "signature"),
    ] {
        let (result, store) = login_against(&hostile, mode);
        let err = result.expect_err(mode);
        assert_eq!(err.code(), "oidc.invalid_id_token", "{mode}: {err}");
        assert!(
            err.to_string().contains(expected),
            "{mode}: expected '{expected}' in: {err}"
        );
        assert!(
            store.get("corp").expect("store").is_none(),
            "{mode}: nothing stored"
        );
    }
}

#[test]
fn a_redirect_with_someone_elses_state_is_refused_before_redeeming_the_code() {
    let hostile = Hostile::start(HostileOptions::default());
    let before = hostile.stats().token_requests.total;
    let (result, _) = login_against(&hostile, "state-mismatch");
    // The loopback listener answers a redirect with a foreign state 400 and keeps waiting for the real
    // one (issue 12, hole 2), so this sign-in ends at its deadline, never with the forged redirect.
    assert_eq!(
        result.expect_err("state mismatch").code(),
        "oidc.login_timeout"
    );
    assert_eq!(
        hostile.stats().token_requests.total,
        before,
        "the code was never redeemed"
    );
}

/// The forgeries that apply to any grant (a refresh and a device poll carry no nonce and no state), with
/// what the refusal names.
const FORGERIES: &[(&str, &str)] = &[
    ("wrong-iss", "wrong issuer"),
    ("wrong-aud", "wrong audience"),
    ("expired", "expired"),
    ("bad-signature", "bad signature"),
    ("alg-none", "signature"),
    ("hs256", "signature"),
    ("unknown-kid", "signature"),
    ("wrong-azp", "wrong authorized party"),
    ("extra-aud", "wrong audience"),
];

/// A Signet (in-memory store) for the hostile issuer's `corp`, cluster `prod` with Signet's own audience.
fn signet_for(hostile: &Hostile, root: &tempfile::TempDir) -> (Signet, Arc<MemoryStore>) {
    let config = Config {
        providers: vec![provider("corp", hostile.issuer(), None)],
        clusters: vec![cluster("prod", "corp", None)],
        ..Config::default()
    };
    let store = Arc::new(MemoryStore::new());
    let signet = Signet::new(
        Paths::under(root.path()),
        config,
        store.clone(),
        Arc::new(SystemClock),
    );
    (signet, store)
}

#[test]
fn a_forged_id_token_in_a_refresh_answer_is_refused_and_changes_nothing() {
    let hostile = Hostile::start(HostileOptions::default());
    for &(mode, expected) in FORGERIES {
        hostile.set_mode("good");
        let root = tempfile::tempdir().expect("tempdir");
        let (signet, store) = signet_for(&hostile, &root);
        let opener = FormOpener::new(None, "alice", "password");
        signet
            .login(
                "corp",
                LoginMethod::Browser {
                    opener: &opener,
                    timeout: Duration::from_secs(10),
                },
            )
            .unwrap_or_else(|e| panic!("{mode}: the good sign-in: {e}"));
        // Fair test: a good refresh answer from the same server is accepted.
        let refreshes = hostile.stats().token_requests.refresh_token;
        signet
            .refresh("corp")
            .unwrap_or_else(|e| panic!("{mode}: a good refresh is accepted: {e}"));
        assert_eq!(
            hostile.stats().token_requests.refresh_token,
            refreshes + 1,
            "{mode}: the good refresh reached the IdP"
        );
        // Every forgery differs from the good token (a claim, the header or the signature).
        let good = signet
            .cached_token("prod")
            .expect("known cluster")
            .expect("a token is cached after the good refresh");

        hostile.set_mode(mode);
        let refreshes = hostile.stats().token_requests.refresh_token;
        let err = signet
            .refresh("corp")
            .expect_err(&format!("{mode}: a forged refresh answer is refused"));
        assert_eq!(
            hostile.stats().token_requests.refresh_token,
            refreshes + 1,
            "{mode}: the refresh reached the IdP"
        );
        assert_eq!(err.code(), "oidc.invalid_id_token", "{mode}: {err}");
        assert!(
            err.to_string().contains(expected),
            "{mode}: expected '{expected}' in: {err}"
        );
        let after = signet
            .cached_token("prod")
            .expect("known cluster")
            .expect("the good token is still cached");
        assert_eq!(
            after.id_token.expose(),
            good.id_token.expose(),
            "{mode}: the forged token was not cached"
        );
        assert_eq!(
            store
                .get("corp")
                .expect("store")
                .map(|s| s.expose().to_string()),
            Some("r-good".to_string()),
            "{mode}: the good refresh token is still the stored one (the forged answer's is not kept)"
        );
    }
}

#[test]
fn a_forged_id_token_in_a_device_sign_in_is_refused_and_nothing_is_stored() {
    let hostile = Hostile::start(HostileOptions::default());
    let device_login = |mode: &str| {
        hostile.set_mode(mode);
        let root = tempfile::tempdir().expect("tempdir");
        let (signet, store) = signet_for(&hostile, &root);
        let shown = std::cell::Cell::new(false);
        let show = |code: &signet_core::oidc::DeviceCode| {
            assert_eq!(code.user_code, "HOST-ILE1");
            shown.set(true);
        };
        let result = signet.login(
            "corp",
            LoginMethod::Device {
                show: &show,
                cancel: None,
            },
        );
        assert!(shown.get(), "{mode}: the code was shown");
        let cached = signet.cached_token("prod").expect("known cluster");
        (result.map(|_| ()), store, cached)
    };

    // Fair test: the same server's good device answer signs in.
    let (result, store, cached) = device_login("good");
    result.expect("the good device sign-in");
    assert!(store.get("corp").expect("store").is_some());
    assert!(cached.is_some(), "the good token is cached");

    for &(mode, expected) in FORGERIES {
        let polls = hostile.stats().token_requests.device_code;
        let (result, store, cached) = device_login(mode);
        assert!(
            hostile.stats().token_requests.device_code > polls,
            "{mode}: the device grant reached the IdP"
        );
        let err = result.expect_err(mode);
        assert_eq!(err.code(), "oidc.invalid_id_token", "{mode}: {err}");
        assert!(
            err.to_string().contains(expected),
            "{mode}: expected '{expected}' in: {err}"
        );
        assert!(
            store.get("corp").expect("store").is_none(),
            "{mode}: no refresh token stored"
        );
        assert!(cached.is_none(), "{mode}: no token cached");
    }
}
