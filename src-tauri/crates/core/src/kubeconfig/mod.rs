//! Signet's entries in the person's kubeconfig (DESIGN.md §3, §5.4).
//!
//! This module owns the clusters, users and contexts that carry the `signet` extension
//! (`{provider, cluster}`), and `current-context` when the person switches clusters through Signet. It must
//! not change anything else: other entries, unknown fields, other extensions and `preferences` are read and
//! written back as they were (kube's [`Kubeconfig`] keeps unknown keys in its `other` maps). Like kubectl,
//! it loses comments and key order when it rewrites a file, except in [`use_context`], which splices the
//! two values it changes into the text when the file has a plain shape (the `fast` module), and so keeps
//! comments and is quick on kubeconfigs with thousands of contexts.
//!
//! It follows client-go (`tools/clientcmd`) so Signet and kubectl can share files:
//! - the files and their precedence come from [`KubeconfigTarget`] (`KUBECONFIG`, else `~/.kube/config`);
//! - "The first file to set a particular map key wins and map key's value is never changed" (client-go
//!   `Load`): an entry is edited in the first file that defines its name, and new entries go to the default
//!   file;
//! - every file in the chain is locked with `<file>.lock` (create-new, sorted order) around read → modify →
//!   write, as `ModifyConfig` does;
//! - a new file gets mode 0600; an existing file keeps its mode, unless it holds a bearer token (token
//!   mode): then it (and its backup) become 0600, once, and the edit says so (`EditOutcome::tightened`).
//!
//! Where Signet is stricter than kubectl: writes are atomic (temp file, fsync, rename; a symlinked kubeconfig
//! stays a symlink and its target is replaced), a lock held by someone else is waited for instead of failing
//! at once, and one backup (`<file>.signet-backup`) is kept from before Signet's first change to a file.
//!
//! Each file is parsed on its own with kube's YAML model and never through `Kubeconfig::read_from`, which
//! would rewrite relative paths (`certificate-authority`, `tokenFile`, …) to absolute ones in the file.
//! Tokens (token mode) pass through here but are never logged or put in an error.

mod adopt;
mod cache;
mod chain;
mod entry;
mod fast;
mod lock;
mod switch;
mod target;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{AuthInfo, Kubeconfig, NamedAuthInfo};

use crate::config::ClusterConfig;
use crate::secret::Secret;

pub use adopt::{AdoptError, Adoption, KubeconfigFile, adopt_contexts, read_files};
pub use cache::{ChainCache, ChainView};
use chain::{Chain, edit};
use entry::{Entry, check_owned, is_owned_by, set_mark, signet_mark, upsert_one};
pub use lock::{STALE_LOCK_AGE, lock_path};
pub use switch::use_context;
pub use target::{DEFAULT_LOCK_TIMEOUT, KubeconfigTarget};

/// Name of the extension on every cluster, user and context Signet writes; its value is
/// `{provider: <provider>, cluster: <cluster>}`.
pub const EXTENSION_NAME: &str = "signet";
/// The exec plugin API Signet's entries ask for.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1";
/// What kubectl prints when it cannot find the plugin.
pub const INSTALL_HINT: &str = "Install Signet (kubectl-signet) — see its README";
/// The plugin command when `kubectl-signet` is on `PATH`.
pub const DEFAULT_EXEC_COMMAND: &str = "kubectl-signet";
/// Appended to a kubeconfig's path for the copy kept from before Signet's first change.
pub const BACKUP_SUFFIX: &str = ".signet-backup";

const NEW_FILE_MODE: u32 = 0o600;

/// The three kinds of named kubeconfig entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Cluster,
    User,
    Context,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::Cluster => "cluster",
            EntryKind::User => "user",
            EntryKind::Context => "context",
        })
    }
}

