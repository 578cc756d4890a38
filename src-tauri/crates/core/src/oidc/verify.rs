//! ID-token verification: signature (asymmetric algorithms only), `iss`, `aud`, `azp`, `exp`, `nonce`,
//! and the clock checks on `iat` / `nbf`; plus the checks a cached or refreshed token must pass. Must not
//! accept a token it could not verify.

use chrono::{DateTime, Utc};
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{
    ClientId, IdTokenVerifier, IssuerUrl, Nonce, OAuth2TokenResponse as _, TokenResponse as _,
};

use super::{DexIdToken, DexTokenResponse, Identity, OidcError, OidcProvider, TokenSet};
use crate::secret::Secret;

/// Signature algorithms Signet accepts: asymmetric only. `none` and HMAC (whose "key" a public client
/// would have to know) are refused.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

impl OidcProvider {
    pub(super) fn token_set(
        &self,
        response: &DexTokenResponse,
        nonce: Option<&Nonce>,
        audiences: &[String],
        previous_refresh: Option<&Secret>,
    ) -> Result<TokenSet, OidcError> {
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::BadResponse("the token response has no id_token".into()))?;
        let (identity, expires_at, issued_at) = self.verify(id_token, nonce, audiences)?;
        Ok(TokenSet {
            id_token: Secret::new(id_token.to_string()),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone()))
                .or_else(|| previous_refresh.cloned()),
            expires_at,
            issued_at,
            identity,
        })
    }

    /// Verifies signature (refetching the JWKS once on an unknown key), `iss`, `aud`, `azp`, `exp` and,
    /// on sign-in, `nonce`.
    fn verify(
        &self,
        token: &DexIdToken,
        nonce: Option<&Nonce>,
        audiences: &[String],
    ) -> Result<(Identity, DateTime<Utc>, DateTime<Utc>), OidcError> {
        let jwks = self
            .jwks
            .lock()
            .map(|j| j.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        match self.verify_with(token, nonce, audiences, jwks) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                tracing::info!(provider = %self.config.name, "ID token signed by an unknown key; refetching the JWKS once");
                let fresh = CoreJsonWebKeySet::fetch(self.metadata.jwks_uri(), &self.http).map_err(|e| match e {
                    openidconnect::DiscoveryError::Request(h) => OidcError::Http(h),
                    other => OidcError::BadResponse(format!("JWKS: {other}")),
                })?;
                if let Ok(mut cached) = self.jwks.lock() {
                    *cached = fresh.clone();
                }
                self.verify_with(token, nonce, audiences, fresh)
            }
            other => other,
        }
        .map_err(|e| OidcError::InvalidIdToken(describe_claims_error(&e)))
        .and_then(|verified| check_verified(token, verified, &self.config.client_id))
    }

    fn verify_with(
        &self,
        token: &DexIdToken,
        nonce: Option<&Nonce>,
        audiences: &[String],
        jwks: CoreJsonWebKeySet,
    ) -> Result<Verified, openidconnect::ClaimsVerificationError> {
        verify_claims(
            token,
            &self.config.client_id,
            self.metadata.issuer(),
            jwks,
            nonce,
            audiences,
        )
    }
}

fn verify_claims(
    token: &DexIdToken,
    client_id: &str,
    issuer: &IssuerUrl,
    jwks: CoreJsonWebKeySet,
    nonce: Option<&Nonce>,
    audiences: &[String],
) -> Result<Verified, openidconnect::ClaimsVerificationError> {
    let allowed: Vec<String> = audiences.to_vec();
    let verifier: IdTokenVerifier<'_, CoreJsonWebKey> = IdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        issuer.clone(),
        jwks,
    )
    .set_allowed_algs(ALLOWED_ALGS)
    .set_other_audience_verifier_fn(move |aud| allowed.iter().any(|a| a == aud.as_str()));
    let claims = match nonce {
        Some(nonce) => token.claims(&verifier, nonce)?,
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(()))?,
    };
    let identity = Identity {
        subject: claims.subject().to_string(),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified(),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
        groups: claims.additional_claims().groups.clone(),
        audiences: claims.audiences().iter().map(|a| a.to_string()).collect(),
    };
    let nbf = claims
        .additional_claims()
        .nbf
        .and_then(|n| DateTime::from_timestamp(n, 0));
    Ok((identity, claims.expiration(), claims.issue_time(), nbf))
}

/// The checks after the signature and standard claims: `azp` and the clock (`iat`, `nbf`).
fn check_verified(
    token: &DexIdToken,
    (identity, exp, iat, nbf): Verified,
    client_id: &str,
) -> Result<(Identity, DateTime<Utc>, DateTime<Utc>), OidcError> {
    check_azp(
        token_azp(token).as_deref(),
        identity.audiences.len(),
        client_id,
    )?;
    check_times(iat, nbf, Utc::now())?;
    Ok((identity, exp, iat))
}

