//! Agent forwarding (DESIGN.md §5.5): kubectl on another host (an SSH host, a dev container) gets ID
//! tokens from the desktop's tray through a forwarded socket, and the refresh token never leaves the
//! desktop.
//!
//! - **The desktop end** is `$XDG_RUNTIME_DIR/signet/forward.sock`
//!   ([`forward_socket_path`](crate::agent::forward_socket_path)), apart from the local agent socket. It
//!   serves only `token` and `clusters`, only while `[settings] allow_forwarding` is on, and the first
//!   request of each new session asks the person ([`ConsentBook`]). A session is the process that holds the
//!   forward open (the `ssh -R` client), named by its pid and start time ([`session_of`]).
//! - **The remote end** is a socket path in [`SOCKET_ENV`]; [`ask_token`] and [`ask_clusters`] talk to it.
//!   The remote keeps nothing: every `kubectl-signet token` asks the desktop, and kubectl keeps the
//!   credential in memory until its `expirationTimestamp`. A socket not owned by the caller is refused
//!   (another account could have put it there).
//! - [`offered_clusters`] is what the desktop tells a remote about its clusters: names, servers and CA
//!   data for the remote's kubeconfig, never a secret.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Signet;
use crate::agent::{AgentClient, AgentError, AgentFailure, Peer, Request};
use crate::secret::Secret;

/// The environment variable that names the forwarded socket on the remote host.
pub const SOCKET_ENV: &str = "SIGNET_AGENT_SOCK";

/// How long a forwarded request waits for the person's answer before it is refused.
pub const CONSENT_WAIT: Duration = Duration::from_secs(60);

/// A cluster as a remote kubeconfig needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCluster {
    pub name: String,
    pub provider: String,
    /// The kubeconfig context name on the desktop (the remote uses the same).
    pub context: String,
    pub server: String,
    /// Base64 of the PEM bundle the API server's certificate is checked against (`None`: system trust).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Every configured cluster as a remote needs it. A CA file is read and sent as data (the remote does not
/// have the file); a cluster whose CA file cannot be read is left out, and logged.
pub fn offered_clusters(signet: &Signet) -> Vec<RemoteCluster> {
    let config = signet.config();
    config
        .clusters
        .iter()
        .filter_map(|c| {
            let ca_data = match (&c.ca_data, &c.ca_file) {
                (Some(data), _) => Some(data.clone()),
                (None, Some(file)) => match std::fs::read(file) {
                    Ok(pem) => Some(base64::engine::general_purpose::STANDARD.encode(pem)),
                    Err(e) => {
                        tracing::warn!(cluster = %c.name, file = %file.display(), error = %e, "the cluster's CA file cannot be read; it is not offered to remote hosts");
                        return None;
                    }
                },
                (None, None) => None,
            };
            Some(RemoteCluster {
                name: c.name.clone(),
                provider: c.provider.clone(),
                context: c.context_name().to_owned(),
                server: c.server.clone(),
                ca_data,
                insecure_skip_tls_verify: c.insecure_skip_tls_verify,
                namespace: c.namespace.clone(),
            })
        })
        .collect()
}

/// What the person answered in the "kubectl on <host> wants a token" notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve the requests waiting on this question.
    AllowOnce,
    /// Serve them and every later request of the same session, until the app quits.
    AllowSession,
    Deny,
    /// The question could not be shown (no notification server): refused, saying so.
    CannotAsk,
}

impl Decision {
    /// The notification button keys.
    pub const KEYS: [(&'static str, &'static str); 3] = [
        ("allow-once", "Allow once"),
        ("allow-session", "Allow for this session"),
        ("deny", "Deny"),
    ];

    pub fn from_key(key: &str) -> Option<Decision> {
        match key {
            "allow-once" => Some(Decision::AllowOnce),
            "allow-session" => Some(Decision::AllowSession),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }
}

/// Why a forwarded request was not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("the person at the desktop denied this request")]
    Denied,
    #[error(
        "the desktop could not ask you (no notification server there): turn on \"Don't ask for each new session\" in Signet's Settings, or start a notification daemon"
    )]
    CannotAsk,
    #[error(
        "no answer at the desktop within {} s (Signet asks in a notification; without a notification server, turn on \"Don't ask\" in its Settings)",
        .0.as_secs()
    )]
    NoAnswer(Duration),
}

impl ConsentError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsentError::Denied => "forward.denied",
            ConsentError::CannotAsk => "forward.cannot_ask",
            ConsentError::NoAnswer(_) => "forward.no_answer",
        }
    }
}

/// One question to the person, numbered.
pub type PromptId = u64;

/// Who may be served: sessions the person allowed, and the questions waiting for an answer. Requests of one
/// session that arrive while its question is open wait on that question: twenty parallel `kubectl` calls
/// from a new session ask once.
#[derive(Debug, Default)]
pub struct ConsentBook {
    inner: Mutex<Book>,
    answered: Condvar,
}

#[derive(Debug, Default)]
struct Book {
    allowed: HashSet<String>,
    /// The open question of each session.
    open: HashMap<String, PromptId>,
    /// Answers not yet read by every request that waited on them: (decision, waiters left).
    answers: HashMap<PromptId, (Decision, usize)>,
    waiting: HashMap<PromptId, usize>,
    last_prompt: PromptId,
}

