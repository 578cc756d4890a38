//! Where sessions live between processes (DESIGN.md §3).
//!
//! - ID tokens: one JSON file per (provider, audience) under `$XDG_CACHE_HOME/signet/tokens/<provider>/`
//!   (dir 0700, files 0600, atomic writes). `kubectl-signet token` reads exactly one of them on the fast
//!   path. A corrupt file is treated as absent (and logged); the next refresh rewrites it.
//! - Refresh tokens: only in an OS keyring ([`SecretStore`]), service `signet`, user `<provider>`: the
//!   Secret Service, or on Linux without one the kernel keyring (keyutils: the session keyring, linked
//!   into the user's persistent keyring). `[settings] secret_store` picks; [`LazyKeyringStore`] chooses
//!   once per process, on first use. Never in a file: there is no plaintext fallback.
//! - The provider lock: an OS file lock on `locks/<provider>.lock`, held around read → refresh → save so
//!   concurrent callers (threads or processes) cause one token request.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::atomic_file;
use crate::config::SecretStoreChoice;
use crate::oidc::Identity;
use crate::paths::Paths;
use crate::secret::Secret;

/// The keyring service name.
pub const KEYRING_SERVICE: &str = "signet";
const CACHE_VERSION: u32 = 1;

/// An ID token for one audience, as cached on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedToken {
    pub version: u32,
    pub provider: String,
    pub audience: String,
    pub id_token: Secret,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub identity: Identity,
}

impl CachedToken {
    /// Whether this is a token of the current cache format for `provider` and `audience` (a file that
    /// says otherwise was put there by something else and is ignored).
    fn belongs_to(&self, provider: &str, audience: &str) -> bool {
        self.version == CACHE_VERSION && self.provider == provider && self.audience == audience
    }

    /// Whether the token is still good for a while at `now`: more than a fifth of its lifetime and more
    /// than a minute (whichever is less) remain. Below that the caller refreshes.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        let lifetime = (self.expires_at - self.issued_at).max(chrono::TimeDelta::zero());
        let margin = (lifetime / 5).min(chrono::TimeDelta::seconds(60));
        self.expires_at - now > margin
    }
}

/// What Signet knows about a provider's session, apart from its tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRecord {
    pub provider: String,
    pub identity: Identity,
    pub signed_in_at: DateTime<Utc>,
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Whether the provider issued a refresh token (connectors such as SAML cannot refresh).
    pub refreshable: bool,
}

/// Why a cache file or lock could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenStoreError {
    #[error("failed to write the token cache '{}'", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to remove cached tokens in '{}'", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to open the lock '{}'", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another Signet process has held '{}' for {}s; if none is running, the lock is released when it exits", path.display(), waited.as_secs())]
    LockTimeout { path: PathBuf, waited: Duration },
}

impl TokenStoreError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenStoreError::Write { .. } | TokenStoreError::Remove { .. } => "token_store.io",
            TokenStoreError::Lock { .. } => "token_store.lock_failed",
            TokenStoreError::LockTimeout { .. } => "token_store.lock_timeout",
        }
    }
}

