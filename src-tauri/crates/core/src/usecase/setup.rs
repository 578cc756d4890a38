//! Setting Signet up: add, change and remove providers and clusters, check an issuer or an API server
//! before saving. Every edit reads the config file afresh, is validated exactly as a hand-written file
//! is ([`Config::checked`]), and is saved atomically; a provider is saved only once its discovery works.
//! Kubeconfig changes go through the engine's sync (locked, backed up, Signet's entries only).

use std::path::{Path, PathBuf};

use crate::cluster_api::{ClusterApi, Probe};
use crate::config::{
    ClusterConfig, Config, ConfigError, Credentials, DEFAULT_USERNAME_CLAIM, LoginMode,
    ProviderConfig, Settings,
};
use crate::http::HttpOptions;
use crate::kubeconfig;
use crate::oidc::{OidcError, OidcProvider};
use crate::session::Revocation;
use crate::sync::SyncReport;
use crate::{Error, Signet};

/// Why a setup change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The name is in use; nothing was saved.
    #[error("a {kind} named '{name}' already exists in {}; pick another name", file.display())]
    NameTaken {
        kind: &'static str,
        name: String,
        file: PathBuf,
    },
    /// The issuer's discovery failed; nothing was saved.
    #[error("{source}; the provider '{name}' was not saved")]
    Discovery {
        name: String,
        #[source]
        source: OidcError,
    },
}

impl SetupError {
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::NameTaken { .. } => "config.name_taken",
            SetupError::Discovery { source, .. } => source.code(),
        }
    }
}

/// A provider as the person describes it (CLI flags or the switcher's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDraft {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub connector: Option<String>,
    pub scopes: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub ca_data: Option<String>,
    pub login: LoginMode,
}

impl ProviderDraft {
    /// The provider to save. What only the file sets (a client secret, the username claim) is kept
    /// from the provider it replaces.
    fn into_config(self, replaced: Option<&ProviderConfig>) -> ProviderConfig {
        ProviderConfig {
            name: self.name,
            issuer: self.issuer,
            client_id: self.client_id,
            client_secret: replaced.and_then(|p| p.client_secret.clone()),
            connector: self.connector,
            scopes: self.scopes,
            ca_file: self.ca_file,
            ca_data: self.ca_data,
            login: self.login,
            username_claim: replaced.map_or_else(
                || DEFAULT_USERNAME_CLAIM.to_string(),
                |p| p.username_claim.clone(),
            ),
        }
    }
}

/// What to do when a provider of that name exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// Refuse (`kubectl signet add provider`).
    Refuse,
    /// Change it (the switcher's edit form).
    Replace,
}

/// What the issuer offers, from its discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offers {
    pub issuer: String,
    pub device_sign_in: bool,
    pub revocation: bool,
}

/// A provider saved to the config.
#[derive(Debug, Clone)]
pub struct ProviderSaved {
    pub name: String,
    /// A provider of that name was replaced.
    pub replaced: bool,
    pub offers: Offers,
}

/// Adds a provider (or, with [`OnExisting::Replace`], changes the one of that name). Its discovery must
/// work before anything is saved.
pub fn save_provider(
    signet: &Signet,
    draft: ProviderDraft,
    on_existing: OnExisting,
) -> Result<ProviderSaved, Error> {
    let paths = signet.paths();
    let mut config = Config::load_or_default(&paths.config_file, &paths.home)?;
    let name = draft.name.clone();
    let existing = config.providers.iter().position(|p| p.name == name);
    let provider = match existing {
        Some(_) if on_existing == OnExisting::Refuse => {
            return Err(name_taken("provider", &name, &paths.config_file));
        }
        Some(i) => {
            let provider = draft.into_config(Some(&config.providers[i]));
            config.providers[i] = provider.clone();
            provider
        }
        None => {
            let provider = draft.into_config(None);
            config.providers.push(provider.clone());
            provider
        }
    };
    let config = config.checked(&paths.home)?;
    let checked = config.provider(&provider.name).unwrap_or(&provider);
    let oidc = OidcProvider::discover(checked, HttpOptions::default()).map_err(|source| {
        SetupError::Discovery {
            name: name.clone(),
            source,
        }
    })?;
    config.save(&paths.config_file)?;
    Ok(ProviderSaved {
        name,
        replaced: existing.is_some(),
        offers: offers(&oidc),
    })
}

