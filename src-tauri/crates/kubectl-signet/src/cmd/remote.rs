//! `remote setup`: on a remote host, write kubeconfig entries for the clusters the desktop's Signet
//! offers through the forwarded socket ([`signet_core::usecase::remote`]), and say how to forward it in
//! every session.

use std::path::PathBuf;

use signet_core::forward::SOCKET_ENV;
use signet_core::kubeconfig::KubeconfigTarget;
use signet_core::paths::Paths;
use signet_core::text::printable;
use signet_core::usecase::remote;

use crate::cli::RemoteCommand;
use crate::output::{Failure, plugin_command};

pub fn run(command: RemoteCommand) -> Result<(), Failure> {
    match command {
        RemoteCommand::Setup { socket, kubeconfig } => setup(socket, kubeconfig),
    }
}

fn setup(socket: Option<PathBuf>, kubeconfig: Option<PathBuf>) -> Result<(), Failure> {
    let socket = socket
        .or_else(|| std::env::var_os(SOCKET_ENV).filter(|s| !s.is_empty()).map(PathBuf::from))
        .ok_or_else(|| {
            Failure(format!(
                "no forwarded socket: set {SOCKET_ENV} (or --socket) to the path your desktop forwards, e.g. connect with `ssh -R $HOME/.signet.sock:$XDG_RUNTIME_DIR/signet/forward.sock <host>` and run `{SOCKET_ENV}=$HOME/.signet.sock kubectl signet remote setup` there"
            ))
        })?;
    let paths = Paths::from_env()?;
    let target = KubeconfigTarget::from_env(&paths.home, kubeconfig.as_deref());
    let done = remote::setup(&target, &socket, &plugin_command())?;
    if done.contexts.is_empty() {
        println!(
            "The desktop's Signet offers no clusters yet: add one there, then run this again."
        );
        return Ok(());
    }
    let files: Vec<String> = done
        .outcome
        .written
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let written = if files.is_empty() {
        "already up to date in your kubeconfig".to_owned()
    } else {
        format!("written to {}", files.join(", "))
    };
    println!(
        "{} context(s) {written}, served by your desktop's Signet through {}:",
        done.contexts.len(),
        done.socket.display()
    );
    for (cluster, context) in &done.contexts {
        println!(
            "  context {} (cluster {})",
            printable(context),
            printable(cluster)
        );
    }
    if let Some(context) = &done.made_current {
        println!("Current context: {}", printable(context));
    }
    println!(
        "kubectl uses them while the socket is forwarded; this host keeps no token. To forward it in every session, put in ~/.ssh/config on your desktop:\n  Host <this host>\n    RemoteForward {} ${{XDG_RUNTIME_DIR}}/signet/forward.sock\nIn a dev container, mount it instead (devcontainer.json):\n  \"mounts\": [\"source=${{localEnv:XDG_RUNTIME_DIR}}/signet/forward.sock,target=/run/signet.sock,type=bind\"], \"remoteEnv\": {{\"SIGNET_AGENT_SOCK\": \"/run/signet.sock\"}}",
        done.socket.display()
    );
    Ok(())
}
