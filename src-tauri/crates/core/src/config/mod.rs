//! The config file (DESIGN.md §3): providers (OpenID issuers) and the clusters that trust them.
//!
//! Loading is strict on purpose: an unknown key, a duplicate name, a cluster naming a missing provider, a
//! bad URL, a plain-http issuer off loopback or an unreadable CA file is an error that names the file, the
//! line and the key, so a typo never silently turns into "sign-in does not work". Saving is atomic and keeps
//! the file private (0600): it may hold a client secret.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::atomic_file;
use crate::names::{self, NameKind};
use crate::secret::Secret;

/// Scopes Signet always asks for (DESIGN.md §5.1).
pub const BASE_SCOPES: [&str; 3] = ["openid", "email", "offline_access"];

/// The ID-token claim that names the person when a provider sets none (Dex puts the email there).
pub const DEFAULT_USERNAME_CLAIM: &str = "email";

/// How a provider's sign-in runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum LoginMode {
    /// A webview window inside the tray app.
    #[default]
    Embedded,
    /// The system browser and a loopback redirect (RFC 8252).
    Browser,
    /// The device authorization grant (RFC 8628): a URL and a code to type elsewhere.
    Device,
}

/// How kubectl gets the cluster's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum Credentials {
    /// An exec entry running `kubectl-signet token`.
    #[default]
    Exec,
    /// A static `token:` that Signet rewrites on every refresh.
    Token,
}

/// Where refresh tokens are kept on Linux (`[settings] secret_store`, DESIGN.md §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretStoreChoice {
    /// The Secret Service when a provider answers on the session bus, else the kernel keyring.
    #[default]
    Auto,
    /// Only the Secret Service (a desktop keyring such as gnome-keyring or KeePassXC).
    SecretService,
    /// Only the kernel keyring (keyutils): the user's persistent keyring, kept until reboot or expiry.
    Keyutils,
}

/// An OpenID provider (usually Dex) and Signet's client registration with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderConfig {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    pub login: LoginMode,
    pub username_claim: String,
}

impl ProviderConfig {
    /// A provider that only names an issuer: what checking an issuer (or an API server, which needs
    /// some provider) before saving anything is done with.
    pub fn probe(issuer: &str) -> ProviderConfig {
        ProviderConfig {
            name: "probe".into(),
            issuer: issuer.to_string(),
            client_id: "probe".into(),
            client_secret: None,
            connector: None,
            scopes: Vec::new(),
            ca_file: None,
            ca_data: None,
            login: LoginMode::default(),
            username_claim: DEFAULT_USERNAME_CLAIM.into(),
        }
    }
}

/// A Kubernetes API server whose OIDC authenticator trusts a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterConfig {
    pub name: String,
    pub provider: String,
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    /// The Dex client the API server trusts; `None` means the provider's `client_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub credentials: Credentials,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
}

/// The tray app's preferences: the `[settings]` table, every key optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Desktop notifications. Off, the tray icon and menu still show every state.
    pub notifications: bool,
    /// How many minutes before a session that cannot be refreshed ends Signet warns (1–120).
    pub warning_minutes: u32,
    /// The kubeconfig file suggested for new clusters (`None`: client-go's choice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// The credentials mode suggested for new clusters.
    pub credentials: Credentials,
    /// Where refresh tokens are kept (`auto`, `secret-service`, `keyutils`).
    pub secret_store: SecretStoreChoice,
    /// Whether the tray serves ID tokens to kubectl on other hosts through a forwarded socket
    /// (`$XDG_RUNTIME_DIR/signet/forward.sock`, DESIGN.md §5.5). Off by default.
    pub allow_forwarding: bool,
    /// With forwarding on: serve every forwarded request without asking the person first. Off by default:
    /// the first request of each new session (one `ssh -R` connection) asks in a notification.
    pub forward_without_asking: bool,
}

impl Settings {
    pub const WARNING_MINUTES: std::ops::RangeInclusive<u32> = 1..=120;

    fn is_default(&self) -> bool {
        *self == Settings::default()
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            notifications: true,
            warning_minutes: 10,
            kubeconfig: None,
            credentials: Credentials::Exec,
            secret_store: SecretStoreChoice::Auto,
            allow_forwarding: false,
            forward_without_asking: false,
        }
    }
}

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    #[serde(skip_serializing_if = "Settings::is_default")]
    pub settings: Settings,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterConfig>,
}

