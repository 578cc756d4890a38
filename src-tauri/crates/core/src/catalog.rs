//! Importing into Signet (DESIGN.md §3, §4 `import`): adopting the kubelogin and legacy
//! `auth-provider: oidc` entries of a kubeconfig, or merging a team catalog into the config.
//!
//! Import runs in two steps. Planning ([`plan_kubeconfig_import`], [`plan_catalog_import`]) only reads —
//! the kubeconfig chain, the catalog file or URL, the config — and decides everything; the [`ImportPlan`]
//! displays itself for `--dry-run`. [`ImportPlan::apply`] then saves the config and changes the kubeconfig
//! (backed up first by the kubeconfig module). This module must not touch a kubeconfig entry that is not
//! being adopted, and must never copy a legacy user's `id-token` / `refresh-token`: Signet signs in afresh,
//! and those values stay where they were, in the old user entry, which is left untouched.
//!
//! ## What a kubelogin / legacy user becomes
//!
//! One provider per distinct issuer + client id (an existing provider with the same issuer and client id is
//! reused), named after the issuer's host (`dex.example.com` → `dex-example-com`, made unique). One cluster
//! per context that uses such a user, named after the context (sanitised to `[a-z0-9-]`, made unique) with
//! `context` set to the original name, so the context keeps its name. Server and CA come from the context's
//! kubeconfig cluster.
//!
//! ## Audience and client id
//!
//! The API server trusts tokens whose `aud` holds its `--oidc-client-id`; a working kubelogin setup proves
//! that the client id kubelogin used is that audience. So every imported cluster gets `audience = <old
//! client id>` explicitly. By default Signet also signs in *as* that client (`client_id = <old client id>`,
//! with its secret when kubelogin had one): the token's `aud` is then exactly what it was, and nothing has to
//! change at Dex. With `--client-id X`, Signet signs in as its own client `X` instead and asks Dex for the
//! old client as a cross-client audience (`audience:server:client_id:<old>`); Dex then issues `aud = [old,
//! X]`, `azp = X`, which the API server accepts — but only if the old client lists `X` in its
//! `trustedPeers` (else Dex answers `invalid_scope`). The old client's secret is not copied then: it is not
//! `X`'s. That is the better setup for a confidential old client whose `redirectURIs` do not allow Signet's
//! loopback redirect on a random port, and the plan says so.
//!
//! ## A team catalog
//!
//! The config format without secrets: a catalog holding `client_secret` is rejected. It is merged into the
//! config: entries equal to existing ones are kept as they are, a name that exists with different content
//! is an error naming both, and a catalog provider that is the same client (issuer + client id) as an
//! existing provider is mapped onto it (two providers for one Dex client would sign each other out: Dex
//! keeps one refresh token per user, connector and client). Per-person settings (`login`, `namespace`,
//! `credentials`, `kubeconfig`, a local `client_secret`) are not compared. The kubeconfig entries of the new
//! exec-mode clusters are written at once, as `add cluster` does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use kube::config::{NamedAuthInfo, NamedCluster, NamedContext};

use crate::config::{
    ClusterConfig, Config, ConfigError, Credentials, LoginMode, ProviderConfig,
    is_secure_or_loopback,
};
use crate::http::{HttpClient, HttpError, HttpOptions};
use crate::kubeconfig::{
    self, AdoptError, Adoption, EditOutcome, EntryCredentials, KubeconfigError, KubeconfigFile,
    KubeconfigTarget, SignetEntry,
};
use crate::names::{self, NameKind};
use crate::paths::Paths;
use crate::secret::Secret;
use crate::text::{printable, printable_multiline};

/// Why an import could not be planned or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error(transparent)]
    Adopt(#[from] AdoptError),
    /// `--kubeconfig F` names a file that does not exist (as with kubectl, an explicit file must exist).
    #[error("kubeconfig '{}' does not exist", .path.display())]
    KubeconfigMissing { path: PathBuf },
    #[error("cannot read catalog '{}'", .path.display())]
    CatalogRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "catalog URL '{url}' must use https (plain http is allowed only on a loopback address)"
    )]
    InsecureUrl { url: String },
    #[error("could not download catalog '{url}': {detail}")]
    CatalogFetch { url: String, detail: String },
    /// A team catalog is shared: it must not carry a secret.
    #[error(
        "{origin}:{line}: providers[{index}].client_secret: a team catalog must not contain a client secret (provider '{provider}'); remove it from the catalog — whoever needs a secret adds it to their own config"
    )]
    SecretInCatalog {
        origin: String,
        line: usize,
        index: usize,
        provider: String,
    },
    /// A name exists in both places with different content.
    #[error(transparent)]
    Conflict(Box<Conflict>),
    /// The merged config does not validate (this is a bug or an odd catalog; the message names the key).
    #[error("the config after the import would be invalid: {0}")]
    Invalid(#[source] ConfigError),
    #[error(
        "the Signet config '{}' changed since the import was planned; run the import again",
        .path.display()
    )]
    ConfigChanged { path: PathBuf },
    /// The import would add clusters that skip TLS verification, and the person did not allow it.
    #[error(
        "{} {} would turn off TLS verification of the API server (insecure_skip_tls_verify): anyone on the network path could read your token; nothing was changed. Ask for the cluster's CA (ca_data), or, if you accept the risk, import again with --allow-insecure (in the app: tick the confirmation that names the clusters)",
        if .clusters.len() == 1 { "cluster" } else { "clusters" },
        .clusters.iter().map(|c| printable(c).into_owned()).collect::<Vec<_>>().join(", ")
    )]
    InsecureNotAllowed { clusters: Vec<String> },
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Config(e) => e.code(),
            ImportError::Kubeconfig(e) => e.code(),
            ImportError::Adopt(e) => e.code(),
            ImportError::KubeconfigMissing { .. } => "import.kubeconfig_missing",
            ImportError::CatalogRead { .. } => "import.catalog_unreadable",
            ImportError::InsecureUrl { .. } => "import.insecure_url",
            ImportError::CatalogFetch { .. } => "import.catalog_fetch_failed",
            ImportError::SecretInCatalog { .. } => "import.secret_in_catalog",
            ImportError::Conflict(_) => "import.conflict",
            ImportError::Invalid(_) => "import.invalid",
            ImportError::ConfigChanged { .. } => "import.config_changed",
            ImportError::InsecureNotAllowed { .. } => "import.insecure_not_allowed",
        }
    }
}

/// A catalog entry whose name exists in the config with different content.
#[derive(Debug, thiserror::Error)]
#[error(
    "{kind} '{name}' from {origin} differs from {kind} '{existing}' in {}: {differences}; rename one of them or align them",
    .config.display()
)]
pub struct Conflict {
    pub kind: &'static str,
    pub name: String,
    pub origin: String,
    pub existing: String,
    pub config: PathBuf,
    pub differences: String,
}

// ---------------------------------------------------------------------------------------------------------
// Reading old OIDC users

/// How an old kubeconfig user got its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldAuth {
    /// An exec entry running int128/kubelogin (`kubectl oidc-login get-token`, `kubelogin get-token`).
    Kubelogin,
    /// The legacy in-tree `auth-provider: {name: oidc}`.
    AuthProvider,
}

impl fmt::Display for OldAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OldAuth::Kubelogin => "kubelogin exec",
            OldAuth::AuthProvider => "legacy auth-provider oidc",
        })
    }
}

/// What an old OIDC user entry says about its provider. Never holds the legacy `id-token` or
/// `refresh-token`; the client secret is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcUser {
    pub kind: OldAuth,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Extra scopes, in order, without duplicates.
    pub scopes: Vec<String>,
    /// CA files for the issuer's TLS, as written (maybe relative or `~/`).
    pub ca_files: Vec<String>,
    /// Base64 PEM CA bundles for the issuer's TLS.
    pub ca_data: Vec<String>,
    /// Dex `connector_id` from kubelogin's `--oidc-auth-request-extra-params`.
    pub connector: Option<String>,
    /// Names of other auth-request parameters (not carried over).
    pub other_params: Vec<String>,
    /// kubelogin `--grant-type=device-code`.
    pub device: bool,
    pub insecure_skip_tls_verify: bool,
    pub use_access_token: bool,
    /// Flags or config keys Signet does not know (names only, never values).
    pub unknown: Vec<String>,
}

impl OidcUser {
    fn new(kind: OldAuth) -> OidcUser {
        OidcUser {
            kind,
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            scopes: Vec::new(),
            ca_files: Vec::new(),
            ca_data: Vec::new(),
            connector: None,
            other_params: Vec::new(),
            device: false,
            insecure_skip_tls_verify: false,
            use_access_token: false,
            unknown: Vec::new(),
        }
    }

    fn add_scopes(&mut self, list: &str) {
        for scope in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !self.scopes.iter().any(|s| s == scope) {
                self.scopes.push(scope.to_owned());
            }
        }
    }
}

/// kubelogin flags that take no value (pflag `BoolVar`); every other known flag takes one.
const KUBELOGIN_BOOL_FLAGS: &[&str] = &[
    "oidc-use-pkce",
    "oidc-use-access-token",
    "force-refresh",
    "force-keyring",
    "no-keyring",
    "insecure-skip-tls-verify",
    "tls-renegotiation-once",
    "tls-renegotiation-freely",
    "skip-open-browser",
];

/// kubelogin flags that only tune kubelogin itself and mean nothing for Signet.
const KUBELOGIN_IRRELEVANT_FLAGS: &[&str] = &[
    "oidc-use-pkce",
    "oidc-pkce-method",
    "force-refresh",
    "force-keyring",
    "no-keyring",
    "token-cache-dir",
    "token-cache-storage",
    "tls-renegotiation-once",
    "tls-renegotiation-freely",
    "listen-address",
    "skip-open-browser",
    "browser-command",
    "authentication-timeout-sec",
    "local-server-cert",
    "local-server-key",
    "open-url-after-authentication",
    "oidc-redirect-url",
    "oidc-redirect-url-hostname",
    "oidc-redirect-url-authcode-keyboard",
    "v",
    "log_file",
    "logtostderr",
];

