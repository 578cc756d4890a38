//! OpenID Connect against Dex (or any OIDC provider), with the `openidconnect` crate.
//!
//! This module owns the protocol: discovery, the authorization-code flow with PKCE (S256), `state` and
//! `nonce`, the device grant (RFC 8628), refresh (optionally with narrowed scopes, which Dex allows but
//! never widens), revocation when discovery offers it, and ID-token verification. It stores nothing: the
//! caller ([`crate::session`]) decides what to keep and where.
//!
//! Dex facts it relies on (see `reference/dex-kubernetes-protocols.md` A.6 and A.8):
//! - a client asks for a peer's audience with the scope `audience:server:client_id:<peer>`; the ID token
//!   then carries `aud = [peer…, client_id]` and `azp = client_id`;
//! - a dead refresh token is answered with HTTP 400 (`invalid_request` mostly, `invalid_grant` sometimes);
//!   an upstream connector failure with HTTP 500.
//!
//! Here: discovery, the authorization-code flow and refresh. Beside it: `verify` (the ID-token checks),
//! `device` (RFC 8628), `revoke` (RFC 7009), `loopback` (the redirect listener) and `opener` (the browser).

mod device;
pub mod loopback;
pub mod opener;
mod revoke;
#[cfg(test)]
mod tests;
mod verify;

pub use device::{DEVICE_MAX_LIFETIME, DeviceCancel};
use verify::constant_time_eq;
pub use verify::{
    CLOCK_SKEW, check_cached_audience, check_same_subject, check_times, verify_id_token,
};

use std::cell::Cell;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse,
    CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthType, AuthorizationCode, Client, ClientId,
    ClientSecret, CsrfToken, DeviceAuthorizationUrl, EmptyExtraTokenFields, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IdToken, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl, RefreshToken,
    RequestTokenError, RevocationUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{BASE_SCOPES, ProviderConfig};
use crate::http::{HttpClient, HttpError, HttpOptions};
use crate::secret::Secret;

/// Dex's discovery fields that the core metadata type does not model.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct DexMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<RevocationUrl>,
}
impl AdditionalProviderMetadata for DexMetadata {}

/// Discovery document as Signet reads it.
pub type DexProviderMetadata = ProviderMetadata<
    DexMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Dex's `groups` claim (a list; a lone string is accepted as one group).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct DexClaims {
    #[serde(default, deserialize_with = "string_or_list")]
    pub groups: Vec<String>,
    /// JWT `nbf` (RFC 7519 §4.1.5), seconds since the epoch; openidconnect does not check it.
    #[serde(default)]
    pub nbf: Option<i64>,
}
impl AdditionalClaims for DexClaims {}

fn string_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

type DexIdTokenFields = IdTokenFields<
    DexClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type DexTokenResponse = StandardTokenResponse<DexIdTokenFields, CoreTokenType>;
type DexIdToken =
    IdToken<DexClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type DexClient<HasDevice = EndpointNotSet, HasRevocation = EndpointNotSet> = Client<
    DexClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    DexTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    HasDevice,
    EndpointNotSet,
    HasRevocation,
    EndpointSet,
    EndpointNotSet,
>;

/// Who signed in, as the verified ID token says. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub audiences: Vec<String>,
}

/// The result of a sign-in or a refresh.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub id_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub identity: Identity,
}

/// What the person must do to finish a device sign-in.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// An authorization request waiting for its redirect. Holds the PKCE verifier, `state` and `nonce`
/// (their `Debug` is redacted by the `openidconnect` types).
#[derive(Debug)]
pub struct PendingLogin {
    pub url: Url,
    redirect: RedirectUrl,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    audiences: Vec<String>,
}

impl PendingLogin {
    /// The `state` the redirect must carry (RFC 6749 §10.12): the loopback listener ignores any other.
    pub fn state(&self) -> &str {
        self.state.secret()
    }
}