fn offers(oidc: &OidcProvider) -> Offers {
    let meta = oidc.metadata();
    Offers {
        issuer: meta.issuer().as_str().to_string(),
        device_sign_in: meta
            .additional_metadata()
            .device_authorization_endpoint
            .is_some(),
        revocation: oidc.can_revoke(),
    }
}

/// A cluster added, with the kubeconfig entries written for it.
#[derive(Debug)]
pub struct ClusterAdded {
    pub name: String,
    pub provider: String,
    pub synced: Vec<SyncReport>,
}

/// Adds a cluster and writes its kubeconfig entries. `plugin` is the exec entry's command.
pub fn add_cluster(
    signet: &Signet,
    cluster: ClusterConfig,
    plugin: &str,
) -> Result<ClusterAdded, Error> {
    let paths = signet.paths();
    let mut config = Config::load_or_default(&paths.config_file, &paths.home)?;
    if config.cluster(&cluster.name).is_some() {
        return Err(name_taken("cluster", &cluster.name, &paths.config_file));
    }
    let (name, provider) = (cluster.name.clone(), cluster.provider.clone());
    config.clusters.push(cluster);
    let config = config.checked(&paths.home)?;
    config.save(&paths.config_file)?;
    let synced = signet
        .reconfigured(config)
        .sync_kubeconfig(Some(&provider), plugin)?;
    Ok(ClusterAdded {
        name,
        provider,
        synced,
    })
}

/// Removes a cluster's kubeconfig entries, then the cluster from the config. Returns its provider.
pub fn remove_cluster(signet: &Signet, name: &str) -> Result<String, Error> {
    let cluster = signet.cluster_config(name)?.clone();
    kubeconfig::remove_cluster_entries(&signet.kubeconfig_target(&cluster), name)?;
    edit_config(signet, |config| config.clusters.retain(|c| c.name != name))?;
    Ok(cluster.provider)
}

/// A provider removed with its clusters.
#[derive(Debug)]
pub struct ProviderRemoved {
    /// The clusters removed with it.
    pub clusters: Vec<String>,
    /// How the sign-out went; a failed one does not stop the removal.
    pub sign_out: Result<Revocation, Error>,
}

/// Signs out of a provider, removes its clusters' kubeconfig entries, then the clusters and the
/// provider from the config.
pub fn remove_provider(signet: &Signet, name: &str) -> Result<ProviderRemoved, Error> {
    signet.provider_config(name)?;
    let clusters: Vec<ClusterConfig> = signet.config().clusters_of(name).cloned().collect();
    let sign_out = signet.logout(name);
    if let Err(e) = &sign_out {
        tracing::warn!(provider = name, error = %e, "sign-out before removing the provider failed");
    }
    for cluster in &clusters {
        kubeconfig::remove_cluster_entries(&signet.kubeconfig_target(cluster), &cluster.name)?;
    }
    edit_config(signet, |config| {
        config.clusters.retain(|c| c.provider != name);
        config.providers.retain(|p| p.name != name);
    })?;
    Ok(ProviderRemoved {
        clusters: clusters.into_iter().map(|c| c.name).collect(),
        sign_out,
    })
}

/// The settings the person may change (where refresh tokens are kept is chosen in the file only: moving
/// between stores needs a sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    pub notifications: bool,
    pub warning_minutes: u32,
    pub kubeconfig: Option<PathBuf>,
    pub credentials: Credentials,
    pub allow_forwarding: bool,
    pub forward_without_asking: bool,
}

/// Saves the settings, checked as the file's `[settings]` would be; returns them as saved.
pub fn save_settings(signet: &Signet, change: SettingsChange) -> Result<Settings, Error> {
    let paths = signet.paths();
    let mut config = Config::load_or_default(&paths.config_file, &paths.home)?;
    config.settings = Settings {
        notifications: change.notifications,
        warning_minutes: change.warning_minutes,
        kubeconfig: change.kubeconfig,
        credentials: change.credentials,
        secret_store: config.settings.secret_store,
        allow_forwarding: change.allow_forwarding,
        forward_without_asking: change.forward_without_asking,
    };
    let config = config.checked(&paths.home)?;
    config.save(&paths.config_file)?;
    Ok(config.settings)
}

