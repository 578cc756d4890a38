//! Sessions: one per provider, serving every cluster of that provider (DESIGN.md §5.2, §5.3).
//!
//! Dex keeps one refresh token per (user, connector, client); a second sign-in through the same client
//! deletes the first. So Signet holds exactly one session per provider — its refresh token in the keyring —
//! and serves all its clusters from it. When the provider's clusters expect different audiences, each
//! audience gets its own ID token by refreshing with a narrowed `scope` (Dex allows narrowing, never
//! widening), so a token for one cluster is not accepted by the others.
//!
//! [`Signet`] is the use-case object the tray and the CLI call: `login`, `token_for`, `refresh`, `logout`,
//! `status`. It owns no GUI and no process-global state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::clock::Clock;
use crate::config::{ClusterConfig, Config, ProviderConfig};
use crate::http::HttpOptions;
use crate::oidc::loopback::LoopbackListener;
use crate::oidc::opener::UrlOpener;
use crate::oidc::{
    DeviceCancel, DeviceCode, Identity, OidcError, OidcProvider, PendingLogin, TokenSet,
};
use crate::paths::Paths;
use crate::secret::Secret;
use crate::token_store::{self, CachedToken, SecretStore, SessionRecord, TokenCache};

/// How long a refresh waits for another process holding the provider lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before retrying a refresh that Dex answered with a 500.
const SERVER_ERROR_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Session-level failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session is over (or never began): a person must sign in.
    #[error(
        "sign-in to '{provider}' is required ({reason}); run `kubectl signet login {provider}`"
    )]
    SignInRequired { provider: String, reason: String },
    /// Refreshing failed for a reason that may pass (network, IdP down); the current tokens are kept.
    #[error(
        "could not refresh the session of '{provider}': {source}; the current tokens are kept, try again shortly"
    )]
    RefreshFailed {
        provider: String,
        #[source]
        source: OidcError,
    },
    #[error("no cluster named '{name}' in the Signet config (known: {known})")]
    UnknownCluster { name: String, known: String },
    #[error("no provider named '{name}' in the Signet config (known: {known})")]
    UnknownProvider { name: String, known: String },
}

impl SessionError {
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::SignInRequired { .. } => "session.sign_in_required",
            SessionError::RefreshFailed { .. } => "session.refresh_failed",
            SessionError::UnknownCluster { .. } => "session.unknown_cluster",
            SessionError::UnknownProvider { .. } => "session.unknown_provider",
        }
    }
}

/// The other providers that sign in with `provider`'s issuer and client id. Dex keeps one refresh token
/// per (user, connector, client) and a new sign-in deletes the older one (dexidp/dex#973, #981), so such
/// providers sign each other out whenever the same person uses both.
pub fn providers_sharing_a_client<'a>(
    config: &'a Config,
    provider: &ProviderConfig,
) -> Vec<&'a str> {
    let issuer = provider.issuer.trim_end_matches('/');
    config
        .providers
        .iter()
        .filter(|other| {
            other.name != provider.name
                && other.client_id == provider.client_id
                && other.issuer.trim_end_matches('/') == issuer
        })
        .map(|other| other.name.as_str())
        .collect()
}

/// `'a'`, `'a' and 'b'`, `'a', 'b' and 'c'`.
fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("provider '{n}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The identity provider's own text with control characters dropped (it is shown to a person).
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// How a sign-in runs.
pub enum LoginMethod<'a> {
    /// Open the authorization URL with `opener` and wait on a loopback listener.
    Browser {
        opener: &'a dyn UrlOpener,
        timeout: Duration,
    },
    /// The device grant; `show` presents the code to the person; `cancel` (when given) ends the wait
    /// for approval from another thread.
    Device {
        show: &'a dyn Fn(&DeviceCode),
        cancel: Option<&'a DeviceCancel>,
    },
}

impl std::fmt::Debug for LoginMethod<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginMethod::Browser { timeout, .. } => write!(f, "Browser {{ timeout: {timeout:?} }}"),
            LoginMethod::Device { .. } => f.write_str("Device"),
        }
    }
}

/// What `logout` did at the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The refresh token was revoked at the provider.
    Revoked,
    /// Discovery lists no revocation endpoint (Dex has none); the token was only forgotten locally.
    NotOffered,
    /// There was no refresh token to revoke.
    NoSession,
    /// Revocation was attempted and failed; the token was still forgotten locally.
    Failed(String),
}

/// A provider's state for `status` and the UI. Holds no token.
#[derive(Debug, Clone)]
pub struct ProviderStatus {
    pub provider: String,
    pub session: Option<SessionRecord>,
    pub clusters: Vec<ClusterStatus>,
}