/// Why the config could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file does not exist (Signet has not been set up).
    #[error("no config at '{}'; add a provider with `kubectl signet add provider` or import a catalog with `kubectl signet import --catalog`", path.display())]
    Missing { path: PathBuf },
    #[error("failed to read config '{}'", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse or has a key Signet does not know.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A value is wrong: `key` names it (`providers[0].issuer`).
    #[error("{}:{line}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("failed to write config '{}'", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Missing { .. } => "config.missing",
            ConfigError::Read { .. } => "config.unreadable",
            ConfigError::Syntax { .. } => "config.syntax",
            ConfigError::Invalid { .. } => "config.invalid",
            ConfigError::Write { .. } => "config.write_failed",
        }
    }
}

impl Config {
    /// Reads and validates the config at `path`. Relative CA paths and `~/` are resolved against `home`.
    pub fn load(path: &Path, home: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Missing {
                    path: path.to_path_buf(),
                }
            } else {
                ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Config::parse(&text, path, home)
    }

    /// Like [`Config::load`], but a missing file is an empty config.
    pub fn load_or_default(path: &Path, home: &Path) -> Result<Config, ConfigError> {
        match Config::load(path, home) {
            Err(ConfigError::Missing { .. }) => Ok(Config::default()),
            other => other,
        }
    }

    /// Parses and validates config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path, home: &Path) -> Result<Config, ConfigError> {
        Config::parse_from(text, path, home, Origin::Own)
    }

    /// Parses and validates a team catalog: the config format, but shared, so it may not choose local
    /// paths — `kubeconfig` (where Signet writes) and `ca_file` (a file Signet reads) are refused with
    /// their line; certificates come as `ca_data`. `path` (a file or a URL) is only used in messages.
    pub fn parse_catalog(text: &str, path: &Path) -> Result<Config, ConfigError> {
        // No path is resolved in a catalog, so there is no home to resolve `~` against.
        Config::parse_from(text, path, Path::new("/nonexistent"), Origin::Catalog)
    }

    fn parse_from(
        text: &str,
        path: &Path,
        home: &Path,
        origin: Origin,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim().to_string(),
        })?;
        Validator {
            text,
            path,
            home,
            origin,
        }
        .validate(raw)
    }

    /// Writes the config atomically with mode 0600 (it may hold a client secret).
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let write_err = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let body = toml::to_string_pretty(self)
            .map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
        let text = format!("# Signet config — see the README for every key.\n\n{body}");
        // The config's directory may be the person's (`SIGNET_CONFIG=./x.toml`): create it private if
        // missing, never chmod it; the file is 0600.
        if let Some(dir) = path.parent() {
            atomic_file::parent_dir(dir).map_err(write_err)?;
        }
        atomic_file::write(path, text.as_bytes(), 0o600).map_err(write_err)
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The clusters served by one provider.
    pub fn clusters_of<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a ClusterConfig> {
        self.clusters.iter().filter(move |c| c.provider == provider)
    }

    /// Every audience the provider's clusters expect, sorted and distinct (the client id stands for
    /// clusters without an explicit audience).
    pub fn audiences_of(&self, provider: &ProviderConfig) -> Vec<String> {
        let set: BTreeSet<String> = self
            .clusters_of(&provider.name)
            .map(|c| c.audience_or(provider).to_string())
            .collect();
        set.into_iter().collect()
    }
}

impl ClusterConfig {
    /// The `aud` the cluster's API server expects.
    pub fn audience_or<'a>(&'a self, provider: &'a ProviderConfig) -> &'a str {
        self.audience.as_deref().unwrap_or(&provider.client_id)
    }

    /// The kubeconfig context name.
    pub fn context_name(&self) -> &str {
        self.context.as_deref().unwrap_or(&self.name)
    }
}

impl ProviderConfig {
    /// The provider's CA bundle (PEM), from `ca_file` or `ca_data`.
    pub fn ca_pem(&self) -> std::io::Result<Option<Vec<u8>>> {
        read_ca(self.ca_file.as_deref(), self.ca_data.as_deref())
    }
}

