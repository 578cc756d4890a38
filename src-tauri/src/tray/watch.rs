//! What the tray waits on besides its own changes: files other processes change under it, and the wall
//! clock jumping. Both end in [`AppState::changed`], so the publisher redraws and the background refresh
//! re-plans; neither wakes up on a timer.
//!
//! - **Files** (thread `watch-files`, inotify): the config file, the token cache (`tokens/` and each
//!   configured provider's folder in it) and every kubeconfig file of the chains the status reads.
//!   Directories are watched, not files, so an atomic replace (write a temporary file, rename it over
//!   the old one — what Signet, kubectl and most editors do) is seen; a directory that does not exist yet
//!   is replaced by its nearest existing ancestor until it appears. Events about other names in those
//!   directories (temporary files, `.lock` files, kubectl's `cache/`) are dropped. The set of watches
//!   is worked out again after every relevant event, since the config names the providers and the
//!   kubeconfig files. A burst of events is signalled once, when the files have been quiet for a moment
//!   ([`settle`]), so the app never plans from a half-written sign-in.
//! - **The clock** (thread `watch-clock`, a `CLOCK_REALTIME` timerfd with `TFD_TIMER_CANCEL_ON_SET`):
//!   the kernel cancels such a timer when the wall clock is set and when the machine resumes from
//!   suspend. Sleeps on the monotonic clock stand still while suspended, so without this a refresh
//!   planned for 10:00 would run late after a night's suspend.
//!
//! This module must not poll: if inotify or timerfd is unavailable it logs why and the tray falls back
//! to noticing outside changes at its next own change or planned time.

use std::collections::HashMap;
use std::ffi::OsString;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::inotify;
use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

/// Which names in a watched directory matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Names {
    /// Any name but hidden ones (temporary files) and `.lock` files.
    Any,
    /// Only these.
    Only(Vec<OsString>),
}

impl Names {
    fn matches(&self, name: &Path) -> bool {
        match self {
            Names::Any => {
                let text = name.to_string_lossy();
                !text.starts_with('.') && !text.ends_with(".lock")
            }
            Names::Only(names) => names.iter().any(|n| n.as_os_str() == name.as_os_str()),
        }
    }

    fn add(&mut self, other: Names) {
        match (&mut *self, other) {
            (Names::Any, _) => {}
            (_, Names::Any) => *self = Names::Any,
            (Names::Only(mine), Names::Only(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
        }
    }
}

/// The directories to watch and the names that matter in each, for these wanted paths: a file (only its
/// name in its directory matters) or a directory (any name in it matters). A missing directory is
/// replaced by its nearest existing ancestor, where only the next component of the path matters.
pub(crate) fn plan(files: &[PathBuf], dirs: &[PathBuf]) -> HashMap<PathBuf, Names> {
    let mut plan: HashMap<PathBuf, Names> = HashMap::new();
    let wanted = files
        .iter()
        .filter_map(|f| {
            Some((
                f.parent()?,
                Names::Only(vec![f.file_name()?.to_os_string()]),
            ))
        })
        .chain(dirs.iter().map(|d| (d.as_path(), Names::Any)));
    for (dir, names) in wanted {
        let (dir, names) = existing(dir, names);
        plan.entry(dir)
            .or_insert(Names::Only(Vec::new()))
            .add(names);
    }
    plan
}

/// `dir` if it is a directory, else its nearest existing ancestor watching for the next component.
fn existing(dir: &Path, names: Names) -> (PathBuf, Names) {
    let mut dir = dir.to_path_buf();
    let mut names = names;
    while !dir.is_dir() {
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            break;
        };
        names = Names::Only(vec![name.to_os_string()]);
        dir = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        };
    }
    (dir, names)
}

/// The paths whose changes the tray shows: `(files, directories)`.
fn wanted(state: &AppState) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let paths = state.paths();
    let signet = state.signet();
    let tokens = paths.tokens_dir();
    let mut dirs = vec![tokens.clone()];
    dirs.extend(
        signet
            .config()
            .providers
            .iter()
            .map(|p| tokens.join(&p.name)),
    );
    let mut files = vec![paths.config_file.clone()];
    files.extend(state.kubeconfig_files());
    (files, dirs)
}

/// The inotify instance and what each watch descriptor is for.
struct Watches {
    fd: OwnedFd,
    by_dir: HashMap<PathBuf, i32>,
    by_wd: HashMap<i32, Names>,
}

impl Watches {
    fn new() -> rustix::io::Result<Watches> {
        Ok(Watches {
            fd: inotify::init(inotify::CreateFlags::CLOEXEC)?,
            by_dir: HashMap::new(),
            by_wd: HashMap::new(),
        })
    }