/// Reads an exec entry: `None` when it is not int128/kubelogin's `get-token`, `Some(Err(why))` when it is
/// but Signet cannot take it over (no issuer, a password or client-credentials grant, …).
///
/// Recognised: `kubectl oidc-login get-token …`, `kubectl-oidc_login get-token …` and `kubelogin get-token …`
/// (any directory, `.exe` too). Flags in both pflag forms, `--flag=value` and `--flag value`;
/// `--oidc-extra-scope` is repeatable and takes comma lists; `--oidc-auth-request-extra-params` takes
/// `k=v` comma lists, of which `connector_id` becomes the provider's Dex connector.
pub fn parse_kubelogin(command: &str, args: &[String]) -> Option<Result<OidcUser, String>> {
    let program = command
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(command)
        .trim_end_matches(".exe");
    let arg = |i: usize| args.get(i).map(String::as_str);
    let rest = match program {
        "kubectl" if arg(0) == Some("oidc-login") && arg(1) == Some("get-token") => &args[2..],
        "kubectl-oidc_login" | "kubectl-oidc-login" | "kubelogin"
            if arg(0) == Some("get-token") =>
        {
            &args[1..]
        }
        _ => return None,
    };
    let mut user = OidcUser::new(OldAuth::Kubelogin);
    let mut grant_type = String::from("auto");
    let mut username = false;
    let mut i = 0;
    while i < rest.len() {
        let raw = rest[i].as_str();
        i += 1;
        if raw == "--" {
            break;
        }
        let Some(flag) = raw.strip_prefix("--").or_else(|| raw.strip_prefix('-')) else {
            user.unknown.push(format!("argument #{}", i));
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        // `-v1` / `-v=1`: the log level shorthand.
        if !raw.starts_with("--")
            && name.starts_with('v')
            && name[1..].bytes().all(|b| b.is_ascii_digit())
        {
            if name == "v" && inline.is_none() && rest.get(i).is_some_and(|n| !n.starts_with('-')) {
                i += 1;
            }
            continue;
        }
        let value = if KUBELOGIN_BOOL_FLAGS.contains(&name) {
            inline.or_else(|| Some("true".into()))
        } else if inline.is_some() {
            inline
        } else if is_known_kubelogin_flag(name) || rest.get(i).is_some_and(|n| !n.starts_with('-'))
        {
            // pflag gives a value flag the next argument whatever it looks like; for flags we do not
            // know, only a next argument that is not itself a flag is taken as the value.
            let next = rest.get(i).cloned();
            if next.is_some() {
                i += 1;
            }
            next
        } else {
            None
        };
        let value = value.unwrap_or_default();
        let on = || value != "false";
        match name {
            "oidc-issuer-url" => user.issuer = value,
            "oidc-client-id" => user.client_id = value,
            "oidc-client-secret" => user.client_secret = Some(Secret::new(value)),
            "oidc-extra-scope" => user.add_scopes(&value),
            "certificate-authority" => user.ca_files.push(value),
            "certificate-authority-data" => user.ca_data.push(value),
            "oidc-auth-request-extra-params" => {
                for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
                    if key == "connector_id" && !val.is_empty() {
                        user.connector = Some(val.to_owned());
                    } else if !user.other_params.iter().any(|p| p == key) {
                        user.other_params.push(key.to_owned());
                    }
                }
            }
            "grant-type" => grant_type = value,
            "username" => username = !value.is_empty(),
            "password" => {}
            "insecure-skip-tls-verify" => user.insecure_skip_tls_verify = on(),
            "oidc-use-access-token" => user.use_access_token = on(),
            _ if KUBELOGIN_IRRELEVANT_FLAGS.contains(&name) => {}
            _ => user.unknown.push(format!("--{name}")),
        }
    }
    match grant_type.as_str() {
        "auto" if username => {
            return Some(Err(
                "it signs in with a username and password (the password grant), which Signet does not offer".into(),
            ));
        }
        "auto" | "authcode" | "authcode-keyboard" => {}
        "device-code" => user.device = true,
        other => {
            return Some(Err(format!(
                "it uses kubelogin's '{other}' grant, which Signet does not offer (Signet signs a person in)"
            )));
        }
    }
    if user.issuer.is_empty() {
        return Some(Err(
            "its kubelogin arguments have no --oidc-issuer-url (is it Azure's kubelogin?)".into(),
        ));
    }
    if user.client_id.is_empty() {
        return Some(Err(
            "its kubelogin arguments have no --oidc-client-id".into()
        ));
    }
    Some(Ok(user))
}

fn is_known_kubelogin_flag(name: &str) -> bool {
    matches!(
        name,
        "oidc-issuer-url"
            | "oidc-client-id"
            | "oidc-client-secret"
            | "oidc-extra-scope"
            | "certificate-authority"
            | "certificate-authority-data"
            | "oidc-auth-request-extra-params"
            | "grant-type"
            | "username"
            | "password"
    ) || KUBELOGIN_IRRELEVANT_FLAGS.contains(&name)
}

/// Reads a legacy `auth-provider: {name: oidc, config: …}` (client-go `plugin/pkg/client/auth/oidc`).
///
/// Keys: `idp-issuer-url`, `client-id`, `client-secret`, `idp-certificate-authority`,
/// `idp-certificate-authority-data`, `extra-scopes` (comma list). `id-token` and `refresh-token` are
/// deliberately not read: Signet signs in afresh.
pub fn parse_auth_provider(config: &HashMap<String, String>) -> Result<OidcUser, String> {
    let mut user = OidcUser::new(OldAuth::AuthProvider);
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort();
    for key in keys {
        let value = &config[key];
        match key.as_str() {
            "idp-issuer-url" => user.issuer = value.clone(),
            "client-id" => user.client_id = value.clone(),
            "client-secret" if !value.is_empty() => {
                user.client_secret = Some(Secret::new(value.clone()));
            }
            "idp-certificate-authority" if !value.is_empty() => user.ca_files.push(value.clone()),
            "idp-certificate-authority-data" if !value.is_empty() => {
                user.ca_data.push(value.clone());
            }
            "extra-scopes" => user.add_scopes(value),
            "id-token"
            | "refresh-token"
            | "client-secret"
            | "idp-certificate-authority"
            | "idp-certificate-authority-data" => {}
            other => user.unknown.push(other.to_owned()),
        }
    }
    if user.issuer.is_empty() {
        return Err("its auth-provider config has no idp-issuer-url".into());
    }
    if user.client_id.is_empty() {
        return Err("its auth-provider config has no client-id".into());
    }
    Ok(user)
}

/// Whether a kubeconfig user is an old OIDC user Signet can adopt.
fn classify(user: &NamedAuthInfo) -> Option<Result<OidcUser, String>> {
    let info = user.auth_info.as_ref()?;
    if let Some(exec) = &info.exec {
        let command = exec.command.as_deref()?;
        return parse_kubelogin(command, exec.args.as_deref().unwrap_or_default());
    }
    let provider = info.auth_provider.as_ref()?;
    (provider.name == "oidc").then(|| parse_auth_provider(&provider.config))
}

// ---------------------------------------------------------------------------------------------------------
// The plan

/// Where an import reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    /// A kubeconfig chain (or the one `--kubeconfig` file).
    Kubeconfig {
        files: Vec<PathBuf>,
    },
    Catalog(CatalogSource),
}

/// A team catalog: a local TOML file or an https URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSource {
    File(PathBuf),
    Url(String),
}

impl CatalogSource {
    /// `http://…` and `https://…` are URLs; anything else is a file.
    pub fn from_arg(arg: &str) -> CatalogSource {
        let lower = arg.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            CatalogSource::Url(arg.to_owned())
        } else {
            CatalogSource::File(PathBuf::from(arg))
        }
    }

    fn origin(&self) -> String {
        match self {
            CatalogSource::File(path) => path.display().to_string(),
            CatalogSource::Url(url) => url.clone(),
        }
    }
}

impl fmt::Display for ImportSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportSource::Kubeconfig { files } => {
                let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(f, "kubeconfig {}", list.join(", "))
            }
            ImportSource::Catalog(CatalogSource::File(path)) => {
                write!(f, "catalog {}", path.display())
            }
            ImportSource::Catalog(CatalogSource::Url(url)) => write!(f, "catalog {url}"),
        }
    }
}

/// What happens to the kubeconfig cluster an adopted context uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEntryChange {
    /// The old entry already has Signet's cluster name and only adopted contexts use it: it gets Signet's
    /// mark and keeps its fields.
    TakenOver,
    /// Signet's cluster entry is created as a copy of the old one, which stays for `kept_for` (other
    /// contexts) or because its name is taken.
    Copied { kept_for: Vec<String> },
    /// Signet's entry exists already.
    Existing,
}

/// A kubeconfig context that becomes Signet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextAdoption {
    pub context: String,
    /// The file the context lives in.
    pub file: PathBuf,
    pub old_user: String,
    pub old_auth: OldAuth,
    pub old_cluster: String,
    /// The Signet cluster (also its kubeconfig cluster name; the user is `signet-<cluster>`).
    pub cluster: String,
    pub provider: String,
    pub cluster_entry: ClusterEntryChange,
    /// Contexts that are not adopted and still use the old user.
    pub old_user_also_used_by: Vec<String>,
    target: KubeconfigTarget,
}

/// Kubeconfig entries written for a new catalog cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntries {
    pub cluster: String,
    pub context: String,
    pub file: PathBuf,
    target: KubeconfigTarget,
}

/// Something found that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub what: String,
    pub reason: String,
}

/// Everything an import will change. Reading it changes nothing; [`apply`](Self::apply) does the work.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub source: ImportSource,
    pub config_file: PathBuf,
    /// Providers added to the config (a client secret here is shown redacted).
    pub providers: Vec<ProviderConfig>,
    /// Clusters added to the config.
    pub clusters: Vec<ClusterConfig>,
    /// Entries that exist already and are used as they are (`provider corp`, …).
    pub reused: Vec<String>,
    pub adoptions: Vec<ContextAdoption>,
    pub new_entries: Vec<NewEntries>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
    base: Config,
    merged: Config,
    home: PathBuf,
}

/// What [`ImportPlan::apply`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The config file, when it was written.
    pub config_saved: Option<PathBuf>,
    /// `(context, cluster)` of every adopted context.
    pub adopted: Vec<(String, String)>,
    /// `(context, cluster)` of the entries written for new catalog clusters.
    pub entries_written: Vec<(String, String)>,
    /// Kubeconfig files written and backups made.
    pub kubeconfig: EditOutcome,
    /// The providers to sign in to next.
    pub sign_in: Vec<String>,
}

