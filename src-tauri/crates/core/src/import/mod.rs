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
//!
//! ## Where each step lives
//!
//! - `legacy`: reads an old user entry (kubelogin exec or `auth-provider: oidc`) into an
//!   [`OidcUser`], or says why Signet cannot take it over.
//! - `from_kubeconfig`: plans adopting a kubeconfig's contexts in three steps — the contexts that can be
//!   adopted, one provider per client, then a cluster and a kubeconfig entry change per context.
//! - `from_catalog`: reads a team catalog and plans merging it into the config.
//! - `plan`: the [`ImportPlan`] both produce, and [`ImportPlan::apply`]; `display` renders it as text.
//! - `naming` and `view`: the name rules and the merged kubeconfig view the planners share.

use std::fmt;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::kubeconfig::{AdoptError, KubeconfigError};
use crate::text::printable;

mod display;
mod from_catalog;
mod from_kubeconfig;
mod legacy;
mod naming;
mod plan;
mod view;

pub use from_catalog::{plan_catalog_import, read_catalog};
pub use from_kubeconfig::plan_kubeconfig_import;
pub use legacy::{OidcUser, OldAuth, parse_auth_provider, parse_kubelogin};
pub use naming::sanitize;
pub use plan::{
    ClusterEntryChange, ContextAdoption, ImportOutcome, ImportPlan, NewEntries, Skipped,
};

#[cfg(test)]
mod tests;

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

    pub(super) fn origin(&self) -> String {
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
