//! `doctor`: checks what Signet depends on and prints one line per check — `ok`, `warn` or `fail`, with
//! the fix — on stdout. Exits 1 when any check fails. Every check only reads (it takes no lock, writes no
//! file, and never shows a token); network checks use short timeouts.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use signet_core::config::{ClusterConfig, Config, ConfigError, Credentials, ProviderConfig};
use signet_core::http::{HttpClient, HttpOptions};
use signet_core::kubeconfig::{self, KubeconfigTarget, STALE_LOCK_AGE};
use signet_core::oidc::OidcProvider;
use signet_core::paths::Paths;
use signet_core::token_store::{LazyKeyringStore, SecretStore};

use crate::output::Failure;

/// Clock skew against the IdP that is worth a warning (ID tokens are checked against `exp`/`iat`).
const SKEW_WARN: Duration = Duration::from_secs(30);
/// Clock skew that breaks sign-in (fresh tokens look expired or not yet valid).
const SKEW_FAIL: Duration = Duration::from_secs(300);
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// Prints checks as they finish and counts the failures.
#[derive(Debug, Default)]
struct Report {
    failures: usize,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, check: &str, detail: impl AsRef<str>) {
        self.line(Level::Ok, check, detail.as_ref(), None);
    }

    fn warn(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.line(Level::Warn, check, detail.as_ref(), Some(fix.as_ref()));
    }

    fn fail(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.line(Level::Fail, check, detail.as_ref(), Some(fix.as_ref()));
    }

    fn line(&mut self, level: Level, check: &str, detail: &str, fix: Option<&str>) {
        let tag = match level {
            Level::Ok => "ok",
            Level::Warn => {
                self.warnings += 1;
                "warn"
            }
            Level::Fail => {
                self.failures += 1;
                "fail"
            }
        };
        match fix {
            Some(fix) => println!("{tag:<5} {check}: {detail} — fix: {fix}"),
            None => println!("{tag:<5} {check}: {detail}"),
        }
    }
}

pub fn run() -> Result<(), Failure> {
    let mut report = Report::default();
    let paths = match Paths::from_env() {
        Ok(paths) => paths,
        Err(e) => {
            report.fail("environment", e.to_string(), "set HOME");
            return finish(&report);
        }
    };
    let config = check_config(&mut report, &paths);
    if let Some(config) = &config {
        for provider in &config.providers {
            check_provider(&mut report, provider);
        }
        check_shared_clients(&mut report, config);
    }
    check_keyring(&mut report, config.as_ref());
    check_kubectl(&mut report);
    let targets = targets(&paths, config.as_ref());
    check_plugin(&mut report, &paths, config.as_ref(), &targets);
    check_kubeconfig_locks(&mut report, &targets);
    check_signet_locks(&mut report, &paths);
    check_file_modes(&mut report, &paths, &targets);
    if let Some(config) = &config {
        check_entries(&mut report, &paths, config, &targets);
    }
    finish(&report)
}

fn finish(report: &Report) -> Result<(), Failure> {
    if report.failures == 0 {
        return Ok(());
    }
    Err(Failure(format!(
        "{} check{} failed; see the fixes above",
        report.failures,
        if report.failures == 1 { "" } else { "s" }
    )))
}

fn check_config(report: &mut Report, paths: &Paths) -> Option<Config> {
    let file = paths.config_file.display().to_string();
    match Config::load(&paths.config_file, &paths.home) {
        Ok(config) => {
            report.ok(
                "config",
                format!(
                    "{file} parses ({} provider{}, {} cluster{})",
                    config.providers.len(),
                    if config.providers.len() == 1 { "" } else { "s" },
                    config.clusters.len(),
                    if config.clusters.len() == 1 { "" } else { "s" },
                ),
            );
            Some(config)
        }
        Err(ConfigError::Missing { .. }) => {
            report.fail(
                "config",
                format!("no config at {file}"),
                "run `kubectl signet import` (kubelogin entries or a team catalog) or `kubectl signet add provider`",
            );
            None
        }
        Err(e) => {
            report.fail(
                "config",
                e.to_string(),
                "correct the file at the line shown (unknown keys and duplicate names are errors)",
            );
            None
        }
    }
}