impl ImportPlan {
    /// Whether applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
            && self.clusters.is_empty()
            && self.adoptions.is_empty()
            && self.new_entries.is_empty()
    }

    /// The config as it will be saved.
    pub fn merged_config(&self) -> &Config {
        &self.merged
    }

    /// The clusters this import adds that skip TLS verification of their API server: applying needs the
    /// person's consent naming each of them.
    pub fn insecure_clusters(&self) -> Vec<String> {
        self.clusters
            .iter()
            .filter(|c| c.insecure_skip_tls_verify)
            .map(|c| c.name.clone())
            .collect()
    }

    /// Saves the config, then adopts the contexts (and writes the new clusters' entries) with `plugin` as
    /// the exec command. The kubeconfig module backs each file up before changing it.
    ///
    /// `insecure_allowed` is the person's consent: every cluster of [`insecure_clusters`](Self::insecure_clusters)
    /// must be in it, else nothing is changed ([`ImportError::InsecureNotAllowed`]).
    pub fn apply(
        &self,
        plugin: &str,
        insecure_allowed: &[String],
    ) -> Result<ImportOutcome, ImportError> {
        let mut outcome = ImportOutcome::default();
        if self.is_empty() {
            return Ok(outcome);
        }
        let refused: Vec<String> = self
            .insecure_clusters()
            .into_iter()
            .filter(|c| !insecure_allowed.contains(c))
            .collect();
        if !refused.is_empty() {
            return Err(ImportError::InsecureNotAllowed { clusters: refused });
        }
        let now = Config::load_or_default(&self.config_file, &self.home)?;
        if now != self.base {
            return Err(ImportError::ConfigChanged {
                path: self.config_file.clone(),
            });
        }
        if !self.providers.is_empty() || !self.clusters.is_empty() {
            self.merged.save(&self.config_file)?;
            outcome.config_saved = Some(self.config_file.clone());
        }
        let entry_for = |name: &str| -> Option<SignetEntry> {
            let cluster = self.merged.cluster(name)?;
            Some(SignetEntry::from_config(
                cluster,
                EntryCredentials::exec(plugin, &cluster.name),
            ))
        };

        let mut by_target: Vec<(KubeconfigTarget, Vec<Adoption>)> = Vec::new();
        for a in &self.adoptions {
            let Some(entry) = entry_for(&a.cluster) else {
                continue;
            };
            let adoption = Adoption {
                previous_user: a.old_user.clone(),
                entry,
            };
            match by_target.iter_mut().find(|(t, _)| *t == a.target) {
                Some((_, list)) => list.push(adoption),
                None => by_target.push((a.target.clone(), vec![adoption])),
            }
            outcome.adopted.push((a.context.clone(), a.cluster.clone()));
        }
        for (target, adoptions) in &by_target {
            let edit = kubeconfig::adopt_contexts(target, adoptions)?;
            merge_edit(&mut outcome.kubeconfig, edit);
        }

        let mut new_by_target: Vec<(KubeconfigTarget, Vec<SignetEntry>)> = Vec::new();
        for n in &self.new_entries {
            let Some(entry) = entry_for(&n.cluster) else {
                continue;
            };
            match new_by_target.iter_mut().find(|(t, _)| *t == n.target) {
                Some((_, list)) => list.push(entry),
                None => new_by_target.push((n.target.clone(), vec![entry])),
            }
            outcome
                .entries_written
                .push((n.context.clone(), n.cluster.clone()));
        }
        for (target, entries) in &new_by_target {
            let edit = kubeconfig::upsert_cluster_entries(target, entries)?;
            merge_edit(&mut outcome.kubeconfig, edit);
        }

        let mut sign_in = BTreeSet::new();
        for a in &self.adoptions {
            sign_in.insert(a.provider.clone());
        }
        for p in &self.providers {
            sign_in.insert(p.name.clone());
        }
        outcome.sign_in = sign_in.into_iter().collect();
        Ok(outcome)
    }

    /// The providers and clusters to add, as the TOML that will be saved, with any client secret redacted.
    fn additions_toml(&self) -> String {
        let shown = Config {
            providers: self
                .providers
                .iter()
                .cloned()
                .map(|mut p| {
                    if p.client_secret.is_some() {
                        p.client_secret = Some(Secret::new("<redacted>"));
                    }
                    p
                })
                .collect(),
            clusters: self.clusters.clone(),
            ..Config::default()
        };
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("(cannot render: {e})\n"))
    }
}

fn merge_edit(into: &mut EditOutcome, edit: EditOutcome) {
    for w in edit.written {
        if !into.written.contains(&w) {
            into.written.push(w);
        }
    }
    into.backups.extend(edit.backups);
    into.tightened.extend(edit.tightened);
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The plan as text. Names, paths and reasons come from a kubeconfig or a catalog, so the whole text is
/// shown with control characters escaped.
impl fmt::Display for ImportPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.render(&mut text)?;
        f.write_str(&printable_multiline(&text))
    }
}