/// The ID-token cache directory.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    pub fn new(paths: &Paths) -> TokenCache {
        TokenCache {
            dir: paths.tokens_dir(),
        }
    }

    fn provider_dir(&self, provider: &str) -> PathBuf {
        self.dir.join(provider)
    }

    /// `tokens/<provider>/aud-<audience>.json`; an audience with unusual characters is hashed.
    pub fn path_for(&self, provider: &str, audience: &str) -> PathBuf {
        self.provider_dir(provider)
            .join(format!("aud-{}.json", file_key(audience)))
    }

    fn session_path(&self, provider: &str) -> PathBuf {
        self.provider_dir(provider).join("session.json")
    }

    /// The cached token, or `None` when absent or unreadable (logged; a refresh will rewrite it).
    pub fn read(&self, provider: &str, audience: &str) -> Option<CachedToken> {
        let path = self.path_for(provider, audience);
        let token: CachedToken = read_json(&path)?;
        if !token.belongs_to(provider, audience) {
            tracing::warn!(path = %path.display(), "token cache file belongs to something else; ignoring it");
            return None;
        }
        Some(token)
    }

    /// Like [`TokenCache::read`], but silent: `None` for anything unusual (absent, unreadable, corrupt,
    /// someone else's). For the exec plugin's fast path, which then falls back to the full path, and
    /// that path reads the file again and logs what was wrong.
    pub fn read_quietly(&self, provider: &str, audience: &str) -> Option<CachedToken> {
        let bytes = fs::read(self.path_for(provider, audience)).ok()?;
        serde_json::from_slice::<CachedToken>(&bytes)
            .ok()
            .filter(|t| t.belongs_to(provider, audience))
    }

    pub fn write(&self, token: &CachedToken) -> Result<(), TokenStoreError> {
        self.write_json(&self.path_for(&token.provider, &token.audience), token)
    }

    pub fn read_session(&self, provider: &str) -> Option<SessionRecord> {
        read_json(&self.session_path(provider))
    }

    pub fn write_session(&self, record: &SessionRecord) -> Result<(), TokenStoreError> {
        self.write_json(&self.session_path(&record.provider), record)
    }

    /// Forgets every cached token and the session record of a provider.
    pub fn remove_provider(&self, provider: &str) -> Result<(), TokenStoreError> {
        let dir = self.provider_dir(provider);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(TokenStoreError::Remove { path: dir, source }),
        }
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), TokenStoreError> {
        let write_err = |source| TokenStoreError::Write {
            path: path.to_path_buf(),
            source,
        };
        let body =
            serde_json::to_vec_pretty(value).map_err(|e| write_err(std::io::Error::other(e)))?;
        atomic_file::private_dir(&self.dir).map_err(write_err)?;
        if let Some(dir) = path.parent() {
            atomic_file::private_dir(dir).map_err(write_err)?;
        }
        atomic_file::write(path, &body, 0o600).map_err(write_err)
    }
}

/// A name as a file name: itself when it is plain (`[A-Za-z0-9._-]`, not starting with `.`, at most 100
/// bytes), else `h-` and the first 12 bytes of its SHA-256 in hex.
pub(crate) fn file_key(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if plain {
        name.to_string()
    } else {
        let digest = sha2::Sha256::digest(name.as_bytes());
        format!(
            "h-{}",
            digest
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read token cache file; treating it as absent");
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => Some(value),
        Err(e) => {
            // serde_json's message names a line and column, never the content.
            tracing::warn!(path = %path.display(), error = %e, "token cache file is corrupt; treating it as absent (it will be rewritten)");
            None
        }
    }
}

/// Holds a provider's lock until dropped.
#[derive(Debug)]
pub struct ProviderLock {
    _file: File,
}

/// Takes the provider's OS file lock, waiting up to `timeout`.
pub fn lock_provider(
    paths: &Paths,
    provider: &str,
    timeout: Duration,
) -> Result<ProviderLock, TokenStoreError> {
    let dir = paths.locks_dir();
    let path = dir.join(format!("{provider}.lock"));
    let lock_err = |source| TokenStoreError::Lock {
        path: path.clone(),
        source,
    };
    atomic_file::private_dir(&paths.cache_dir).map_err(lock_err)?;
    atomic_file::private_dir(&dir).map_err(lock_err)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(lock_err)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(ProviderLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= timeout {
                    return Err(TokenStoreError::LockTimeout {
                        path,
                        waited: start.elapsed(),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
    }
}

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    #[error(
        "no keyring is reachable ({detail}). Signet keeps refresh tokens only in an OS keyring: start a Secret Service provider (gnome-keyring-daemon, KeePassXC) and make sure DBUS_SESSION_BUS_ADDRESS is set, or on a server use the kernel keyring (check `keyctl show @s`; `[settings] secret_store` in config.toml picks the store)"
    )]
    Unavailable { detail: String },
    #[error(
        "the keyring is locked ({detail}); unlock it (log in to the desktop, or run `gnome-keyring-daemon --unlock`) and try again"
    )]
    Locked { detail: String },
    #[error("the keyring failed: {detail}")]
    Failed { detail: String },
}

