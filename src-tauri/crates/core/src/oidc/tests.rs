use openidconnect::core::CoreDeviceAuthorizationResponse;

use super::device::bounded_device;
use super::verify::check_azp;
use super::*;

#[test]
fn an_error_redirect_counts_only_with_the_state_of_this_sign_in() {
    let url = |q: &str| Url::parse(&format!("http://127.0.0.1:1/callback?{q}")).expect("url");
    let forged =
        code_from_redirect(&url("error=access_denied&state=wrong"), "st4te").expect_err("refused");
    assert_eq!(forged.code(), OidcError::StateMismatch.code(), "{forged}");
    let stateless = code_from_redirect(&url("error=access_denied"), "st4te").expect_err("refused");
    assert_eq!(
        stateless.code(),
        OidcError::StateMismatch.code(),
        "{stateless}"
    );
    let real = code_from_redirect(&url("error=access_denied&state=st4te"), "st4te")
        .expect_err("the IdP's own refusal");
    assert!(matches!(real, OidcError::Refused { .. }), "{real:?}");
    assert_eq!(
        code_from_redirect(&url("code=c0de&state=st4te"), "st4te").expect("code"),
        "c0de"
    );
}

fn metadata_with(endpoint: &str, url: &str) -> DexProviderMetadata {
    let mut doc = serde_json::json!({
        "issuer": "https://dex.example.com",
        "authorization_endpoint": "https://dex.example.com/auth",
        "token_endpoint": "https://dex.example.com/token",
        "jwks_uri": "https://dex.example.com/keys",
        "userinfo_endpoint": "https://dex.example.com/userinfo",
        "device_authorization_endpoint": "https://dex.example.com/device/code",
        "revocation_endpoint": "https://dex.example.com/revoke",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    doc[endpoint] = serde_json::Value::String(url.to_owned());
    serde_json::from_value(doc).expect("metadata")
}

/// Issue 12 (weak spot 4): a discovery document may not send Signet's tokens or codes to plain http.
#[test]
fn every_discovered_endpoint_must_be_https_except_on_loopback() {
    check_endpoints(&metadata_with(
        "token_endpoint",
        "https://dex.example.com/token",
    ))
    .expect("all https");
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "device_authorization_endpoint",
        "revocation_endpoint",
    ] {
        let err = check_endpoints(&metadata_with(endpoint, "http://dex.example.com/x"))
            .expect_err("plain http off loopback");
        assert_eq!(err.code(), "oidc.discovery_failed", "{endpoint}: {err}");
        assert!(
            err.to_string().contains(endpoint) && err.to_string().contains("https"),
            "{endpoint}: {err}"
        );
        check_endpoints(&metadata_with(endpoint, "http://127.0.0.1:5556/dex/x"))
            .unwrap_or_else(|e| panic!("{endpoint} on loopback is fine: {e}"));
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

/// Issue 12 (weak spot 5): `iat` more than 5 minutes ahead and `nbf` in the future are refused with a
/// message that points at the clock and `doctor`.
#[test]
fn a_token_from_the_future_is_refused_with_a_clock_skew_hint() {
    let now = at(1_000_000);
    check_times(at(1_000_000 + 120), None, now).expect("2 minutes of skew is tolerated");
    check_times(at(999_000), Some(at(999_000)), now).expect("ordinary token");
    for (iat, nbf, what) in [
        (at(1_000_000 + 600), None, "iat 10 min ahead"),
        (at(1_000_000), Some(at(1_000_000 + 600)), "nbf 10 min ahead"),
    ] {
        let err = check_times(iat, nbf, now).expect_err(what);
        assert_eq!(err.code(), "oidc.clock_skew", "{what}: {err}");
        assert!(err.to_string().contains("kubectl signet doctor"), "{err}");
    }
}

/// A token cached for audience X must carry X in `aud` (the IdP may ignore the narrowing scope).
#[test]
fn a_token_is_cached_only_for_an_audience_it_carries() {
    let aud = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    check_cached_audience(&aud(&["kubernetes", "signet"]), "kubernetes").expect("carried");
    let err = check_cached_audience(&aud(&["signet"]), "kubernetes").expect_err("missing");
    assert_eq!(err.code(), "oidc.invalid_id_token", "{err}");
    assert!(err.to_string().contains("'kubernetes'"), "{err}");
}

/// A refresh must keep the subject: another `sub` means another person (OIDC Core §12.2).
#[test]
fn a_refresh_for_another_subject_is_refused() {
    check_same_subject("alice", "alice").expect("same person");
    let err = check_same_subject("alice", "mallory").expect_err("another person");
    assert_eq!(err.code(), "oidc.subject_changed", "{err}");
    assert!(err.to_string().contains("someone else"), "{err}");
}

fn device_response(fields: serde_json::Value) -> CoreDeviceAuthorizationResponse {
    let mut doc = serde_json::json!({
        "device_code": "dev-code",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://dex.example.com/device",
        "expires_in": 300,
    });
    for (k, v) in fields.as_object().expect("object") {
        doc[k] = v.clone();
    }
    serde_json::from_value(doc).expect("device response")
}

/// Issue 12 (weak spot 6): the device grant's interval is at least 1 s (5 s when absent), its lifetime
/// at most 30 min, and its verification URLs https (http only on loopback).
#[test]
fn a_device_response_is_bounded_and_its_urls_must_be_https() {
    let bounded =
        bounded_device(device_response(serde_json::json!({"interval": 0}))).expect("bounded");
    assert_eq!(bounded.interval(), Duration::from_secs(1));
    let bounded = bounded_device(device_response(serde_json::json!({}))).expect("bounded");
    assert_eq!(
        bounded.interval(),
        Duration::from_secs(5),
        "RFC 8628 default"
    );
    let bounded =
        bounded_device(device_response(serde_json::json!({"expires_in": 86400}))).expect("bounded");
    assert_eq!(bounded.expires_in(), Duration::from_secs(30 * 60));
    bounded_device(device_response(serde_json::json!({
        "verification_uri": "http://127.0.0.1:5556/dex/device",
    })))
    .expect("loopback http is fine");
    for field in ["verification_uri", "verification_uri_complete"] {
        let err = bounded_device(device_response(serde_json::json!({
            field: "http://evil.example/device?user_code=ABCD",
        })))
        .expect_err("plain http off loopback");
        assert_eq!(err.code(), "oidc.bad_response", "{field}: {err}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

#[test]
fn constant_time_eq_compares_contents_and_length() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
}

#[test]
fn azp_must_name_this_client_when_present_and_exist_with_several_audiences() {
    assert!(check_azp(None, 1, "signet").is_ok(), "one audience, no azp");
    assert!(
        check_azp(Some("signet"), 1, "signet").is_ok(),
        "Dex's own-audience scope"
    );
    assert!(
        check_azp(Some("signet"), 2, "signet").is_ok(),
        "Dex's cross-client token"
    );
    for (azp, audiences) in [(Some("kubernetes"), 1), (Some("kubernetes"), 2), (None, 2)] {
        let err = check_azp(azp, audiences, "signet").expect_err("refused");
        assert_eq!(
            err.code(),
            "oidc.invalid_id_token",
            "{azp:?} with {audiences} audiences"
        );
    }
}

#[test]
fn groups_claim_accepts_a_string_or_a_list() {
    let one: DexClaims = serde_json::from_str(r#"{"groups":"dev"}"#).expect("string");
    let many: DexClaims = serde_json::from_str(r#"{"groups":["dev","ops"]}"#).expect("list");
    let none: DexClaims = serde_json::from_str("{}").expect("absent");
    assert_eq!(
        (one.groups, many.groups, none.groups),
        (
            vec!["dev".to_string()],
            vec!["dev".to_string(), "ops".to_string()],
            vec![]
        )
    );
}