fn check_provider(report: &mut Report, provider: &ProviderConfig) {
    let check = format!("provider {}", provider.name);
    let ca_pem = match provider.ca_pem() {
        Ok(ca) => ca,
        Err(e) => {
            report.fail(
                &check,
                format!("cannot read its CA: {e}"),
                "point ca_file at a PEM file (or set ca_data)",
            );
            return;
        }
    };
    let options = HttpOptions {
        connect_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(5),
        ca_pem,
        ..HttpOptions::default()
    };
    match OidcProvider::discover(provider, options.clone()) {
        Ok(_) => report.ok(
            &check,
            format!(
                "discovery at {} answers with the same issuer",
                provider.issuer
            ),
        ),
        Err(e) => {
            report.fail(
                &check,
                format!("discovery failed: {e}"),
                "check that the identity provider is up and that `issuer` equals its discovery `issuer` exactly (scheme, host, port, path); for a private CA set ca_file",
            );
            return;
        }
    }
    check_clock(report, &check, provider, options);
}

/// Warns about providers that share an issuer and a client id: Dex keeps one refresh token per (user,
/// connector, client), so signing in to one of them signs the same person out of the others.
fn check_shared_clients(report: &mut Report, config: &Config) {
    for group in shared_client_groups(config) {
        let names: Vec<String> = group.iter().map(|n| format!("'{n}'")).collect();
        report.warn(
            &format!("provider {}", group[0]),
            format!(
                "providers {} sign in with the same issuer and client id; Dex keeps one refresh token per user and client, so signing in to one signs you out of the other",
                names.join(", ")
            ),
            "give each provider its own client id (one Dex staticClient each), or keep one provider for all its clusters",
        );
    }
}

/// Groups of two or more providers with the same issuer and client id, in config order.
fn shared_client_groups(config: &Config) -> Vec<Vec<&str>> {
    let mut groups: Vec<Vec<&str>> = Vec::new();
    for provider in &config.providers {
        if groups.iter().flatten().any(|n| *n == provider.name) {
            continue;
        }
        let others = signet_core::session::providers_sharing_a_client(config, provider);
        if !others.is_empty() {
            groups.push(
                std::iter::once(provider.name.as_str())
                    .chain(others)
                    .collect(),
            );
        }
    }
    groups
}

/// Compares this machine's clock with the IdP's HTTP `Date` (1 s resolution), taken at the middle of
/// the request.
fn check_clock(report: &mut Report, check: &str, provider: &ProviderConfig, options: HttpOptions) {
    let url = format!(
        "{}/.well-known/openid-configuration",
        provider.issuer.trim_end_matches('/')
    );
    let client = match HttpClient::new(options) {
        Ok(client) => client,
        Err(e) => {
            report.warn(
                check,
                format!("clock not checked: {e}"),
                "see the discovery check",
            );
            return;
        }
    };
    let sent = SystemTime::now();
    let answer = client.get(&url);
    let received = SystemTime::now();
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            report.warn(check, format!("clock not checked: {e}"), "run doctor again");
            return;
        }
    };
    let Some(date) = response
        .headers()
        .get("date")
        .and_then(|d| d.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
    else {
        report.warn(
            check,
            "clock not checked: the identity provider sent no HTTP Date header",
            "compare `date -u` with a trusted clock",
        );
        return;
    };
    let rtt = received.duration_since(sent).unwrap_or_default();
    let local = chrono::DateTime::<chrono::Utc>::from(sent + rtt / 2);
    let skew = (local - date.with_timezone(&chrono::Utc)).abs();
    let seconds = skew.num_seconds();
    let skew = skew.to_std().unwrap_or_default();
    let detail = format!("this clock is {seconds}s off the identity provider's");
    let fix = "synchronise the clock (timedatectl set-ntp true, or your OS's time settings)";
    if skew > SKEW_FAIL {
        report.fail(check, detail, fix);
    } else if skew > SKEW_WARN {
        report.warn(check, detail, fix);
    } else {
        report.ok(
            check,
            format!("clock within {seconds}s of the identity provider's"),
        );
    }
}