impl ClusterConfig {
    /// The API server's CA bundle (PEM), from `ca_file` or `ca_data`; `None`: the system roots.
    pub fn ca_pem(&self) -> std::io::Result<Option<Vec<u8>>> {
        read_ca(self.ca_file.as_deref(), self.ca_data.as_deref())
    }
}

/// A CA bundle from a file, else from base64 PEM data; a file wins when both are set.
fn read_ca(file: Option<&Path>, data: Option<&str>) -> std::io::Result<Option<Vec<u8>>> {
    match (file, data) {
        (Some(file), _) => std::fs::read(file).map(Some),
        (None, Some(data)) => decode_pem_base64(data)
            .map(Some)
            .map_err(std::io::Error::other),
        (None, None) => Ok(None),
    }
}

impl Config {
    /// Renders the config and parses it back, so an edit made in code (the switcher, `add`) gets the
    /// same checks and `key: message` errors as the file. The errors name `new config`.
    pub fn checked(&self, home: &Path) -> Result<Config, ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Write {
            path: PathBuf::from("new config"),
            source: std::io::Error::other(e.to_string()),
        })?;
        Config::parse(&text, Path::new("new config"), home)
    }
}

/// Whether `url` is allowed as an issuer or API server: https anywhere, http only on loopback.
pub fn is_secure_or_loopback(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn decode_pem_base64(data: &str) -> Result<Vec<u8>, String> {
    let compact: String = data.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("is not base64: {e}"))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err("does not decode to a PEM certificate".into());
    }
    Ok(bytes)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    settings: Option<Spanned<Settings>>,
    #[serde(default)]
    providers: Vec<Spanned<RawProvider>>,
    #[serde(default)]
    clusters: Vec<Spanned<RawCluster>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: Spanned<String>,
    issuer: Spanned<String>,
    client_id: Spanned<String>,
    client_secret: Option<Secret>,
    connector: Option<Spanned<String>>,
    #[serde(default)]
    scopes: Vec<Spanned<String>>,
    ca_file: Option<Spanned<PathBuf>>,
    ca_data: Option<Spanned<String>>,
    #[serde(default)]
    login: LoginMode,
    username_claim: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: Spanned<String>,
    provider: Spanned<String>,
    server: Spanned<String>,
    ca_data: Option<Spanned<String>>,
    ca_file: Option<Spanned<PathBuf>>,
    insecure_skip_tls_verify: Option<Spanned<bool>>,
    audience: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    context: Option<Spanned<String>>,
    #[serde(default)]
    credentials: Credentials,
    kubeconfig: Option<Spanned<PathBuf>>,
}

/// Whose text is being read: the person's own config, or a team catalog (which may not name local paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Own,
    Catalog,
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
    home: &'a Path,
    origin: Origin,
}