/// A cluster's token state.
#[derive(Debug, Clone)]
pub struct ClusterStatus {
    pub cluster: String,
    pub audience: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The use-cases over config, providers, the token cache and the keyring.
pub struct Signet {
    pub(crate) paths: Paths,
    pub(crate) config: Config,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) clock: Arc<dyn Clock>,
    http: HttpOptions,
    pub(crate) cache: TokenCache,
    providers: Mutex<HashMap<String, Arc<OidcProvider>>>,
}

impl std::fmt::Debug for Signet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signet")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Signet {
    pub fn new(
        paths: Paths,
        config: Config,
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
    ) -> Signet {
        Signet {
            cache: TokenCache::new(&paths),
            paths,
            config,
            secrets,
            clock,
            http: HttpOptions::default(),
            providers: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the HTTP limits (tests shorten the timeouts).
    pub fn with_http_options(mut self, options: HttpOptions) -> Signet {
        self.http = options;
        self
    }

    /// The same engine (paths, secret store, clock, HTTP limits) over another config: what a use case
    /// that just saved the config works with.
    pub fn reconfigured(&self, config: Config) -> Signet {
        Signet::new(
            self.paths.clone(),
            config,
            self.secrets.clone(),
            self.clock.clone(),
        )
        .with_http_options(self.http.clone())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn provider_config(&self, name: &str) -> Result<&ProviderConfig, Error> {
        self.config.provider(name).ok_or_else(|| {
            SessionError::UnknownProvider {
                name: name.into(),
                known: names(self.config.providers.iter().map(|p| p.name.as_str())),
            }
            .into()
        })
    }

    pub fn cluster_config(&self, name: &str) -> Result<&ClusterConfig, Error> {
        self.config.cluster(name).ok_or_else(|| {
            SessionError::UnknownCluster {
                name: name.into(),
                known: names(self.config.clusters.iter().map(|c| c.name.as_str())),
            }
            .into()
        })
    }

    /// The discovered provider (discovery runs once per process and provider).
    pub fn oidc(&self, provider: &str) -> Result<Arc<OidcProvider>, Error> {
        if let Some(p) = self
            .providers
            .lock()
            .ok()
            .and_then(|m| m.get(provider).cloned())
        {
            return Ok(p);
        }
        let discovered = Arc::new(OidcProvider::discover(
            self.provider_config(provider)?,
            self.http.clone(),
        )?);
        if let Ok(mut map) = self.providers.lock() {
            map.insert(provider.to_string(), discovered.clone());
        }
        Ok(discovered)
    }

    /// The audiences the provider's ID tokens must serve (its clusters', or its own client id).
    pub fn audiences(&self, provider: &ProviderConfig) -> Vec<String> {
        let audiences = self.config.audiences_of(provider);
        if audiences.is_empty() {
            vec![provider.client_id.clone()]
        } else {
            audiences
        }
    }

    /// Signs in to `provider` and stores the session.
    pub fn login(&self, provider: &str, method: LoginMethod<'_>) -> Result<SessionRecord, Error> {
        let cfg = self.provider_config(provider)?;
        let audiences = self.audiences(cfg);
        let oidc = self.oidc(provider)?;
        let tokens = match method {
            LoginMethod::Browser { opener, timeout } => {
                let listener = LoopbackListener::bind()?;
                let pending = oidc.begin_login(listener.redirect_uri(), &audiences)?;
                tracing::info!(provider, "opening the browser for sign-in");
                opener.open(&pending.url).map_err(OidcError::Browser)?;
                let callback = listener.accept(timeout, pending.state())?;
                match oidc.finish_login(pending, &callback.url) {
                    Ok(tokens) => {
                        let who = tokens
                            .identity
                            .email
                            .as_deref()
                            .map(|e| format!(" as {e}"))
                            .unwrap_or_default();
                        callback.finish(Ok(&who));
                        tokens
                    }
                    Err(e) => {
                        callback.finish(Err(&e.to_string()));
                        return Err(e.into());
                    }
                }
            }
            LoginMethod::Device { show, cancel } => {
                let (code, details) = oidc.begin_device(&audiences)?;
                show(&code);
                let never = DeviceCancel::default();
                oidc.finish_device(
                    &details,
                    &audiences,
                    std::thread::sleep,
                    cancel.unwrap_or(&never),
                )?
            }
        };
        self.complete_login(provider, tokens)
    }

    /// Starts a sign-in whose redirect the caller catches itself (the tray's embedded webview).
    pub fn begin_login(
        &self,
        provider: &str,
        redirect_uri: &url::Url,
    ) -> Result<PendingLogin, Error> {
        let cfg = self.provider_config(provider)?;
        Ok(self
            .oidc(provider)?
            .begin_login(redirect_uri, &self.audiences(cfg))?)
    }

    /// Finishes a sign-in begun with [`Signet::begin_login`] from the URL the provider redirected to.
    pub fn finish_login(
        &self,
        provider: &str,
        pending: PendingLogin,
        redirected_to: &url::Url,
    ) -> Result<SessionRecord, Error> {
        let tokens = self.oidc(provider)?.finish_login(pending, redirected_to)?;
        self.complete_login(provider, tokens)
    }

    /// Stores a fresh sign-in: refresh token to the keyring, ID tokens to the cache (narrowed per
    /// audience when the clusters expect different ones), and the session record.
    fn complete_login(&self, provider: &str, tokens: TokenSet) -> Result<SessionRecord, Error> {
        let cfg = self.provider_config(provider)?;
        let _lock = token_store::lock_provider(&self.paths, provider, LOCK_TIMEOUT)?;
        let refreshable = tokens.refresh_token.is_some();
        match &tokens.refresh_token {
            Some(rt) => self.secrets.set(provider, rt)?,
            None => {
                tracing::warn!(
                    provider,
                    "the provider issued no refresh token (its connector cannot refresh); sign-in will be needed when the ID token expires"
                );
                self.secrets.delete(provider)?;
            }
        }
        let record = SessionRecord {
            provider: provider.to_string(),
            identity: tokens.identity.clone(),
            signed_in_at: self.clock.now(),
            refreshed_at: None,
            refreshable,
        };
        self.cache.remove_provider(provider)?;
        self.cache.write_session(&record)?;
        let audiences = self.audiences(cfg);
        if audiences.len() > 1 && refreshable {
            // One narrowed token per audience (least privilege); the login token carries them all.
            for audience in &audiences {
                self.refresh_locked(cfg, Some(audience))?;
            }
        } else {
            for audience in &audiences {
                crate::oidc::check_cached_audience(&tokens.identity.audiences, audience)?;
            }
            for audience in &audiences {
                self.cache
                    .write(&self.cached(provider, audience, &tokens))?;
            }
        }
        self.write_static_tokens(provider);
        tracing::info!(provider, groups = tokens.identity.groups.len(), "signed in");
        Ok(self.cache.read_session(provider).unwrap_or(record))
    }

    /// The fresh cached token for `cluster`, without network or keyring; `None` when a refresh is due.
    pub fn cached_token(&self, cluster: &str) -> Result<Option<CachedToken>, Error> {
        let c = self.cluster_config(cluster)?;
        let p = self.provider_config(&c.provider)?;
        Ok(self
            .cache
            .read(&p.name, c.audience_or(p))
            .filter(|t| t.is_fresh(self.clock.now())))
    }

    /// A valid ID token for `cluster`: the cached one while fresh, else a refresh under the provider lock
    /// (re-reading the cache inside it, so concurrent callers cause one token request).
    pub fn token_for(&self, cluster: &str) -> Result<CachedToken, Error> {
        let c = self.cluster_config(cluster)?;
        let p = self.provider_config(&c.provider)?;
        let audience = c.audience_or(p).to_string();
        let seen = self.cache.read(&p.name, &audience);
        if let Some(token) = seen.as_ref().filter(|t| t.is_fresh(self.clock.now())) {
            return Ok(token.clone());
        }
        let _lock = token_store::lock_provider(&self.paths, &p.name, LOCK_TIMEOUT)?;
        // Inside the lock: if another caller refreshed while we waited (a newer token than the stale one we
        // saw), use theirs rather than spending — and rotating — the refresh token again.
        let seen_expiry = seen.map(|t| t.expires_at);
        if let Some(token) = self
            .cache
            .read(&p.name, &audience)
            .filter(|t| t.is_fresh(self.clock.now()) || Some(t.expires_at) > seen_expiry)
        {
            tracing::debug!(provider = %p.name, "another caller refreshed while we waited");
            return Ok(token);
        }
        self.refresh_locked(p, Some(&audience))
    }

    /// Refreshes a provider's session now (the tray agent's timer), for every audience.
    pub fn refresh(&self, provider: &str) -> Result<SessionRecord, Error> {
        let p = self.provider_config(provider)?;
        let _lock = token_store::lock_provider(&self.paths, provider, LOCK_TIMEOUT)?;
        self.refresh_locked(p, None)?;
        self.cache.read_session(provider).ok_or_else(|| {
            SessionError::SignInRequired {
                provider: provider.into(),
                reason: "no session record".into(),
            }
            .into()
        })
    }

    /// Redeems the refresh token; the caller holds the provider lock. With several audiences and
    /// `only = Some(a)`, refreshes narrowed to `a`; `None` refreshes every audience.
    fn refresh_locked(&self, p: &ProviderConfig, only: Option<&str>) -> Result<CachedToken, Error> {
        let provider = p.name.as_str();
        let audiences = self.audiences(p);
        let targets = refresh_targets(&audiences, &p.client_id, only);
        let mut last = None;
        for target in &targets {
            let refresh_token = self.stored_refresh_token(provider)?;
            let oidc = self
                .oidc(provider)
                .map_err(|e| self.transient(provider, e))?;
            let narrowed = (audiences.len() > 1).then(|| oidc.scopes(std::slice::from_ref(target)));
            let tokens = self.redeem(&oidc, &refresh_token, narrowed.as_deref(), &audiences)?;
            self.end_if_subject_changed(provider, &tokens)?;
            if let Some(new) = &tokens.refresh_token
                && new != &refresh_token
            {
                self.secrets.set(provider, new)?;
            }
            let written: Vec<&String> = if audiences.len() <= 1 {
                audiences.iter().collect()
            } else {
                vec![target]
            };
            for audience in &written {
                crate::oidc::check_cached_audience(&tokens.identity.audiences, audience)?;
            }
            for audience in written {
                let cached = self.cached(provider, audience, &tokens);
                self.cache.write(&cached)?;
                if audience == target {
                    last = Some(cached);
                }
            }
            self.record_refresh(provider, &tokens)?;
        }
        self.write_static_tokens(provider);
        tracing::info!(provider, audiences = targets.len(), "session refreshed");
        last.ok_or_else(|| {
            SessionError::SignInRequired {
                provider: provider.into(),
                reason: "nothing to refresh".into(),
            }
            .into()
        })
    }

    /// The stored refresh token of `provider`, or sign-in required.
    fn stored_refresh_token(&self, provider: &str) -> Result<Secret, Error> {
        if let Some(refresh_token) = self.secrets.get(provider)? {
            return Ok(refresh_token);
        }
        // The session record says it could refresh, but the secret store has no refresh token (a new or
        // reset keyring, another store): that session is gone. Forget its record and cached tokens so
        // status and the tray show a calm "sign-in needed", not an error.
        if self
            .cache
            .read_session(provider)
            .is_some_and(|record| record.refreshable)
        {
            tracing::info!(
                provider,
                "no refresh token is stored; forgetting the session record"
            );
            self.cache.remove_provider(provider)?;
        }
        Err(SessionError::SignInRequired {
            provider: provider.into(),
            reason: "no refresh token is stored".into(),
        }
        .into())
    }

    /// A refresh keeps the person: another subject ends the session (nothing of it is kept).
    fn end_if_subject_changed(&self, provider: &str, tokens: &TokenSet) -> Result<(), Error> {
        if let Some(record) = self.cache.read_session(provider)
            && let Err(e) =
                crate::oidc::check_same_subject(&record.identity.subject, &tokens.identity.subject)
        {
            tracing::warn!(
                provider,
                "a refresh answered for another subject; ending the session"
            );
            self.secrets.delete(provider)?;
            self.cache.remove_provider(provider)?;
            return Err(e.into());
        }
        Ok(())
    }

    /// Writes the session record after a refresh: the refreshed identity (Dex refreshes claims from the
    /// upstream on every refresh, so groups may change) and the time.
    fn record_refresh(&self, provider: &str, tokens: &TokenSet) -> Result<(), Error> {
        let mut record = self
            .cache
            .read_session(provider)
            .unwrap_or_else(|| SessionRecord {
                provider: provider.into(),
                identity: tokens.identity.clone(),
                signed_in_at: self.clock.now(),
                refreshed_at: None,
                refreshable: true,
            });
        record.identity = Identity {
            audiences: record.identity.audiences.clone(),
            ..tokens.identity.clone()
        };
        record.refreshed_at = Some(self.clock.now());
        self.cache.write_session(&record)?;
        Ok(())
    }

    /// One refresh request with Dex's error rules: any 400 ends the session (the dead refresh token, the
    /// cached ID tokens and the session record are forgotten so later callers fail fast); a 5xx is retried once, then ends it too; network trouble
    /// keeps everything for a later try.
    fn redeem(
        &self,
        oidc: &OidcProvider,
        refresh_token: &Secret,
        scopes: Option<&[String]>,
        audiences: &[String],
    ) -> Result<TokenSet, Error> {
        let provider = oidc.config().name.as_str();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match oidc.refresh(refresh_token, scopes, audiences) {
                Ok(tokens) => return Ok(tokens),
                Err(OidcError::Rejected {
                    status: 400,
                    error,
                    description,
                }) => {
                    tracing::warn!(provider, %error, "refresh token rejected; the session is over");
                    // Forget the dead session entirely, so status, the tray and later callers all see
                    // "sign-in needed" at once, without asking the IdP again.
                    self.secrets.delete(provider)?;
                    self.cache.remove_provider(provider)?;
                    let likely_cause = match providers_sharing_a_client(&self.config, oidc.config())
                        .as_slice()
                    {
                        [] => String::new(),
                        others => format!(
                            "; likely cause: {} signs in with the same issuer and client id, and Dex keeps one refresh token per user and client, so each sign-in ends the other's session — give each provider its own client id, or keep one of them",
                            quoted_list(others)
                        ),
                    };
                    return Err(SessionError::SignInRequired {
                        provider: provider.into(),
                        reason: format!(
                            "the identity provider rejected the refresh token: {error}{}{likely_cause}",
                            description
                                .map(|d| format!(", {}", printable(&d)))
                                .unwrap_or_default()
                        ),
                    }
                    .into());
                }
                Err(OidcError::ServerError { status, .. }) if attempt == 1 => {
                    tracing::warn!(
                        provider,
                        status,
                        "refresh failed at the identity provider; retrying once"
                    );
                    std::thread::sleep(SERVER_ERROR_RETRY_DELAY);
                }
                Err(OidcError::ServerError { status, .. }) => {
                    return Err(SessionError::SignInRequired {
                        provider: provider.into(),
                        reason: format!("the identity provider failed the refresh twice (HTTP {status}; its upstream login may have ended)"),
                    }
                    .into());
                }
                Err(e) if e.is_transient() => return Err(self.transient(provider, e.into())),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn transient(&self, provider: &str, e: Error) -> Error {
        match e {
            Error::Oidc(source) if source.is_transient() => SessionError::RefreshFailed {
                provider: provider.into(),
                source,
            }
            .into(),
            other => other,
        }
    }

    fn cached(&self, provider: &str, audience: &str, tokens: &TokenSet) -> CachedToken {
        CachedToken {
            version: 1,
            provider: provider.into(),
            audience: audience.into(),
            id_token: tokens.id_token.clone(),
            expires_at: tokens.expires_at,
            issued_at: tokens.issued_at,
            identity: tokens.identity.clone(),
        }
    }

    /// Forgets a provider's session: revokes the refresh token when discovery offers revocation (Dex does
    /// not), deletes it from the keyring, and deletes the cached ID tokens.
    pub fn logout(&self, provider: &str) -> Result<Revocation, Error> {
        self.provider_config(provider)?;
        let _lock = token_store::lock_provider(&self.paths, provider, LOCK_TIMEOUT)?;
        let revocation = match self.secrets.get(provider)? {
            None => Revocation::NoSession,
            Some(rt) => match self.oidc(provider) {
                Err(e) => Revocation::Failed(e.to_string()),
                Ok(oidc) => match oidc.revoke(&rt) {
                    Ok(true) => Revocation::Revoked,
                    Ok(false) => Revocation::NotOffered,
                    Err(e) => Revocation::Failed(e.to_string()),
                },
            },
        };
        self.secrets.delete(provider)?;
        self.cache.remove_provider(provider)?;
        tracing::info!(provider, ?revocation, "signed out");
        Ok(revocation)
    }

    /// Every provider's session and clusters, from the cache (no network, no keyring).
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.config
            .providers
            .iter()
            .map(|p| ProviderStatus {
                provider: p.name.clone(),
                session: self.cache.read_session(&p.name),
                clusters: self
                    .config
                    .clusters_of(&p.name)
                    .map(|c| ClusterStatus {
                        cluster: c.name.clone(),
                        audience: c.audience_or(p).to_string(),
                        expires_at: self
                            .cache
                            .read(&p.name, c.audience_or(p))
                            .map(|t| t.expires_at),
                    })
                    .collect(),
            })
            .collect()
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = it.collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// The audiences one refresh writes: the only audience (or the client id), else `only` or every audience.
fn refresh_targets(audiences: &[String], client_id: &str, only: Option<&str>) -> Vec<String> {
    if audiences.len() <= 1 {
        vec![
            audiences
                .first()
                .cloned()
                .unwrap_or_else(|| client_id.to_owned()),
        ]
    } else {
        match only {
            Some(a) => vec![a.to_string()],
            None => audiences.to_vec(),
        }
    }
}