/// Why a kubeconfig could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeconfigError {
    /// Another kubectl or Signet held `<file>.lock` for the whole timeout.
    #[error(
        "kubeconfig is locked by another program: '{}' still exists after waiting {:.1}s{}",
        .lock.display(),
        .waited.as_secs_f32(),
        stale_hint(*.stale_for)
    )]
    Locked {
        lock: PathBuf,
        waited: Duration,
        /// How old the lock was, when older than [`STALE_LOCK_AGE`].
        stale_for: Option<Duration>,
    },
    /// The lock file (or its directory) could not be created for a reason other than "exists".
    #[error("failed to create kubeconfig lock '{}'", .lock.display())]
    LockFailed {
        lock: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to read kubeconfig '{}'", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not a kubeconfig Signet can read. `message` never quotes the file's text.
    #[error(
        "failed to parse kubeconfig '{}': {message}; fix the file (or move it away) and try again",
        .path.display()
    )]
    Parse { path: PathBuf, message: String },
    #[error("failed to write kubeconfig '{}'", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to serialise kubeconfig '{}'", .path.display())]
    Serialize {
        path: PathBuf,
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// An entry with the name Signet needs exists and is someone else's.
    #[error(
        "{kind} '{name}' in kubeconfig '{}' {}; rename the cluster in Signet's config or remove that entry from the kubeconfig",
        .path.display(),
        owner_note(.owner.as_deref())
    )]
    NotSignetOwned {
        kind: EntryKind,
        name: String,
        path: PathBuf,
        /// The Signet cluster the entry belongs to, when it is Signet's but another cluster's.
        owner: Option<String>,
    },
    #[error(
        "no {kind} named '{name}' in the kubeconfig; run `kubectl signet sync` to write Signet's entries"
    )]
    NotFound { kind: EntryKind, name: String },
    /// A name or namespace that Signet does not write (see the `names` module).
    #[error(transparent)]
    InvalidName(#[from] crate::names::NameError),
}

impl KubeconfigError {
    /// A stable, dotted identifier for the UI, logs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            KubeconfigError::Locked { .. } => "kubeconfig.locked",
            KubeconfigError::LockFailed { .. }
            | KubeconfigError::Write { .. }
            | KubeconfigError::Serialize { .. } => "kubeconfig.write_failed",
            KubeconfigError::Read { .. } => "kubeconfig.read_failed",
            KubeconfigError::Parse { .. } => "kubeconfig.parse_failed",
            KubeconfigError::NotSignetOwned { .. } => "kubeconfig.not_signet_owned",
            KubeconfigError::NotFound { .. } => "kubeconfig.not_found",
            KubeconfigError::InvalidName(e) => e.code(),
        }
    }
}

fn stale_hint(stale_for: Option<Duration>) -> String {
    match stale_for {
        Some(age) => format!(
            "; it looks stale (unchanged for {}s): if no kubectl or Signet is running, delete it",
            age.as_secs()
        ),
        None => "; try again when the other kubectl or Signet has finished".to_owned(),
    }
}

fn owner_note(owner: Option<&str>) -> String {
    match owner {
        Some(cluster) => format!("belongs to Signet's cluster '{cluster}'"),
        None => "is not Signet's (it has no `signet` extension)".to_owned(),
    }
}

/// The CA an API server's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCa {
    /// The system trust store (no CA field written).
    System,
    /// `certificate-authority-data`: base64 of the PEM bundle.
    Data(String),
    /// `certificate-authority`: a PEM file.
    File(PathBuf),
    /// `insecure-skip-tls-verify: true`.
    InsecureSkipTlsVerify,
}

/// How kubectl gets a token for the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryCredentials {
    /// An exec entry (DESIGN.md §3): `command` is `kubectl-signet` or an absolute path; `env` is set for
    /// it (a remote host's entries name the forwarded socket, [`crate::forward::SOCKET_ENV`]).
    Exec {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// A static `token:` that Signet rewrites on each refresh ([`set_token`]).
    Token(Secret),
}