fn check_keyring(report: &mut Report, config: Option<&Config>) {
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

fn check_kubectl(report: &mut Report) {
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

/// The kubeconfig chain of a cluster: its own `kubeconfig` file, else `KUBECONFIG` / `~/.kube/config`.
fn target_for(paths: &Paths, cluster: Option<&ClusterConfig>) -> KubeconfigTarget {
    let explicit = cluster
        .and_then(|c| c.kubeconfig.as_deref())
        .map(|f| paths.expand_home(f));
    KubeconfigTarget::resolve(
        paths.kubeconfig_env.as_deref(),
        &paths.home,
        explicit.as_deref(),
    )
}

/// Every kubeconfig chain in play: the default one and each cluster's own file.
fn targets(paths: &Paths, config: Option<&Config>) -> Vec<KubeconfigTarget> {
    let mut list = vec![target_for(paths, None)];
    for c in config.map(|c| c.clusters.as_slice()).unwrap_or_default() {
        let target = target_for(paths, Some(c));
        if !list.contains(&target) {
            list.push(target);
        }
    }
    list
}

/// The permission bits of `path` (symlinks followed), or `None` when it does not exist.
#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// Whether kubeconfig text carries a bearer token (a `token:` key with a value).
fn holds_token(text: &str) -> bool {
    text.lines().any(|line| {
        line.trim_start()
            .trim_start_matches("- ")
            .strip_prefix("token:")
            .is_some_and(|value| !value.trim().is_empty())
    })
}

/// Every directory and file under the token cache (two levels: provider, then token), sorted; symlinks are
/// not followed.
fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let list = |dir: &Path| -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|it| it.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        entries.sort();
        entries
    };
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let mut all = Vec::new();
    for entry in list(dir) {
        if is_dir(&entry) {
            let inner = list(&entry);
            all.push(entry);
            all.extend(inner.into_iter().filter(|p| !is_dir(p)));
        } else {
            all.push(entry);
        }
    }
    all
}

/// A shell-quoted path for a fix line.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// The modes of the files that can hold secrets: the config (warn), the token cache and its files (fail:
/// only Signet writes there), every kubeconfig of the chains that holds a bearer token (token mode, or a
/// token the person put there: warn) and the kubeconfig backups (warn). One line per file readable by
/// others, with the `chmod` that fixes it.
fn check_file_modes(report: &mut Report, paths: &Paths, targets: &[KubeconfigTarget]) {
    let mut loose = 0;
    let mut line = |report: &mut Report, path: &Path, private: u32, fail: bool, what: &str| {
        let Some(mode) = mode_of(path) else { return };
        if mode & 0o077 == 0 {
            return;
        }
        loose += 1;
        let detail = format!("{} is mode {mode:04o}: {what}", path.display());
        let fix = format!("chmod {private:o} {}", quoted(path));
        if fail {
            report.fail("file modes", detail, fix);
        } else {
            report.warn("file modes", detail, fix);
        }
    };
    line(
        report,
        &paths.config_file,
        0o600,
        false,
        "others can read the config",
    );
    let tokens = paths.tokens_dir();
    line(
        report,
        &tokens,
        0o700,
        true,
        "others can list the token cache",
    );
    for entry in cache_entries(&tokens) {
        if entry.is_dir() {
            line(
                report,
                &entry,
                0o700,
                true,
                "others can list this part of the token cache",
            );
        } else {
            line(
                report,
                &entry,
                0o600,
                true,
                "others can read this cached token",
            );
        }
    }
    let mut seen = Vec::new();
    for file in targets.iter().flat_map(|t| t.precedence()) {
        if seen.contains(file) {
            continue;
        }
        seen.push(file.clone());
        if std::fs::read_to_string(file).is_ok_and(|text| holds_token(&text)) {
            line(
                report,
                file,
                0o600,
                false,
                "others can read the bearer token in this kubeconfig",
            );
        }
        let backup = kubeconfig::backup_path(file);
        let backup_token = std::fs::read_to_string(&backup).is_ok_and(|text| holds_token(&text));
        line(
            report,
            &backup,
            0o600,
            false,
            if backup_token {
                "others can read the bearer token in this kubeconfig backup"
            } else {
                "others can read this kubeconfig backup"
            },
        );
    }
    if loose == 0 {
        report.ok(
            "file modes",
            "the config, the token cache and kubeconfigs with tokens are private",
        );
    }
}