impl ImportPlan {
    fn render(&self, f: &mut impl fmt::Write) -> fmt::Result {
        writeln!(f, "Import from {}", self.source)?;
        writeln!(f)?;
        if self.providers.is_empty() && self.clusters.is_empty() {
            writeln!(f, "Signet config {}: no change", self.config_file.display())?;
        } else {
            writeln!(
                f,
                "Signet config {}: add {} and {}:",
                self.config_file.display(),
                plural(self.providers.len(), "provider", "providers"),
                plural(self.clusters.len(), "cluster", "clusters"),
            )?;
            for line in self.additions_toml().lines() {
                if line.is_empty() {
                    writeln!(f)?;
                } else {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        for r in &self.reused {
            writeln!(f, "  = {r}")?;
        }

        let mut files: Vec<&PathBuf> = Vec::new();
        for a in &self.adoptions {
            if !files.contains(&&a.file) {
                files.push(&a.file);
            }
        }
        for file in files {
            let here: Vec<&ContextAdoption> =
                self.adoptions.iter().filter(|a| &a.file == file).collect();
            writeln!(f)?;
            writeln!(
                f,
                "Kubeconfig {}: {} become Signet's (names kept):",
                file.display(),
                plural(here.len(), "context", "contexts")
            )?;
            for a in &here {
                let cluster = match &a.cluster_entry {
                    ClusterEntryChange::TakenOver => {
                        format!("cluster {} becomes Signet's (fields kept)", a.cluster)
                    }
                    ClusterEntryChange::Copied { kept_for } if kept_for.is_empty() => format!(
                        "cluster {} → {} (a copy; {} is kept)",
                        a.old_cluster, a.cluster, a.old_cluster
                    ),
                    ClusterEntryChange::Copied { kept_for } => format!(
                        "cluster {} → {} (a copy; {} stays for {})",
                        a.old_cluster,
                        a.cluster,
                        a.old_cluster,
                        kept_for.join(", ")
                    ),
                    ClusterEntryChange::Existing => format!("cluster {}", a.cluster),
                };
                writeln!(
                    f,
                    "  ~ context {}: user {} ({}) → signet-{} (kubectl-signet token --cluster {}); {}",
                    a.context, a.old_user, a.old_auth, a.cluster, a.cluster, cluster
                )?;
            }
            let mut old_users: Vec<&str> = here.iter().map(|a| a.old_user.as_str()).collect();
            old_users.sort_unstable();
            old_users.dedup();
            writeln!(
                f,
                "  Left untouched: {} {} (remove {} with `kubectl config delete-user NAME` once Signet works), and every other entry.",
                if old_users.len() == 1 {
                    "user"
                } else {
                    "users"
                },
                old_users.join(", "),
                if old_users.len() == 1 { "it" } else { "them" },
            )?;
        }
        if !self.new_entries.is_empty() {
            writeln!(f)?;
            for n in &self.new_entries {
                writeln!(
                    f,
                    "Kubeconfig {}: + context {} (cluster {}, user signet-{})",
                    n.file.display(),
                    n.context,
                    n.cluster,
                    n.cluster
                )?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(f)?;
            writeln!(f, "Not imported:")?;
            for s in &self.skipped {
                writeln!(f, "  - {}: {}", s.what, s.reason)?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
            writeln!(f, "Notes:")?;
            for n in &self.notes {
                writeln!(f, "  - {n}")?;
            }
        }
        let insecure = self.insecure_clusters();
        if !insecure.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "WARNING: {} TLS verification of the API server: anyone on the network path could read your token. Applying needs --allow-insecure.",
                if insecure.len() == 1 {
                    format!("cluster {} skips", insecure[0])
                } else {
                    format!("clusters {} skip", insecure.join(", "))
                }
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Planning from a kubeconfig

/// Plans adopting the kubelogin and legacy OIDC contexts of the kubeconfig chain (`KUBECONFIG`, else
/// `~/.kube/config`) or of `explicit` (`--kubeconfig`). `client_id` is `--client-id`.
pub fn plan_kubeconfig_import(
    config: &Config,
    paths: &Paths,
    explicit: Option<&Path>,
    client_id: Option<&str>,
) -> Result<ImportPlan, ImportError> {
    let default_target =
        KubeconfigTarget::resolve(paths.kubeconfig_env.as_deref(), &paths.home, None);
    let explicit = explicit.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    if let Some(file) = &explicit
        && !file.exists()
    {
        return Err(ImportError::KubeconfigMissing { path: file.clone() });
    }
    // An explicit file that is not part of the usual chain becomes the clusters' `kubeconfig` setting, so
    // that `sync` and `use` keep writing there.
    let outside = explicit
        .clone()
        .filter(|f| !default_target.precedence().iter().any(|p| same_file(p, f)));
    // The chain Signet will write to is also the view the plan is made on (which contexts use a cluster,
    // which names are free); an explicit file inside the chain only limits which contexts are adopted.
    let target = match &outside {
        Some(file) => KubeconfigTarget::resolve(None, &paths.home, Some(file)),
        None => default_target,
    };
    let files = kubeconfig::read_files(&target)?;
    let only = explicit
        .as_deref()
        .and_then(|f| files.iter().position(|file| same_file(&file.path, f)));
    Planner {
        config,
        paths,
        files: &files,
        only,
        client_id,
        outside: outside.as_deref(),
        write_target: &target,
    }
    .plan(ImportSource::Kubeconfig {
        files: match &explicit {
            Some(file) => vec![file.clone()],
            None => target.precedence().to_vec(),
        },
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// The CA of a context's kubeconfig cluster, as Signet's config holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CaChoice {
    System,
    Data(String),
    File(PathBuf),
    Insecure,
}

/// A context that passed every check, before names are chosen.
struct Candidate {
    context: String,
    file_index: usize,
    user: String,
    oidc: OidcUser,
    old_cluster: String,
    server: String,
    ca: CaChoice,
    namespace: Option<String>,
    provider_ca: CaChoice,
    /// The existing Signet cluster this context belongs to, when the config already names it.
    existing_cluster: Option<String>,
}

struct Planner<'a> {
    config: &'a Config,
    paths: &'a Paths,
    files: &'a [KubeconfigFile],
    /// With `--kubeconfig F` inside the chain: only F's contexts are adopted.
    only: Option<usize>,
    client_id: Option<&'a str>,
    outside: Option<&'a Path>,
    write_target: &'a KubeconfigTarget,
}

/// The merged view kubectl sees: the first file to define a name wins.
struct Merged<'a> {
    contexts: Vec<(usize, &'a NamedContext)>,
    clusters: BTreeMap<&'a str, (usize, &'a NamedCluster)>,
    users: BTreeMap<&'a str, (usize, &'a NamedAuthInfo)>,
}

impl<'a> Merged<'a> {
    fn new(files: &'a [KubeconfigFile]) -> Merged<'a> {
        let mut merged = Merged {
            contexts: Vec::new(),
            clusters: BTreeMap::new(),
            users: BTreeMap::new(),
        };
        let mut seen = BTreeSet::new();
        for (fi, file) in files.iter().enumerate() {
            for c in &file.config.contexts {
                if seen.insert(c.name.as_str()) {
                    merged.contexts.push((fi, c));
                }
            }
            for c in &file.config.clusters {
                merged.clusters.entry(c.name.as_str()).or_insert((fi, c));
            }
            for u in &file.config.auth_infos {
                merged.users.entry(u.name.as_str()).or_insert((fi, u));
            }
        }
        merged
    }

    fn contexts_using_cluster(&self, cluster: &str) -> Vec<&'a str> {
        self.contexts
            .iter()
            .filter(|(_, c)| c.context.as_ref().is_some_and(|x| x.cluster == cluster))
            .map(|(_, c)| c.name.as_str())
            .collect()
    }
}

fn mark_cluster(extensions: Option<&Vec<kube::config::NamedExtension>>) -> Option<String> {
    extensions?
        .iter()
        .find(|e| e.name == kubeconfig::EXTENSION_NAME)?
        .extension
        .get("cluster")?
        .as_str()
        .map(str::to_owned)
}

impl Planner<'_> {
    fn expand(&self, raw: &str, dir: &Path) -> PathBuf {
        let path = self.paths.expand_home(Path::new(raw));
        if path.is_relative() {
            dir.join(path)
        } else {
            path
        }
    }

    fn dir_of(&self, file_index: usize) -> PathBuf {
        self.files[file_index]
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The provider CA from kubelogin's / auth-provider's CA settings.
    fn provider_ca(&self, user: &OidcUser, dir: &Path) -> Result<CaChoice, String> {
        if let Some(data) = user.ca_data.first() {
            check_pem_base64(data).map_err(|e| format!("its IdP CA data {e}"))?;
            return Ok(CaChoice::Data(data.clone()));
        }
        if let Some(file) = user.ca_files.first() {
            let path = self.expand(file, dir);
            return match std::fs::read(&path) {
                Ok(bytes)
                    if String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") =>
                {
                    Ok(CaChoice::File(path))
                }
                Ok(_) => Err(format!(
                    "its IdP CA file '{}' holds no PEM certificate",
                    path.display()
                )),
                Err(e) => Err(format!(
                    "its IdP CA file '{}' cannot be read ({e})",
                    path.display()
                )),
            };
        }
        Ok(CaChoice::System)
    }

    fn plan(&self, source: ImportSource) -> Result<ImportPlan, ImportError> {
        let merged = Merged::new(self.files);
        let mut skipped = Vec::new();
        let mut notes = Vec::new();
        let mut classified: BTreeMap<&str, Option<Result<OidcUser, String>>> = BTreeMap::new();

        // Pass 1: the contexts that can be adopted.
        let mut candidates: Vec<Candidate> = Vec::new();
        for (fi, named) in &merged.contexts {
            if self.only.is_some_and(|only| only != *fi) {
                continue;
            }
            let Some(ctx) = &named.context else { continue };
            if mark_cluster(ctx.extensions.as_ref()).is_some() {
                continue; // Signet's already
            }
            let Some(user_name) = ctx.user.as_deref() else {
                continue;
            };
            let Some((_, user)) = merged.users.get(user_name) else {
                continue;
            };
            let kind = classified
                .entry(user_name)
                .or_insert_with(|| classify(user));
            let oidc = match kind {
                None => continue,
                Some(Err(reason)) => {
                    skipped.push(Skipped {
                        what: format!("context {} (user {user_name})", named.name),
                        reason: reason.clone(),
                    });
                    continue;
                }
                Some(Ok(oidc)) => oidc.clone(),
            };
            let skip = |reason: String| Skipped {
                what: format!("context {} (user {user_name})", named.name),
                reason,
            };
            if names::check(NameKind::Context, &named.name).is_err() {
                skipped.push(skip(format!(
                    "Signet cannot manage a context with this name ({}); rename it with `kubectl config rename-context` and import again",
                    NameKind::Context.rule()
                )));
                continue;
            }
            if let Some(ns) = &ctx.namespace
                && names::check(NameKind::Namespace, ns).is_err()
            {
                skipped.push(skip(format!(
                    "its namespace '{ns}' is not valid ({}); fix it with `kubectl config set-context {} --namespace=NS` and import again",
                    NameKind::Namespace.rule(),
                    named.name
                )));
                continue;
            }
            match url::Url::parse(&oidc.issuer) {
                Ok(url) if is_secure_or_loopback(&url) => {}
                Ok(_) => {
                    skipped.push(skip(format!(
                        "its issuer '{}' is not https (Signet allows plain http only on loopback)",
                        oidc.issuer
                    )));
                    continue;
                }
                Err(e) => {
                    skipped.push(skip(format!(
                        "its issuer '{}' is not a URL ({e})",
                        oidc.issuer
                    )));
                    continue;
                }
            }
            let (user_file, _) = merged.users[user_name];
            let provider_ca = match self.provider_ca(&oidc, &self.dir_of(user_file)) {
                Ok(ca) => ca,
                Err(reason) => {
                    skipped.push(skip(reason));
                    continue;
                }
            };
            let Some((cluster_file, cluster)) = merged.clusters.get(ctx.cluster.as_str()) else {
                skipped.push(skip(format!(
                    "its cluster '{}' is not in the kubeconfig",
                    ctx.cluster
                )));
                continue;
            };
            let Some(server) = cluster.cluster.as_ref().and_then(|c| c.server.clone()) else {
                skipped.push(skip(format!("its cluster '{}' has no server", ctx.cluster)));
                continue;
            };
            match url::Url::parse(&server) {
                Ok(url) if is_secure_or_loopback(&url) => {}
                _ => {
                    skipped.push(skip(format!(
                        "its server '{server}' is not an https URL (plain http only on loopback)"
                    )));
                    continue;
                }
            }
            let ca = match self.cluster_ca(cluster, &self.dir_of(*cluster_file)) {
                Ok(ca) => ca,
                Err(reason) => {
                    skipped.push(skip(reason));
                    continue;
                }
            };
            // A Signet cluster that already names this context.
            let existing = self
                .config
                .clusters
                .iter()
                .find(|c| c.context_name() == named.name);
            let existing_cluster = match existing {
                None => None,
                Some(c) => {
                    let provider = self.config.provider(&c.provider);
                    let same_provider = provider.is_some_and(|p| {
                        p.issuer == oidc.issuer
                            && p.client_id == self.client_id.unwrap_or(&oidc.client_id)
                    });
                    if same_provider && c.server == server {
                        Some(c.name.clone())
                    } else {
                        skipped.push(skip(format!(
                            "Signet's cluster '{}' already uses the context name '{}' with {}; rename one of them",
                            c.name,
                            named.name,
                            if same_provider {
                                format!("server {}", c.server)
                            } else {
                                format!("provider {}", c.provider)
                            }
                        )));
                        continue;
                    }
                }
            };
            candidates.push(Candidate {
                context: named.name.clone(),
                file_index: *fi,
                user: user_name.to_owned(),
                oidc,
                old_cluster: ctx.cluster.clone(),
                server,
                ca,
                namespace: ctx.namespace.clone(),
                provider_ca,
                existing_cluster,
            });
        }
        let adopted: BTreeSet<&str> = candidates.iter().map(|c| c.context.as_str()).collect();

        // Pass 2: providers, one per issuer + (effective) client id.
        let mut providers: Vec<ProviderConfig> = Vec::new();
        let mut reused: Vec<String> = Vec::new();
        let mut provider_of: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut provider_names: BTreeSet<String> = self
            .config
            .providers
            .iter()
            .map(|p| p.name.clone())
            .collect();
        for c in &candidates {
            let client_id = self.client_id.unwrap_or(&c.oidc.client_id).to_owned();
            let key = (c.oidc.issuer.clone(), client_id.clone());
            if let Some(name) = provider_of.get(&key) {
                if let Some(p) = providers.iter_mut().find(|p| &p.name == name) {
                    merge_into_provider(p, c, self.client_id.is_some(), &mut notes);
                }
                continue;
            }
            if let Some(existing) = self
                .config
                .providers
                .iter()
                .find(|p| p.issuer == key.0 && p.client_id == key.1)
            {
                provider_of.insert(key, existing.name.clone());
                reused.push(format!(
                    "provider {} (issuer {}, client {}): already configured, used as it is",
                    existing.name, existing.issuer, existing.client_id
                ));
                continue;
            }
            let base = provider_base_name(&c.oidc.issuer);
            let name = unique(&base, |n| provider_names.contains(n));
            provider_names.insert(name.clone());
            let (ca_file, ca_data) = match &c.provider_ca {
                CaChoice::File(path) => (Some(path.clone()), None),
                CaChoice::Data(data) => (None, Some(data.clone())),
                CaChoice::System | CaChoice::Insecure => (None, None),
            };
            let overridden = self.client_id.is_some_and(|id| id != c.oidc.client_id);
            let mut provider = ProviderConfig {
                name: name.clone(),
                issuer: c.oidc.issuer.clone(),
                client_id: client_id.clone(),
                client_secret: if overridden {
                    None
                } else {
                    c.oidc.client_secret.clone()
                },
                connector: c.oidc.connector.clone(),
                scopes: Vec::new(),
                ca_file,
                ca_data,
                login: if c.oidc.device {
                    LoginMode::Device
                } else {
                    LoginMode::Browser
                },
                username_claim: "email".into(),
            };
            add_scopes(&mut provider, &c.oidc.scopes);
            if overridden && c.oidc.client_secret.is_some() {
                notes.push(format!(
                    "provider {name}: the client secret of '{}' is not copied — Signet signs in as '{client_id}'",
                    c.oidc.client_id
                ));
            }
            provider_of.insert(key, name);
            providers.push(provider);
        }
        for c in &candidates {
            user_notes(c, &mut notes);
        }

        // Pass 3: cluster names, and what happens to each kubeconfig cluster entry.
        let mut clusters: Vec<ClusterConfig> = Vec::new();
        let mut adoptions: Vec<ContextAdoption> = Vec::new();
        let mut cluster_names: BTreeSet<String> = self
            .config
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect();
        for c in &candidates {
            let client_id = self.client_id.unwrap_or(&c.oidc.client_id).to_owned();
            let provider = provider_of[&(c.oidc.issuer.clone(), client_id)].clone();
            let usable = |n: &str| -> Option<ClusterEntryChange> {
                if let Some((_, user)) = merged.users.get(kubeconfig::user_name(n).as_str()) {
                    let owner =
                        mark_cluster(user.auth_info.as_ref().and_then(|u| u.extensions.as_ref()));
                    if owner.as_deref() != Some(n) {
                        return None;
                    }
                }
                match merged.clusters.get(n) {
                    None => Some(ClusterEntryChange::Copied {
                        kept_for: Vec::new(),
                    }),
                    Some((_, entry)) => {
                        match mark_cluster(
                            entry.cluster.as_ref().and_then(|x| x.extensions.as_ref()),
                        ) {
                            Some(owner) if owner == n => Some(ClusterEntryChange::Existing),
                            Some(_) => None,
                            None => {
                                let users = merged.contexts_using_cluster(n);
                                (c.old_cluster == n && users.iter().all(|u| adopted.contains(u)))
                                    .then_some(ClusterEntryChange::TakenOver)
                            }
                        }
                    }
                }
            };
            let (name, change) = match &c.existing_cluster {
                Some(name) => match usable(name) {
                    Some(change) => (name.clone(), change),
                    None => {
                        skipped.push(Skipped {
                            what: format!("context {} (user {})", c.context, c.user),
                            reason: format!(
                                "Signet's cluster '{name}' needs the kubeconfig names '{name}' and 'signet-{name}', and another entry has one of them"
                            ),
                        });
                        continue;
                    }
                },
                None => {
                    let base = sanitize(&c.context, "cluster");
                    let mut n = 1;
                    loop {
                        let candidate = if n == 1 {
                            base.clone()
                        } else {
                            format!("{base}-{n}")
                        };
                        n += 1;
                        if cluster_names.contains(&candidate) {
                            continue;
                        }
                        if let Some(change) = usable(&candidate) {
                            break (candidate, change);
                        }
                    }
                }
            };
            let change = match change {
                ClusterEntryChange::Copied { .. } => ClusterEntryChange::Copied {
                    kept_for: merged
                        .contexts_using_cluster(&c.old_cluster)
                        .into_iter()
                        .filter(|u| !adopted.contains(u))
                        .map(str::to_owned)
                        .collect(),
                },
                other => other,
            };
            if c.existing_cluster.is_none() {
                cluster_names.insert(name.clone());
                let (ca_data, ca_file, insecure) = match &c.ca {
                    CaChoice::System => (None, None, false),
                    CaChoice::Data(d) => (Some(d.clone()), None, false),
                    CaChoice::File(f) => (None, Some(f.clone()), false),
                    CaChoice::Insecure => (None, None, true),
                };
                if insecure {
                    notes.push(format!(
                        "cluster {name}: the kubeconfig skips TLS verification of {} (insecure-skip-tls-verify); Signet keeps that only if you allow it, since your token could be read by anyone on the network path",
                        c.server
                    ));
                }
                clusters.push(ClusterConfig {
                    name: name.clone(),
                    provider: provider.clone(),
                    server: c.server.clone(),
                    ca_data,
                    ca_file,
                    insecure_skip_tls_verify: insecure,
                    audience: Some(c.oidc.client_id.clone()),
                    namespace: c.namespace.clone(),
                    context: (name != c.context).then(|| c.context.clone()),
                    credentials: Credentials::Exec,
                    kubeconfig: self.outside.map(Path::to_path_buf),
                });
            } else {
                reused.push(format!(
                    "cluster {name}: already configured for context {}, used as it is",
                    c.context
                ));
            }
            let also: Vec<String> = merged
                .contexts
                .iter()
                .filter(|(_, x)| {
                    !adopted.contains(x.name.as_str())
                        && x.context.as_ref().and_then(|x| x.user.as_deref())
                            == Some(c.user.as_str())
                })
                .map(|(_, x)| x.name.clone())
                .collect();
            adoptions.push(ContextAdoption {
                context: c.context.clone(),
                file: self.files[c.file_index].path.clone(),
                old_user: c.user.clone(),
                old_auth: c.oidc.kind,
                old_cluster: c.old_cluster.clone(),
                cluster: name,
                provider,
                cluster_entry: change,
                old_user_also_used_by: also,
                target: self.write_target.clone(),
            });
        }
        for a in &adoptions {
            if !a.old_user_also_used_by.is_empty() {
                notes.push(format!(
                    "user {} is still used by {}, which {} not adopted",
                    a.old_user,
                    a.old_user_also_used_by.join(", "),
                    if a.old_user_also_used_by.len() == 1 {
                        "is"
                    } else {
                        "are"
                    }
                ));
            }
        }
        notes.dedup();
        if providers.iter().any(|p| p.client_secret.is_some()) {
            notes.push(
                "a provider keeps the old client's secret (in the config, mode 0600). Signet signs in with a loopback redirect on a random port (http://127.0.0.1:PORT/callback), which Dex accepts only for a public client without redirectURIs; if sign-in fails with a redirect_uri error, register a public client for Signet, list it in the old client's trustedPeers, and import again with --client-id".into(),
            );
        }

        let mut merged_config = self.config.clone();
        merged_config.providers.extend(providers.iter().cloned());
        merged_config.clusters.extend(clusters.iter().cloned());
        let merged_config = validate(&merged_config, &self.paths.config_file, &self.paths.home)?;
        Ok(ImportPlan {
            source,
            config_file: self.paths.config_file.clone(),
            providers,
            clusters,
            reused,
            adoptions,
            new_entries: Vec::new(),
            skipped,
            notes,
            base: self.config.clone(),
            merged: merged_config,
            home: self.paths.home.clone(),
        })
    }

    /// The CA of a kubeconfig cluster (client-go: `certificate-authority-data` wins over the file; a
    /// relative file is relative to the kubeconfig that defines it).
    fn cluster_ca(&self, cluster: &NamedCluster, dir: &Path) -> Result<CaChoice, String> {
        let Some(c) = &cluster.cluster else {
            return Ok(CaChoice::System);
        };
        if let Some(data) = c
            .certificate_authority_data
            .as_deref()
            .filter(|d| !d.is_empty())
        {
            check_pem_base64(data).map_err(|e| {
                format!(
                    "its cluster '{}' certificate-authority-data {e}",
                    cluster.name
                )
            })?;
            return Ok(CaChoice::Data(data.to_owned()));
        }
        if let Some(file) = c.certificate_authority.as_deref().filter(|f| !f.is_empty()) {
            let path = self.expand(file, dir);
            if !path.is_file() {
                return Err(format!(
                    "its cluster '{}' certificate-authority '{}' does not exist",
                    cluster.name,
                    path.display()
                ));
            }
            return Ok(CaChoice::File(path));
        }
        if c.insecure_skip_tls_verify == Some(true) {
            return Ok(CaChoice::Insecure);
        }
        Ok(CaChoice::System)
    }
}

/// Folds a second old user of the same issuer + client into an added provider.
fn merge_into_provider(
    p: &mut ProviderConfig,
    c: &Candidate,
    overridden: bool,
    notes: &mut Vec<String>,
) {
    add_scopes(p, &c.oidc.scopes);
    if p.connector.is_none() {
        p.connector = c.oidc.connector.clone();
    } else if c.oidc.connector.is_some() && c.oidc.connector != p.connector {
        notes.push(format!(
            "provider {}: user {} asks for another Dex connector; the first one found is kept",
            p.name, c.user
        ));
    }
    if !overridden && p.client_secret.is_none() {
        p.client_secret = c.oidc.client_secret.clone();
    }
    if p.ca_file.is_none() && p.ca_data.is_none() {
        match &c.provider_ca {
            CaChoice::File(path) => p.ca_file = Some(path.clone()),
            CaChoice::Data(data) => p.ca_data = Some(data.clone()),
            CaChoice::System | CaChoice::Insecure => {}
        }
    }
    if c.oidc.device {
        p.login = LoginMode::Device;
    }
}

fn add_scopes(p: &mut ProviderConfig, scopes: &[String]) {
    for s in scopes {
        if !crate::config::BASE_SCOPES.contains(&s.as_str()) && !p.scopes.contains(s) {
            p.scopes.push(s.clone());
        }
    }
}

/// Notes about what an old user did that Signet does differently. Names flags, never values.
fn user_notes(c: &Candidate, notes: &mut Vec<String>) {
    let who = format!("user {}", c.user);
    if c.oidc.insecure_skip_tls_verify {
        notes.push(format!(
            "{who} skipped TLS verification of the identity provider; Signet always verifies it — set the provider's ca_file if sign-in fails with a TLS error"
        ));
    }
    if c.oidc.use_access_token {
        notes.push(format!(
            "{who} sent the access token to the API server; Signet sends the ID token (Dex gives both the same audience)"
        ));
    }
    if !c.oidc.other_params.is_empty() {
        notes.push(format!(
            "{who}: auth request parameters not carried over: {}",
            c.oidc.other_params.join(", ")
        ));
    }
    if c.oidc.ca_files.len() + c.oidc.ca_data.len() > 1 {
        notes.push(format!(
            "{who} lists several IdP CAs; Signet uses the first one"
        ));
    }
    if !c.oidc.unknown.is_empty() {
        notes.push(format!(
            "{who}: settings Signet does not use: {}",
            c.oidc.unknown.join(", ")
        ));
    }
    if c.oidc.kind == OldAuth::AuthProvider {
        notes.push(format!(
            "{who} keeps its old id-token and refresh-token in the kubeconfig; Signet does not copy them (it signs in afresh) — delete the user once Signet works"
        ));
    }
}

fn check_pem_base64(data: &str) -> Result<(), String> {
    let compact: String = data.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("is not base64 ({e})"))?;
    if String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        Ok(())
    } else {
        Err("does not decode to a PEM certificate".into())
    }
}

/// Lower-case `[a-z0-9-]`, runs of anything else folded into one `-`, no leading or trailing `-`.
pub fn sanitize(name: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            out.push(ch);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// A provider name from the issuer's host: `https://dex.example.com/dex` → `dex-example-com`.
fn provider_base_name(issuer: &str) -> String {
    let host = url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    sanitize(&host, "provider")
}

/// `base`, else `base-2`, `base-3`, … : the first name `taken` refuses.
fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_owned())
}

/// Renders the config and parses it back, so an import gets the same checks as a hand-written file.
fn validate(config: &Config, path: &Path, home: &Path) -> Result<Config, ImportError> {
    let text = toml::to_string_pretty(config).map_err(|e| {
        ImportError::Invalid(ConfigError::Syntax {
            path: path.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })
    })?;
    Config::parse(&text, path, home).map_err(ImportError::Invalid)
}

// ---------------------------------------------------------------------------------------------------------
// Planning from a catalog

/// Reads a catalog: a file, or an https URL (plain http only on loopback) fetched with Signet's HTTP limits
/// (connect and total timeouts, size cap, no redirects).
pub fn read_catalog(source: &CatalogSource, http: HttpOptions) -> Result<String, ImportError> {
    match source {
        CatalogSource::File(path) => {
            std::fs::read_to_string(path).map_err(|source| ImportError::CatalogRead {
                path: path.clone(),
                source,
            })
        }
        CatalogSource::Url(url) => {
            let fetch_err = |detail: String| ImportError::CatalogFetch {
                url: url.clone(),
                detail,
            };
            let parsed = url::Url::parse(url).map_err(|e| fetch_err(format!("not a URL ({e})")))?;
            if !is_secure_or_loopback(&parsed) {
                return Err(ImportError::InsecureUrl { url: url.clone() });
            }
            let client = HttpClient::new(http).map_err(|e| fetch_err(e.to_string()))?;
            let response = client.get(url).map_err(|e| match e {
                // HttpError::Tls's advice (a provider's ca_file) has no counterpart for a catalog.
                HttpError::Tls { detail, .. } => fetch_err(format!(
                    "TLS failed: {detail}; if the catalog's server uses a private CA, add that CA to the system's trusted certificates (or point SSL_CERT_FILE at it)"
                )),
                other => fetch_err(other.to_string()),
            })?;
            let status = response.status();
            if status.is_redirection() {
                let to = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("somewhere else");
                return Err(fetch_err(format!(
                    "HTTP {} redirects to {to}; use that URL (Signet does not follow redirects)",
                    status.as_u16()
                )));
            }
            if !status.is_success() {
                return Err(fetch_err(format!("HTTP {}", status.as_u16())));
            }
            String::from_utf8(response.into_body())
                .map_err(|_| fetch_err("the answer is not UTF-8 text".into()))
        }
    }
}

/// Plans merging a catalog (its text, read with [`read_catalog`]) into the config.
pub fn plan_catalog_import(
    config: &Config,
    paths: &Paths,
    source: &CatalogSource,
    text: &str,
) -> Result<ImportPlan, ImportError> {
    let origin = source.origin();
    let parse_path = match source {
        CatalogSource::File(path) => std::path::absolute(path).unwrap_or_else(|_| path.clone()),
        CatalogSource::Url(url) => PathBuf::from(url),
    };
    let catalog = Config::parse_catalog(text, &parse_path)?;
    if let Some((index, p)) = catalog
        .providers
        .iter()
        .enumerate()
        .find(|(_, p)| p.client_secret.is_some())
    {
        return Err(ImportError::SecretInCatalog {
            origin,
            line: secret_line(text, index),
            index,
            provider: p.name.clone(),
        });
    }

    let mut reused = Vec::new();
    let mut notes = Vec::new();
    let mut providers = Vec::new();
    let mut provider_map: BTreeMap<String, String> = BTreeMap::new();
    for p in &catalog.providers {
        if let Some(existing) = config.provider(&p.name) {
            let diff = provider_differences(p, existing);
            if !diff.is_empty() {
                return Err(conflict(
                    "provider",
                    &p.name,
                    &origin,
                    &existing.name,
                    paths,
                    diff,
                ));
            }
            reused.push(format!(
                "provider {}: already configured, unchanged",
                p.name
            ));
            provider_map.insert(p.name.clone(), p.name.clone());
        } else if let Some(existing) = config
            .providers
            .iter()
            .find(|e| e.issuer == p.issuer && e.client_id == p.client_id)
        {
            notes.push(format!(
                "catalog provider {} is the same client as your provider {} (issuer {}, client {}); its clusters use {} (one client must have one session: Dex keeps one refresh token per client)",
                p.name, existing.name, p.issuer, p.client_id, existing.name
            ));
            provider_map.insert(p.name.clone(), existing.name.clone());
        } else {
            provider_map.insert(p.name.clone(), p.name.clone());
            providers.push(p.clone());
        }
    }

    let mut clusters = Vec::new();
    for c in &catalog.clusters {
        let mut c = c.clone();
        c.provider = provider_map.get(&c.provider).cloned().unwrap_or(c.provider);
        if let Some(existing) = config.cluster(&c.name) {
            let diff = cluster_differences(&c, existing, config, &catalog);
            if !diff.is_empty() {
                return Err(conflict(
                    "cluster",
                    &c.name,
                    &origin,
                    &existing.name,
                    paths,
                    diff,
                ));
            }
            reused.push(format!("cluster {}: already configured, unchanged", c.name));
            continue;
        }
        if let Some(existing) = config
            .clusters
            .iter()
            .find(|e| e.context_name() == c.context_name())
        {
            return Err(conflict(
                "cluster",
                &c.name,
                &origin,
                &existing.name,
                paths,
                vec![format!(
                    "both use the kubeconfig context '{}'",
                    c.context_name()
                )],
            ));
        }
        clusters.push(c);
    }

    let mut merged = config.clone();
    merged.providers.extend(providers.iter().cloned());
    merged.clusters.extend(clusters.iter().cloned());
    let merged = validate(&merged, &paths.config_file, &paths.home)?;

    // Kubeconfig entries for the new exec-mode clusters, unless a foreign entry holds one of their names.
    let mut new_entries = Vec::new();
    let mut skipped = Vec::new();
    let mut views: Vec<(KubeconfigTarget, Vec<KubeconfigFile>)> = Vec::new();
    for c in clusters
        .iter()
        .filter(|c| c.credentials == Credentials::Exec)
    {
        let explicit = c.kubeconfig.as_deref().map(|p| paths.expand_home(p));
        let target = KubeconfigTarget::resolve(
            paths.kubeconfig_env.as_deref(),
            &paths.home,
            explicit.as_deref(),
        );
        if !views.iter().any(|(t, _)| *t == target) {
            let files = kubeconfig::read_files(&target)?;
            views.push((target.clone(), files));
        }
        let files = views
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, f)| f.as_slice())
            .unwrap_or_default();
        let merged_view = Merged::new(files);
        if let Some(reason) = foreign_name(&merged_view, c) {
            skipped.push(Skipped {
                what: format!("kubeconfig entries of cluster {}", c.name),
                reason: format!(
                    "{reason}; the cluster is imported, but its context is not written (rename it with `context = …`, or adopt a kubelogin context with `kubectl signet import`)"
                ),
            });
            continue;
        }
        let file = merged_view
            .contexts
            .iter()
            .find(|(_, x)| x.name == c.context_name())
            .map(|(fi, _)| files[*fi].path.clone())
            .unwrap_or_else(|| target.default_file().to_path_buf());
        new_entries.push(NewEntries {
            cluster: c.name.clone(),
            context: c.context_name().to_owned(),
            file,
            target,
        });
    }
    for c in clusters
        .iter()
        .filter(|c| c.credentials == Credentials::Token)
    {
        notes.push(format!(
            "cluster {} uses token mode: its kubeconfig entry is written after sign-in",
            c.name
        ));
    }

    Ok(ImportPlan {
        source: ImportSource::Catalog(source.clone()),
        config_file: paths.config_file.clone(),
        providers,
        clusters,
        reused,
        adoptions: Vec::new(),
        new_entries,
        skipped,
        notes,
        base: config.clone(),
        merged,
        home: paths.home.clone(),
    })
}

/// The line of the `index`-th provider's `client_secret` (best effort: the first such line otherwise).
fn secret_line(text: &str, index: usize) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut provider = None;
    let mut first = None;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("[[providers]]") {
            provider = Some(provider.map_or(0, |p: usize| p + 1));
        }
        if t.starts_with("client_secret") {
            first.get_or_insert(i + 1);
            if provider == Some(index) {
                return i + 1;
            }
        }
    }
    first.unwrap_or(1)
}

