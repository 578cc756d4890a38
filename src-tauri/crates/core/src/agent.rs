//! The agent protocol (DESIGN.md §5.5): JSON lines over `$XDG_RUNTIME_DIR/signet/agent.sock`, between
//! `kubectl-signet` and the tray app, plus the refresh schedule the tray's agent follows (§5.3).
//!
//! The socket's directory is 0700 and the socket 0600, and the server checks that the peer runs as the
//! same user (on Linux, `SO_PEERCRED`). Requests: `{"op":"status"}`, `{"op":"token","cluster":…}`,
//! `{"op":"login","provider":…,"interactive":bool}`. Each answer is one line: `{"ok":true,…}` or
//! `{"ok":false,"code":…,"message":…}`. This module owns framing, permissions and scheduling; what a
//! request *does* is the [`AgentHandler`]'s business (the tray implements it over [`crate::Signet`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::paths::Paths;

/// The longest request line the server reads.
const MAX_LINE: u64 = 64 * 1024;

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Status,
    Token { cluster: String },
    Login { provider: String, interactive: bool },
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AgentFailure {
    pub code: String,
    pub message: String,
}

/// Why talking to the agent failed (the caller then works without it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error("the agent socket '{}' could not be set up", path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another agent is already listening on '{}'", path.display())]
    AlreadyRunning { path: PathBuf },
    #[error("talking to the agent failed")]
    Io(#[from] std::io::Error),
    #[error("the agent sent an unreadable answer: {0}")]
    Protocol(String),
}

impl AgentError {
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::Bind { .. } => "agent.bind_failed",
            AgentError::AlreadyRunning { .. } => "agent.already_running",
            AgentError::Io(_) => "agent.io",
            AgentError::Protocol(_) => "agent.protocol",
        }
    }
}

/// What the agent does with a request; answers are JSON objects merged into `{"ok":true,…}`.
pub trait AgentHandler: Send + Sync {
    fn handle(&self, request: Request) -> Result<serde_json::Value, AgentFailure>;
}

/// The socket path: `$XDG_RUNTIME_DIR/signet/agent.sock`, or `None` without a runtime dir.
pub fn socket_path(paths: &Paths) -> Option<PathBuf> {
    paths.runtime_dir.as_ref().map(|d| d.join("agent.sock"))
}

/// A bound agent socket.
#[derive(Debug)]
pub struct AgentServer {
    listener: UnixListener,
    path: PathBuf,
}

impl AgentServer {
    /// Binds the socket (dir 0700, socket 0600). A leftover socket nobody answers on is replaced; a live
    /// one is [`AgentError::AlreadyRunning`].
    pub fn bind(path: &Path) -> Result<AgentServer, AgentError> {
        let bind_err = |source| AgentError::Bind {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::atomic_file::private_dir(dir).map_err(bind_err)?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(AgentError::AlreadyRunning {
                    path: path.to_path_buf(),
                });
            }
            std::fs::remove_file(path).map_err(bind_err)?;
        }
        let listener = UnixListener::bind(path).map_err(bind_err)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(bind_err)?;
        }
        Ok(AgentServer {
            listener,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until the listener fails; one thread per connection (requests may wait on a
    /// sign-in for minutes, and concurrent `login`s for one provider must all get its result).
    pub fn serve(self, handler: Arc<dyn AgentHandler>) {
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            if !same_user(&stream) {
                tracing::warn!("refused an agent connection from another user");
                continue;
            }
            let handler = handler.clone();
            std::thread::spawn(move || serve_connection(stream, handler.as_ref()));
        }
    }
}

impl Drop for AgentServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_connection(stream: UnixStream, handler: &dyn AgentHandler) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    let mut line = String::new();
    // Each request line is capped; a client that sends more gets an unreadable-request answer.
    while (&mut reader)
        .take(MAX_LINE)
        .read_line(&mut line)
        .is_ok_and(|n| n > 0)
    {
        let answer = match serde_json::from_str::<Request>(line.trim()) {
            Ok(request) => match handler.handle(request) {
                Ok(value) => ok_answer(value),
                Err(failure) => {
                    serde_json::json!({"ok": false, "code": failure.code, "message": failure.message})
                }
            },
            Err(e) => {
                serde_json::json!({"ok": false, "code": "agent.bad_request", "message": format!("unreadable request: {e}")})
            }
        };
        if writeln!(writer, "{answer}")
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
        line.clear();
    }
}

fn ok_answer(value: serde_json::Value) -> serde_json::Value {
    let mut answer = serde_json::json!({"ok": true});
    if let (Some(obj), serde_json::Value::Object(extra)) = (answer.as_object_mut(), value) {
        obj.extend(extra);
    }
    answer
}

