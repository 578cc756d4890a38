//! The benchmark's private desktop (the shared private session plus `--app-env`) and reading the app's
//! log in it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use signet_core::config::Config;
use signet_tests::desktop::{App, Session};

/// The benchmark's desktop: the shared private session (quiet: no extra logging), plus what `--app-env`
/// adds to the app's environment only.
pub struct Desktop {
    session: Session,
    pub app_env: Vec<(String, String)>,
}

impl std::ops::Deref for Desktop {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Desktop {
    pub fn start(root: &Path, config: &Config, app_env: &[(String, String)]) -> Desktop {
        Desktop {
            session: Session::quiet(root, Some(config)),
            app_env: app_env.to_vec(),
        }
    }

    /// Starts `signet` directly, with `--app-env` added.
    pub fn spawn_app(&self, app: &Path) -> App {
        self.spawn_app_with(app, &[])
    }

    /// [`spawn_app`](Self::spawn_app) with `env` added too.
    pub fn spawn_app_with(&self, app: &Path, env: &[(&str, &str)]) -> App {
        let mut cmd = self.session.command(app);
        cmd.envs(self.app_env.iter().map(|(k, v)| (k, v)));
        cmd.envs(env.iter().copied());
        self.session.spawn(cmd)
    }

    pub fn app_log(&self) -> PathBuf {
        self.session.app_log_path()
    }

    pub fn app_log_text(&self) -> String {
        tail(&self.session.app_log(), 60)
    }
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The app's log lines written after byte `offset`, with their timestamps.
pub fn log_lines_after(path: &Path, offset: u64) -> Vec<(SystemTime, String)> {
    let text = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(text.len());
    String::from_utf8_lossy(&text[start..])
        .lines()
        .filter_map(|line| {
            let (stamp, rest) = line.split_once(' ')?;
            let at: DateTime<Utc> = DateTime::parse_from_rfc3339(stamp).ok()?.into();
            Some((SystemTime::from(at), rest.trim().to_string()))
        })
        .collect()
}

pub fn first_log_line_after(path: &Path, offset: u64, spawned_at: SystemTime) -> Option<Duration> {
    log_lines_after(path, offset)
        .first()
        .and_then(|(at, _)| at.duration_since(spawned_at).ok())
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
