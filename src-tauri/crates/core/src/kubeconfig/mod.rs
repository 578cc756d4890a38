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
mod fast;
mod lock;
mod target;

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{
    AuthInfo, Cluster, Context, ExecConfig, ExecInteractiveMode, Kubeconfig, NamedAuthInfo,
    NamedCluster, NamedContext, NamedExtension,
};
use serde::Serialize;

use crate::atomic_file;
use crate::config::ClusterConfig;
use crate::secret::Secret;

pub use adopt::{AdoptError, Adoption, KubeconfigFile, adopt_contexts, read_files};
pub use lock::{STALE_LOCK_AGE, lock_path};
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
    /// An exec entry (DESIGN.md §3): `command` is `kubectl-signet` or an absolute path.
    Exec { command: String, args: Vec<String> },
    /// A static `token:` that Signet rewrites on each refresh ([`set_token`]).
    Token(Secret),
}

impl EntryCredentials {
    /// The standard exec entry: `<command> token --cluster <cluster>`.
    pub fn exec(command: impl Into<String>, cluster: &str) -> EntryCredentials {
        EntryCredentials::Exec {
            command: command.into(),
            args: vec!["token".into(), "--cluster".into(), cluster.into()],
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

/// Makes `context` the current context and, when `namespace` is given, sets its namespace (`Some("")`
/// clears it).
///
/// > Setting `current-context` writes to the default file. (client-go `writeCurrentContext`)
///
/// The namespace is written to the file the context lives in, and only on a Signet-owned context. Nothing is
/// written when both are already as asked, or when the namespace is not an RFC 1123 label.
pub fn use_context(
    target: &KubeconfigTarget,
    context: &str,
    namespace: Option<&str>,
) -> Result<EditOutcome, KubeconfigError> {
    if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
        crate::names::check(crate::names::NameKind::Namespace, namespace)?;
    }
    let _locks = lock::LockSet::acquire(target.precedence(), target.lock_timeout())?;
    if let Some(outcome) = use_context_in_place(target, context, namespace)? {
        return Ok(outcome);
    }
    edit_locked(target, |chain| {
        use_context_parsed(chain, context, namespace)
    })
    .map(|((), outcome)| outcome)
}

/// [`use_context`] on fully parsed files: handles every valid kubeconfig.
fn use_context_parsed(
    chain: &mut Chain,
    context: &str,
    namespace: Option<&str>,
) -> Result<(), KubeconfigError> {
    let (fi, ei) = chain
        .locate::<NamedContext>(context)
        .ok_or_else(|| not_found_context(context))?;
    if let Some(namespace) = namespace {
        let file = &mut chain.files[fi];
        let entry = &mut file.config.contexts[ei];
        if signet_mark(entry.extensions()).is_none() {
            return Err(not_owned_context(context, &file.raw.path));
        }
        let wanted = (!namespace.is_empty()).then(|| namespace.to_owned());
        let ctx = entry.context.get_or_insert_with(Context::default);
        if ctx.namespace != wanted {
            ctx.namespace = wanted;
            file.dirty = true;
        }
    }
    if chain.current_context() != Some(context) {
        let file = &mut chain.files[chain.default];
        file.config.current_context = Some(context.to_owned());
        file.dirty = true;
    }
    Ok(())
}

/// [`use_context`] by splicing two scalars into the files' text (see the `fast` module); `Ok(None)` when
/// some file has a shape that needs the full path. Decides exactly as [`use_context_parsed`] does.
fn use_context_in_place(
    target: &KubeconfigTarget,
    context: &str,
    namespace: Option<&str>,
) -> Result<Option<EditOutcome>, KubeconfigError> {
    if namespace == Some("") {
        return Ok(None); // clearing removes a line: the full path does that
    }
    let mut files = Vec::with_capacity(target.precedence().len());
    for path in target.precedence() {
        let raw = RawFile::read(path)?;
        let skim = match raw.text() {
            Some(text) => match fast::skim(text, context) {
                Some(skim) => Some(skim),
                None => return Ok(None),
            },
            None => None,
        };
        files.push((raw, skim, Vec::new()));
    }
    let Some(fi) = files
        .iter()
        .position(|(_, skim, _)| skim.as_ref().is_some_and(|s| s.context.is_some()))
    else {
        return Err(not_found_context(context));
    };
    if let Some(namespace) = namespace {
        let (raw, skim, splices) = &mut files[fi];
        let Some(found) = skim.as_ref().and_then(|s| s.context.as_ref()) else {
            return Ok(None);
        };
        if !found.signet {
            return Err(not_owned_context(context, &raw.path));
        }
        if found.namespace.as_deref() != Some(namespace) {
            match found.set_namespace(namespace) {
                Some(splice) => splices.push(splice),
                None => return Ok(None),
            }
        }
    }
    let current = files
        .iter()
        .find_map(|(_, skim, _)| skim.as_ref()?.current.as_deref());
    if current != Some(context) {
        let exists: Vec<bool> = files
            .iter()
            .map(|(raw, ..)| raw.original.is_some())
            .collect();
        let (_, skim, splices) = &mut files[target.default_index(&exists)];
        // A missing default file has to be created with a header: the full path does that.
        match skim.as_ref().and_then(|s| s.set_current(context)) {
            Some(splice) => splices.push(splice),
            None => return Ok(None),
        }
    }
    let mut outcome = EditOutcome::default();
    for (raw, _, splices) in files {
        if splices.is_empty() {
            continue;
        }
        let Some(text) = raw.text() else {
            return Ok(None);
        };
        let updated = fast::apply(text, splices);
        raw.write(&updated, false, &mut outcome)?;
    }
    Ok(Some(outcome))
}

fn not_found_context(context: &str) -> KubeconfigError {
    KubeconfigError::NotFound {
        kind: EntryKind::Context,
        name: context.to_owned(),
    }
}

fn not_owned_context(context: &str, path: &Path) -> KubeconfigError {
    KubeconfigError::NotSignetOwned {
        kind: EntryKind::Context,
        name: context.to_owned(),
        path: path.to_path_buf(),
        owner: None,
    }
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
    let chain = Chain::load(target)?;
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
    Ok(found)
}

// ---------------------------------------------------------------------------------------------------------
// Editing

fn upsert_one(chain: &mut Chain, entry: &SignetEntry) -> Result<(), KubeconfigError> {
    let mark = serde_json::json!({ "provider": entry.provider, "cluster": entry.cluster });
    let cluster = entry.cluster.as_str();

    chain.upsert::<NamedCluster>(&entry.cluster, cluster, &mark, |named, _created| {
        let c = named.cluster.get_or_insert_with(Cluster::default);
        c.server = Some(entry.server.clone());
        let (data, file, insecure) = match &entry.ca {
            ClusterCa::System => (None, None, None),
            ClusterCa::Data(data) => (Some(data.clone()), None, None),
            ClusterCa::File(path) => (None, Some(path.to_string_lossy().into_owned()), None),
            ClusterCa::InsecureSkipTlsVerify => (None, None, Some(true)),
        };
        c.certificate_authority_data = data;
        c.certificate_authority = file;
        c.insecure_skip_tls_verify = insecure;
    })?;

    chain.upsert::<NamedAuthInfo>(&entry.user_name(), cluster, &mark, |named, _created| {
        let user = named.auth_info.get_or_insert_with(AuthInfo::default);
        match &entry.credentials {
            EntryCredentials::Exec { command, args } => {
                user.token = None;
                // Keep what the person may have added (env, provideClusterInfo, unknown keys).
                let exec = user.exec.get_or_insert_with(ExecConfig::default);
                exec.api_version = Some(EXEC_API_VERSION.to_owned());
                exec.command = Some(command.clone());
                exec.args = Some(args.clone());
                exec.interactive_mode = Some(ExecInteractiveMode::IfAvailable);
                exec.install_hint = Some(INSTALL_HINT.to_owned());
            }
            EntryCredentials::Token(token) => {
                user.exec = None;
                user.token = Some(token.expose().to_owned().into());
            }
        }
    })?;

    let user = entry.user_name();
    chain.upsert::<NamedContext>(&entry.context, cluster, &mark, |named, created| {
        let ctx = named.context.get_or_insert_with(Context::default);
        ctx.cluster = entry.cluster.clone();
        ctx.user = Some(user);
        if created {
            ctx.namespace = entry.namespace.clone();
        }
    })?;
    Ok(())
}

/// The `signet` extension's value, borrowed.
struct SignetMark<'a> {
    provider: &'a str,
    cluster: &'a str,
}

fn signet_mark(extensions: Option<&Vec<NamedExtension>>) -> Option<SignetMark<'_>> {
    let value = &extensions?
        .iter()
        .find(|e| e.name == EXTENSION_NAME)?
        .extension;
    Some(SignetMark {
        provider: value.get("provider")?.as_str()?,
        cluster: value.get("cluster")?.as_str()?,
    })
}