/// Verifies a raw ID token as a sign-in does — signature against `jwks`, `iss`, `aud`, `azp`, `exp`,
/// `iat`/`nbf` and, when given, the nonce — without a provider or the network (no JWKS refetch on an
/// unknown key). Public for the property tests (`tests/properties.rs`), which feed it random and mutated
/// tokens; Signet itself verifies through [`OidcProvider`].
#[doc(hidden)]
pub fn verify_id_token(
    raw: &str,
    client_id: &str,
    issuer: &IssuerUrl,
    jwks: CoreJsonWebKeySet,
    nonce: Option<&Nonce>,
    audiences: &[String],
) -> Result<Identity, OidcError> {
    // The parse error is not shown: it could quote the token.
    let token: DexIdToken = raw
        .parse()
        .map_err(|_| OidcError::InvalidIdToken("it is not a signed JWT".into()))?;
    let verified = verify_claims(&token, client_id, issuer, jwks, nonce, audiences)
        .map_err(|e| OidcError::InvalidIdToken(describe_claims_error(&e)))?;
    check_verified(&token, verified, client_id).map(|(identity, _, _)| identity)
}

/// What a verified ID token yields: who, `exp`, `iat` and `nbf`.
type Verified = (
    Identity,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// openidconnect leaves `azp` to us (OIDC Core §3.1.3.7, steps 4–5): when present it must name this client,
/// and a token with several audiences must carry it. Dex sets `azp` to the requesting client whenever a
/// cross-client audience was asked for.
pub(super) fn check_azp(
    azp: Option<&str>,
    audiences: usize,
    client_id: &str,
) -> Result<(), OidcError> {
    match azp {
        Some(azp) if azp != client_id => Err(OidcError::InvalidIdToken(format!(
            "wrong authorized party (its azp is not this client '{client_id}')"
        ))),
        None if audiences > 1 => Err(OidcError::InvalidIdToken(
            "the token has several audiences but no azp (authorized party)".into(),
        )),
        _ => Ok(()),
    }
}

fn token_azp(token: &DexIdToken) -> Option<String> {
    // The claims were verified just before; read `azp` without re-verifying.
    token
        .clone()
        .into_claims(
            &IdTokenVerifier::<CoreJsonWebKey>::new_insecure_without_verification(),
            |_: Option<&Nonce>| Ok(()),
        )
        .ok()
        .and_then(|c| c.authorized_party().map(|a| a.to_string()))
}

fn describe_claims_error(e: &openidconnect::ClaimsVerificationError) -> String {
    use openidconnect::ClaimsVerificationError as C;
    match e {
        C::SignatureVerification(s) => format!("bad signature ({s})"),
        C::Expired(_) => "it has expired (check this machine's clock if that seems wrong)".into(),
        C::InvalidIssuer(d) => format!("wrong issuer ({d})"),
        C::InvalidAudience(d) => format!("wrong audience ({d})"),
        C::InvalidNonce(_) => "the nonce does not match this sign-in".into(),
        other => other.to_string(),
    }
}

/// How far ahead of this computer's clock an ID token's `iat` or `nbf` may be.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// `iat` more than [`CLOCK_SKEW`] in the future, or `nbf` beyond it, means one of the clocks is wrong
/// (or the token is forged); either way it is refused with a hint that names `doctor`.
pub fn check_times(
    iat: DateTime<Utc>,
    nbf: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), OidcError> {
    let ahead = |t: DateTime<Utc>| (t - now).num_seconds();
    if iat > now + CLOCK_SKEW {
        return Err(OidcError::ClockSkew {
            detail: format!("was issued {} s in the future (iat)", ahead(iat)),
        });
    }
    if let Some(nbf) = nbf
        && nbf > now + CLOCK_SKEW
    {
        return Err(OidcError::ClockSkew {
            detail: format!("is not valid for another {} s (nbf)", ahead(nbf)),
        });
    }
    Ok(())
}

/// A token is cached for `audience` only when its `aud` holds it: an IdP that ignored the narrowing
/// scope (`audience:server:client_id:X`) is said so, and nothing is cached.
pub fn check_cached_audience(aud: &[String], audience: &str) -> Result<(), OidcError> {
    if aud.iter().any(|a| a == audience) {
        Ok(())
    } else {
        Err(OidcError::InvalidIdToken(format!(
            "it was asked for audience '{}' but its aud is [{}]: the identity provider ignored the audience scope, so nothing was cached (for Dex: list Signet's client in that client's trustedPeers)",
            crate::text::printable(audience),
            crate::text::printable(&aud.join(", "))
        )))
    }
}

/// A refresh keeps the session's subject (OIDC Core §12.2: "its sub Claim Value MUST be the same").
pub fn check_same_subject(before: &str, after: &str) -> Result<(), OidcError> {
    if constant_time_eq(before.as_bytes(), after.as_bytes()) {
        Ok(())
    } else {
        Err(OidcError::SubjectChanged)
    }
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