impl KeyringError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyringError::Unavailable { .. } => "keyring.unavailable",
            KeyringError::Locked { .. } => "keyring.locked",
            KeyringError::Failed { .. } => "keyring.failed",
        }
    }
}

/// Where refresh tokens are kept.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    fn get(&self, provider: &str) -> Result<Option<Secret>, KeyringError>;
    fn set(&self, provider: &str, secret: &Secret) -> Result<(), KeyringError>;
    /// Deletes the entry; `Ok(false)` when there was none.
    fn delete(&self, provider: &str) -> Result<bool, KeyringError>;
    /// Which OS store this is (choosing it if needed); `None` for stores that are not one (tests).
    fn kind(&self) -> Option<StoreKind> {
        None
    }
}

/// A kind of OS keyring Signet can keep refresh tokens in (DESIGN.md §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// The Secret Service on the session bus (gnome-keyring, KeePassXC, KWallet).
    SecretService,
    /// The Linux kernel keyring: a key in the session keyring, linked into the user's persistent keyring.
    Keyutils,
}

impl StoreKind {
    /// The store's name for people.
    pub fn label(self) -> &'static str {
        match self {
            StoreKind::SecretService => "Secret Service",
            StoreKind::Keyutils => "kernel keyring (keyutils)",
        }
    }

    /// What the store keeps across logouts and reboots.
    pub fn keeps(self) -> &'static str {
        match self {
            StoreKind::SecretService => "kept across reboots",
            StoreKind::Keyutils => {
                "kept across logouts until the machine reboots or the persistent keyring expires (a sign-in resets it)"
            }
        }
    }

    fn other(self) -> StoreKind {
        match self {
            StoreKind::SecretService => StoreKind::Keyutils,
            StoreKind::Keyutils => StoreKind::SecretService,
        }
    }
}

/// An OS keyring through `keyring-core`: the Secret Service or the kernel keyring on Linux.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    store: Arc<keyring_core::CredentialStore>,
    kind: StoreKind,
}

/// The entry `auto` reads to learn whether a Secret Service provider answers; it never exists.
const PROBE_ENTRY: &str = "signet-store-probe";

impl KeyringStore {
    /// Connects to the Secret Service.
    pub fn open() -> Result<KeyringStore, KeyringError> {
        KeyringStore::open_kind(StoreKind::SecretService)
    }

    /// Connects to one kind of store (no entry is read or written).
    pub fn open_kind(kind: StoreKind) -> Result<KeyringStore, KeyringError> {
        #[cfg(target_os = "linux")]
        {
            let store: Result<Arc<keyring_core::CredentialStore>, _> = match kind {
                StoreKind::SecretService => zbus_secret_service_keyring_store::Store::new()
                    .map(|s| s as Arc<keyring_core::CredentialStore>),
                StoreKind::Keyutils => linux_keyutils_keyring_store::Store::new()
                    .map(|s| s as Arc<keyring_core::CredentialStore>),
            };
            let store = store.map_err(|e| KeyringError::Unavailable {
                detail: platform_detail(&e),
            })?;
            Ok(KeyringStore { store, kind })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = kind;
            Err(KeyringError::Unavailable {
                detail: "this build of Signet has no keyring store for this platform yet".into(),
            })
        }
    }