/// The index in [`targets`] of a cluster's chain.
fn target_index(paths: &Paths, targets: &[KubeconfigTarget], c: &ClusterConfig) -> usize {
    let target = target_for(paths, Some(c));
    targets.iter().position(|t| *t == target).unwrap_or(0)
}

/// Whether kubectl can start the plugin: `kubectl-signet` on PATH, or the exec entries use a path that
/// exists.
fn check_plugin(
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

/// `<file>.lock` sentinels of kubectl/client-go: one older than a minute blocks every kubeconfig write.
fn check_kubeconfig_locks(report: &mut Report, targets: &[KubeconfigTarget]) {
    let mut files: Vec<&PathBuf> = targets.iter().flat_map(|t| t.precedence()).collect();
    files.sort();
    files.dedup();
    let mut found = false;
    for file in files {
        let lock = kubeconfig::lock_path(file);
        let Ok(meta) = std::fs::symlink_metadata(&lock) else {
            continue;
        };
        found = true;
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        if age >= STALE_LOCK_AGE {
            report.fail(
                "kubeconfig lock",
                format!(
                    "{} is {}s old: kubectl and Signet cannot change {} while it exists",
                    lock.display(),
                    age.as_secs(),
                    file.display()
                ),
                format!(
                    "if no kubectl or Signet is running, delete it: rm '{}'",
                    lock.display()
                ),
            );
        } else {
            report.warn(
                "kubeconfig lock",
                format!(
                    "{} exists ({}s old): a kubectl or Signet is writing right now",
                    lock.display(),
                    age.as_secs()
                ),
                "run doctor again in a minute; if it stays, delete it",
            );
        }
    }
    if !found {
        report.ok("kubeconfig lock", "no stale .lock file");
    }
}

/// Signet's own locks are OS file locks, released when their process ends, so a left-over file is
/// harmless; a lock held now means a refresh or sign-in is running (or hanging).
fn check_signet_locks(report: &mut Report, paths: &Paths) {
    let dir = paths.locks_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        report.ok("Signet locks", "none held");
        return;
    };
    let mut held = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "lock") {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            held.push(path);
        }
    }
    if held.is_empty() {
        report.ok("Signet locks", format!("none held ({})", dir.display()));
    } else {
        let names: Vec<String> = held
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        report.warn(
            "Signet locks",
            format!(
                "held now: {} (a refresh or sign-in is running)",
                names.join(", ")
            ),
            "if it stays, finish or cancel the pending sign-in (or end the `kubectl-signet` process that waits)",
        );
    }
}

