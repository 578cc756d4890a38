//! The `<file>.lock` sentinel files kubectl uses around kubeconfig writes (client-go `loader.go`
//! `lockFile`/`unlockFile`).
//!
//! > A lock is `os.OpenFile(<file> + ".lock", O_CREATE|O_EXCL, 0)`. It is an advisory sentinel file, not an
//! > OS lock. The parent directory is created with 0755 if needed. […] `ModifyConfig` locks every file in
//! > `GetLoadingPrecedence()`. The files are sorted first to avoid deadlock.
//!
//! kubectl never waits; Signet backs off and retries until its timeout, because a tray app that refreshes
//! tokens in the background should not fail just because the person ran `kubectl config` at that moment.
//! A lock Signet did not create is never deleted, however old: only the person can know that no kubectl is
//! still running.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::KubeconfigError;

/// A lock older than this is reported as "looks stale" (kubectl holds its lock for milliseconds).
pub const STALE_LOCK_AGE: Duration = Duration::from_secs(60);

const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// The lock file client-go uses for `file`: the same path with `.lock` appended.
pub fn lock_path(file: &Path) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(".lock");
    PathBuf::from(name)
}

/// Locks held by this process; dropping the set removes them (and only them).
#[derive(Debug)]
pub(super) struct LockSet {
    held: Vec<HeldLock>,
}

#[derive(Debug)]
struct HeldLock {
    path: PathBuf,
    /// (device, inode) of the file we created, so we never remove a lock someone else re-created after
    /// ours was deleted by hand.
    #[cfg(unix)]
    identity: (u64, u64),
}

impl LockSet {
    /// Takes `<file>.lock` for every file, in sorted order, waiting at most `timeout` in total.
    pub(super) fn acquire(
        files: &[PathBuf],
        timeout: Duration,
    ) -> Result<LockSet, KubeconfigError> {
        let mut sorted: Vec<&PathBuf> = files.iter().collect();
        sorted.sort();
        sorted.dedup();
        let deadline = Instant::now() + timeout;
        let mut set = LockSet {
            held: Vec::with_capacity(sorted.len()),
        };
        for file in sorted {
            // On error `set` drops here and releases the locks taken so far.
            set.held.push(HeldLock::acquire(file, deadline, timeout)?);
        }
        Ok(set)
    }
}

impl HeldLock {
    fn acquire(
        file: &Path,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<HeldLock, KubeconfigError> {
        let lock = lock_path(file);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir_0755(dir).map_err(|source| KubeconfigError::LockFailed {
                lock: lock.clone(),
                source,
            })?;
        }
        let mut backoff = FIRST_BACKOFF;
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(created) => {
                    #[cfg(unix)]
                    let identity = {
                        use std::os::unix::fs::MetadataExt;
                        let meta =
                            created
                                .metadata()
                                .map_err(|source| KubeconfigError::LockFailed {
                                    lock: lock.clone(),
                                    source,
                                })?;
                        (meta.dev(), meta.ino())
                    };
                    drop(created);
                    return Ok(HeldLock {
                        path: lock,
                        #[cfg(unix)]
                        identity,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let now = Instant::now();
                    if now >= deadline {
                        let stale_for = lock_age(&lock).filter(|age| *age >= STALE_LOCK_AGE);
                        return Err(KubeconfigError::Locked {
                            lock,
                            waited: timeout,
                            stale_for,
                        });
                    }
                    std::thread::sleep(backoff.min(deadline - now));
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(source) => return Err(KubeconfigError::LockFailed { lock, source }),
            }
        }
    }

    fn is_still_ours(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            fs::symlink_metadata(&self.path)
                .map(|m| (m.dev(), m.ino()) == self.identity)
                .unwrap_or(false)
        }
        #[cfg(not(unix))]
        {
            true
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if !self.is_still_ours() {
            tracing::warn!(lock = %self.path.display(), "kubeconfig lock was replaced by someone else; leaving it");
            return;
        }
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(lock = %self.path.display(), error = %e, "failed to remove kubeconfig lock");
        }
    }
}

/// How long ago the lock file was last modified, if that can be told.
fn lock_age(lock: &Path) -> Option<Duration> {
    let modified = fs::symlink_metadata(lock).ok()?.modified().ok()?;
    SystemTime::now().duration_since(modified).ok()
}

fn create_dir_0755(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o755);
    }
    builder.create(dir)
}