    /// Picks the store for `choice`, once: `auto` takes the Secret Service when a provider answers on
    /// the session bus (one D-Bus round trip), else the kernel keyring; otherwise the error of both.
    pub fn choose(choice: SecretStoreChoice) -> Result<KeyringStore, KeyringError> {
        match choice {
            SecretStoreChoice::SecretService => KeyringStore::open_kind(StoreKind::SecretService),
            SecretStoreChoice::Keyutils => {
                let store = KeyringStore::open_kind(StoreKind::Keyutils)?;
                store.probe().map_err(|e| KeyringError::Unavailable {
                    detail: format!("the kernel keyring: {e}"),
                })?;
                Ok(store)
            }
            SecretStoreChoice::Auto => {
                let service = if session_bus_configured() {
                    match KeyringStore::open_kind(StoreKind::SecretService) {
                        Ok(store) => match store.probe() {
                            Ok(()) | Err(KeyringError::Locked { .. }) => return Ok(store),
                            Err(e) => e.to_string(),
                        },
                        Err(e) => e.to_string(),
                    }
                } else {
                    "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)".to_string()
                };
                let keyutils = KeyringStore::open_kind(StoreKind::Keyutils)
                    .and_then(|store| store.probe().map(|()| store));
                keyutils.map_err(|e| KeyringError::Unavailable {
                    detail: format!(
                        "Secret Service: {service}; kernel keyring: {}",
                        match e {
                            KeyringError::Unavailable { detail }
                            | KeyringError::Locked { detail }
                            | KeyringError::Failed { detail } => detail,
                        }
                    ),
                })
            }
        }
    }

    /// Which kind of store this is.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    fn probe(&self) -> Result<(), KeyringError> {
        self.get(PROBE_ENTRY).map(|_| ())
    }

    fn entry(&self, provider: &str) -> Result<keyring_core::Entry, KeyringError> {
        keyring_core::Entry::new_in_store(&self.store, KEYRING_SERVICE, provider)
            .map_err(|e| self.map_error(e))
    }

    fn map_error(&self, e: keyring_core::Error) -> KeyringError {
        match self.kind {
            StoreKind::SecretService => map_keyring_error(e),
            // The kernel keyring has no lock: any failure means it cannot be used here.
            StoreKind::Keyutils => KeyringError::Unavailable {
                detail: platform_detail(&e),
            },
        }
    }
}

/// Whether a session bus could be reached without starting one: zbus would otherwise fall back to
/// `$XDG_RUNTIME_DIR/bus`, which is the same bus systemd's user session publishes.
fn session_bus_configured() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| Path::new(&dir).join("bus").exists())
}

impl SecretStore for KeyringStore {
    fn get(&self, provider: &str) -> Result<Option<Secret>, KeyringError> {
        match self.entry(provider)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.map_error(e)),
        }
    }

    fn set(&self, provider: &str, secret: &Secret) -> Result<(), KeyringError> {
        self.entry(provider)?
            .set_password(secret.expose())
            .map_err(|e| self.map_error(e))
    }

    fn delete(&self, provider: &str) -> Result<bool, KeyringError> {
        match self.entry(provider)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.map_error(e)),
        }
    }

    fn kind(&self) -> Option<StoreKind> {
        Some(self.kind)
    }
}

/// The OS keyring, chosen and connected on first use: the exec plugin's fast path (a fresh cached
/// token) must not pay for a D-Bus connection or a keyring lookup it does not need.
#[derive(Debug, Default)]
pub struct LazyKeyringStore {
    choice: SecretStoreChoice,
    store: std::sync::OnceLock<Result<KeyringStore, String>>,
}

impl LazyKeyringStore {
    /// `auto`: the Secret Service when one answers, else the kernel keyring.
    pub fn new() -> LazyKeyringStore {
        LazyKeyringStore::default()
    }

    /// The store `[settings] secret_store` names.
    pub fn with_choice(choice: SecretStoreChoice) -> LazyKeyringStore {
        LazyKeyringStore {
            choice,
            store: std::sync::OnceLock::new(),
        }
    }