/// Changes how `provider` signs in (the tray offers `browser` after an IdP refused its window).
pub fn set_login_mode(signet: &Signet, provider: &str, mode: LoginMode) -> Result<(), Error> {
    signet.provider_config(provider)?;
    edit_config(signet, |config| {
        for p in config.providers.iter_mut().filter(|p| p.name == provider) {
            p.login = mode;
        }
    })?;
    tracing::info!(provider, ?mode, "sign-in mode changed");
    Ok(())
}

/// Reads the config file afresh, changes it and saves it.
fn edit_config(signet: &Signet, change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
    let paths = signet.paths();
    let mut config = Config::load_or_default(&paths.config_file, &paths.home)?;
    change(&mut config);
    config.save(&paths.config_file)
}

fn name_taken(kind: &'static str, name: &str, file: &Path) -> Error {
    SetupError::NameTaken {
        kind,
        name: name.to_string(),
        file: file.to_path_buf(),
    }
    .into()
}

/// What an issuer's discovery document offers (fetched as a sign-in would, with its JWKS); the switcher's
/// provider form shows it as it is (`DiscoveryDto` in the front end).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "DiscoveryDto"))]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub device_authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// Dex's endpoints (`/auth`, `/token`, `/device/code`) under the issuer.
    pub looks_like_dex: bool,
}

/// Fetches `issuer`'s discovery document and JWKS, trusting `ca_file`/`ca_data` when given.
pub fn discover(
    issuer: &str,
    ca_file: Option<PathBuf>,
    ca_data: Option<String>,
) -> Result<Discovery, Error> {
    let mut probe = ProviderConfig::probe(issuer.trim());
    probe.ca_file = ca_file;
    probe.ca_data = ca_data;
    let checked = Config {
        providers: vec![probe],
        ..Config::default()
    }
    .checked(Path::new("/"))?;
    let provider = &checked.providers[0];
    let oidc = OidcProvider::discover(provider, HttpOptions::default())?;
    let meta = oidc.metadata();
    let authorization_endpoint = meta.authorization_endpoint().as_str().to_string();
    let token_endpoint = meta
        .token_endpoint()
        .map(|u| u.as_str().to_string())
        .unwrap_or_default();
    let base = provider.issuer.trim_end_matches('/');
    let looks_like_dex = authorization_endpoint == format!("{base}/auth")
        && token_endpoint == format!("{base}/token");
    let extra = meta.additional_metadata();
    Ok(Discovery {
        issuer: meta.issuer().as_str().to_string(),
        authorization_endpoint,
        token_endpoint,
        device_authorization_endpoint: extra
            .device_authorization_endpoint
            .as_ref()
            .and_then(json_string),
        revocation_endpoint: extra.revocation_endpoint.as_ref().and_then(json_string),
        grant_types: meta
            .grant_types_supported()
            .map(|g| g.iter().filter_map(json_string).collect())
            // RFC 8414: the default is authorization_code and implicit.
            .unwrap_or_else(|| vec!["authorization_code".into(), "implicit".into()]),
        scopes: meta
            .scopes_supported()
            .map(|s| s.iter().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default(),
        looks_like_dex,
    })
}

/// Checks that an API server answers over TLS with the CA given (`cluster` need not be saved; its
/// provider is ignored).
pub fn probe_server(cluster: ClusterConfig) -> Result<Probe, Error> {
    let provider = ProviderConfig::probe("https://probe.invalid");
    let cluster = ClusterConfig {
        provider: provider.name.clone(),
        ..cluster
    };
    let checked = Config {
        providers: vec![provider],
        clusters: vec![cluster],
        ..Config::default()
    }
    .checked(Path::new("/"))?;
    Ok(ClusterApi::new(&checked.clusters[0])?.probe()?)
}

fn json_string<T: serde::Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value).ok()? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}