impl ConsentBook {
    pub fn new() -> ConsentBook {
        ConsentBook::default()
    }

    /// Waits until `session` may be served: at once when it was allowed for the session; else after the
    /// person's answer to the session's open question, asking it through `ask` when none is open. Refused
    /// on "Deny", or when nobody answers within `wait`.
    pub fn admit(
        &self,
        session: &str,
        wait: Duration,
        ask: impl FnOnce(PromptId),
    ) -> Result<(), ConsentError> {
        let Ok(mut book) = self.inner.lock() else {
            return Err(ConsentError::Denied);
        };
        if book.allowed.contains(session) {
            return Ok(());
        }
        let (prompt, new) = match book.open.get(session) {
            Some(&prompt) => (prompt, false),
            None => {
                book.last_prompt += 1;
                let prompt = book.last_prompt;
                book.open.insert(session.to_string(), prompt);
                (prompt, true)
            }
        };
        // Counted before asking: an answer given at once (a notifier that cannot show the question
        // answers from inside `ask`) must find this request waiting.
        *book.waiting.entry(prompt).or_default() += 1;
        if new {
            drop(book);
            ask(prompt);
            book = match self.inner.lock() {
                Ok(book) => book,
                Err(_) => return Err(ConsentError::Denied),
            };
        }
        let deadline = Instant::now() + wait;
        loop {
            if let Some(decision) = take_answer(&mut book, prompt) {
                return match decision {
                    Decision::AllowOnce | Decision::AllowSession => Ok(()),
                    Decision::Deny => Err(ConsentError::Denied),
                    Decision::CannotAsk => Err(ConsentError::CannotAsk),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                give_up(&mut book, session, prompt);
                return Err(ConsentError::NoAnswer(wait));
            }
            book = match self.answered.wait_timeout(book, left) {
                Ok((book, _)) => book,
                Err(_) => return Err(ConsentError::Denied),
            };
        }
    }

    /// The person's answer to question `prompt` (a second answer, or one after every waiter gave up, is
    /// ignored).
    pub fn decide(&self, prompt: PromptId, decision: Decision) {
        let Ok(mut book) = self.inner.lock() else {
            return;
        };
        let Some(session) = book
            .open
            .iter()
            .find(|(_, p)| **p == prompt)
            .map(|(s, _)| s.clone())
        else {
            return;
        };
        book.open.remove(&session);
        if decision == Decision::AllowSession {
            book.allowed.insert(session);
        }
        let waiters = book.waiting.remove(&prompt).unwrap_or(0);
        if waiters > 0 {
            book.answers.insert(prompt, (decision, waiters));
        }
        self.answered.notify_all();
    }

    /// Forgets every session's permission (forwarding was turned off).
    pub fn forget(&self) {
        if let Ok(mut book) = self.inner.lock() {
            book.allowed.clear();
        }
    }
}

/// The answer to `prompt`, counting this waiter as having read it.
fn take_answer(book: &mut Book, prompt: PromptId) -> Option<Decision> {
    let (decision, left) = book.answers.get_mut(&prompt)?;
    let decision = *decision;
    *left -= 1;
    if *left == 0 {
        book.answers.remove(&prompt);
    }
    Some(decision)
}

/// A waiter stops waiting; the last one closes the question (a later press does nothing).
fn give_up(book: &mut Book, session: &str, prompt: PromptId) {
    let waiting = book.waiting.entry(prompt).or_default();
    *waiting = waiting.saturating_sub(1);
    if *waiting == 0 {
        book.waiting.remove(&prompt);
        if book.open.get(session) == Some(&prompt) {
            book.open.remove(session);
        }
    }
}

/// The session a forwarded connection belongs to:
/// - a process in a container other than Signet's own (the socket bind-mounted into a dev container, where
///   every `kubectl` is a new process): the container, named by its cgroup;
/// - else the peer process — the `ssh` that holds the forward open — named by pid and start time, so a
///   reused pid is a new session;
/// - without a pid, every connection is its own session.
pub fn session_of(peer: &Peer) -> String {
    let Some(pid) = peer.pid else {
        return format!("connection {}", peer.connection);
    };
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    match container_of(&cgroup) {
        Some(container) if container_of(&ours) != Some(container) => {
            format!("container {container}")
        }
        _ => format!("pid {pid} started {}", process_start(pid).unwrap_or(0)),
    }
}

/// The container cgroup in `/proc/<pid>/cgroup` text (Docker, Podman, containerd, Kubernetes, LXC), if
/// the process runs in one.
pub fn container_of(cgroup: &str) -> Option<&str> {
    const RUNTIMES: [&str; 5] = ["docker", "libpod", "containerd", "kubepods", "lxc"];
    cgroup
        .lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .find(|path| RUNTIMES.iter().any(|r| path.contains(r)))
}

/// A process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The peer process's name and pid for the person ("ssh (pid 4242)"), so they can tell which session asks.
pub fn describe_peer(peer: &Peer) -> String {
    let Some(pid) = peer.pid else {
        return "an unknown process".to_owned();
    };
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let name = crate::text::printable(name.trim()).into_owned();
    if name.is_empty() {
        format!("pid {pid}")
    } else {
        format!("{name} (pid {pid})")
    }
}

/// A host name as the remote gave it, made fit to show: control characters escaped, at most 64 characters.
pub fn shown_host(host: Option<&str>) -> String {
    let host = host.map(str::trim).filter(|h| !h.is_empty());
    match host {
        Some(host) => {
            crate::text::printable(&host.chars().take(64).collect::<String>()).into_owned()
        }
        None => "another host".to_owned(),
    }
}

/// This host's name, sent with forwarded requests so the person knows who asks.
pub fn this_host() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_owned()).filter(|n| !n.is_empty())
}