impl Validator<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        key: String,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: line_of(self.text, span.start),
            key,
            message: message.into(),
        })
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        let p = match p.strip_prefix("~") {
            Ok(rest) => self.home.join(rest),
            Err(_) => p.to_path_buf(),
        };
        if p.is_relative() {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        } else {
            p
        }
    }

    /// The one name validator ([`names::check`]), with the key and line of the value.
    fn check_name(
        &self,
        kind: NameKind,
        name: &Spanned<String>,
        key: String,
    ) -> Result<(), ConfigError> {
        match names::check(kind, name.get_ref()) {
            Ok(()) => Ok(()),
            Err(e) => self.err(name.span(), key, e.to_string()),
        }
    }

    /// A catalog is shared: a key naming a local path is refused (the person sets it in their own config).
    fn refuse_in_catalog<T>(
        &self,
        value: Option<&Spanned<T>>,
        key: String,
        message: &str,
    ) -> Result<(), ConfigError> {
        match value {
            Some(v) if self.origin == Origin::Catalog => self.err(v.span(), key, message),
            _ => Ok(()),
        }
    }

    fn check_url(
        &self,
        value: &Spanned<String>,
        key: String,
        what: &str,
    ) -> Result<(), ConfigError> {
        let url = match url::Url::parse(value.get_ref()) {
            Ok(url) => url,
            Err(e) => {
                return self.err(
                    value.span(),
                    key,
                    format!("'{}' is not a URL ({e})", value.get_ref()),
                );
            }
        };
        if !is_secure_or_loopback(&url) {
            return self.err(
                value.span(),
                key,
                format!(
                    "'{}' must use https ({what} may use http only on a loopback address)",
                    value.get_ref()
                ),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return self.err(value.span(), key, "must not have a query or fragment");
        }
        Ok(())
    }

    fn check_ca(
        &self,
        file: &Option<Spanned<PathBuf>>,
        data: &Option<Spanned<String>>,
        key: &str,
    ) -> Result<(Option<PathBuf>, Option<String>), ConfigError> {
        self.refuse_in_catalog(
            file.as_ref(),
            format!("{key}.ca_file"),
            "a team catalog must not name a local file; put the certificate in ca_data (base64 PEM) instead",
        )?;
        match (file, data) {
            (Some(f), Some(_)) => self.err(
                f.span(),
                format!("{key}.ca_file"),
                "set ca_file or ca_data, not both",
            ),
            (Some(f), None) => {
                let resolved = self.resolve(f.get_ref());
                match std::fs::read(&resolved) {
                    Ok(bytes)
                        if String::from_utf8_lossy(&bytes)
                            .contains("-----BEGIN CERTIFICATE-----") =>
                    {
                        Ok((Some(resolved), None))
                    }
                    Ok(_) => self.err(
                        f.span(),
                        format!("{key}.ca_file"),
                        format!("'{}' holds no PEM certificate", resolved.display()),
                    ),
                    Err(e) => self.err(
                        f.span(),
                        format!("{key}.ca_file"),
                        format!("cannot read '{}': {e}", resolved.display()),
                    ),
                }
            }
            (None, Some(d)) => match decode_pem_base64(d.get_ref()) {
                Ok(_) => Ok((None, Some(d.get_ref().clone()))),
                Err(e) => self.err(d.span(), format!("{key}.ca_data"), e),
            },
            (None, None) => Ok((None, None)),
        }
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(settings) = raw.settings {
            config.settings = self.validate_settings(settings)?;
        }
        let mut names = BTreeSet::new();
        for (i, provider) in raw.providers.into_iter().enumerate() {
            let provider = self.validate_provider(i, provider, &mut names)?;
            config.providers.push(provider);
        }
        let (mut names, mut contexts) = (BTreeSet::new(), BTreeSet::new());
        for (i, cluster) in raw.clusters.into_iter().enumerate() {
            let cluster = self.validate_cluster(i, cluster, &config, &mut names, &mut contexts)?;
            config.clusters.push(cluster);
        }
        Ok(config)
    }

    fn validate_settings(&self, settings: Spanned<Settings>) -> Result<Settings, ConfigError> {
        let span = settings.span();
        let settings = settings.into_inner();
        if !Settings::WARNING_MINUTES.contains(&settings.warning_minutes) {
            return self.err(
                span,
                "settings.warning_minutes".into(),
                format!(
                    "{} is out of range: use 1 to 120 minutes",
                    settings.warning_minutes
                ),
            );
        }
        Ok(settings)
    }

    /// One `[[providers]]` table; `names` are the provider names seen so far.
    fn validate_provider(
        &self,
        i: usize,
        spanned: Spanned<RawProvider>,
        names: &mut BTreeSet<String>,
    ) -> Result<ProviderConfig, ConfigError> {
        let p = spanned.into_inner();
        let key = |field: &str| format!("providers[{i}].{field}");
        self.check_name(NameKind::Provider, &p.name, key("name"))?;
        if !names.insert(p.name.get_ref().clone()) {
            return self.err(
                p.name.span(),
                key("name"),
                format!("duplicate provider name '{}'", p.name.get_ref()),
            );
        }
        self.check_url(&p.issuer, key("issuer"), "an issuer")?;
        if p.client_id.get_ref().trim().is_empty() {
            return self.err(p.client_id.span(), key("client_id"), "must not be empty");
        }
        for scope in &p.scopes {
            if scope.get_ref().is_empty() || scope.get_ref().contains(char::is_whitespace) {
                return self.err(
                    scope.span(),
                    key("scopes"),
                    format!("'{}' is not a single scope", scope.get_ref()),
                );
            }
        }
        if let Some(c) = &p.connector
            && c.get_ref().trim().is_empty()
        {
            return self.err(
                c.span(),
                key("connector"),
                "must not be empty (remove the key instead)",
            );
        }
        let (ca_file, ca_data) =
            self.check_ca(&p.ca_file, &p.ca_data, &format!("providers[{i}]"))?;
        Ok(ProviderConfig {
            name: p.name.into_inner(),
            issuer: p.issuer.into_inner(),
            client_id: p.client_id.into_inner(),
            client_secret: p.client_secret,
            connector: p.connector.map(Spanned::into_inner),
            scopes: p.scopes.into_iter().map(Spanned::into_inner).collect(),
            ca_file,
            ca_data,
            login: p.login,
            username_claim: p
                .username_claim
                .unwrap_or_else(|| DEFAULT_USERNAME_CLAIM.into()),
        })
    }

    /// One `[[clusters]]` table, against the providers already validated; `names` and `contexts` are
    /// the cluster and context names seen so far.
    fn validate_cluster(
        &self,
        i: usize,
        spanned: Spanned<RawCluster>,
        config: &Config,
        names: &mut BTreeSet<String>,
        contexts: &mut BTreeSet<String>,
    ) -> Result<ClusterConfig, ConfigError> {
        let c = spanned.into_inner();
        let key = |field: &str| format!("clusters[{i}].{field}");
        self.check_name(NameKind::Cluster, &c.name, key("name"))?;
        if let Some(context) = &c.context {
            self.check_name(NameKind::Context, context, key("context"))?;
        }
        if let Some(namespace) = &c.namespace {
            self.check_name(NameKind::Namespace, namespace, key("namespace"))?;
        }
        self.refuse_in_catalog(
            c.kubeconfig.as_ref(),
            key("kubeconfig"),
            "a team catalog must not choose where Signet writes; set `kubeconfig` for this cluster in your own config after the import",
        )?;
        if !names.insert(c.name.get_ref().clone()) {
            return self.err(
                c.name.span(),
                key("name"),
                format!("duplicate cluster name '{}'", c.name.get_ref()),
            );
        }
        let context = c.context.as_ref().unwrap_or(&c.name);
        if !contexts.insert(context.get_ref().clone()) {
            return self.err(
                context.span(),
                key("context"),
                format!("duplicate context name '{}'", context.get_ref()),
            );
        }
        if config.provider(c.provider.get_ref()).is_none() {
            return self.err(
                c.provider.span(),
                key("provider"),
                format!(
                    "no provider named '{}' (known: {})",
                    c.provider.get_ref(),
                    known(config)
                ),
            );
        }
        self.check_url(&c.server, key("server"), "an API server")?;
        let (ca_file, ca_data) =
            self.check_ca(&c.ca_file, &c.ca_data, &format!("clusters[{i}]"))?;
        let insecure = c
            .insecure_skip_tls_verify
            .as_ref()
            .is_some_and(|v| *v.get_ref());
        if let Some(flag) = c
            .insecure_skip_tls_verify
            .as_ref()
            .filter(|_| insecure && (ca_file.is_some() || ca_data.is_some()))
        {
            return self.err(
                flag.span(),
                key("insecure_skip_tls_verify"),
                "cannot be combined with ca_file or ca_data",
            );
        }
        if let Some(a) = &c.audience
            && a.get_ref().trim().is_empty()
        {
            return self.err(
                a.span(),
                key("audience"),
                "must not be empty (remove the key to use the client_id)",
            );
        }
        Ok(ClusterConfig {
            name: c.name.into_inner(),
            provider: c.provider.into_inner(),
            server: c.server.into_inner(),
            ca_data,
            ca_file,
            insecure_skip_tls_verify: insecure,
            audience: c.audience.map(Spanned::into_inner),
            namespace: c.namespace.map(Spanned::into_inner),
            context: c.context.map(Spanned::into_inner),
            credentials: c.credentials,
            kubeconfig: c.kubeconfig.map(|p| self.resolve(p.get_ref())),
        })
    }
}

fn known(config: &Config) -> String {
    if config.providers.is_empty() {
        return "none".into();
    }
    config
        .providers
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
