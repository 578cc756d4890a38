//! Doctor checks of this machine: the keyring, kubectl, and the exec plugin kubeconfig runs.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use signet_core::config::{Config, Credentials};
use signet_core::kubeconfig::{self, KubeconfigTarget};
use signet_core::paths::Paths;
use signet_core::token_store::{LazyKeyringStore, SecretStore};

use super::{Report, target_index};

const KUBECTL_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn check_keyring(report: &mut Report, config: Option<&Config>) {
    let choice = config.map(|c| c.settings.secret_store).unwrap_or_default();
    let store = LazyKeyringStore::with_choice(choice);
    let kind = match store.chosen() {
        Ok(kind) => kind,
        Err(e) => {
            report.fail(
                "keyring",
                e.to_string(),
                "start or unlock the Secret Service, or make the kernel keyring usable, as the message says; then run doctor again",
            );
            return;
        }
    };
    let providers: Vec<&str> = config
        .map(|c| c.providers.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default();
    // Harmless reads: each provider's refresh token (never shown), or an entry that never exists.
    let mut stored = Vec::new();
    let mut missing = Vec::new();
    for provider in providers
        .iter()
        .copied()
        .chain(providers.is_empty().then_some("signet-doctor-probe"))
    {
        match store.get(provider) {
            Ok(Some(_)) => stored.push(provider),
            Ok(None) if providers.is_empty() => {}
            Ok(None) => match store.other_holding(provider) {
                Some(holder) => report.warn(
                    "keyring",
                    format!(
                        "the session for {provider} is in the {} but Signet now uses the {}",
                        holder.label(),
                        kind.label()
                    ),
                    format!("sign in again: `kubectl signet login {provider}` (Signet never copies a session between stores)"),
                ),
                None => missing.push(provider),
            },
            Err(e) => {
                report.fail(
                    "keyring",
                    format!("{}: {e}", kind.label()),
                    "unlock or restart the keyring",
                );
                return;
            }
        }
    }
    let mut detail = format!("usable: the {} (sessions {})", kind.label(), kind.keeps());
    for p in &stored {
        detail.push_str(&format!(", a session for {p} is stored"));
    }
    for p in &missing {
        detail.push_str(&format!(", no session for {p} yet"));
    }
    report.ok("keyring", detail);
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

pub(super) fn check_kubectl(report: &mut Report) {
    let Some(kubectl) = find_on_path("kubectl") else {
        report.fail(
            "kubectl",
            "not found on PATH",
            "install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH",
        );
        return;
    };
    match kubectl_version(&kubectl) {
        Ok(version) => report.ok("kubectl", format!("{version} at {}", kubectl.display())),
        Err(why) => report.warn(
            "kubectl",
            format!("{} does not report its version ({why})", kubectl.display()),
            "run `kubectl version --client` to see what is wrong",
        ),
    }
}

fn kubectl_version(kubectl: &Path) -> Result<String, String> {
    let mut child = Command::new(kubectl)
        .args(["version", "--client", "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(_) => break,
            None if start.elapsed() > KUBECTL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {}s", KUBECTL_TIMEOUT.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let json: serde_json::Value =
        serde_json::from_str(&out).map_err(|_| "unexpected output".to_string())?;
    json["clientVersion"]["gitVersion"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no clientVersion.gitVersion".to_string())
}

/// Whether kubectl can start the plugin: `kubectl-signet` on PATH, or the exec entries use a path that
/// exists.
pub(super) fn check_plugin(
    report: &mut Report,
    paths: &Paths,
    config: Option<&Config>,
    targets: &[KubeconfigTarget],
) {
    let on_path = find_on_path("kubectl-signet");
    let mut commands: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in config.map(|c| c.clusters.as_slice()).unwrap_or_default() {
        if c.credentials != Credentials::Exec {
            continue;
        }
        let Ok(merged) = kubeconfig::read_merged(&targets[target_index(paths, targets, c)]) else {
            continue;
        };
        let user = kubeconfig::user_name(&c.name);
        if let Some(command) = merged
            .auth_infos
            .iter()
            .find(|u| u.name == user)
            .and_then(|u| u.auth_info.as_ref()?.exec.as_ref()?.command.clone())
        {
            commands.entry(command).or_default().push(user);
        }
    }
    let mut broken = false;
    for (command, users) in &commands {
        let works = if command.contains('/') {
            is_executable(Path::new(command))
        } else {
            find_on_path(command).is_some()
        };
        if !works {
            broken = true;
            report.fail(
                "kubectl-signet",
                format!(
                    "kubeconfig user {} runs `{command}`, which kubectl cannot find",
                    users.join(", ")
                ),
                "put kubectl-signet on PATH, or run `kubectl signet sync` (it writes the absolute path of this kubectl-signet)",
            );
        }
    }
    if broken {
        return;
    }
    match on_path {
        Some(path) => report.ok(
            "kubectl-signet",
            format!("on PATH at {} (`kubectl signet …` works)", path.display()),
        ),
        None => {
            let here = std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            let uses = if commands.is_empty() {
                String::new()
            } else {
                format!(
                    "; the kubeconfig entries run {}, which works",
                    commands.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            report.warn(
                "kubectl-signet",
                format!("not on PATH, so `kubectl signet …` is not available{uses}"),
                match here {
                    Some(dir) => format!("add {} to PATH", dir.display()),
                    None => "add the directory of kubectl-signet to PATH".to_string(),
                },
            );
        }
    }
}