/// Why the kubeconfig cannot take Signet's entries for `c`: a foreign entry holds one of its names.
fn foreign_name(view: &Merged<'_>, c: &ClusterConfig) -> Option<String> {
    let owned = |ext: Option<&Vec<kube::config::NamedExtension>>| {
        mark_cluster(ext).is_some_and(|owner| owner == c.name)
    };
    if let Some((_, ctx)) = view
        .contexts
        .iter()
        .find(|(_, x)| x.name == c.context_name())
        && !owned(ctx.context.as_ref().and_then(|x| x.extensions.as_ref()))
    {
        return Some(format!(
            "the kubeconfig already has a context '{}' that is not Signet's",
            ctx.name
        ));
    }
    if let Some((_, cluster)) = view.clusters.get(c.name.as_str())
        && !owned(cluster.cluster.as_ref().and_then(|x| x.extensions.as_ref()))
    {
        return Some(format!(
            "the kubeconfig already has a cluster '{}' that is not Signet's",
            c.name
        ));
    }
    let user = kubeconfig::user_name(&c.name);
    if let Some((_, u)) = view.users.get(user.as_str())
        && !owned(u.auth_info.as_ref().and_then(|x| x.extensions.as_ref()))
    {
        return Some(format!(
            "the kubeconfig already has a user '{user}' that is not Signet's"
        ));
    }
    None
}

