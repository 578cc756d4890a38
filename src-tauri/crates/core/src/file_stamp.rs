//! A file's identity as far as "did it change since" goes, for caches that skip reading a file again.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How old a file's times must be before its stamp is trusted: more than the coarsest timestamp granularity
/// of common filesystems (FAT: 2 s; ext3, HFS+: 1 s; ext4 and tmpfs: one clock tick).
pub const SETTLE: Duration = Duration::from_secs(2);

/// Which version of a file something was derived from: device, inode, size, modification and change
/// times. Any write to the file, or a new file in its place, changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of the file `path` names now (symlinks followed), `None` when it cannot be read.
    #[cfg(unix)]
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// Without inode numbers and change times there is nothing to trust: always the full path.
    #[cfg(not(unix))]
    pub fn of(_path: &Path) -> Option<FileStamp> {
        None
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether both times are at least `settle` before `now`. A stamp younger than the filesystem's
    /// timestamp granularity may not change on the next write (same size, same tick): trust only settled
    /// ones (git's "racy clean" rule).
    pub fn settled(&self, now: SystemTime, settle: Duration) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let limit = now.saturating_sub(settle);
        [self.mtime, self.ctime].iter().all(|&(secs, nanos)| {
            u64::try_from(secs)
                .ok()
                .zip(u32::try_from(nanos).ok())
                .is_some_and(|(s, n)| Duration::new(s, n) <= limit)
        })
    }
}
