//! What the tray menu and the (future) switcher window are shown: plain data built from the engine's
//! status, with no token, code or secret in it — only names, emails, groups and times.
//!
//! The same [`ProviderDto`] list drives the tray menu, the tray icon and the `status` command, so the
//! three can never disagree.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use signet_core::config::{Config, Credentials, LoginMode};
use signet_core::session::ProviderStatus;
use ts_rs::TS;

/// How a provider's session stands, for the icon and the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    /// Signed in; tokens are refreshed as needed.
    SignedIn,
    /// Signed in, but the session cannot be refreshed and ends within the warning window
    /// (`settings.warning_minutes`).
    Expiring,
    /// Not signed in, or the session is over.
    SignInNeeded,
    /// The last sign-in or refresh failed.
    Error,
}

/// A provider and its session, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDto {
    pub name: String,
    pub login_mode: LoginMode,
    pub state: ProviderState,
    pub account: Option<AccountDto>,
    /// When the earliest of the provider's cached ID tokens expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// A sign-in is running (a login window is open, or a browser/device sign-in waits).
    pub signing_in: bool,
    pub last_error: Option<ErrorDto>,
    pub clusters: Vec<ClusterDto>,
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct AccountDto {
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub signed_in_at: DateTime<Utc>,
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Whether the provider issued a refresh token (some connectors cannot refresh).
    pub refreshable: bool,
}

/// A cluster served by the provider's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDto {
    pub name: String,
    pub context: String,
    pub server: String,
    pub audience: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether its context is kubectl's current context.
    pub current: bool,
    /// The namespace its context sets.
    pub namespace: Option<String>,
    pub credentials: Credentials,
    /// The kubeconfig file its context lives in (or will be written to).
    pub kubeconfig: String,
}

/// A failure to show: the stable code and the person-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ErrorDto {
    pub code: String,
    pub message: String,
}

/// The answer to `sign_in`: the sign-in is under way (its outcome arrives as a status change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct SignInStarted {
    pub provider: String,
    pub mode: LoginMode,
    /// A sign-in for this provider was already running; its window was brought to the front.
    pub already_running: bool,
}

/// The answer to `sign_out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct SignedOut {
    pub provider: String,
    /// `revoked`, `not_offered` (the IdP has no revocation endpoint; Dex has none), `no_session` or `failed`.
    #[ts(type = "\"revoked\" | \"not_offered\" | \"no_session\" | \"failed\"")]
    pub revocation: &'static str,
    /// Why revocation failed (the tokens were still forgotten here).
    pub detail: Option<String>,
}

impl SignedOut {
    pub fn new(provider: &str, revocation: signet_core::session::Revocation) -> SignedOut {
        use signet_core::session::Revocation;
        let (revocation, detail) = match revocation {
            Revocation::Revoked => ("revoked", None),
            Revocation::NotOffered => ("not_offered", None),
            Revocation::NoSession => ("no_session", None),
            Revocation::Failed(why) => ("failed", Some(why)),
        };
        SignedOut {
            provider: provider.into(),
            revocation,
            detail,
        }
    }
}

/// Everything the switcher window shows on its first screen (also the `signet:status-changed` payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct StatusDto {
    pub providers: Vec<ProviderDto>,
    /// kubectl's current context.
    pub current_context: Option<String>,
    pub config_path: String,
    /// Why the config file could not be loaded (the app then shows no provider).
    pub config_error: Option<ErrorDto>,
}

/// The answer to `use_context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ContextSwitched {
    pub context: String,
    pub namespace: Option<String>,
    /// The file whose `current-context` changed.
    pub kubeconfig: String,
}

/// The namespaces a person may list on a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceList {
    pub names: Vec<String>,
    /// The API server said 403: the person may not list namespaces (the UI offers free text).
    pub forbidden: bool,
}

/// A provider as the switcher edits it (the config's `[[providers]]`, without any client secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInput {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub connector: Option<String>,
    pub scopes: Vec<String>,
    pub ca_file: Option<String>,
    /// Base64 of the PEM, as in the config file.
    pub ca_data: Option<String>,
    pub login: LoginMode,
}