#[cfg(target_os = "linux")]
fn same_user(stream: &UnixStream) -> bool {
    rustix::net::sockopt::socket_peercred(stream)
        .map(|cred| cred.uid == rustix::process::getuid())
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn same_user(_stream: &UnixStream) -> bool {
    // The socket's directory is 0700: only its owner can reach it.
    true
}

/// A connection to a running agent.
#[derive(Debug)]
pub struct AgentClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl AgentClient {
    /// Connects when an agent listens; `None` when none runs (the caller works on its own).
    pub fn connect(path: &Path) -> Option<AgentClient> {
        let stream = UnixStream::connect(path).ok()?;
        let writer = stream.try_clone().ok()?;
        Some(AgentClient {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one request and waits up to `timeout` for its answer.
    pub fn request(
        &mut self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Result<serde_json::Value, AgentFailure>, AgentError> {
        self.writer
            .set_write_timeout(Some(Duration::from_secs(2)))?;
        self.reader.get_ref().set_read_timeout(Some(timeout))?;
        let line =
            serde_json::to_string(request).map_err(|e| AgentError::Protocol(e.to_string()))?;
        writeln!(self.writer, "{line}")?;
        self.writer.flush()?;
        let mut answer = String::new();
        self.reader.read_line(&mut answer)?;
        let value: serde_json::Value =
            serde_json::from_str(answer.trim()).map_err(|e| AgentError::Protocol(e.to_string()))?;
        if value["ok"] == serde_json::Value::Bool(true) {
            Ok(Ok(value))
        } else {
            Ok(Err(AgentFailure {
                code: value["code"]
                    .as_str()
                    .unwrap_or("agent.unknown")
                    .to_string(),
                message: value["message"]
                    .as_str()
                    .unwrap_or("the agent refused")
                    .to_string(),
            }))
        }
    }
}

/// Refreshes of one token are at least this far apart (or half its lifetime, if shorter).
pub const MIN_REFRESH_SPACING: TimeDelta = TimeDelta::seconds(30);

/// When the agent should next refresh a token issued at `issued_at` and expiring at `expires_at`: at
/// ~80% of its lifetime, but at least 2 minutes before `exp`, minus up to `jitter` so many machines do
/// not hit Dex in the same second. Never sooner than [`MIN_REFRESH_SPACING`] (or half the lifetime)
/// after issue, so a token shorter than 2 minutes is not refreshed over and over.
pub fn next_refresh_at(
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    jitter: TimeDelta,
) -> DateTime<Utc> {
    let lifetime = (expires_at - issued_at).max(TimeDelta::zero());
    let at_80 = issued_at + lifetime * 4 / 5;
    let latest = expires_at - TimeDelta::minutes(2);
    let earliest = issued_at + (lifetime / 2).min(MIN_REFRESH_SPACING);
    let when = at_80.min(latest);
    let jittered = when - jitter.min((when - issued_at) / 10).max(TimeDelta::zero());
    jittered.max(earliest)
}

/// Exponential backoff for refreshes that fail for network reasons: 5 s, 10 s, 20 s … up to 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempt.min(6));
    Duration::from_secs(secs.min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl AgentHandler for Echo {
        fn handle(&self, request: Request) -> Result<serde_json::Value, AgentFailure> {
            match request {
                Request::Status => Ok(serde_json::json!({"providers": []})),
                Request::Token { cluster } => Err(AgentFailure {
                    code: "session.sign_in_required".into(),
                    message: format!("sign-in needed for {cluster}"),
                }),
                Request::Login {
                    provider,
                    interactive,
                } => Ok(serde_json::json!({"provider": provider, "interactive": interactive})),
            }
        }
    }

    #[test]
    fn requests_and_answers_are_json_lines_over_a_private_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("signet/agent.sock");
        let server = AgentServer::bind(&path).expect("bind");
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "socket mode");
            assert_eq!(mode(path.parent().expect("dir")), 0o700, "socket dir mode");
        }
        assert!(
            matches!(
                AgentServer::bind(&path),
                Err(AgentError::AlreadyRunning { .. })
            ),
            "a live socket is not stolen"
        );
        std::thread::spawn(move || server.serve(Arc::new(Echo)));
        let mut client = AgentClient::connect(&path).expect("connect");
        let status = client
            .request(&Request::Status, Duration::from_secs(2))
            .expect("io")
            .expect("ok");
        assert_eq!(status["ok"], true);
        assert_eq!(status["providers"], serde_json::json!([]));
        let failure = client
            .request(
                &Request::Token {
                    cluster: "prod".into(),
                },
                Duration::from_secs(2),
            )
            .expect("io")
            .expect_err("refused");
        assert_eq!(failure.code, "session.sign_in_required");
        let login = client
            .request(
                &Request::Login {
                    provider: "corp".into(),
                    interactive: false,
                },
                Duration::from_secs(2),
            )
            .expect("io")
            .expect("ok");
        assert_eq!(login["provider"], "corp");
    }

    #[test]
    fn wire_format_matches_the_design() {
        let line = serde_json::to_string(&Request::Login {
            provider: "corp".into(),
            interactive: true,
        })
        .expect("json");
        assert_eq!(
            line,
            r#"{"op":"login","provider":"corp","interactive":true}"#
        );
        let parsed: Request =
            serde_json::from_str(r#"{"op":"token","cluster":"prod"}"#).expect("parse");
        assert_eq!(
            parsed,
            Request::Token {
                cluster: "prod".into()
            }
        );
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.sock");
        drop(UnixListener::bind(&path).expect("bind a socket nobody serves"));
        assert!(path.exists(), "the dead socket file is left behind");
        AgentServer::bind(&path).expect("replaces the dead socket");
    }

    #[test]
    fn refresh_happens_at_80_percent_but_two_minutes_before_expiry_at_the_latest() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).expect("ts");
        assert_eq!(
            next_refresh_at(t(0), t(3600), TimeDelta::zero()),
            t(2880),
            "80% of an hour"
        );
        assert_eq!(
            next_refresh_at(t(0), t(300), TimeDelta::zero()),
            t(180),
            "2 min before a 5 min token"
        );
        assert_eq!(
            next_refresh_at(t(0), t(60), TimeDelta::zero()),
            t(30),
            "a 1 min token after half its life, not at once (no refresh storm)"
        );
        let jittered = next_refresh_at(t(0), t(3600), TimeDelta::seconds(30));
        assert_eq!(jittered, t(2850), "jitter moves it earlier");
        assert_eq!(
            next_refresh_at(t(0), t(3600), TimeDelta::hours(5)),
            t(2880 - 288),
            "jitter is capped at 10%"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(10), Duration::from_secs(300));
    }
}
