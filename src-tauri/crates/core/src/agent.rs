//! The agent protocol (DESIGN.md §5.5): JSON lines over `$XDG_RUNTIME_DIR/signet/agent.sock`, between
//! `kubectl-signet` and the tray app. (The refresh schedule the tray's agent follows is [`crate::schedule`].)
//!
//! The socket's directory is 0700 and the socket 0600, and the server checks that the peer runs as the
//! same user (on Linux, `SO_PEERCRED`). Requests: `{"op":"status"}`, `{"op":"token","cluster":…}`,
//! `{"op":"login","provider":…,"interactive":bool}`. Each answer is one line: `{"ok":true,…}` or
//! `{"ok":false,"code":…,"message":…}`. This module owns framing and permissions; what a
//! request *does* is the [`AgentHandler`]'s business (the tray implements it over [`crate::Signet`]).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::paths::Paths;

/// The longest request line the server reads.
const MAX_LINE: usize = 64 * 1024;

/// What one client may cost the agent (DESIGN.md §6): every connection holds a thread, so their number is
/// capped, a request line must arrive whole within a deadline, and it has a size cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; one more is answered `agent.busy` and closed.
    pub max_connections: usize,
    /// How long the server waits for a whole request line (idle or trickling clients are closed).
    pub read_deadline: Duration,
    /// The longest request line, newline included; a longer one is answered `agent.bad_request` and closed.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 128,
            read_deadline: Duration::from_secs(10),
            max_line: MAX_LINE,
        }
    }
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// An ID token for a cluster. Over the forwarded socket, `host` is the name the remote host gives itself
    /// (shown to the person when they are asked, never trusted) and `interactive` whether a person waits at
    /// the remote terminal (then a session that has ended opens the desktop's sign-in).
    Token {
        cluster: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        interactive: bool,
    },
    Login {
        provider: String,
        interactive: bool,
    },
    /// The clusters the agent offers, with what a remote kubeconfig needs (never a secret).
    Clusters {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
}

impl Request {
    /// A token request as a local caller makes it.
    pub fn token(cluster: &str) -> Request {
        Request::Token {
            cluster: cluster.to_string(),
            host: None,
            interactive: false,
        }
    }
}

/// Who is on the other end of a connection, as the kernel says (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// This connection, numbered from 1 in the order the server accepted them.
    pub connection: u64,
    /// The peer's process id, when the platform tells it.
    pub pid: Option<u32>,
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
    /// The connection closed before an answer (over a forwarded socket: nothing listens at its other end).
    #[error("the agent closed the connection without answering")]
    Closed,
    #[error("the agent sent an unreadable answer: {0}")]
    Protocol(String),
}

impl AgentError {
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::Bind { .. } => "agent.bind_failed",
            AgentError::AlreadyRunning { .. } => "agent.already_running",
            AgentError::Io(_) => "agent.io",
            AgentError::Closed => "agent.closed",
            AgentError::Protocol(_) => "agent.protocol",
        }
    }
}

/// What the agent does with a request; answers are JSON objects merged into `{"ok":true,…}`.
pub trait AgentHandler: Send + Sync {
    fn handle(&self, request: Request, peer: &Peer) -> Result<serde_json::Value, AgentFailure>;
}

/// The socket path: `$XDG_RUNTIME_DIR/signet/agent.sock`, or `None` without a runtime dir.
pub fn socket_path(paths: &Paths) -> Option<PathBuf> {
    paths.runtime_dir.as_ref().map(|d| d.join("agent.sock"))
}

/// The socket other hosts reach through a forward (`ssh -R <remote path>:<this path>`):
/// `$XDG_RUNTIME_DIR/signet/forward.sock`, or `None` without a runtime dir. A socket apart from
/// [`socket_path`], because every connection to either comes from a process of the same user (ssh itself):
/// only the socket a connection arrives on tells a forwarded request from a local one.
pub fn forward_socket_path(paths: &Paths) -> Option<PathBuf> {
    paths.runtime_dir.as_ref().map(|d| d.join("forward.sock"))
}