/// A cluster as the switcher edits it (the config's `[[clusters]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInput {
    pub name: String,
    pub provider: String,
    pub server: String,
    pub ca_file: Option<String>,
    pub ca_data: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub audience: Option<String>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub credentials: Credentials,
    pub kubeconfig: Option<String>,
}

/// The switcher's Settings view (the config's `[settings]` plus start-at-login).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct SettingsDto {
    pub start_at_login: bool,
    pub notifications: bool,
    pub warning_minutes: u32,
    pub default_kubeconfig: Option<String>,
    pub default_credentials: Credentials,
    /// Serve kubectl on other hosts through the forwarded socket (`allow_forwarding`).
    pub allow_forwarding: bool,
    /// Serve forwarded requests without asking first (`forward_without_asking`).
    pub forward_without_asking: bool,
}

/// The config as the switcher edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ConfigDto {
    pub providers: Vec<ProviderInput>,
    pub clusters: Vec<ClusterInput>,
    pub settings: SettingsDto,
}

/// What an issuer's discovery document offers, for the provider form (the core's outcome as it is).
pub use signet_core::usecase::setup::Discovery as DiscoveryDto;

/// The API server answered over TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ServerProbe {
    /// `gitVersion` from `/version`, when the server shows it without credentials.
    pub version: Option<String>,
    /// `/version` asked for credentials (401/403): TLS is fine, the server just keeps it private.
    pub auth_required: bool,
}

/// Who the API server says the person is (SelfSubjectReview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDto {
    pub username: String,
    pub groups: Vec<String>,
}

/// Where an import reads from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ImportSourceDto {
    /// A kubeconfig file; `None`: the default chain (`KUBECONFIG`, else `~/.kube/config`).
    Kubeconfig { path: Option<String> },
    /// A team catalog: a file path or an https URL.
    Catalog { location: String },
}

/// A kubeconfig context an import makes Signet's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct AdoptionDto {
    pub context: String,
    pub file: String,
    pub old_user: String,
    /// `kubelogin` or `auth-provider` (legacy).
    pub old_auth: String,
    pub cluster: String,
    pub provider: String,
}

/// What an import would change; nothing has changed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ImportPreview {
    pub empty: bool,
    pub config_file: String,
    pub providers: Vec<String>,
    pub clusters: Vec<String>,
    pub reused: Vec<String>,
    pub adoptions: Vec<AdoptionDto>,
    /// `context (file)` of entries written for new clusters.
    pub new_entries: Vec<String>,
    /// `what: why` of everything left alone.
    pub skipped: Vec<String>,
    pub notes: Vec<String>,
    /// New clusters that skip TLS verification of their API server: Apply needs the person's explicit
    /// consent naming them (sent back to `import_apply`).
    pub insecure: Vec<String>,
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub config_saved: Option<String>,
    pub adopted: Vec<String>,
    pub entries_written: Vec<String>,
    /// Kubeconfig backups made before the first change to each file.
    pub backups: Vec<String>,
    /// Providers to sign in to next.
    pub sign_in: Vec<String>,
}

/// What happened, for the Activity view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    SignedIn,
    Refreshed,
    SignedOut,
    Failed,
    ContextSwitched,
    ConfigChanged,
    /// A token served to kubectl on another host through the forwarding socket.
    Forwarded,
}

/// One line of the Activity view (also the `signet:activity` payload). Never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    pub at: DateTime<Utc>,
    pub provider: Option<String>,
    pub kind: ActivityKind,
    pub message: String,
    /// The error code of a failure.
    pub code: Option<String>,
}

/// Where a cluster's context stands in kubeconfig (read by the app state, used to build [`ClusterDto`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextView {
    pub current: bool,
    pub namespace: Option<String>,
    /// The file the context lives in, or the one it will be written to.
    pub file: String,
}

