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

pub mod loopback;
pub mod opener;

use std::cell::Cell;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreDeviceAuthorizationResponse, CoreErrorResponseType, CoreGenderClaim,
    CoreGrantType, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthType, AuthorizationCode, Client, ClientId,
    ClientSecret, CsrfToken, DeviceAuthorizationUrl, EmptyExtraTokenFields, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IdToken, IdTokenFields, IdTokenVerifier, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl,
    RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
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

    /// Starts the device grant (RFC 8628).
    pub fn begin_device(
        &self,
        audiences: &[String],
    ) -> Result<(DeviceCode, CoreDeviceAuthorizationResponse), OidcError> {
        let url = self.device_url()?;
        let client = self.client().set_device_authorization_url(url);
        let status = Cell::new(0u16);
        let mut request = client.exchange_device_code();
        for scope in self.scopes(audiences) {
            request = request.add_scope(Scope::new(scope));
        }
        let details: CoreDeviceAuthorizationResponse = request
            .request(&self.recording(&status))
            .map_err(|e| match e {
                RequestTokenError::Request(h) => OidcError::Http(h),
                RequestTokenError::ServerResponse(r) => OidcError::Rejected {
                    status: status.get(),
                    error: r.error().as_ref().to_string(),
                    description: r.error_description().cloned(),
                },
                other => OidcError::BadResponse(other.to_string()),
            })?;
        let details = bounded_device(details)?;
        let code = DeviceCode {
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().to_string()),
            user_code: details.user_code().secret().to_string(),
            expires_in: details.expires_in(),
            interval: details.interval(),
        };
        Ok((code, details))
    }

    /// Polls the token endpoint until the device sign-in is approved, denied or expired, honouring
    /// `interval` and `slow_down` (each `slow_down` adds 5 s, RFC 8628 §3.5).
    pub fn finish_device(
        &self,
        details: &CoreDeviceAuthorizationResponse,
        audiences: &[String],
        sleep: impl Fn(Duration),
    ) -> Result<TokenSet, OidcError> {
        let client = self
            .client()
            .set_device_authorization_url(self.device_url()?);
        let status = Cell::new(0u16);
        let response: DexTokenResponse = client
            .exchange_device_access_token(details)
            .request(&self.recording(&status), sleep, None)
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => match r.error() {
                    openidconnect::DeviceCodeErrorResponseType::ExpiredToken => {
                        OidcError::DeviceExpired
                    }
                    openidconnect::DeviceCodeErrorResponseType::AccessDenied => {
                        OidcError::AccessDenied
                    }
                    other => OidcError::Rejected {
                        status: status.get(),
                        error: other.as_ref().to_string(),
                        description: r.error_description().cloned(),
                    },
                },
                RequestTokenError::Request(h) => OidcError::Http(h),
                other => OidcError::BadResponse(other.to_string()),
            })?;
        self.token_set(&response, None, audiences, None)
    }

    /// Revokes a refresh token (RFC 7009) when discovery lists a revocation endpoint; returns whether it did.
    ///
    /// Sent by hand rather than through `openidconnect`, which refuses a plain-http revocation URL even on
    /// loopback, where the config allows http issuers.
    pub fn revoke(&self, refresh_token: &Secret) -> Result<bool, OidcError> {
        let Some(url) = self
            .metadata
            .additional_metadata()
            .revocation_endpoint
            .clone()
        else {
            return Ok(false);
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", refresh_token.expose())
            .append_pair("token_type_hint", "refresh_token")
            .append_pair("client_id", &self.config.client_id);
        if let Some(secret) = &self.config.client_secret {
            form.append_pair("client_secret", secret.expose());
        }
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(form.finish().into_bytes())
            .map_err(|e| OidcError::BadResponse(e.to_string()))?;
        let response = self.http.send(request)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(true),
            500.. => Err(OidcError::ServerError {
                status,
                error: None,
            }),
            _ => {
                let body: serde_json::Value =
                    serde_json::from_slice(response.body()).unwrap_or_default();
                Err(OidcError::Rejected {
                    status,
                    error: body["error"].as_str().unwrap_or("unknown").to_string(),
                    description: body["error_description"].as_str().map(String::from),
                })
            }
        }
    }

    fn device_url(&self) -> Result<DeviceAuthorizationUrl, OidcError> {
        self.metadata
            .additional_metadata()
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| OidcError::DeviceUnsupported {
                issuer: self.config.issuer.clone(),
            })
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

    fn token_set(
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

/// Checks a token's signature (against `jwks`), `iss`, `aud` and `exp` and, when given, its `nonce`, and
/// reads who it names. `audiences` are the `aud` values allowed beside `client_id`.
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
fn check_azp(azp: Option<&str>, audiences: usize, client_id: &str) -> Result<(), OidcError> {
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

/// The longest a device sign-in may wait for approval, whatever `expires_in` the provider sent.
pub const DEVICE_MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The device authorization response with Signet's bounds (RFC 8628 §3.2, §3.5): polling at least every
/// 1 s apart (5 s when the provider sends no `interval`), waiting at most [`DEVICE_MAX_LIFETIME`], and
/// verification URLs that are https (http only on loopback) — they are shown and opened for the person.
fn bounded_device(
    details: CoreDeviceAuthorizationResponse,
) -> Result<CoreDeviceAuthorizationResponse, OidcError> {
    let bad = |e: serde_json::Error| OidcError::BadResponse(format!("device authorization: {e}"));
    let mut doc = serde_json::to_value(&details).map_err(bad)?;
    for field in ["verification_uri", "verification_uri_complete"] {
        if let Some(raw) = doc.get(field).and_then(|v| v.as_str()) {
            let ok = Url::parse(raw).is_ok_and(|u| crate::config::is_secure_or_loopback(&u));
            if !ok {
                return Err(OidcError::BadResponse(format!(
                    "the device authorization's {field} must be an https URL (plain http only on a loopback address); Signet does not show or open it"
                )));
            }
        }
    }
    let interval = details.interval().as_secs().max(1);
    let expires_in = details.expires_in().min(DEVICE_MAX_LIFETIME).as_secs();
    doc["interval"] = serde_json::json!(interval);
    doc["expires_in"] = serde_json::json!(expires_in);
    serde_json::from_value(doc).map_err(bad)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_redirect_counts_only_with_the_state_of_this_sign_in() {
        let url = |q: &str| Url::parse(&format!("http://127.0.0.1:1/callback?{q}")).expect("url");
        let forged = code_from_redirect(&url("error=access_denied&state=wrong"), "st4te")
            .expect_err("refused");
        assert_eq!(forged.code(), OidcError::StateMismatch.code(), "{forged}");
        let stateless =
            code_from_redirect(&url("error=access_denied"), "st4te").expect_err("refused");
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
        let bounded = bounded_device(device_response(serde_json::json!({"expires_in": 86400})))
            .expect("bounded");
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
}