/// Why a protocol step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    #[error("discovery for '{issuer}' failed: {detail}")]
    Discovery { issuer: String, detail: String },
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The token endpoint refused (4xx): for a refresh this means the session is over.
    #[error("the identity provider refused the request (HTTP {status}, {error}{})", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// The identity provider failed (5xx); Dex answers 500 when the upstream connector refused.
    #[error("the identity provider failed (HTTP {status}{})", error.as_deref().map(|e| format!(", {e}")).unwrap_or_default())]
    ServerError { status: u16, error: Option<String> },
    #[error("the identity provider sent an unusable answer: {0}")]
    BadResponse(String),
    #[error("the ID token was rejected: {0}")]
    InvalidIdToken(String),
    /// The ID token's `iat` or `nbf` is ahead of this computer's clock by more than [`CLOCK_SKEW`].
    #[error(
        "the ID token {detail}: this computer's clock or the identity provider's is wrong — check with `kubectl signet doctor` (it compares the clocks), fix the clock, then sign in again"
    )]
    ClockSkew { detail: String },
    /// A refresh answered for another subject than the session's: the session was ended.
    #[error(
        "the identity provider answered the refresh as someone else (the token's subject changed), so the session was ended; sign in again"
    )]
    SubjectChanged,
    #[error(
        "the sign-in answer does not belong to this sign-in (state mismatch); start the sign-in again"
    )]
    StateMismatch,
    /// The provider sent `error=` to the redirect URI.
    /// Both are the IdP's text: shown with control characters escaped.
    #[error(
        "the identity provider said '{}'{}",
        crate::text::printable(error),
        description.as_deref().map(|d| format!(": {}", crate::text::printable(d))).unwrap_or_default()
    )]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error(
        "'{issuer}' does not offer the device grant (no device_authorization_endpoint); use browser sign-in"
    )]
    DeviceUnsupported { issuer: String },
    #[error("the device code expired before the sign-in was approved; run the sign-in again")]
    DeviceExpired,
    #[error("the sign-in was denied at the identity provider")]
    AccessDenied,
    /// The device sign-in was cancelled on this computer before it was approved.
    #[error("the device sign-in was cancelled")]
    DeviceCancelled,
    #[error("the sign-in did not finish within {0:?}; run it again")]
    LoginTimeout(Duration),
    #[error("could not open the browser: {0}")]
    Browser(String),
    #[error("the loopback listener for the sign-in redirect failed: {0}")]
    Listener(#[source] std::io::Error),
}

impl OidcError {
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::Discovery { .. } => "oidc.discovery_failed",
            OidcError::Http(HttpError::Tls { .. }) => "oidc.tls_failed",
            OidcError::Http(HttpError::Timeout { .. }) => "oidc.timeout",
            OidcError::Http(_) => "oidc.unreachable",
            OidcError::Rejected { .. } => "oidc.rejected",
            OidcError::ServerError { .. } => "oidc.server_error",
            OidcError::BadResponse(_) => "oidc.bad_response",
            OidcError::InvalidIdToken(_) => "oidc.invalid_id_token",
            OidcError::ClockSkew { .. } => "oidc.clock_skew",
            OidcError::SubjectChanged => "oidc.subject_changed",
            OidcError::StateMismatch => "oidc.state_mismatch",
            OidcError::Refused { .. } => "oidc.refused",
            OidcError::DeviceUnsupported { .. } => "oidc.device_unsupported",
            OidcError::DeviceExpired => "oidc.device_expired",
            OidcError::AccessDenied => "oidc.access_denied",
            OidcError::DeviceCancelled => "oidc.device_cancelled",
            OidcError::LoginTimeout(_) => "oidc.login_timeout",
            OidcError::Browser(_) => "oidc.browser_failed",
            OidcError::Listener(_) => "oidc.listener_failed",
        }
    }

    /// Whether trying again later may succeed without a new sign-in (network trouble).
    pub fn is_transient(&self) -> bool {
        matches!(self, OidcError::Http(_) | OidcError::Discovery { .. })
    }
}

/// One provider after discovery: the client, its HTTP client and the cached JWKS.
#[derive(Debug)]
pub struct OidcProvider {
    config: ProviderConfig,
    http: HttpClient,
    metadata: DexProviderMetadata,
    jwks: Mutex<CoreJsonWebKeySet>,
}