/// What the tray app knows about a provider beyond the engine's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderActivity {
    pub signing_in: bool,
    pub last_error: Option<ErrorDto>,
}

impl ProviderDto {
    /// Builds the view of one provider at `now`.
    pub fn new(
        status: &ProviderStatus,
        config: &Config,
        contexts: &HashMap<String, ContextView>,
        activity: &ProviderActivity,
        now: DateTime<Utc>,
    ) -> ProviderDto {
        let provider = config.provider(&status.provider);
        let clusters: Vec<ClusterDto> = status
            .clusters
            .iter()
            .map(|c| {
                let cfg = config.cluster(&c.cluster);
                let kube = contexts.get(&c.cluster);
                ClusterDto {
                    name: c.cluster.clone(),
                    context: cfg
                        .map(|cfg| cfg.context_name().to_string())
                        .unwrap_or_else(|| c.cluster.clone()),
                    server: cfg.map(|cfg| cfg.server.clone()).unwrap_or_default(),
                    audience: c.audience.clone(),
                    expires_at: c.expires_at,
                    current: kube.is_some_and(|k| k.current),
                    namespace: kube.and_then(|k| k.namespace.clone()),
                    credentials: cfg.map(|cfg| cfg.credentials).unwrap_or_default(),
                    kubeconfig: kube.map(|k| k.file.clone()).unwrap_or_default(),
                }
            })
            .collect();
        let expires_at = status.clusters.iter().filter_map(|c| c.expires_at).min();
        let account = status.session.as_ref().map(|s| AccountDto {
            subject: s.identity.subject.clone(),
            email: s.identity.email.clone(),
            name: s.identity.name.clone(),
            groups: s.identity.groups.clone(),
            signed_in_at: s.signed_in_at,
            refreshed_at: s.refreshed_at,
            refreshable: s.refreshable,
        });
        let warning = TimeDelta::minutes(config.settings.warning_minutes.into());
        let state = if activity.last_error.is_some() {
            ProviderState::Error
        } else {
            match &account {
                None => ProviderState::SignInNeeded,
                Some(a) if a.refreshable => ProviderState::SignedIn,
                Some(_) => match expires_at {
                    Some(end) if end <= now => ProviderState::SignInNeeded,
                    Some(end) if end - now <= warning => ProviderState::Expiring,
                    Some(_) => ProviderState::SignedIn,
                    None => ProviderState::SignInNeeded,
                },
            }
        };
        ProviderDto {
            name: status.provider.clone(),
            login_mode: provider.map(|p| p.login).unwrap_or_default(),
            state,
            account,
            expires_at,
            signing_in: activity.signing_in,
            last_error: activity.last_error.clone(),
            clusters,
        }
    }
}