fn conflict(
    kind: &'static str,
    name: &str,
    origin: &str,
    existing: &str,
    paths: &Paths,
    differences: Vec<String>,
) -> ImportError {
    ImportError::Conflict(Box::new(Conflict {
        kind,
        name: name.to_owned(),
        origin: origin.to_owned(),
        existing: existing.to_owned(),
        config: paths.config_file.clone(),
        differences: differences.join("; "),
    }))
}

fn differ<T: PartialEq + fmt::Debug>(out: &mut Vec<String>, key: &str, catalog: &T, config: &T) {
    if catalog != config {
        out.push(format!(
            "{key} is {catalog:?} in the catalog, {config:?} in the config"
        ));
    }
}

/// What a catalog provider and an existing one of the same name disagree on (per-person settings —
/// `login`, a local `client_secret` — are not compared).
fn provider_differences(catalog: &ProviderConfig, config: &ProviderConfig) -> Vec<String> {
    let mut out = Vec::new();
    differ(&mut out, "issuer", &catalog.issuer, &config.issuer);
    differ(&mut out, "client_id", &catalog.client_id, &config.client_id);
    differ(&mut out, "connector", &catalog.connector, &config.connector);
    let scopes = |p: &ProviderConfig| p.scopes.iter().cloned().collect::<BTreeSet<_>>();
    differ(&mut out, "scopes", &scopes(catalog), &scopes(config));
    differ(&mut out, "ca_file", &catalog.ca_file, &config.ca_file);
    if catalog.ca_data != config.ca_data {
        out.push("ca_data differs".into());
    }
    differ(
        &mut out,
        "username_claim",
        &catalog.username_claim,
        &config.username_claim,
    );
    out
}