/// A bound agent socket.
#[derive(Debug)]
pub struct AgentServer {
    listener: UnixListener,
    path: PathBuf,
    limits: Limits,
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
            limits: Limits::default(),
        })
    }

    /// The same server with other [`Limits`] (tests use small ones).
    pub fn with_limits(mut self, limits: Limits) -> AgentServer {
        self.limits = limits;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections forever; one thread per connection (requests may wait on a sign-in for minutes,
    /// and concurrent `login`s for one provider must all get its result), at most
    /// [`Limits::max_connections`] of them. A peer of another user, or one past the cap, gets a one-line
    /// refusal and is closed. When `accept` fails (EMFILE, ENFILE…) the loop pauses, doubling from 10 ms up
    /// to 1 s, rather than spinning.
    pub fn serve(self, handler: Arc<dyn AgentHandler>) {
        let active = Arc::new(AtomicUsize::new(0));
        let mut failures: u32 = 0;
        let mut accepted: u64 = 0;
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => {
                    failures = 0;
                    stream
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "the agent could not accept a connection; backing off");
                    }
                    std::thread::sleep(accept_backoff(failures));
                    failures = failures.saturating_add(1);
                    continue;
                }
            };
            if !same_user(&stream) {
                tracing::warn!("refused an agent connection from another user");
                refuse(
                    stream,
                    "agent.other_user",
                    "the agent serves only the user it runs as",
                );
                continue;
            }
            if active.load(Ordering::Acquire) >= self.limits.max_connections {
                tracing::warn!(
                    max = self.limits.max_connections,
                    "refused an agent connection: too many at once"
                );
                refuse(
                    stream,
                    "agent.busy",
                    "the agent has too many connections at once; try again",
                );
                continue;
            }
            active.fetch_add(1, Ordering::AcqRel);
            accepted += 1;
            let peer = Peer {
                connection: accepted,
                pid: peer_pid(&stream),
            };
            let slot = Slot(active.clone());
            let handler = handler.clone();
            let limits = self.limits;
            let spawned = std::thread::Builder::new()
                .name("agent-conn".into())
                .spawn(move || {
                    let _slot = slot;
                    serve_connection(stream, handler.as_ref(), &peer, limits);
                });
            if let Err(e) = spawned {
                // The closure (and its slot) is dropped: the count is given back.
                tracing::warn!(error = %e, "could not start a thread for an agent connection");
            }
        }
    }
}

/// One counted connection; gives its slot back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The pause after the `failures`-th failed `accept` in a row: 10 ms, 20 ms … up to 1 s.
fn accept_backoff(failures: u32) -> Duration {
    Duration::from_millis(10u64.saturating_mul(1u64 << failures.min(7)).min(1000))
}

/// Answers a connection the server will not serve with one error line, without blocking the accept loop,
/// and closes it.
fn refuse(stream: UnixStream, code: &str, message: &str) {
    let mut stream = stream;
    let _ = stream.set_nonblocking(true);
    let answer = serde_json::json!({"ok": false, "code": code, "message": message});
    let _ = writeln!(stream, "{answer}");
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

impl Drop for AgentServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How long writing an answer may take (a client that does not read its answers is dropped).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn serve_connection(stream: UnixStream, handler: &dyn AgentHandler, peer: &Peer, limits: Limits) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    if writer.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return;
    }
    loop {
        let deadline = Instant::now() + limits.read_deadline;
        let (answer, go_on) = match read_request_line(&mut reader, deadline, limits.max_line) {
            LineRead::Closed => return,
            LineRead::TimedOut => (
                serde_json::json!({"ok": false, "code": "agent.timeout", "message": format!("no complete request within {} s", limits.read_deadline.as_secs_f32())}),
                false,
            ),
            LineRead::TooLong => (
                serde_json::json!({"ok": false, "code": "agent.bad_request", "message": format!("unreadable request: longer than {} bytes", limits.max_line)}),
                false,
            ),
            LineRead::Line(line) => {
                let answer = match std::str::from_utf8(&line)
                    .map_err(|e| e.to_string())
                    .and_then(|l| {
                        serde_json::from_str::<Request>(l.trim()).map_err(|e| e.to_string())
                    }) {
                    Ok(request) => match handler.handle(request, peer) {
                        Ok(value) => ok_answer(value),
                        Err(failure) => {
                            serde_json::json!({"ok": false, "code": failure.code, "message": failure.message})
                        }
                    },
                    Err(e) => {
                        serde_json::json!({"ok": false, "code": "agent.bad_request", "message": format!("unreadable request: {e}")})
                    }
                };
                (answer, true)
            }
        };
        if writeln!(writer, "{answer}")
            .and_then(|()| writer.flush())
            .is_err()
            || !go_on
        {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

/// What reading one request line gave.
enum LineRead {
    Line(Vec<u8>),
    /// The client closed (or the socket failed) before a whole line.
    Closed,
    /// No whole line before the deadline (idle, or trickling).
    TimedOut,
    /// More than the cap without a newline.
    TooLong,
}

/// Reads one `\n`-terminated line of at most `max` bytes, all of it before `deadline`: each read waits only
/// for what is left of the deadline, so a client sending a byte at a time cannot stretch it.
fn read_request_line(
    reader: &mut BufReader<UnixStream>,
    deadline: Instant,
    max: usize,
) -> LineRead {
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return LineRead::TimedOut;
        }
        if reader.get_ref().set_read_timeout(Some(left)).is_err() {
            return LineRead::Closed;
        }
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return LineRead::TimedOut;
            }
            Err(_) => return LineRead::Closed,
        };
        if buf.is_empty() {
            return LineRead::Closed;
        }
        let (taken, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..taken]);
        reader.consume(taken);
        if line.len() > max {
            return LineRead::TooLong;
        }
        if done {
            return LineRead::Line(line);
        }
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