/// The tray's overall state: the worst provider's (error > sign-in needed > expiring > signed in).
/// With no provider configured there is nothing to be signed in to, which is "sign-in needed".
pub fn overall_state(providers: &[ProviderDto]) -> ProviderState {
    providers
        .iter()
        .map(|p| p.state)
        .max()
        .unwrap_or(ProviderState::SignInNeeded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_core::oidc::Identity;
    use signet_core::session::ClusterStatus;
    use signet_core::token_store::SessionRecord;

    fn config() -> Config {
        let text = r#"
[[providers]]
name = "corp"
issuer = "https://dex.example.com"
client_id = "signet"

[[clusters]]
name = "prod"
provider = "corp"
server = "https://api.prod.example.com:6443"
audience = "kubernetes"
context = "prod-admin"
"#;
        Config::parse(
            text,
            std::path::Path::new("test.toml"),
            std::path::Path::new("/h"),
        )
        .expect("valid test config")
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn status(refreshable: Option<bool>, expires_in: Option<TimeDelta>) -> ProviderStatus {
        ProviderStatus {
            provider: "corp".into(),
            session: refreshable.map(|refreshable| SessionRecord {
                provider: "corp".into(),
                identity: Identity {
                    subject: "CgVhbGljZQ".into(),
                    email: Some("alice@example.com".into()),
                    email_verified: Some(true),
                    name: Some("Alice".into()),
                    groups: vec!["admins".into()],
                    audiences: vec!["kubernetes".into()],
                },
                signed_in_at: now(),
                refreshed_at: None,
                refreshable,
            }),
            clusters: vec![ClusterStatus {
                cluster: "prod".into(),
                audience: "kubernetes".into(),
                expires_at: expires_in.map(|d| now() + d),
            }],
        }
    }

    fn state_of(refreshable: Option<bool>, expires_in: Option<TimeDelta>) -> ProviderState {
        ProviderDto::new(
            &status(refreshable, expires_in),
            &config(),
            &HashMap::new(),
            &ProviderActivity::default(),
            now(),
        )
        .state
    }

    #[test]
    fn a_refreshable_session_is_signed_in_even_with_an_expired_token() {
        assert_eq!(
            state_of(Some(true), Some(TimeDelta::minutes(-5))),
            ProviderState::SignedIn
        );
    }

    #[test]
    fn a_session_that_cannot_refresh_warns_before_it_ends_and_then_needs_sign_in() {
        assert_eq!(
            state_of(Some(false), Some(TimeDelta::hours(2))),
            ProviderState::SignedIn
        );
        assert_eq!(
            state_of(Some(false), Some(TimeDelta::minutes(9))),
            ProviderState::Expiring
        );
        assert_eq!(
            state_of(Some(false), Some(TimeDelta::seconds(-1))),
            ProviderState::SignInNeeded
        );
    }

    #[test]
    fn no_session_needs_sign_in_and_a_failure_is_an_error() {
        assert_eq!(state_of(None, None), ProviderState::SignInNeeded);
        let failed = ProviderDto::new(
            &status(Some(true), Some(TimeDelta::hours(1))),
            &config(),
            &HashMap::new(),
            &ProviderActivity {
                signing_in: false,
                last_error: Some(ErrorDto {
                    code: "oidc.unreachable".into(),
                    message: "down".into(),
                }),
            },
            now(),
        );
        assert_eq!(failed.state, ProviderState::Error);
    }

    #[test]
    fn overall_state_is_the_worst_provider() {
        let mut a = ProviderDto::new(
            &status(Some(true), None),
            &config(),
            &HashMap::new(),
            &ProviderActivity::default(),
            now(),
        );
        let mut b = a.clone();
        assert_eq!(
            overall_state(&[a.clone(), b.clone()]),
            ProviderState::SignedIn
        );
        b.state = ProviderState::Expiring;
        assert_eq!(
            overall_state(&[a.clone(), b.clone()]),
            ProviderState::Expiring
        );
        a.state = ProviderState::SignInNeeded;
        assert_eq!(
            overall_state(&[a.clone(), b.clone()]),
            ProviderState::SignInNeeded
        );
        b.state = ProviderState::Error;
        assert_eq!(overall_state(&[a, b]), ProviderState::Error);
        assert_eq!(overall_state(&[]), ProviderState::SignInNeeded);
    }

    #[test]
    fn the_dto_json_has_no_token_and_pins_its_field_names() {
        let dto = ProviderDto::new(
            &status(Some(true), Some(TimeDelta::hours(1))),
            &config(),
            &HashMap::new(),
            &ProviderActivity::default(),
            now(),
        );
        let json = serde_json::to_value(&dto).expect("serialize the dto");
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account",
                "clusters",
                "expiresAt",
                "lastError",
                "loginMode",
                "name",
                "signingIn",
                "state"
            ],
            "the front end's field names"
        );
        assert_eq!(json["loginMode"], "embedded");
        assert_eq!(json["state"], "signed_in");
        assert_eq!(json["account"]["email"], "alice@example.com");
        assert_eq!(json["clusters"][0]["context"], "prod-admin");
        let text = json.to_string().to_lowercase();
        for word in ["token", "secret", "code", "verifier"] {
            assert!(!text.contains(word), "no '{word}' in the UI data: {text}");
        }
    }
}