/// What a catalog cluster and an existing one of the same name disagree on (per-person settings —
/// `namespace`, `credentials`, `kubeconfig` — are not compared).
fn cluster_differences(
    catalog: &ClusterConfig,
    config: &ClusterConfig,
    existing: &Config,
    catalog_config: &Config,
) -> Vec<String> {
    let mut out = Vec::new();
    differ(&mut out, "provider", &catalog.provider, &config.provider);
    differ(&mut out, "server", &catalog.server, &config.server);
    differ(&mut out, "ca_file", &catalog.ca_file, &config.ca_file);
    if catalog.ca_data != config.ca_data {
        out.push("ca_data differs".into());
    }
    differ(
        &mut out,
        "insecure_skip_tls_verify",
        &catalog.insecure_skip_tls_verify,
        &config.insecure_skip_tls_verify,
    );
    let audience = |c: &ClusterConfig, cfg: &Config| {
        c.audience.clone().or_else(|| {
            cfg.provider(&c.provider)
                .or_else(|| existing.provider(&c.provider))
                .map(|p| p.client_id.clone())
        })
    };
    differ(
        &mut out,
        "audience",
        &audience(catalog, catalog_config),
        &audience(config, existing),
    );
    differ(
        &mut out,
        "context",
        &catalog.context_name().to_owned(),
        &config.context_name().to_owned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn kubelogin(command: &str, list: &[&str]) -> OidcUser {
        parse_kubelogin(command, &args(list))
            .expect("recognised as kubelogin")
            .expect("usable")
    }

    #[test]
    fn kubelogin_flags_are_read_in_both_forms_with_repeated_and_comma_scopes() {
        let u = kubelogin(
            "kubectl",
            &[
                "oidc-login",
                "get-token",
                "--oidc-issuer-url=https://dex.example.com",
                "--oidc-client-id",
                "kubernetes",
                "--oidc-client-secret",
                "s3cret",
                "--oidc-extra-scope=email",
                "--oidc-extra-scope",
                "groups,profile",
                "--oidc-extra-scope=groups",
                "--certificate-authority",
                "/etc/ca.pem",
                "--certificate-authority-data=TFMwdA==",
                "--oidc-auth-request-extra-params",
                "connector_id=github,prompt=consent",
                "--oidc-use-pkce",
                "--listen-address",
                "127.0.0.1:8000",
                "-v1",
            ],
        );
        assert_eq!(u.kind, OldAuth::Kubelogin);
        assert_eq!(u.issuer, "https://dex.example.com");
        assert_eq!(u.client_id, "kubernetes");
        assert_eq!(u.client_secret, Some(Secret::new("s3cret")));
        assert_eq!(u.scopes, ["email", "groups", "profile"]);
        assert_eq!(u.ca_files, ["/etc/ca.pem"]);
        assert_eq!(u.ca_data, ["TFMwdA=="]);
        assert_eq!(u.connector.as_deref(), Some("github"));
        assert_eq!(u.other_params, ["prompt"]);
        assert!(u.unknown.is_empty(), "unknown: {:?}", u.unknown);
        assert!(
            !format!("{u:?}").contains("s3cret"),
            "Debug redacts the secret"
        );
    }

    #[test]
    fn kubelogin_is_recognised_under_its_three_names_and_nothing_else() {
        let long = [
            "get-token",
            "--oidc-issuer-url",
            "https://i",
            "--oidc-client-id",
            "c",
        ];
        for command in [
            "kubelogin",
            "/usr/local/bin/kubectl-oidc_login",
            "C:\\bin\\kubelogin.exe",
        ] {
            let u = kubelogin(command, &long);
            assert_eq!(
                (u.issuer.as_str(), u.client_id.as_str()),
                ("https://i", "c")
            );
        }
        assert!(parse_kubelogin("kubectl", &args(&["get-token"])).is_none());
        assert!(parse_kubelogin("gke-gcloud-auth-plugin", &args(&long)).is_none());
        assert!(parse_kubelogin("kubectl-signet", &args(&["token", "--cluster", "x"])).is_none());
    }

    #[test]
    fn kubelogin_grants_signet_cannot_offer_and_missing_issuer_are_reasons() {
        let no_issuer = parse_kubelogin(
            "kubelogin",
            &args(&["get-token", "--login", "azurecli", "--server-id", "x"]),
        )
        .expect("kubelogin");
        assert!(no_issuer.expect_err("unusable").contains("Azure"));
        let password = parse_kubelogin(
            "kubelogin",
            &args(&[
                "get-token",
                "--oidc-issuer-url=https://i",
                "--oidc-client-id=c",
                "--username=bob",
                "--password=pw",
            ]),
        )
        .expect("kubelogin");
        let reason = password.expect_err("password grant");
        assert!(reason.contains("password grant"), "{reason}");
        assert!(!reason.contains("pw"), "never quotes values: {reason}");
        let device = kubelogin(
            "kubelogin",
            &[
                "get-token",
                "--oidc-issuer-url=https://i",
                "--oidc-client-id=c",
                "--grant-type",
                "device-code",
            ],
        );
        assert!(device.device);
    }

    #[test]
    fn unknown_kubelogin_flags_are_named_without_their_values() {
        let u = kubelogin(
            "kubelogin",
            &[
                "get-token",
                "--oidc-issuer-url=https://i",
                "--oidc-client-id=c",
                "--future-flag",
                "value",
                "--other=x",
                "--insecure-skip-tls-verify",
            ],
        );
        assert_eq!(u.unknown, ["--future-flag", "--other"]);
        assert!(u.insecure_skip_tls_verify);
    }

    #[test]
    fn legacy_auth_provider_is_read_without_its_tokens() {
        let config: HashMap<String, String> = [
            ("idp-issuer-url", "https://dex.example.com"),
            ("client-id", "kubernetes"),
            ("client-secret", "s3cret"),
            ("idp-certificate-authority", "ca.pem"),
            ("extra-scopes", "groups, email"),
            ("id-token", "eyJhbGciOiJSUzI1NiJ9.e30.sig"),
            ("refresh-token", "refresh-me"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let u = parse_auth_provider(&config).expect("usable");
        assert_eq!(u.kind, OldAuth::AuthProvider);
        assert_eq!(u.issuer, "https://dex.example.com");
        assert_eq!(u.client_id, "kubernetes");
        assert_eq!(u.client_secret, Some(Secret::new("s3cret")));
        assert_eq!(u.ca_files, ["ca.pem"]);
        assert_eq!(u.scopes, ["groups", "email"]);
        let shown = format!("{u:?}");
        for secret in ["eyJhbGci", "refresh-me", "s3cret"] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
        let mut missing = config.clone();
        missing.remove("idp-issuer-url");
        assert!(
            parse_auth_provider(&missing)
                .expect_err("no issuer")
                .contains("idp-issuer-url")
        );
    }

    #[test]
    fn names_are_sanitised_and_made_unique() {
        assert_eq!(sanitize("oidc@Prod_EU", "c"), "oidc-prod-eu");
        assert_eq!(sanitize("--", "cluster"), "cluster");
        assert_eq!(
            provider_base_name("https://dex.example.com:5556/dex"),
            "dex-example-com"
        );
        assert_eq!(provider_base_name("http://127.0.0.1:5556/dex"), "127-0-0-1");
        let taken = ["prod", "prod-2"];
        assert_eq!(unique("prod", |n| taken.contains(&n)), "prod-3");
    }

    const PEM_B64: &str =
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

    fn kubeconfig(issuer_extra: &str) -> String {
        format!(
            r#"apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {{server: "https://api.prod.example:6443", certificate-authority-data: "{PEM_B64}"}}
- name: dev
  cluster: {{server: "https://api.dev.example:6443"}}
users:
- name: oidc
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubectl
      args: [oidc-login, get-token, --oidc-issuer-url=https://dex.example.com, --oidc-client-id=kubernetes, --oidc-client-secret=s3cret, --oidc-extra-scope=groups{issuer_extra}]
- name: legacy
  user:
    auth-provider:
      name: oidc
      config: {{idp-issuer-url: "https://dex.example.com", client-id: kubernetes, id-token: old-id-token, refresh-token: old-refresh}}
- name: admin
  user: {{token: static}}
contexts:
- name: prod
  context: {{cluster: prod, user: oidc, namespace: team-a}}
- name: prod-admin
  context: {{cluster: prod, user: admin}}
- name: DEV
  context: {{cluster: dev, user: legacy}}
"#
        )
    }

    fn paths_with(dir: &Path, kubeconfig_text: &str) -> Paths {
        let mut paths = Paths::under(dir);
        std::fs::create_dir_all(&paths.home).expect("home");
        let file = dir.join("kubeconfig");
        std::fs::write(&file, kubeconfig_text).expect("write kubeconfig");
        paths.kubeconfig_env = Some(file.into_os_string());
        paths
    }

    #[test]
    fn a_kubeconfig_plan_makes_one_provider_per_client_and_a_cluster_per_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), &kubeconfig(""));
        let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
        assert_eq!(plan.providers.len(), 1, "{plan}");
        let p = &plan.providers[0];
        assert_eq!(
            (p.name.as_str(), p.client_id.as_str()),
            ("dex-example-com", "kubernetes")
        );
        assert_eq!(p.client_secret, Some(Secret::new("s3cret")));
        assert_eq!(p.scopes, ["groups"]);
        let names: Vec<(&str, Option<&str>)> = plan
            .clusters
            .iter()
            .map(|c| (c.name.as_str(), c.context.as_deref()))
            .collect();
        // `prod` (the kubeconfig cluster) is shared with prod-admin, so Signet's cluster is prod-2.
        assert_eq!(names, [("prod-2", Some("prod")), ("dev", Some("DEV"))]);
        for c in &plan.clusters {
            assert_eq!(
                c.audience.as_deref(),
                Some("kubernetes"),
                "old client id is the audience"
            );
        }
        assert_eq!(plan.clusters[0].namespace.as_deref(), Some("team-a"));
        assert_eq!(plan.clusters[0].ca_data.as_deref(), Some(PEM_B64));
        assert_eq!(
            plan.adoptions[1].cluster_entry,
            ClusterEntryChange::TakenOver,
            "dev is used only by the adopted DEV"
        );

        let shown = plan.to_string();
        for secret in ["s3cret", "old-id-token", "old-refresh"] {
            assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
        }
        assert!(shown.contains("client_secret = \"<redacted>\""), "{shown}");
        assert!(
            shown.contains("context prod: user oidc (kubelogin exec) → signet-prod-2"),
            "{shown}"
        );
        let saved = toml::to_string(plan.merged_config()).expect("toml");
        for secret in ["old-id-token", "old-refresh"] {
            assert!(
                !saved.contains(secret),
                "legacy token copied into the config"
            );
        }
    }

    #[test]
    fn client_id_override_keeps_the_old_client_as_audience_and_drops_its_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), &kubeconfig(""));
        let plan =
            plan_kubeconfig_import(&Config::default(), &paths, None, Some("signet")).expect("plan");
        let p = &plan.providers[0];
        assert_eq!(p.client_id, "signet");
        assert_eq!(
            p.client_secret, None,
            "the old client's secret is not Signet's"
        );
        assert!(
            plan.clusters
                .iter()
                .all(|c| c.audience.as_deref() == Some("kubernetes"))
        );
        assert!(
            plan.notes.iter().any(|n| n.contains("not copied")),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn an_existing_provider_for_the_same_client_is_reused_and_a_second_plan_is_empty_after_apply() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), &kubeconfig(""));
        let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
        let before = std::fs::read(dir.path().join("kubeconfig")).expect("read");
        assert!(!paths.config_file.exists(), "planning writes nothing");
        assert_eq!(
            std::fs::read(dir.path().join("kubeconfig")).expect("read"),
            before
        );

        let outcome = plan
            .apply("/opt/signet/kubectl-signet", &[])
            .expect("apply");
        assert_eq!(outcome.adopted.len(), 2);
        assert_eq!(outcome.sign_in, ["dex-example-com"]);
        let config = Config::load(&paths.config_file, &paths.home).expect("config saved");
        let again = plan_kubeconfig_import(&config, &paths, None, None).expect("plan again");
        assert!(again.is_empty(), "nothing left to import:\n{again}");
    }

    #[test]
    fn an_explicit_kubeconfig_outside_the_chain_becomes_the_clusters_kubeconfig_and_is_the_one_written()
     {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), "apiVersion: v1\nkind: Config\n");
        let other = dir.path().join("other.yaml");
        std::fs::write(&other, kubeconfig("")).expect("write");
        let default_before = std::fs::read(dir.path().join("kubeconfig")).expect("read");
        let plan =
            plan_kubeconfig_import(&Config::default(), &paths, Some(&other), None).expect("plan");
        assert_eq!(
            plan.source,
            ImportSource::Kubeconfig {
                files: vec![other.clone()]
            }
        );
        assert!(
            plan.clusters
                .iter()
                .all(|c| c.kubeconfig.as_deref() == Some(other.as_path())),
            "{plan}"
        );
        let outcome = plan.apply("kubectl-signet", &[]).expect("apply");
        assert_eq!(outcome.kubeconfig.written, vec![other.clone()]);
        assert_eq!(
            std::fs::read(dir.path().join("kubeconfig")).expect("read"),
            default_before,
            "the KUBECONFIG file is not touched"
        );
        let missing = plan_kubeconfig_import(
            &Config::default(),
            &paths,
            Some(&dir.path().join("nope")),
            None,
        )
        .expect_err("missing explicit file");
        assert_eq!(missing.code(), "import.kubeconfig_missing");
    }

    const CATALOG: &str = r#"