/// Whether each configured cluster has the kubeconfig entries `sync` would write, and no Signet context
/// is left from a cluster that is gone.
fn check_entries(
    report: &mut Report,
    paths: &Paths,
    config: &Config,
    targets: &[KubeconfigTarget],
) {
    let mut merged = Vec::new();
    for target in targets {
        match kubeconfig::read_merged(target) {
            Ok(view) => merged.push(Some(view)),
            Err(e) => {
                report.fail(
                    "kubeconfig",
                    e.to_string(),
                    "fix the file, or move it away and run `kubectl signet sync`",
                );
                merged.push(None);
            }
        }
    }
    let mut problems = 0;
    for c in &config.clusters {
        let Some(view) = &merged[target_index(paths, targets, c)] else {
            continue;
        };
        let context = c.context_name();
        let user = kubeconfig::user_name(&c.name);
        let check = format!("kubeconfig {context}");
        let named = view.contexts.iter().find(|x| x.name == context);
        let mark = |ext: Option<&Vec<kube::config::NamedExtension>>| {
            ext.and_then(|list| list.iter().find(|e| e.name == kubeconfig::EXTENSION_NAME))
                .and_then(|e| e.extension.get("cluster")?.as_str().map(str::to_owned))
        };
        let issue = match named {
            None => Some((
                format!("no context {context} for cluster {}", c.name),
                format!(
                    "run `kubectl signet sync` (or sign in: `kubectl signet login {}`)",
                    c.provider
                ),
            )),
            Some(ctx) => {
                let inner = ctx.context.as_ref();
                match mark(inner.and_then(|x| x.extensions.as_ref())) {
                    None => Some((
                        format!("context {context} exists but is not Signet's"),
                        "adopt it with `kubectl signet import`, or give the cluster another `context` in the config".to_string(),
                    )),
                    Some(owner) if owner != c.name => Some((
                        format!("context {context} belongs to Signet cluster {owner}"),
                        "give one of the clusters another `context` in the config".to_string(),
                    )),
                    Some(_) if inner.map(|x| (x.cluster.as_str(), x.user.as_deref()))
                        != Some((c.name.as_str(), Some(user.as_str()))) =>
                    {
                        Some((
                            format!(
                                "context {context} does not use cluster {} and user {user}",
                                c.name
                            ),
                            "run `kubectl signet sync`".to_string(),
                        ))
                    }
                    Some(_) => entry_issue(view, c, &user),
                }
            }
        };
        if let Some((detail, fix)) = issue {
            problems += 1;
            report.warn(&check, detail, fix);
        }
    }
    for (view, target) in merged.iter().zip(targets) {
        let Some(view) = view else { continue };
        for ctx in &view.contexts {
            let owner = ctx
                .context
                .as_ref()
                .and_then(|x| x.extensions.as_ref())
                .and_then(|list| list.iter().find(|e| e.name == kubeconfig::EXTENSION_NAME))
                .and_then(|e| e.extension.get("cluster")?.as_str().map(str::to_owned));
            if let Some(owner) = owner
                && config.cluster(&owner).is_none()
            {
                problems += 1;
                report.warn(
                    &format!("kubeconfig {}", ctx.name),
                    format!(
                        "Signet's context {} in {} belongs to cluster {owner}, which is not in the config",
                        ctx.name,
                        target.precedence().first().map(|p| p.display().to_string()).unwrap_or_default()
                    ),
                    format!(
                        "remove it with `kubectl config delete-context {}`, or add the cluster back",
                        ctx.name
                    ),
                );
            }
        }
    }
    if problems == 0 {
        report.ok(
            "kubeconfig",
            format!(
                "entries of {} cluster{} match the config",
                config.clusters.len(),
                if config.clusters.len() == 1 { "" } else { "s" }
            ),
        );
    }
}

/// Differences between Signet's cluster and user entries and the config.
fn entry_issue(
    view: &kube::config::Kubeconfig,
    c: &ClusterConfig,
    user: &str,
) -> Option<(String, String)> {
    let sync = || "run `kubectl signet sync`".to_string();
    let server = view
        .clusters
        .iter()
        .find(|x| x.name == c.name)
        .and_then(|x| x.cluster.as_ref()?.server.clone());
    if server.as_deref() != Some(c.server.as_str()) {
        return Some((
            format!(
                "kubeconfig cluster {} has server {}, the config says {}",
                c.name,
                server.as_deref().unwrap_or("(none)"),
                c.server
            ),
            sync(),
        ));
    }
    let info = view
        .auth_infos
        .iter()
        .find(|x| x.name == user)
        .and_then(|x| x.auth_info.as_ref());
    let Some(info) = info else {
        return Some((format!("no kubeconfig user {user}"), sync()));
    };
    match c.credentials {
        Credentials::Exec => {
            let args = info.exec.as_ref().and_then(|e| e.args.clone());
            let wanted = vec!["token".to_string(), "--cluster".to_string(), c.name.clone()];
            (args.as_ref() != Some(&wanted)).then(|| {
                (
                    format!(
                        "user {user} does not run `kubectl-signet token --cluster {}`",
                        c.name
                    ),
                    sync(),
                )
            })
        }
        Credentials::Token => info.token.is_none().then(|| {
            (
                format!("user {user} has no token yet (token mode)"),
                format!("sign in: `kubectl signet login {}`", c.provider),
            )
        }),
    }
}