#[cfg(target_os = "linux")]
fn peer_pid(stream: &UnixStream) -> Option<u32> {
    let cred = rustix::net::sockopt::socket_peercred(stream).ok()?;
    u32::try_from(cred.pid.as_raw_nonzero().get()).ok()
}

#[cfg(not(target_os = "linux"))]
fn peer_pid(_stream: &UnixStream) -> Option<u32> {
    None
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
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(AgentError::Closed);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl AgentHandler for Echo {
        fn handle(
            &self,
            request: Request,
            _peer: &Peer,
        ) -> Result<serde_json::Value, AgentFailure> {
            match request {
                Request::Status | Request::Clusters { .. } => {
                    Ok(serde_json::json!({"providers": []}))
                }
                Request::Token { cluster, .. } => Err(AgentFailure {
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
            .request(&Request::token("prod"), Duration::from_secs(2))
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

    /// Serves `Echo` on a fresh socket with `limits`; the tempdir keeps it alive.
    fn serve_echo(limits: Limits) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("signet/agent.sock");
        let server = AgentServer::bind(&path).expect("bind").with_limits(limits);
        std::thread::spawn(move || server.serve(Arc::new(Echo)));
        (dir, path)
    }

    /// Reads one line (`None` at EOF); fails the test if nothing comes within `within`.
    fn read_line_within(stream: &UnixStream, within: Duration) -> Option<String> {
        stream.set_read_timeout(Some(within)).expect("timeout");
        let mut line = String::new();
        match BufReader::new(stream).read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line),
            // A peer that closes with unread input may reset instead of a clean EOF: closed all the same.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => {
                panic!("nothing within {within:?} (the server kept the connection open): {e}")
            }
        }
    }

    #[test]
    fn connections_beyond_the_cap_get_a_one_line_refusal_and_a_freed_slot_is_reused() {
        let (_dir, path) = serve_echo(Limits {
            max_connections: 2,
            read_deadline: Duration::from_secs(30),
            ..Limits::default()
        });
        let first = UnixStream::connect(&path).expect("first");
        let second = UnixStream::connect(&path).expect("second");
        // Both idle connections hold a slot; the third is refused at once, in one line, and closed.
        let third = UnixStream::connect(&path).expect("third");
        let refusal = read_line_within(&third, Duration::from_secs(3)).expect("a refusal line");
        let refusal: serde_json::Value = serde_json::from_str(&refusal).expect("json");
        assert_eq!(refusal["ok"], false);
        assert_eq!(refusal["code"], "agent.busy", "{refusal}");
        assert_eq!(
            read_line_within(&third, Duration::from_secs(3)),
            None,
            "then closed"
        );
        drop(first);
        drop(second);
        // Slots are given back when connections end.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut client = AgentClient::connect(&path).expect("connect");
            match client.request(&Request::Status, Duration::from_secs(3)) {
                Ok(Ok(answer)) => {
                    assert_eq!(answer["providers"], serde_json::json!([]));
                    break;
                }
                // Until the server sees the two ends, the slots are taken: refused, possibly before
                // this client could write (a broken pipe).
                Ok(Err(f)) if f.code == "agent.busy" && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(AgentError::Io(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => panic!("a freed slot is served: {other:?}"),
            }
        }
    }

    #[test]
    fn an_idle_or_trickling_client_is_closed_at_the_read_deadline() {
        let (_dir, path) = serve_echo(Limits {
            read_deadline: Duration::from_millis(800),
            ..Limits::default()
        });
        // Connects and sends nothing.
        let idle = UnixStream::connect(&path).expect("idle");
        let started = std::time::Instant::now();
        let answer = read_line_within(&idle, Duration::from_secs(5)).expect("a timeout answer");
        assert!(answer.contains("\"agent.timeout\""), "{answer}");
        assert_eq!(
            read_line_within(&idle, Duration::from_secs(3)),
            None,
            "then closed"
        );
        assert!(started.elapsed() < Duration::from_secs(4));
        // Sends a byte every 100 ms and never a newline: each read succeeds, the deadline is for the line.
        let trickle = UnixStream::connect(&path).expect("trickle");
        let writer = trickle.try_clone().expect("clone");
        let trickler = std::thread::spawn(move || {
            let mut writer = writer;
            for _ in 0..60 {
                if writer.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let answer = read_line_within(&trickle, Duration::from_secs(4)).expect("a timeout answer");
        assert!(answer.contains("\"agent.timeout\""), "{answer}");
        trickle.shutdown(std::net::Shutdown::Both).ok();
        trickler.join().expect("trickler");
        // A client that asks in time is answered as before.
        let mut client = AgentClient::connect(&path).expect("connect");
        client
            .request(&Request::Status, Duration::from_secs(3))
            .expect("io")
            .expect("ok");
    }

    #[test]
    fn a_request_line_over_the_size_cap_is_refused_and_the_connection_closed() {
        let (_dir, path) = serve_echo(Limits {
            max_line: 1024,
            ..Limits::default()
        });
        let mut stream = UnixStream::connect(&path).expect("connect");
        stream.write_all(&[b'x'; 4096]).expect("write");
        let answer = read_line_within(&stream, Duration::from_secs(3)).expect("an answer");
        assert!(answer.contains("\"agent.bad_request\""), "{answer}");
        assert!(answer.contains("1024"), "names the cap: {answer}");
        assert_eq!(
            read_line_within(&stream, Duration::from_secs(3)),
            None,
            "then closed, not read on"
        );
    }

    /// Connects to `socket` as `nobody` (setpriv), sends `{"op":"status"}`, and returns the answer line
    /// ("EOF" when the server closes without one).
    fn status_as(user: Option<(&str, &str)>, socket: &Path) -> String {
        const CLIENT: &str = r#"
            use IO::Socket::UNIX;
            $SIG{PIPE} = "IGNORE"; # a refused client may find the socket closed before it writes
            my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
            print $s "{\"op\":\"status\"}\n";
            my $l = <$s>;
            print(defined $l ? $l : "EOF\n");
        "#;
        let mut command = match user {
            Some((user, group)) => {
                let mut c = std::process::Command::new("setpriv");
                c.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={group}"))
                    .args(["--clear-groups", "--", "perl"]);
                c
            }
            None => std::process::Command::new("perl"),
        };
        let out = command
            .args(["-e", CLIENT])
            .arg(socket)
            .output()
            .expect("run the perl client (setpriv and perl-base are in the CI image)");
        assert!(
            out.status.success(),
            "the client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn a_client_of_another_uid_is_refused_by_the_peer_uid_check() {
        assert!(
            rustix::process::getuid().is_root(),
            "this test needs root: it runs an agent client as `nobody` (setpriv) to check that the peer-uid \
             check refuses another user; run it as root (CI does)"
        );
        let (dir, path) = serve_echo(Limits::default());
        // The socket's 0700 directory and 0600 mode would stop `nobody` at the kernel's permission check
        // before the server sees it. This temporary layout is opened up (dirs 0711, socket 0666) so the only
        // thing between `nobody` and an answer is the server's own SO_PEERCRED check.
        {
            use std::os::unix::fs::PermissionsExt;
            let open = |p: &Path, mode| {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
            };
            open(dir.path(), 0o711);
            open(path.parent().expect("dir"), 0o711);
            open(&path, 0o666);
        }
        let same_user = status_as(None, &path);
        assert!(
            same_user.contains("\"providers\""),
            "through the same layout, the owner is answered: {same_user}"
        );
        let other = status_as(Some(("nobody", "nogroup")), &path);
        let other: serde_json::Value = serde_json::from_str(&other)
            .unwrap_or_else(|e| panic!("one refusal line for another uid, got {other:?}: {e}"));
        assert_eq!(other["ok"], false);
        assert_eq!(other["code"], "agent.other_user", "{other}");
        assert!(other.get("providers").is_none(), "nothing served");
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
        assert_eq!(parsed, Request::token("prod"));
        assert_eq!(
            serde_json::to_string(&Request::token("prod")).expect("json"),
            r#"{"op":"token","cluster":"prod"}"#,
            "a local token request is the design's line, with no forwarded fields"
        );
        let forwarded: Request = serde_json::from_str(
            r#"{"op":"token","cluster":"prod","host":"devbox","interactive":true}"#,
        )
        .expect("parse");
        assert_eq!(
            forwarded,
            Request::Token {
                cluster: "prod".into(),
                host: Some("devbox".into()),
                interactive: true
            }
        );
        let clusters: Request = serde_json::from_str(r#"{"op":"clusters"}"#).expect("parse");
        assert_eq!(clusters, Request::Clusters { host: None });
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.sock");
        drop(UnixListener::bind(&path).expect("bind a socket nobody serves"));
        assert!(path.exists(), "the dead socket file is left behind");
        AgentServer::bind(&path).expect("replaces the dead socket");
    }
}