impl EntryCredentials {
    /// The standard exec entry: `<command> token --cluster <cluster>`.
    pub fn exec(command: impl Into<String>, cluster: &str) -> EntryCredentials {
        EntryCredentials::Exec {
            command: command.into(),
            args: vec!["token".into(), "--cluster".into(), cluster.into()],
            env: Vec::new(),
        }
    }
}

/// Everything Signet writes for one cluster: a cluster, a user `signet-<cluster>` and a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignetEntry {
    pub provider: String,
    /// Signet's cluster name, also the kubeconfig cluster name.
    pub cluster: String,
    /// The kubeconfig context name.
    pub context: String,
    pub server: String,
    pub ca: ClusterCa,
    /// The context's namespace when the context is created. A context that exists keeps the namespace it
    /// has, because the person may have changed it since (`kubectl config set-context --namespace`, or
    /// Signet's namespace picker through [`use_context`]).
    pub namespace: Option<String>,
    pub credentials: EntryCredentials,
}

impl SignetEntry {
    /// The entry for a configured cluster.
    pub fn from_config(cluster: &ClusterConfig, credentials: EntryCredentials) -> SignetEntry {
        let ca = if cluster.insecure_skip_tls_verify {
            ClusterCa::InsecureSkipTlsVerify
        } else if let Some(data) = &cluster.ca_data {
            ClusterCa::Data(data.clone())
        } else if let Some(file) = &cluster.ca_file {
            ClusterCa::File(file.clone())
        } else {
            ClusterCa::System
        };
        SignetEntry {
            provider: cluster.provider.clone(),
            cluster: cluster.name.clone(),
            context: cluster.context_name().to_owned(),
            server: cluster.server.clone(),
            ca,
            namespace: cluster.namespace.clone(),
            credentials,
        }
    }

    pub fn user_name(&self) -> String {
        user_name(&self.cluster)
    }
}

/// The kubeconfig user name for a Signet cluster: `signet-<cluster>`.
pub fn user_name(cluster: &str) -> String {
    format!("signet-{cluster}")
}

/// Where the backup of `file` goes (next to the file a symlink points to).
pub fn backup_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// What an edit changed on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditOutcome {
    /// Files rewritten (symlinks resolved), in precedence order; empty when nothing changed.
    pub written: Vec<PathBuf>,
    /// Backups made by this edit (only before Signet's first change to a file).
    pub backups: Vec<PathBuf>,
    /// Files this edit made 0600 because they now hold a bearer token (token mode); a file is listed
    /// once, by the edit that tightened it.
    pub tightened: Vec<PathBuf>,
}

/// A context Signet owns, as the merged kubeconfig shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignetContext {
    pub name: String,
    pub provider: String,
    pub cluster: String,
    pub namespace: Option<String>,
    /// Whether it is the merged `current-context`.
    pub current: bool,
    /// The file it lives in (as listed in the chain).
    pub file: PathBuf,
}

/// Writes or repairs the cluster, user and context of every entry, in one locked read-modify-write.
///
/// An entry with one of those names that lacks the `signet` extension (or is another Signet cluster's) is
/// never overwritten: the whole call fails with `kubeconfig.not_signet_owned` and nothing is written.
/// Fields Signet does not manage (say a `proxy-url` or `env` the person added) are kept.
pub fn upsert_cluster_entries(
    target: &KubeconfigTarget,
    entries: &[SignetEntry],
) -> Result<EditOutcome, KubeconfigError> {
    edit(target, |chain| {
        for entry in entries {
            upsert_one(chain, entry)?;
        }
        Ok(())
    })
    .map(|((), outcome)| outcome)
}

