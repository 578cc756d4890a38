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
//!
//! Signet's own locks say whose they are: the file holds `signet <pid>` and Signet keeps an OS lock
//! (`flock`) on it while it holds the sentinel. The OS drops that lock when the process ends, however it
//! ends, so a later Signet that finds a `signet` lock it can `flock` knows its owner is gone (killed, or
//! the machine lost power) and removes it instead of failing for everyone until a person does. kubectl
//! ignores the content and never takes the `flock`.

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
    /// Open and `flock`ed for as long as the lock is held: the proof of life a reaper checks.
    _file: fs::File,
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
                Ok(mut created) => {
                    // The OS lock first, then the marker: a reaper only acts on a marked file it can lock.
                    mark_as_ours(&mut created).map_err(|source| KubeconfigError::LockFailed {
                        lock: lock.clone(),
                        source,
                    })?;
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
                    return Ok(HeldLock {
                        path: lock,
                        _file: created,
                        #[cfg(unix)]
                        identity,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if reap_if_owner_ended(&lock) {
                        continue;
                    }
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

/// What Signet writes into its lock files, before its process id.
const MARKER: &str = "signet ";

fn mark_as_ours(file: &mut fs::File) -> io::Result<()> {
    use std::io::Write as _;
    file.lock()?;
    writeln!(file, "{MARKER}{}", std::process::id())?;
    file.flush()
}

/// Removes `lock` when it is a Signet lock whose process has ended (its `flock` is free); `true` if it
/// did. Anything else — kubectl's empty sentinel, a lock a live Signet holds, a file that changed while we
/// looked — is left alone.
fn reap_if_owner_ended(lock: &Path) -> bool {
    use std::io::Read as _;
    let Ok(mut file) = fs::File::open(lock) else {
        return false;
    };
    let mut head = [0u8; 32];
    let n = file.read(&mut head).unwrap_or(0);
    let Some(pid) = std::str::from_utf8(&head[..n])
        .ok()
        .and_then(|text| text.strip_prefix(MARKER))
        .map(|rest| rest.trim().to_owned())
    else {
        return false;
    };
    // A live owner holds the flock; so does another reaper looking at the same file right now.
    if file.try_lock().is_err() {
        return false;
    }
    // The path must still be the file we locked: another reaper may have removed it and a new lock (a live
    // one) may stand there now.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let same = match (file.metadata(), fs::symlink_metadata(lock)) {
            (Ok(ours), Ok(there)) => (ours.dev(), ours.ino()) == (there.dev(), there.ino()),
            _ => false,
        };
        if !same {
            return false;
        }
    }
    match fs::remove_file(lock) {
        Ok(()) => {
            tracing::warn!(lock = %lock.display(), pid, "removed a kubeconfig lock left by a Signet process that ended");
            true
        }
        Err(e) => {
            tracing::debug!(lock = %lock.display(), error = %e, "could not remove an ended Signet's lock");
            false
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

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(200);

    #[test]
    fn a_lock_left_by_an_ended_signet_is_removed_and_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config");
        // What a killed Signet leaves: the marker, and no process holding the flock.
        fs::write(lock_path(&file), "signet 4194304\n").expect("write the left lock");
        let set = LockSet::acquire(std::slice::from_ref(&file), SHORT)
            .expect("the ended owner's lock is reclaimed");
        let text = fs::read_to_string(lock_path(&file)).expect("read our lock");
        assert_eq!(text, format!("signet {}\n", std::process::id()), "ours now");
        drop(set);
        assert!(!lock_path(&file).exists(), "released on drop");
    }

    #[test]
    fn a_lock_a_live_signet_holds_is_waited_for_and_never_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config");
        let held = LockSet::acquire(std::slice::from_ref(&file), SHORT).expect("first lock");
        // Another open file description, as another process would have: its flock conflicts.
        let err = LockSet::acquire(std::slice::from_ref(&file), SHORT)
            .expect_err("the live lock is not taken");
        assert_eq!(err.code(), "kubeconfig.locked", "{err}");
        assert!(lock_path(&file).exists(), "the live lock stays");
        drop(held);
    }

    #[test]
    fn a_lock_without_signets_mark_is_never_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config");
        for content in ["", "held by kubectl", "signe"] {
            fs::write(lock_path(&file), content).expect("write a foreign lock");
            let err = LockSet::acquire(std::slice::from_ref(&file), SHORT)
                .expect_err("a foreign lock blocks");
            assert_eq!(err.code(), "kubeconfig.locked", "{err}");
            assert_eq!(
                fs::read_to_string(lock_path(&file)).expect("still there"),
                content,
                "left exactly as it was"
            );
        }
    }
}
