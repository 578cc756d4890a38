//! Doctor checks of agent forwarding (README "Remote hosts and dev containers"): on the desktop, whether
//! the tray serves other hosts; on a remote host (`SIGNET_AGENT_SOCK` set), whether the forwarded socket is
//! there and yours. Nothing is sent through the socket: a request would ask the person at the desktop.

use std::path::{Path, PathBuf};

use signet_core::config::Config;
use signet_core::forward::{self, ForwardError, SOCKET_ENV};

use super::{Report, quoted};

/// The forwarded socket this process is told to use, if any.
pub(super) fn forwarded_socket() -> Option<PathBuf> {
    std::env::var_os(SOCKET_ENV)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

pub(super) fn check_forwarding(report: &mut Report, config: Option<&Config>) {
    if let Some(socket) = forwarded_socket() {
        check_forwarded_socket(report, &socket);
    }
    let Some(config) = config else {
        return;
    };
    let settings = &config.settings;
    match (settings.allow_forwarding, settings.forward_without_asking) {
        (false, _) => report.ok(
            "forwarding",
            "off: the tray serves no other host (turn on \"Allow kubectl on other hosts\" in Settings to use this computer's sessions over `ssh -R`)",
        ),
        (true, false) => report.ok(
            "forwarding",
            "on: kubectl on other hosts may ask for tokens through $XDG_RUNTIME_DIR/signet/forward.sock; the tray asks before serving each new session",
        ),
        (true, true) => report.warn(
            "forwarding",
            "on, without asking: any host you forward the socket to gets tokens for every cluster, unasked",
            "set `forward_without_asking = false` (or untick \"Don't ask for each new session\") unless every such host is only yours",
        ),
    }
}

fn check_forwarded_socket(report: &mut Report, socket: &Path) {
    let shown = quoted(socket);
    match forward::check_owner(socket) {
        Ok(()) => report.ok(
            "forwarded agent",
            format!(
                "{shown} is your socket; clusters this host does not configure are served by your desktop's Signet through it (`kubectl signet remote setup` writes their entries)"
            ),
        ),
        Err(e @ ForwardError::NotYours { .. }) => report.fail(
            "forwarded agent",
            e.to_string(),
            format!("remove it, then {}", forward_fix(socket)),
        ),
        Err(_) => report.fail(
            "forwarded agent",
            format!("{SOCKET_ENV} names {shown}, which is not a socket"),
            forward_fix(socket),
        ),
    }
}

fn forward_fix(socket: &Path) -> String {
    format!(
        "connect from the desktop with `ssh -R {}:$XDG_RUNTIME_DIR/signet/forward.sock <this host>`, or unset {SOCKET_ENV}",
        socket.display()
    )
}