    fn store(&self) -> Result<&KeyringStore, KeyringError> {
        self.store
            .get_or_init(|| {
                KeyringStore::choose(self.choice).map_err(|e| match e {
                    KeyringError::Unavailable { detail } => detail,
                    other => other.to_string(),
                })
            })
            .as_ref()
            .map_err(|detail| KeyringError::Unavailable {
                detail: detail.clone(),
            })
    }

    /// The chosen store (choosing it now if nothing has used it yet).
    pub fn chosen(&self) -> Result<StoreKind, KeyringError> {
        self.store().map(KeyringStore::kind)
    }

    /// The other kind of store, when it can be opened and holds a session for `provider`: the person
    /// must sign in again to move it (Signet never copies a refresh token between stores).
    pub fn other_holding(&self, provider: &str) -> Option<StoreKind> {
        let other = self.chosen().ok()?.other();
        if other == StoreKind::SecretService && !session_bus_configured() {
            return None;
        }
        let store = KeyringStore::open_kind(other).ok()?;
        matches!(store.get(provider), Ok(Some(_))).then_some(other)
    }
}

impl SecretStore for LazyKeyringStore {
    fn get(&self, provider: &str) -> Result<Option<Secret>, KeyringError> {
        self.store()?.get(provider)
    }

    fn set(&self, provider: &str, secret: &Secret) -> Result<(), KeyringError> {
        self.store()?.set(provider, secret)
    }

    fn delete(&self, provider: &str) -> Result<bool, KeyringError> {
        self.store()?.delete(provider)
    }

    fn kind(&self) -> Option<StoreKind> {
        self.chosen().ok()
    }
}