/// [`upsert_cluster_entries`], and in the same locked edit makes `context` current when the chain has no
/// current context (a first sign-in on a fresh machine); `true` when it did. An existing current context
/// is never changed.
pub fn upsert_cluster_entries_current_if_unset(
    target: &KubeconfigTarget,
    entries: &[SignetEntry],
    context: &str,
) -> Result<(EditOutcome, bool), KubeconfigError> {
    edit(target, |chain| {
        for entry in entries {
            upsert_one(chain, entry)?;
        }
        if chain.current_context().is_some_and(|c| !c.is_empty()) {
            return Ok(false);
        }
        let file = &mut chain.files[chain.default];
        file.config.current_context = Some(context.to_owned());
        file.dirty = true;
        Ok(true)
    })
    .map(|(made_current, outcome)| (outcome, made_current))
}

/// Replaces the token of `signet-<cluster>` (token mode), leaving the rest of the file alone.
pub fn set_token(
    target: &KubeconfigTarget,
    cluster: &str,
    token: &Secret,
) -> Result<EditOutcome, KubeconfigError> {
    edit(target, |chain| {
        let name = user_name(cluster);
        let (fi, ei) = chain
            .locate::<NamedAuthInfo>(&name)
            .ok_or(KubeconfigError::NotFound {
                kind: EntryKind::User,
                name: name.clone(),
            })?;
        let file = &mut chain.files[fi];
        let user = &mut file.config.auth_infos[ei];
        check_owned(user, cluster, &file.raw.path)?;
        user.auth_info.get_or_insert_with(AuthInfo::default).token =
            Some(token.expose().to_owned().into());
        file.dirty = true;
        Ok(())
    })
    .map(|((), outcome)| outcome)
}

/// Removes the clusters, users and contexts Signet wrote for `cluster`, from every file in the chain.
/// Entries without Signet's mark for that cluster are left alone, and so is `current-context` (as with
/// `kubectl config delete-context`).
pub fn remove_cluster_entries(
    target: &KubeconfigTarget,
    cluster: &str,
) -> Result<EditOutcome, KubeconfigError> {
    edit(target, |chain| {
        for file in &mut chain.files {
            let config = &mut file.config;
            let before = config.clusters.len() + config.auth_infos.len() + config.contexts.len();
            config.clusters.retain(|e| !is_owned_by(e, cluster));
            config.auth_infos.retain(|e| !is_owned_by(e, cluster));
            config.contexts.retain(|e| !is_owned_by(e, cluster));
            let after = config.clusters.len() + config.auth_infos.len() + config.contexts.len();
            if after != before {
                file.dirty = true;
            }
        }
        Ok(())
    })
    .map(|((), outcome)| outcome)
}

/// The merged view kubectl would see (first file wins per name; missing files skipped). Takes no lock:
/// client-go reads without one too.
pub fn read_merged(target: &KubeconfigTarget) -> Result<Kubeconfig, KubeconfigError> {
    let chain = Chain::load(target)?;
    let mut merged = Kubeconfig::default();
    for file in chain.files {
        let path = file.raw.path;
        merged = merged
            .merge(file.config)
            .map_err(|e| KubeconfigError::Parse {
                path,
                message: e.to_string(),
            })?;
    }
    Ok(merged)
}

/// Signet's contexts in the merged view, in file order, with their provider, cluster and namespace.
pub fn signet_contexts(target: &KubeconfigTarget) -> Result<Vec<SignetContext>, KubeconfigError> {
    Ok(signet_contexts_of(&Chain::load(target)?))
}

fn signet_contexts_of(chain: &Chain) -> Vec<SignetContext> {
    let current = chain.current_context().map(str::to_owned);
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for file in &chain.files {
        for entry in &file.config.contexts {
            if !seen.insert(entry.name.as_str()) {
                continue; // shadowed by an earlier file
            }
            if let Some(mark) = signet_mark(entry.extensions()) {
                found.push(SignetContext {
                    name: entry.name.clone(),
                    provider: mark.provider.to_owned(),
                    cluster: mark.cluster.to_owned(),
                    namespace: entry.context.as_ref().and_then(|c| c.namespace.clone()),
                    current: current.as_deref() == Some(entry.name.as_str()),
                    file: file.raw.path.clone(),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;