/// Why the remote end could not get an answer from the desktop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    #[error(
        "no forwarded agent at '{}' ({SOCKET_ENV}): connect with `ssh -R {}:$XDG_RUNTIME_DIR/signet/forward.sock <this host>` from the desktop",
        path.display(), path.display()
    )]
    NoSocket { path: PathBuf },
    #[error(
        "the socket '{}' ({SOCKET_ENV}) belongs to another user; Signet uses only a socket of your own",
        path.display()
    )]
    NotYours { path: PathBuf },
    #[error(
        "nothing answered through '{}': is Signet running on the desktop, and is this session's `ssh -R` forwarding its $XDG_RUNTIME_DIR/signet/forward.sock?",
        path.display()
    )]
    Closed { path: PathBuf },
    /// The desktop answered with an error (its message says what to do).
    #[error("the desktop's Signet: {}", crate::text::printable(&.0.message))]
    Refused(AgentFailure),
    #[error("the desktop's Signet sent an unreadable answer: {0}")]
    Protocol(String),
}

impl ForwardError {
    pub fn code(&self) -> &'static str {
        match self {
            ForwardError::NoSocket { .. } => "forward.no_socket",
            ForwardError::NotYours { .. } => "forward.not_yours",
            ForwardError::Closed { .. } => "forward.closed",
            ForwardError::Refused(_) => "forward.refused",
            ForwardError::Protocol(_) => "forward.protocol",
        }
    }
}

/// A token served through the forwarded socket.
#[derive(Debug, Clone)]
pub struct ForwardedToken {
    pub id_token: Secret,
    pub expires_at: DateTime<Utc>,
}

/// How long a remote request may wait: a question to the person, then maybe a sign-in at the desktop.
const REMOTE_WAIT: Duration = Duration::from_secs(6 * 60);

/// Asks the desktop for an ID token for `cluster`.
pub fn ask_token(
    socket: &Path,
    cluster: &str,
    interactive: bool,
) -> Result<ForwardedToken, ForwardError> {
    let request = Request::Token {
        cluster: cluster.to_string(),
        host: this_host(),
        interactive,
    };
    let answer = ask(socket, &request)?;
    let id_token = answer["token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ForwardError::Protocol("no token in the answer".into()))?;
    let expires_at = answer
        .get("expires_at")
        .cloned()
        .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v).ok())
        .ok_or_else(|| ForwardError::Protocol("no expiry in the answer".into()))?;
    Ok(ForwardedToken {
        id_token: Secret::new(id_token),
        expires_at,
    })
}

/// Asks the desktop which clusters it offers.
pub fn ask_clusters(socket: &Path) -> Result<Vec<RemoteCluster>, ForwardError> {
    let answer = ask(socket, &Request::Clusters { host: this_host() })?;
    serde_json::from_value(answer["clusters"].clone())
        .map_err(|e| ForwardError::Protocol(e.to_string()))
}

fn ask(socket: &Path, request: &Request) -> Result<serde_json::Value, ForwardError> {
    check_owner(socket)?;
    let no_socket = || ForwardError::NoSocket {
        path: socket.to_path_buf(),
    };
    let mut client = AgentClient::connect(socket).ok_or_else(no_socket)?;
    match client.request(request, REMOTE_WAIT) {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(failure)) => Err(ForwardError::Refused(failure)),
        Err(AgentError::Closed) => Err(ForwardError::Closed {
            path: socket.to_path_buf(),
        }),
        Err(AgentError::Protocol(e)) => Err(ForwardError::Protocol(e)),
        Err(_) => Err(ForwardError::Closed {
            path: socket.to_path_buf(),
        }),
    }
}

/// Checks that `socket` is a socket of this user's, without connecting (`doctor` uses it: a request would
/// ask the person at the desktop).
#[cfg(target_os = "linux")]
pub fn check_owner(socket: &Path) -> Result<(), ForwardError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(socket).map_err(|_| ForwardError::NoSocket {
        path: socket.to_path_buf(),
    })?;
    if !meta.file_type().is_socket() {
        return Err(ForwardError::NoSocket {
            path: socket.to_path_buf(),
        });
    }
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(ForwardError::NotYours {
            path: socket.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn check_owner(_socket: &Path) -> Result<(), ForwardError> {
    Ok(())
}

#[cfg(test)]
mod tests;