/// The error and its sources on one line, each cause once: zbus repeats its message down the chain.
fn platform_detail(e: &keyring_core::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

fn map_keyring_error(e: keyring_core::Error) -> KeyringError {
    let detail = platform_detail(&e);
    match e {
        keyring_core::Error::NoStorageAccess(_) => KeyringError::Locked { detail },
        keyring_core::Error::NoDefaultStore => KeyringError::Unavailable { detail },
        keyring_core::Error::PlatformFailure(_)
            if detail.contains("ServiceUnknown") || detail.contains("NotFound") =>
        {
            KeyringError::Unavailable { detail }
        }
        _ => KeyringError::Failed { detail },
    }
}

/// An in-memory store for tests; can be told to fail like a locked or missing keyring.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Secret>>,
    failure: Mutex<Option<fn() -> KeyringError>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Makes every later call fail with the error `make` builds (`None` heals the store).
    pub fn fail_with(&self, make: Option<fn() -> KeyringError>) {
        if let Ok(mut f) = self.failure.lock() {
            *f = make;
        }
    }

    fn check(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Secret>>, KeyringError> {
        if let Some(make) = self.failure.lock().ok().and_then(|f| *f) {
            return Err(make());
        }
        self.entries.lock().map_err(|_| KeyringError::Failed {
            detail: "memory store poisoned".into(),
        })
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, provider: &str) -> Result<Option<Secret>, KeyringError> {
        Ok(self.check()?.get(provider).cloned())
    }

    fn set(&self, provider: &str, secret: &Secret) -> Result<(), KeyringError> {
        self.check()?.insert(provider.to_string(), secret.clone());
        Ok(())
    }

    fn delete(&self, provider: &str) -> Result<bool, KeyringError> {
        Ok(self.check()?.remove(provider).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(provider: &str, audience: &str, issued: i64, expires: i64) -> CachedToken {
        CachedToken {
            version: CACHE_VERSION,
            provider: provider.into(),
            audience: audience.into(),
            id_token: Secret::new("header.payload.signature"),
            issued_at: DateTime::from_timestamp(issued, 0).expect("ts"),
            expires_at: DateTime::from_timestamp(expires, 0).expect("ts"),
            identity: Identity {
                subject: "CgVhbGljZRIFbG9jYWw".into(),
                email: Some("alice@example.com".into()),
                email_verified: Some(true),
                name: None,
                groups: vec!["dev".into()],
                audiences: vec![audience.into()],
            },
        }
    }

    #[test]
    fn freshness_margin_is_a_fifth_of_the_lifetime_capped_at_a_minute() {
        let day = token("corp", "k", 0, 86_400);
        let at = |s| DateTime::from_timestamp(s, 0).expect("ts");
        assert!(day.is_fresh(at(86_400 - 61)), "61 s left of a day is fresh");
        assert!(!day.is_fresh(at(86_400 - 59)), "59 s left of a day is not");
        let short = token("corp", "k", 0, 10);
        assert!(short.is_fresh(at(7)), "3 s left of 10 s is fresh");
        assert!(!short.is_fresh(at(9)), "1 s left of 10 s is not");
    }

    #[test]
    fn cache_round_trips_with_private_modes_and_per_audience_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let paths = Paths::under(root.path());
        let cache = TokenCache::new(&paths);
        cache
            .write(&token("corp", "kubernetes", 0, 100))
            .expect("write");
        cache
            .write(&token("corp", "https://odd/aud", 0, 200))
            .expect("write odd audience");
        assert_eq!(
            cache
                .read("corp", "kubernetes")
                .expect("cached")
                .expires_at
                .timestamp(),
            100
        );
        assert_eq!(
            cache
                .read("corp", "https://odd/aud")
                .expect("cached")
                .expires_at
                .timestamp(),
            200
        );
        assert!(cache.read("corp", "other").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode(&paths.tokens_dir()), 0o700);
            assert_eq!(mode(&cache.path_for("corp", "kubernetes")), 0o600);
        }
        cache.remove_provider("corp").expect("remove");
        assert!(cache.read("corp", "kubernetes").is_none());
    }

    #[test]
    fn corrupt_cache_file_is_treated_as_absent() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = TokenCache::new(&Paths::under(root.path()));
        cache
            .write(&token("corp", "kubernetes", 0, 100))
            .expect("write");
        fs::write(
            cache.path_for("corp", "kubernetes"),
            b"{\"version\":1,\"provi",
        )
        .expect("corrupt it");
        assert!(cache.read("corp", "kubernetes").is_none());
        cache
            .write(&token("corp", "kubernetes", 0, 300))
            .expect("rewrite");
        assert_eq!(
            cache
                .read("corp", "kubernetes")
                .expect("rewritten")
                .expires_at
                .timestamp(),
            300
        );
    }

    #[test]
    fn provider_lock_excludes_a_second_holder_until_released() {
        let root = tempfile::tempdir().expect("tempdir");
        let paths = Paths::under(root.path());
        let held = lock_provider(&paths, "corp", Duration::from_secs(1)).expect("first lock");
        let err =
            lock_provider(&paths, "corp", Duration::from_millis(50)).expect_err("second must wait");
        assert_eq!(err.code(), "token_store.lock_timeout");
        lock_provider(&paths, "other", Duration::from_millis(50))
            .expect("other providers are independent");
        drop(held);
        lock_provider(&paths, "corp", Duration::from_millis(50)).expect("free again");
    }

    #[test]
    fn memory_store_can_fail_like_a_missing_keyring() {
        let store = MemoryStore::new();
        store.set("corp", &Secret::new("r1")).expect("set");
        assert_eq!(store.get("corp").expect("get"), Some(Secret::new("r1")));
        store.fail_with(Some(|| KeyringError::Unavailable {
            detail: "test".into(),
        }));
        assert_eq!(
            store.get("corp").expect_err("fails").code(),
            "keyring.unavailable"
        );
        store.fail_with(None);
        assert!(store.delete("corp").expect("delete"));
        assert!(!store.delete("corp").expect("delete again"));
    }
}