    /// Watches exactly the directories of `plan`.
    fn apply(&mut self, plan: HashMap<PathBuf, Names>) {
        let stale: Vec<PathBuf> = self
            .by_dir
            .keys()
            .filter(|d| !plan.contains_key(*d))
            .cloned()
            .collect();
        for dir in stale {
            if let Some(wd) = self.by_dir.remove(&dir) {
                self.by_wd.remove(&wd);
                let _ = inotify::remove_watch(&self.fd, wd);
            }
        }
        let flags = inotify::WatchFlags::CLOSE_WRITE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::CREATE
            | inotify::WatchFlags::DELETE
            | inotify::WatchFlags::DELETE_SELF
            | inotify::WatchFlags::MOVE_SELF
            | inotify::WatchFlags::ONLYDIR;
        for (dir, names) in plan {
            match inotify::add_watch(&self.fd, &dir, flags) {
                Ok(wd) => {
                    self.by_dir.insert(dir, wd);
                    self.by_wd.insert(wd, names);
                }
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "cannot watch a directory");
                }
            }
        }
    }

    /// Blocks until events arrive; returns whether one of them matters (and what it named).
    fn wait(&self, buf: &mut [MaybeUninit<u8>]) -> rustix::io::Result<Vec<PathBuf>> {
        let mut reader = inotify::Reader::new(&self.fd, buf);
        let mut relevant = Vec::new();
        loop {
            let event = reader.next()?;
            let flags = event.events();
            let name = event
                .file_name()
                .map(|n| PathBuf::from(n.to_string_lossy().into_owned()));
            let matters = flags.intersects(
                inotify::ReadFlags::QUEUE_OVERFLOW
                    | inotify::ReadFlags::IGNORED
                    | inotify::ReadFlags::DELETE_SELF
                    | inotify::ReadFlags::MOVE_SELF,
            ) || match (&name, self.by_wd.get(&event.wd())) {
                (Some(name), Some(names)) => names.matches(name),
                _ => false,
            };
            if matters {
                relevant.push(name.unwrap_or_default());
            }
            if reader.is_buffer_empty() {
                return Ok(relevant);
            }
        }
    }
}

/// Starts the file and clock watchers (threads `watch-files` and `watch-clock`).
pub fn spawn<R: Runtime>(app: &AppHandle<R>) {
    let files = app.clone();
    let clock = app.clone();
    for (name, spawned) in [
        (
            "watch-files",
            std::thread::Builder::new()
                .name("watch-files".into())
                .spawn(move || watch_files(&files)),
        ),
        (
            "watch-clock",
            std::thread::Builder::new()
                .name("watch-clock".into())
                .spawn(move || watch_clock(&clock)),
        ),
    ] {
        if let Err(e) = spawned {
            tracing::error!(thread = name, error = %e, "could not start a watcher");
        }
    }
}

fn watch_files<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let mut watches = match Watches::new() {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "inotify unavailable: changes by other programs show at the app's next own change");
            return;
        }
    };
    let (files, dirs) = wanted(&state);
    watches.apply(plan(&files, &dirs));
    // Room for many events per read; each is 16 bytes plus its name.
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
    loop {
        let relevant = match watches.wait(&mut buf) {
            Ok(relevant) => relevant,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "reading inotify events failed; watching stops");
                return;
            }
        };
        if relevant.is_empty() {
            continue;
        }
        let relevant = settle(&watches, &mut buf, relevant);
        tracing::debug!(?relevant, "files changed outside the app");
        if relevant
            .iter()
            .any(|n| Some(n.as_os_str()) == state.paths().config_file.file_name())
        {
            state.reload_if_changed();
        }
        let (files, dirs) = wanted(&state);
        watches.apply(plan(&files, &dirs));
        state.changed();
    }
}

/// How long the files must stay quiet before the app looks (see [`settle`]).
const SETTLE: Duration = Duration::from_millis(200);
/// The longest [`settle`] waits for quiet, against a writer that never stops.
const SETTLE_AT_MOST: Duration = Duration::from_secs(2);