[[providers]]
name = "corp"
issuer = "https://dex.example.com"
client_id = "signet"
scopes = ["groups"]

[[clusters]]
name = "prod"
provider = "corp"
server = "https://api.prod.example:6443"
audience = "kubernetes"
"#;

    #[test]
    fn a_catalog_with_a_client_secret_is_rejected_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), "");
        let text = CATALOG.replace(
            "client_id = \"signet\"",
            "client_id = \"signet\"\nclient_secret = \"team-secret\"",
        );
        let source = CatalogSource::File(dir.path().join("catalog.toml"));
        let err =
            plan_catalog_import(&Config::default(), &paths, &source, &text).expect_err("secret");
        assert_eq!(err.code(), "import.secret_in_catalog");
        let message = err.to_string();
        assert!(
            message.contains("catalog.toml:6: providers[0].client_secret"),
            "{message}"
        );
        assert!(!message.contains("team-secret"), "{message}");
    }

    #[test]
    fn a_catalog_merges_identical_entries_and_refuses_a_different_one_naming_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), "");
        let source = CatalogSource::File(dir.path().join("catalog.toml"));
        let plan = plan_catalog_import(&Config::default(), &paths, &source, CATALOG).expect("plan");
        assert_eq!((plan.providers.len(), plan.clusters.len()), (1, 1));
        assert_eq!(
            plan.new_entries.len(),
            1,
            "exec cluster entries are written"
        );
        let config = plan.merged_config().clone();

        let again = plan_catalog_import(&config, &paths, &source, CATALOG).expect("plan again");
        assert!(
            again.providers.is_empty() && again.clusters.is_empty(),
            "{again}"
        );
        assert_eq!(again.reused.len(), 2);

        let changed = CATALOG.replace("https://api.prod.example:6443", "https://api.other:6443");
        let err = plan_catalog_import(&config, &paths, &source, &changed).expect_err("conflict");
        assert_eq!(err.code(), "import.conflict");
        let message = err.to_string();
        assert!(message.contains("cluster 'prod' from"), "{message}");
        assert!(message.contains("catalog.toml"), "{message}");
        assert!(message.contains("config.toml"), "{message}");
        assert!(message.contains("https://api.other:6443"), "{message}");
    }

    #[test]
    fn a_catalog_may_not_choose_local_paths_and_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), "");
        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .expect("write ca");
        let source = CatalogSource::File(dir.path().join("catalog.toml"));
        for (text, key, line) in [
            (
                format!("{CATALOG}kubeconfig = \"~/.bashrc\"\n"),
                "clusters[0].kubeconfig",
                13,
            ),
            (
                CATALOG.replace(
                    "scopes = [\"groups\"]",
                    &format!("ca_file = \"{}\"", ca.display()),
                ),
                "providers[0].ca_file",
                6,
            ),
            (
                format!("{CATALOG}ca_file = \"{}\"\n", ca.display()),
                "clusters[0].ca_file",
                13,
            ),
        ] {
            let err = plan_catalog_import(&Config::default(), &paths, &source, &text)
                .expect_err("a catalog naming a local path is refused");
            let message = err.to_string();
            assert!(
                message.contains(&format!("catalog.toml:{line}: {key}:")),
                "expected catalog.toml:{line}: {key}: in {message}"
            );
        }
        assert!(!paths.config_file.exists(), "nothing saved");
        assert!(
            !paths.home.join(".bashrc").exists(),
            "nothing written where the catalog pointed"
        );
    }

    #[test]
    fn an_insecure_catalog_cluster_is_applied_only_with_consent_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = paths_with(dir.path(), "");
        let source = CatalogSource::File(dir.path().join("catalog.toml"));
        let text = format!("{CATALOG}insecure_skip_tls_verify = true\n");
        let plan = plan_catalog_import(&Config::default(), &paths, &source, &text).expect("plan");
        assert_eq!(plan.insecure_clusters(), ["prod"]);
        assert!(
            plan.to_string().contains("WARNING: cluster prod skip"),
            "{plan}"
        );
        for consent in [&[][..], &["other".to_string()][..]] {
            let err = plan
                .apply("kubectl-signet", consent)
                .expect_err("no consent: refused");
            assert_eq!(err.code(), "import.insecure_not_allowed");
            assert!(
                err.to_string()
                    .contains("cluster prod would turn off TLS verification"),
                "{err}"
            );
            assert!(err.to_string().contains("--allow-insecure"), "{err}");
            assert!(!paths.config_file.exists(), "nothing saved without consent");
        }
        plan.apply("kubectl-signet", &["prod".to_string()])
            .expect("applied with consent naming the cluster");
        let config = Config::load(&paths.config_file, &paths.home).expect("saved");
        assert!(
            config
                .cluster("prod")
                .expect("prod")
                .insecure_skip_tls_verify
        );
    }

    #[test]
    fn an_adopted_kubeconfig_cluster_that_skips_tls_verification_needs_consent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = kubeconfig("").replace(
            "{server: \"https://api.dev.example:6443\"}",
            "{server: \"https://api.dev.example:6443\", insecure-skip-tls-verify: true}",
        );
        let paths = paths_with(dir.path(), &text);
        let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
        let before = std::fs::read(dir.path().join("kubeconfig")).expect("read");
        assert_eq!(plan.insecure_clusters(), ["dev"]);
        let err = plan
            .apply("kubectl-signet", &[])
            .expect_err("no consent: refused");
        assert_eq!(err.code(), "import.insecure_not_allowed");
        assert!(err.to_string().contains("cluster dev would"), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join("kubeconfig")).expect("read"),
            before,
            "the kubeconfig is untouched"
        );
    }

    #[test]
    fn kubeconfig_contexts_with_unsafe_names_or_namespaces_are_skipped_and_shown_escaped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = kubeconfig("")
            .replace("- name: DEV\n", "- name: \"DEV\\e[2J\"\n")
            .replace("namespace: team-a", "namespace: Team_A");
        let paths = paths_with(dir.path(), &text);
        let plan = plan_kubeconfig_import(&Config::default(), &paths, None, None).expect("plan");
        assert!(plan.clusters.is_empty(), "{plan}");
        let shown = plan.to_string();
        assert!(!shown.contains('\u{1b}'), "raw escape printed: {shown:?}");
        assert!(shown.contains("DEV\\u{1b}[2J"), "{shown}");
        assert!(shown.contains("Team_A"), "{shown}");
        assert_eq!(plan.skipped.len(), 2, "{shown}");
    }

    #[test]
    fn catalog_urls_must_be_https_off_loopback() {
        let err = read_catalog(
            &CatalogSource::from_arg("http://catalog.example.com/c.toml"),
            HttpOptions::default(),
        )
        .expect_err("plain http");
        assert_eq!(err.code(), "import.insecure_url");
    }
}