fn is_owned_by<T: Entry>(entry: &T, cluster: &str) -> bool {
    signet_mark(entry.extensions()).is_some_and(|m| m.cluster == cluster)
}

fn check_owned<T: Entry>(entry: &T, cluster: &str, path: &Path) -> Result<(), KubeconfigError> {
    match signet_mark(entry.extensions()) {
        Some(mark) if mark.cluster == cluster => Ok(()),
        other => Err(KubeconfigError::NotSignetOwned {
            kind: T::KIND,
            name: entry.name().to_owned(),
            path: path.to_path_buf(),
            owner: other.map(|m| m.cluster.to_owned()),
        }),
    }
}

/// What the three kinds of named entries have in common.
trait Entry: Serialize + Sized {
    const KIND: EntryKind;
    fn new(name: &str) -> Self;
    fn name(&self) -> &str;
    fn list(config: &Kubeconfig) -> &Vec<Self>;
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self>;
    fn extensions(&self) -> Option<&Vec<NamedExtension>>;
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>>;
}

impl Entry for NamedCluster {
    const KIND: EntryKind = EntryKind::Cluster;
    fn new(name: &str) -> Self {
        NamedCluster {
            name: name.to_owned(),
            ..NamedCluster::default()
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn list(config: &Kubeconfig) -> &Vec<Self> {
        &config.clusters
    }
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self> {
        &mut config.clusters
    }
    fn extensions(&self) -> Option<&Vec<NamedExtension>> {
        self.cluster.as_ref()?.extensions.as_ref()
    }
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>> {
        &mut self.cluster.get_or_insert_with(Cluster::default).extensions
    }
}

impl Entry for NamedAuthInfo {
    const KIND: EntryKind = EntryKind::User;
    fn new(name: &str) -> Self {
        NamedAuthInfo {
            name: name.to_owned(),
            ..NamedAuthInfo::default()
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn list(config: &Kubeconfig) -> &Vec<Self> {
        &config.auth_infos
    }
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self> {
        &mut config.auth_infos
    }
    fn extensions(&self) -> Option<&Vec<NamedExtension>> {
        self.auth_info.as_ref()?.extensions.as_ref()
    }
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>> {
        &mut self
            .auth_info
            .get_or_insert_with(AuthInfo::default)
            .extensions
    }
}

impl Entry for NamedContext {
    const KIND: EntryKind = EntryKind::Context;
    fn new(name: &str) -> Self {
        NamedContext {
            name: name.to_owned(),
            ..NamedContext::default()
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn list(config: &Kubeconfig) -> &Vec<Self> {
        &config.contexts
    }
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self> {
        &mut config.contexts
    }
    fn extensions(&self) -> Option<&Vec<NamedExtension>> {
        self.context.as_ref()?.extensions.as_ref()
    }
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>> {
        &mut self.context.get_or_insert_with(Context::default).extensions
    }
}

fn set_mark<T: Entry>(entry: &mut T, mark: &serde_json::Value) {
    let extensions = entry.extensions_mut().get_or_insert_with(Vec::new);
    match extensions.iter_mut().find(|e| e.name == EXTENSION_NAME) {
        Some(existing) => existing.extension = mark.clone(),
        None => extensions.push(NamedExtension {
            name: EXTENSION_NAME.to_owned(),
            extension: mark.clone(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Files

/// The files of a [`KubeconfigTarget`], parsed, in precedence order.
struct Chain {
    files: Vec<LoadedFile>,
    /// Index of the file that receives new entries and `current-context`.
    default: usize,
}

/// One file of the chain as bytes on disk.
struct RawFile {
    /// The path as listed in the chain (what locks and messages use).
    path: PathBuf,
    /// Where the bytes live: `path` with symlinks followed, so writing keeps a symlink a symlink.
    real_path: PathBuf,
    /// The file's text without a byte-order mark, when the file exists (also what the backup keeps).
    original: Option<String>,
    /// The file's permission bits, kept on rewrite (0600 for a new file).
    mode: u32,
}

/// One file of the chain, parsed.
struct LoadedFile {
    raw: RawFile,
    config: Kubeconfig,
    dirty: bool,
}

impl Chain {
    fn load(target: &KubeconfigTarget) -> Result<Chain, KubeconfigError> {
        let files = target
            .precedence()
            .iter()
            .map(|path| LoadedFile::load(path))
            .collect::<Result<Vec<_>, _>>()?;
        let exists: Vec<bool> = files.iter().map(|f| f.raw.original.is_some()).collect();
        let default = target.default_index(&exists);
        Ok(Chain { files, default })
    }

    /// The first file defining `name` wins, as in client-go's merge.
    fn locate<T: Entry>(&self, name: &str) -> Option<(usize, usize)> {
        self.files.iter().enumerate().find_map(|(fi, file)| {
            T::list(&file.config)
                .iter()
                .position(|e| e.name() == name)
                .map(|ei| (fi, ei))
        })
    }

    /// The merged `current-context`: the first file that sets a non-empty one.
    fn current_context(&self) -> Option<&str> {
        self.files
            .iter()
            .filter_map(|f| f.config.current_context.as_deref())
            .find(|c| !c.is_empty())
    }

    /// Edits the entry named `name` where it lives (after checking it is `cluster`'s), or creates it in
    /// the default file. `edit` gets whether the entry is new. Files are marked dirty only on a change.
    fn upsert<T: Entry>(
        &mut self,
        name: &str,
        cluster: &str,
        mark: &serde_json::Value,
        edit: impl FnOnce(&mut T, bool),
    ) -> Result<(), KubeconfigError> {
        match self.locate::<T>(name) {
            Some((fi, ei)) => {
                let file = &mut self.files[fi];
                let entry = &mut T::list_mut(&mut file.config)[ei];
                check_owned(entry, cluster, &file.raw.path)?;
                let before = serde_json::to_value(&*entry).ok();
                edit(entry, false);
                set_mark(entry, mark);
                let after = serde_json::to_value(&*entry).ok();
                if before.is_none() || before != after {
                    file.dirty = true;
                }
            }
            None => {
                let mut entry = T::new(name);
                edit(&mut entry, true);
                set_mark(&mut entry, mark);
                let file = &mut self.files[self.default];
                T::list_mut(&mut file.config).push(entry);
                file.dirty = true;
            }
        }
        Ok(())
    }

    /// Writes every changed file (backing it up first if Signet never has), atomically.
    fn commit(self) -> Result<EditOutcome, KubeconfigError> {
        let mut outcome = EditOutcome::default();
        for mut file in self.files.into_iter().filter(|f| f.dirty) {
            if file.raw.original.is_none() {
                // What kubectl writes at the top of a new file.
                file.config
                    .api_version
                    .get_or_insert_with(|| "v1".to_owned());
                file.config.kind.get_or_insert_with(|| "Config".to_owned());
            }
            let yaml = serde_saphyr::to_string(&file.config).map_err(|source| {
                KubeconfigError::Serialize {
                    path: file.raw.path.clone(),
                    source,
                }
            })?;
            let holds_token = file.config.auth_infos.iter().any(|user| {
                signet_mark(Entry::extensions(user)).is_some()
                    && user.auth_info.as_ref().is_some_and(|a| a.token.is_some())
            });
            file.raw.write(&yaml, holds_token, &mut outcome)?;
        }
        Ok(outcome)
    }
}

impl RawFile {
    /// Reads `path` (following symlinks); a missing file is not an error.
    fn read(path: &Path) -> Result<RawFile, KubeconfigError> {
        let read_err = |source| KubeconfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let real_path = follow_symlinks(path).map_err(read_err)?;
        let bytes = match fs::read(&real_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(RawFile {
                    path: path.to_path_buf(),
                    real_path,
                    original: None,
                    mode: NEW_FILE_MODE,
                });
            }
            Err(e) => return Err(read_err(e)),
        };
        let mode = file_mode(&real_path).map_err(read_err)?;
        let mut text = String::from_utf8(bytes).map_err(|_| KubeconfigError::Parse {
            path: path.to_path_buf(),
            message: "the file is not UTF-8 text".to_owned(),
        })?;
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        Ok(RawFile {
            path: path.to_path_buf(),
            real_path,
            original: Some(text),
            mode,
        })
    }

    fn text(&self) -> Option<&str> {
        self.original.as_deref()
    }

    /// Replaces the file with `contents` atomically, keeping its mode — except that a file that holds a
    /// bearer token Signet wrote (`holds_token`, token mode) loses its group and other bits (0600), which is logged once and listed
    /// in `outcome.tightened`; before Signet's first change to an existing file, keeps a copy of it at
    /// [`backup_path`] (with the same mode).
    fn write(
        &self,
        contents: &str,
        holds_token: bool,
        outcome: &mut EditOutcome,
    ) -> Result<(), KubeconfigError> {
        let mode = if holds_token && self.mode & 0o077 != 0 {
            if self.original.is_some() {
                tracing::warn!(
                    file = %self.real_path.display(),
                    from = format!("{:o}", self.mode & 0o777),
                    "the kubeconfig now holds a bearer token (token mode): made it 0600"
                );
                outcome.tightened.push(self.real_path.clone());
            }
            self.mode & !0o077
        } else {
            self.mode
        };
        if let Some(original) = &self.original {
            let backup = backup_path(&self.real_path);
            if fs::symlink_metadata(&backup).is_err() {
                atomic_file::write(&backup, original.as_bytes(), mode).map_err(|source| {
                    KubeconfigError::Write {
                        path: backup.clone(),
                        source,
                    }
                })?;
                outcome.backups.push(backup);
            }
        }
        atomic_file::write(&self.real_path, contents.as_bytes(), mode).map_err(|source| {
            KubeconfigError::Write {
                path: self.real_path.clone(),
                source,
            }
        })?;
        tracing::debug!(file = %self.real_path.display(), "kubeconfig written");
        outcome.written.push(self.real_path.clone());
        Ok(())
    }
}

impl LoadedFile {
    fn load(path: &Path) -> Result<LoadedFile, KubeconfigError> {
        let raw = RawFile::read(path)?;
        let config = match raw.text() {
            Some(text) => parse(text, path)?,
            None => Kubeconfig::default(),
        };
        Ok(LoadedFile {
            raw,
            config,
            dirty: false,
        })
    }
}

/// Parses one file's text (all its YAML documents, merged like kube's `Kubeconfig::from_yaml`), with a
/// parser budget that grows with the file so a large but honest kubeconfig is never refused, and without
/// source snippets in errors (they could quote a token).
fn parse(text: &str, path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 250_000usize.max(text.len()),
            max_events: 1_000_000usize.max(2 * text.len()),
        },
        with_snippet: false,
    };
    let parse_err = |message: String| KubeconfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let documents: Vec<Kubeconfig> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| parse_err(e.to_string()))?;
    documents
        .into_iter()
        .try_fold(Kubeconfig::default(), Kubeconfig::merge)
        .map_err(|e| parse_err(e.to_string()))
}

/// Follows a chain of symlinks at `path` (not in its directories) to the file that holds the bytes, even
/// when that file does not exist yet.
fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "too many levels of symbolic links at '{}'",
        path.display()
    )))
}

#[cfg(unix)]
fn file_mode(path: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> io::Result<u32> {
    Ok(NEW_FILE_MODE)
}

/// Locks every file of the chain, then [`edit_locked`].
fn edit<T>(
    target: &KubeconfigTarget,
    change: impl FnOnce(&mut Chain) -> Result<T, KubeconfigError>,
) -> Result<(T, EditOutcome), KubeconfigError> {
    let _locks = lock::LockSet::acquire(target.precedence(), target.lock_timeout())?;
    edit_locked(target, change)
}

/// Loads the chain, lets `change` edit it, writes what changed. The caller holds the locks.
fn edit_locked<T>(
    target: &KubeconfigTarget,
    change: impl FnOnce(&mut Chain) -> Result<T, KubeconfigError>,
) -> Result<(T, EditOutcome), KubeconfigError> {
    let mut chain = Chain::load(target)?;
    let value = change(&mut chain)?;
    let outcome = chain.commit()?;
    Ok((value, outcome))
}

#[cfg(test)]
mod tests;