/// Keeps collecting events until none has come for [`SETTLE`]. A writer changes several files in a row
/// (a sign-in writes the session record, then the tokens, then kubeconfig), and the app must look once
/// they are written, not in between: a session record without its tokens looks like a session whose
/// tokens must be fetched at once.
fn settle(
    watches: &Watches,
    buf: &mut [MaybeUninit<u8>],
    mut relevant: Vec<PathBuf>,
) -> Vec<PathBuf> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let quiet = Timespec {
        tv_sec: 0,
        tv_nsec: i64::try_from(SETTLE.as_nanos()).unwrap_or(200_000_000),
    };
    let started = Instant::now();
    while started.elapsed() < SETTLE_AT_MOST {
        let mut fds = [PollFd::new(&watches.fd, PollFlags::IN)];
        match poll(&mut fds, Some(&quiet)) {
            Ok(0) => break,
            Ok(_) => match watches.wait(buf) {
                Ok(more) => relevant.extend(more),
                Err(_) => break,
            },
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    relevant
}

/// A year from now: the timer only exists to be cancelled, but must not expire first.
const CLOCK_TIMER_HORIZON_S: i64 = 365 * 24 * 3600;

fn watch_clock<R: Runtime>(app: &AppHandle<R>) {
    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    let state = app.state::<AppState>();
    let timer = match timerfd_create(TimerfdClockId::Realtime, TimerfdFlags::CLOEXEC) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "timerfd unavailable: a clock change or resume is noticed at the next planned time");
            return;
        }
    };
    loop {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        let at = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: now.tv_sec + CLOCK_TIMER_HORIZON_S,
                tv_nsec: 0,
            },
        };
        let flags = TimerfdTimerFlags::ABSTIME | TimerfdTimerFlags::CANCEL_ON_SET;
        if let Err(e) = timerfd_settime(&timer, flags, &at) {
            tracing::warn!(error = %e, "cannot arm the clock-change timer");
            return;
        }
        let mut expirations = [0u8; 8];
        match rustix::io::read(&timer, &mut expirations) {
            Err(rustix::io::Errno::CANCELED) => {
                tracing::info!("the wall clock was set or the machine resumed; re-planning");
                state.changed();
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the clock-change timer failed; watching stops");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The relevant names of the next events, or a failure when none arrive within 10 s (rather than a
    /// test that hangs on the blocking read).
    fn next(watches: &Watches, buf: &mut [MaybeUninit<u8>]) -> Vec<PathBuf> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&watches.fd, PollFlags::IN)];
        let limit = Timespec {
            tv_sec: 10,
            tv_nsec: 0,
        };
        let ready = poll(&mut fds, Some(&limit)).expect("poll the inotify descriptor");
        assert_eq!(ready, 1, "an inotify event arrives");
        watches.wait(buf).expect("read the events")
    }

    fn only(names: &[&str]) -> Names {
        Names::Only(names.iter().map(OsString::from).collect())
    }

    #[test]
    fn a_file_is_watched_through_its_directory_and_a_missing_one_through_its_nearest_ancestor() {
        let root = tempfile::tempdir().expect("tempdir");
        let kube = root.path().join("home/.kube");
        std::fs::create_dir_all(&kube).expect("create .kube");
        let plan = plan(
            &[
                kube.join("config"),
                kube.join("other"),
                root.path().join("config/signet/config.toml"),
            ],
            &[root.path().join("home/.kube")],
        );
        assert_eq!(
            plan.get(&kube),
            Some(&Names::Any),
            "a directory wanted whole matches any name: {plan:?}"
        );
        assert_eq!(
            plan.get(root.path()),
            Some(&only(&["config"])),
            "the missing config directory is watched for through the root: {plan:?}"
        );
        assert_eq!(plan.len(), 2, "{plan:?}");
    }

    #[test]
    fn temporary_and_lock_files_do_not_matter() {
        assert!(Names::Any.matches(Path::new("session.json")));
        assert!(!Names::Any.matches(Path::new(".session.json.x1y2.tmp")));
        assert!(!Names::Any.matches(Path::new("corp.lock")));
        assert!(only(&["config"]).matches(Path::new("config")));
        assert!(!only(&["config"]).matches(Path::new("config.lock")));
        assert!(!only(&["config"]).matches(Path::new(".config.a1.tmp")));
    }

    /// Seen failing with the watcher's `apply` skipped (no watch, so no event ever arrives).
    #[test]
    fn an_atomic_replace_and_a_new_directory_are_seen() {
        let root = tempfile::tempdir().expect("tempdir");
        let config = root.path().join("config/signet/config.toml");
        let tokens = root.path().join("cache/signet/tokens");
        let mut watches = Watches::new().expect("inotify");
        watches.apply(plan(
            std::slice::from_ref(&config),
            std::slice::from_ref(&tokens),
        ));
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 4096];

        std::fs::create_dir_all(config.parent().expect("parent")).expect("create the config dir");
        let seen = next(&watches, &mut buf);
        assert_eq!(seen, vec![PathBuf::from("config")], "the new directory");

        watches.apply(plan(
            std::slice::from_ref(&config),
            std::slice::from_ref(&tokens),
        ));
        signet_core::atomic_file::write(&config, b"[settings]\n", 0o600).expect("write");
        let mut seen = Vec::new();
        while !seen.contains(&PathBuf::from("config.toml")) {
            seen.extend(next(&watches, &mut buf));
        }
        assert!(
            seen.iter().all(|n| n == Path::new("config.toml")),
            "only the config file's own name matters, not the temporary file: {seen:?}"
        );
    }
}