impl OidcProvider {
    /// Fetches discovery and the JWKS. The discovery `issuer` must equal the configured issuer exactly.
    pub fn discover(
        config: &ProviderConfig,
        mut options: HttpOptions,
    ) -> Result<OidcProvider, OidcError> {
        let discovery_err = |detail: String| OidcError::Discovery {
            issuer: config.issuer.clone(),
            detail,
        };
        if options.ca_pem.is_none() {
            options.ca_pem = config
                .ca_pem()
                .map_err(|e| discovery_err(format!("cannot read the provider's CA: {e}")))?;
        }
        let http = HttpClient::new(options)?;
        let issuer =
            IssuerUrl::new(config.issuer.clone()).map_err(|e| discovery_err(e.to_string()))?;
        let metadata = DexProviderMetadata::discover(&issuer, &http).map_err(|e| match e {
            openidconnect::DiscoveryError::Request(http_err) => OidcError::Http(http_err),
            openidconnect::DiscoveryError::Response(status, _, _) => {
                discovery_err(format!("HTTP {status} from the discovery or JWKS endpoint"))
            }
            openidconnect::DiscoveryError::Parse(e) => {
                discovery_err(format!("unreadable document: {e}"))
            }
            openidconnect::DiscoveryError::Validation(e) => discovery_err(e),
            other => discovery_err(other.to_string()),
        })?;
        check_endpoints(&metadata)?;
        let jwks = Mutex::new(metadata.jwks().clone());
        tracing::debug!(provider = %config.name, "discovery done");
        Ok(OidcProvider {
            config: config.clone(),
            http,
            metadata,
            jwks,
        })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    pub fn metadata(&self) -> &DexProviderMetadata {
        &self.metadata
    }

    /// Whether discovery lists a revocation endpoint (Dex does not; see dexidp/dex#1778).
    pub fn can_revoke(&self) -> bool {
        self.metadata
            .additional_metadata()
            .revocation_endpoint
            .is_some()
    }

    /// The scopes of a sign-in (DESIGN.md §5.1): `openid email offline_access`, the provider's scopes,
    /// and `audience:server:client_id:<a>` for every audience other than our own client id.
    pub fn scopes(&self, audiences: &[String]) -> Vec<String> {
        let mut scopes: Vec<String> = BASE_SCOPES.iter().map(|s| s.to_string()).collect();
        for s in &self.config.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        for a in audiences {
            let scope = format!("audience:server:client_id:{a}");
            if a != &self.config.client_id && !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes
    }

    fn client(&self) -> DexClient {
        let jwks = self
            .jwks
            .lock()
            .map(|j| j.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let mut client = Client::new(
            ClientId::new(self.config.client_id.clone()),
            self.metadata.issuer().clone(),
            jwks,
        )
        .set_auth_uri(self.metadata.authorization_endpoint().clone())
        .set_token_uri(
            self.metadata
                .token_endpoint()
                .cloned()
                .unwrap_or_else(|| fallback_token_url(self.metadata.issuer())),
        );
        match &self.config.client_secret {
            Some(secret) => {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
            }
            None => client = client.set_auth_type(AuthType::RequestBody),
        }
        client
    }

    /// Builds the authorization URL for a redirect to `redirect_uri` (a loopback URL or the embedded
    /// webview's intercepted URL).
    pub fn begin_login(
        &self,
        redirect_uri: &Url,
        audiences: &[String],
    ) -> Result<PendingLogin, OidcError> {
        let redirect = RedirectUrl::from_url(redirect_uri.clone());
        let client = self.client().set_redirect_uri(redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.scopes(audiences).into_iter().filter(|s| s != "openid") {
            request = request.add_scope(Scope::new(scope));
        }
        if let Some(connector) = &self.config.connector {
            request = request.add_extra_param("connector_id", connector.clone());
        }
        let (url, state, nonce) = request.url();
        Ok(PendingLogin {
            url,
            redirect,
            state,
            nonce,
            verifier,
            audiences: audiences.to_vec(),
        })
    }

    /// Finishes a sign-in from the URL the provider redirected to: checks `error=` and `state`, redeems the
    /// code with the PKCE verifier, and verifies the ID token (with the nonce).
    pub fn finish_login(
        &self,
        pending: PendingLogin,
        redirected_to: &Url,
    ) -> Result<TokenSet, OidcError> {
        let code = code_from_redirect(redirected_to, pending.state.secret())?;
        let client = self.client().set_redirect_uri(pending.redirect.clone());
        let status = Cell::new(0u16);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(pending.verifier)
            .request(&self.recording(&status))
            .map_err(|e| token_error(e, status.get()))?;
        self.token_set(&response, Some(&pending.nonce), &pending.audiences, None)
    }

    /// Redeems a refresh token. `scopes` narrows the grant (Dex allows narrowing, never widening); `None`
    /// keeps the original scopes. `audiences` are the `aud` values the new ID token may carry.
    pub fn refresh(
        &self,
        refresh_token: &Secret,
        scopes: Option<&[String]>,
        audiences: &[String],
    ) -> Result<TokenSet, OidcError> {
        let client = self.client();
        let token = RefreshToken::new(refresh_token.expose().to_string());
        let status = Cell::new(0u16);
        let mut request = client.exchange_refresh_token(&token);
        if let Some(scopes) = scopes {
            request = request.add_scopes(scopes.iter().cloned().map(Scope::new));
        }
        let response = request
            .request(&self.recording(&status))
            .map_err(|e| token_error(e, status.get()))?;
        // Dex may keep the refresh token when rotation is off: keep the old one then.
        self.token_set(&response, None, audiences, Some(refresh_token))
    }

    /// An HTTP client that remembers the status of the last answer (openidconnect drops it, and Dex's
    /// 400-vs-500 distinction decides between "sign in again" and "retry").
    fn recording<'a>(
        &'a self,
        status: &'a Cell<u16>,
    ) -> impl Fn(HttpRequest) -> Result<HttpResponse, HttpError> + 'a {
        move |request| {
            let response = self.http.send(request)?;
            status.set(response.status().as_u16());
            Ok(response)
        }
    }
}

fn token_error(
    e: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
    status: u16,
) -> OidcError {
    match e {
        RequestTokenError::Request(h) => OidcError::Http(h),
        RequestTokenError::ServerResponse(r) if status >= 500 => OidcError::ServerError {
            status,
            error: Some(r.error().as_ref().to_string()),
        },
        RequestTokenError::ServerResponse(r) => OidcError::Rejected {
            status,
            error: r.error().as_ref().to_string(),
            description: r.error_description().cloned(),
        },
        // The body is not shown: it might hold a token.
        RequestTokenError::Parse(_, _) if status >= 500 => OidcError::ServerError {
            status,
            error: None,
        },
        RequestTokenError::Parse(e, _) => {
            OidcError::BadResponse(format!("HTTP {status}, unreadable body at {}", e.path()))
        }
        RequestTokenError::Other(s) if status >= 500 => OidcError::ServerError {
            status,
            error: Some(s),
        },
        RequestTokenError::Other(s) => OidcError::BadResponse(s),
    }
}

fn fallback_token_url(issuer: &IssuerUrl) -> openidconnect::TokenUrl {
    // Discovery without a token endpoint is not a usable provider; Dex always lists `{issuer}/token`.
    openidconnect::TokenUrl::new(format!("{}/token", issuer.as_str().trim_end_matches('/')))
        .unwrap_or_else(|_| openidconnect::TokenUrl::from_url(issuer.url().clone()))
}

/// The authorization code of a redirect. The `state` is checked first (RFC 6749 §10.12): an `error=`
/// reply counts only when it carries the state of this sign-in, so a forged redirect cannot end it.
fn code_from_redirect(redirected_to: &Url, state: &str) -> Result<String, OidcError> {
    let query = |name: &str| {
        redirected_to
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let carried = query("state").unwrap_or_default();
    if !constant_time_eq(carried.as_bytes(), state.as_bytes()) {
        return Err(OidcError::StateMismatch);
    }
    if let Some(error) = query("error") {
        return Err(OidcError::Refused {
            error,
            description: query("error_description"),
        });
    }
    query("code").ok_or_else(|| OidcError::BadResponse("the redirect carries no code".into()))
}

/// Every endpoint discovery names must be https, or http on a loopback address, like the issuer
/// (DESIGN.md §6): otherwise a code, a refresh token or a client secret could travel in clear text. The
/// provider is refused as a whole, before any token is sent. (The JWKS has been fetched by then — it
/// holds only public keys, and a refused provider's keys are never used.)
fn check_endpoints(metadata: &DexProviderMetadata) -> Result<(), OidcError> {
    let extra = metadata.additional_metadata();
    let endpoints: [(&str, Option<&Url>); 6] = [
        (
            "authorization_endpoint",
            Some(metadata.authorization_endpoint().url()),
        ),
        ("token_endpoint", metadata.token_endpoint().map(|u| u.url())),
        ("jwks_uri", Some(metadata.jwks_uri().url())),
        (
            "userinfo_endpoint",
            metadata.userinfo_endpoint().map(|u| u.url()),
        ),
        (
            "device_authorization_endpoint",
            extra
                .device_authorization_endpoint
                .as_ref()
                .map(|u| u.url()),
        ),
        (
            "revocation_endpoint",
            extra.revocation_endpoint.as_ref().map(|u| u.url()),
        ),
    ];
    for (name, url) in endpoints {
        if let Some(url) = url
            && !crate::config::is_secure_or_loopback(url)
        {
            return Err(OidcError::Discovery {
                issuer: metadata.issuer().to_string(),
                detail: format!(
                    "its {name} '{url}' must use https (plain http only on a loopback address); Signet sends no code or token there — fix the identity provider's issuer/URL settings"
                ),
            });
        }
    }
    Ok(())
}
