//! The commands: each translates its input, calls the core, and presents the result.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use signet_core::clock::SystemClock;
use signet_core::config::{Config, LoginMode};
use signet_core::exec_credential::ExecInfo;
use signet_core::oidc::DeviceCode;
use signet_core::oidc::opener::{CommandOpener, SystemBrowser, UrlOpener};
use signet_core::paths::Paths;
use signet_core::session::{LoginMethod, Revocation, SessionError};
use signet_core::text::{printable, printable_multiline};
use signet_core::token_store::{self, LazyKeyringStore, SecretStore, StoreKind};
use signet_core::{Error, Signet};

use crate::Command;

/// How long a browser sign-in may take before the loopback listener gives up.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `token` waits for another process's sign-in to finish.
const LOGIN_LOCK_TIMEOUT: Duration = Duration::from_secs(330);

/// A failure shown to the person as one line (or a few), prefixed with `signet:`.
#[derive(Debug)]
pub struct Failure(pub String);

/// Failures often quote text from outside (an IdP's `error_description`, a catalog's names): control
/// characters are shown escaped, never sent to the terminal.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "signet: {}", printable_multiline(&self.0))
    }
}

impl<E: Into<Error>> From<E> for Failure {
    /// The message and its causes on one line ("failed to write kubeconfig '…': Permission denied"): the
    /// cause is often what tells the person what to fix.
    fn from(e: E) -> Self {
        let e = e.into();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        Failure(text)
    }
}

pub fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Token { cluster } => token(&cluster),
        Command::Login {
            target,
            browser: _,
            device,
            browser_command,
        } => login(&target, device, browser_command),
        Command::Logout { provider } => logout(&provider),
        Command::Status { json } => status(json),
        Command::Use { cluster, namespace } => use_cluster(&cluster, namespace.as_deref()),
        Command::Sync { remove } => sync(remove),
        Command::Add(add) => crate::add::run(add),
        Command::Import {
            kubeconfig,
            catalog,
            dry_run,
            client_id,
            yes,
            allow_insecure,
        } => crate::import::run(crate::import::ImportArgs {
            kubeconfig,
            catalog,
            dry_run,
            client_id,
            yes,
            allow_insecure,
        }),
        Command::Doctor => crate::doctor::run(),
    }
}

pub fn signet() -> Result<Signet, Error> {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths.config_file, &paths.home)?;
    let secrets = LazyKeyringStore::with_choice(config.settings.secret_store);
    Ok(Signet::new(
        paths,
        config,
        Arc::new(secrets),
        Arc::new(SystemClock),
    ))
}

/// `token`: the exec plugin. Fresh cached token → one file read; stale → refresh under the provider
/// lock; session over → sign in when interactive (one sign-in per provider at a time), else one line.
fn token(cluster: &str) -> Result<(), Failure> {
    let exec_info = ExecInfo::from_env_value(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref());
    let signet = signet()?;
    let token = match signet.token_for(cluster) {
        Ok(token) => token,
        Err(Error::Session(SessionError::SignInRequired { provider, reason })) => {
            let interactive = exec_info
                .interactive
                .unwrap_or_else(|| std::io::stdin().is_terminal());
            // The tray's agent, when it runs, owns sign-in: one login window per provider however many
            // kubectl processes ask, and one notification for non-interactive callers.
            if let Some(answer) = ask_agent_to_sign_in(&signet, &provider, interactive) {
                answer?;
                signet.token_for(cluster)?
            } else if !interactive {
                return Err(Failure(format!(
                    "sign-in to '{provider}' required ({reason}); run `kubectl signet login {provider}`"
                )));
            } else {
                sign_in_once(&signet, &provider)?;
                signet.token_for(cluster)?
            }
        }
        Err(e) => return Err(e.into()),
    };
    let json = signet_core::exec_credential::render(
        exec_info.api_version,
        &token.id_token,
        token.expires_at,
        Utc::now(),
    );
    println!("{json}");
    Ok(())
}

/// Asks a running agent to sign in; `None` when no agent listens (the CLI then works on its own).
fn ask_agent_to_sign_in(
    signet: &Signet,
    provider: &str,
    interactive: bool,
) -> Option<Result<(), Failure>> {
    let path = signet_core::agent::socket_path(signet.paths())?;
    let mut client = signet_core::agent::AgentClient::connect(&path)?;
    let request = signet_core::agent::Request::Login {
        provider: provider.to_string(),
        interactive,
    };
    let wait = if interactive {
        BROWSER_TIMEOUT
    } else {
        Duration::from_secs(5)
    };
    match client.request(&request, wait) {
        Ok(Ok(_)) => Some(Ok(())),
        Ok(Err(failure)) => Some(Err(Failure(failure.message))),
        Err(e) => {
            tracing::warn!(error = %e, "the agent did not answer; signing in without it");
            None
        }
    }
}

/// Signs in from `token`, making sure concurrent kubectl processes open one browser between them: the
/// first takes the provider's login lock and signs in; the others wait for it, then use its session.
fn sign_in_once(signet: &Signet, provider: &str) -> Result<(), Failure> {
    let before = signet
        .status()
        .into_iter()
        .find(|s| s.provider == provider)
        .and_then(|s| s.session);
    let _login = token_store::lock_provider(
        signet.paths(),
        &format!("{provider}.login"),
        LOGIN_LOCK_TIMEOUT,
    )
    .map_err(Error::from)?;
    let after = signet
        .status()
        .into_iter()
        .find(|s| s.provider == provider)
        .and_then(|s| s.session);
    if after.is_some() && after != before {
        return Ok(());
    }
    let mode = signet.provider_config(provider)?.login;
    let no_browser = !has_display() && std::env::var_os("BROWSER").is_none();
    run_login(
        signet,
        provider,
        mode == LoginMode::Device || no_browser,
        None,
    )?;
    Ok(())
}

fn login(target: &str, device: bool, browser_command: Option<String>) -> Result<(), Failure> {
    let signet = signet()?;
    let provider = match signet.config().provider(target) {
        Some(p) => p.name.clone(),
        None => signet.cluster_config(target)?.provider.clone(),
    };
    let use_device = device
        || (browser_command.is_none() && std::env::var_os("BROWSER").is_none() && !has_display());
    let record = run_login(&signet, &provider, use_device, browser_command)?;
    let who = record
        .identity
        .email
        .clone()
        .unwrap_or_else(|| record.identity.subject.clone());
    let groups = if record.identity.groups.is_empty() {
        "no groups".to_string()
    } else {
        format!("groups: {}", record.identity.groups.join(", "))
    };
    // The name and groups are the IdP's claims: shown with control characters escaped.
    println!(
        "Signed in to {provider} as {} ({}).",
        printable(&who),
        printable(&groups)
    );
    let reports = signet.sync_kubeconfig(Some(&provider), &plugin_command())?;
    print_sync(&reports);
    Ok(())
}

/// The command kubeconfig exec entries run: `kubectl-signet` when that is this program on PATH, else
/// this program's absolute path.
pub fn plugin_command() -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| "kubectl-signet".into());
    signet_core::sync::plugin_command(&exe, std::env::var_os("PATH").as_deref())
}

pub fn print_sync(reports: &[signet_core::sync::SyncReport]) {
    for r in reports {
        for (cluster, context) in &r.contexts {
            println!("  context {context} (cluster {cluster})");
        }
        for cluster in &r.awaiting_sign_in {
            println!("  cluster {cluster}: token mode, written after sign-in");
        }
        if let Some(context) = &r.made_current {
            println!("  {context} is now the current context (there was none)");
        }
        for file in &r.outcome.written {
            println!("  wrote {}", file.display());
        }
        for backup in &r.outcome.backups {
            println!("  backed up the previous file to {}", backup.display());
        }
        for file in &r.outcome.tightened {
            println!(
                "  made {} 0600: it now holds a bearer token (token mode)",
                file.display()
            );
        }
    }
}

fn sync(remove: bool) -> Result<(), Failure> {
    let signet = signet()?;
    if remove {
        for (cluster, outcome) in signet.remove_kubeconfig_entries()? {
            for file in &outcome.written {
                println!(
                    "  removed cluster {cluster}'s entries from {}",
                    file.display()
                );
            }
        }
        println!(
            "Signet's kubeconfig entries are removed; `kubectl signet sync` writes them back."
        );
        return Ok(());
    }
    let reports = signet.sync_kubeconfig(None, &plugin_command())?;
    if reports.is_empty() {
        println!("No clusters configured; add one with `kubectl signet add cluster`.");
    }
    print_sync(&reports);
    Ok(())
}

fn use_cluster(cluster: &str, namespace: Option<&str>) -> Result<(), Failure> {
    let signet = signet()?;
    let c = signet.cluster_config(cluster)?;
    let context = c.context_name().to_string();
    signet.use_cluster(cluster, namespace)?;
    match namespace {
        Some(ns) => println!("Switched to context {context} (namespace {ns})."),
        None => println!("Switched to context {context}."),
    }
    Ok(())
}

fn run_login(
    signet: &Signet,
    provider: &str,
    device: bool,
    browser_command: Option<String>,
) -> Result<signet_core::token_store::SessionRecord, Failure> {
    if device {
        let show = |code: &DeviceCode| {
            eprintln!(
                "To sign in to {provider}, open {} and enter the code {}",
                printable(&code.verification_uri),
                printable(&code.user_code)
            );
            if let Some(complete) = &code.verification_uri_complete {
                eprintln!("  (or open {})", printable(complete));
            }
            if std::io::stderr().is_terminal() {
                let target = code
                    .verification_uri_complete
                    .as_deref()
                    .unwrap_or(&code.verification_uri);
                if let Ok(qr) = qrcode::QrCode::new(target.as_bytes()) {
                    let art = qr
                        .render::<qrcode::render::unicode::Dense1x2>()
                        .dark_color(qrcode::render::unicode::Dense1x2::Light)
                        .light_color(qrcode::render::unicode::Dense1x2::Dark)
                        .build();
                    eprintln!("{art}");
                }
            }
            eprintln!("Waiting for approval…");
        };
        return Ok(signet.login(provider, LoginMethod::Device { show: &show })?);
    }
    let opener: Box<dyn UrlOpener> = match browser_command {
        Some(command) => Box::new(CommandOpener { command }),
        None => Box::new(SystemBrowser::from_env()),
    };
    let announcing = Announce(opener);
    Ok(signet.login(
        provider,
        LoginMethod::Browser {
            opener: &announcing,
            timeout: BROWSER_TIMEOUT,
        },
    )?)
}

/// Opens the URL and tells the person, with the URL to paste if no browser appears.
struct Announce(Box<dyn UrlOpener>);

impl UrlOpener for Announce {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        eprintln!("Opening your browser to sign in. If it does not open, visit:\n  {url}");
        self.0.open(url)
    }
}

fn has_display() -> bool {
    cfg!(any(target_os = "macos", windows))
        || std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

fn logout(provider: &str) -> Result<(), Failure> {
    let signet = signet()?;
    let outcome = signet.logout(provider)?;
    let detail = match outcome {
        Revocation::Revoked => "the refresh token was revoked at the identity provider".to_string(),
        Revocation::NotOffered => {
            "the identity provider offers no revocation (Dex does not), so the tokens were forgotten here".to_string()
        }
        Revocation::NoSession => "there was no session".to_string(),
        Revocation::Failed(why) => format!("revocation failed ({why}); the tokens were still forgotten here"),
    };
    println!("Signed out of {provider}: {detail}.");
    Ok(())
}

fn status(json: bool) -> Result<(), Failure> {
    let signet = signet()?;
    let now = Utc::now();
    let statuses = signet.status();
    // Which store holds each session: chosen once, only for providers with a session on record.
    let secrets = LazyKeyringStore::with_choice(signet.config().settings.secret_store);
    let stores: Vec<Option<SessionStore>> = statuses
        .iter()
        .map(|s| {
            s.session
                .as_ref()
                .map(|r| SessionStore::find(&secrets, &s.provider, r.refreshable))
        })
        .collect();
    if json {
        let value: Vec<serde_json::Value> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({
                    "provider": s.provider,
                    "signed_in": s.session.is_some(),
                    "email": s.session.as_ref().and_then(|r| r.identity.email.clone()),
                    "groups": s.session.as_ref().map(|r| r.identity.groups.clone()).unwrap_or_default(),
                    "signed_in_at": s.session.as_ref().map(|r| r.signed_in_at),
                    "refreshed_at": s.session.as_ref().and_then(|r| r.refreshed_at),
                    "store": stores[i].as_ref().map(SessionStore::to_json),
                    "clusters": s.clusters.iter().map(|c| serde_json::json!({
                        "cluster": c.cluster,
                        "audience": c.audience,
                        "expires_at": c.expires_at,
                        "fresh": c.expires_at.is_some_and(|e| e > now),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "providers": value }));
        return Ok(());
    }
    if statuses.is_empty() {
        println!(
            "No providers configured. Add one with `kubectl signet add provider` or import a catalog."
        );
    }
    for (s, store) in statuses.into_iter().zip(stores) {
        match &s.session {
            Some(r) => println!(
                "{}: signed in as {} ({})",
                s.provider,
                printable(r.identity.email.as_deref().unwrap_or(&r.identity.subject)),
                if r.identity.groups.is_empty() {
                    "no groups".into()
                } else {
                    printable(&r.identity.groups.join(", ")).into_owned()
                }
            ),
            None => println!(
                "{}: not signed in — run `kubectl signet login {}`",
                s.provider, s.provider
            ),
        }
        if let Some(store) = store {
            println!("  {}", store.line());
        }
        for c in s.clusters {
            let state = match c.expires_at {
                Some(e) if e > now => format!("token valid for {}", human(e - now)),
                Some(_) => "token expired (refreshed on next use)".to_string(),
                None => "no token".to_string(),
            };
            println!("  {:<24} {state}", c.cluster);
        }
    }
    Ok(())
}

/// Where a provider's refresh token is, for `status` (DESIGN.md §5.5).
#[derive(Debug)]
pub(crate) enum SessionStore {
    /// The chosen store holds it.
    Held(StoreKind),
    /// The chosen store has none; the other one does (moving needs a sign-in, never a copy).
    Elsewhere {
        chosen: StoreKind,
        holder: StoreKind,
    },
    /// No refresh token anywhere (the provider issued none, or it was removed).
    Missing {
        chosen: StoreKind,
        refreshable: bool,
    },
    /// The store could not be used.
    Unusable(String),
}

impl SessionStore {
    pub(crate) fn find(
        secrets: &LazyKeyringStore,
        provider: &str,
        refreshable: bool,
    ) -> SessionStore {
        let chosen = match secrets.chosen() {
            Ok(kind) => kind,
            Err(e) => return SessionStore::Unusable(e.to_string()),
        };
        match secrets.get(provider) {
            Ok(Some(_)) => SessionStore::Held(chosen),
            Ok(None) => match secrets.other_holding(provider) {
                Some(holder) => SessionStore::Elsewhere { chosen, holder },
                None => SessionStore::Missing {
                    chosen,
                    refreshable,
                },
            },
            Err(e) => SessionStore::Unusable(e.to_string()),
        }
    }

    pub(crate) fn line(&self) -> String {
        match self {
            SessionStore::Held(kind) => {
                format!("session kept in the {} ({})", kind.label(), kind.keeps())
            }
            SessionStore::Elsewhere { chosen, holder } => format!(
                "the session is in the {} but Signet now uses the {}: sign in again (Signet never copies it between stores)",
                holder.label(),
                chosen.label()
            ),
            SessionStore::Missing {
                chosen,
                refreshable: true,
            } => format!(
                "no refresh token in the {}: sign in again when the token expires",
                chosen.label()
            ),
            SessionStore::Missing { chosen, .. } => format!(
                "the provider issued no refresh token; the {} holds nothing",
                chosen.label()
            ),
            SessionStore::Unusable(why) => {
                format!("the keyring cannot be used: {}", printable(why))
            }
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let (kind, holds, sign_in_again) = match self {
            SessionStore::Held(kind) => (Some(*kind), true, false),
            SessionStore::Elsewhere { chosen, .. } => (Some(*chosen), false, true),
            SessionStore::Missing {
                chosen,
                refreshable,
            } => (Some(*chosen), false, *refreshable),
            SessionStore::Unusable(_) => (None, false, false),
        };
        serde_json::json!({
            "kind": kind,
            "label": kind.map(StoreKind::label),
            "keeps": kind.map(StoreKind::keeps),
            "holds_session": holds,
            "sign_in_again": sign_in_again,
            "detail": self.line(),
        })
    }
}

fn human(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds();
    match s {
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: an IdP's `error` / `error_description` reach the terminal through a failure; a control
    /// character there could retitle the terminal or rewrite the line (`\r`), so it is shown escaped.
    #[test]
    fn a_failure_never_prints_a_control_character_from_the_idp() {
        let failure = Failure::from(signet_core::oidc::OidcError::Refused {
            error: "access_denied\u{1b}]0;pwned\u{7}".into(),
            description: Some("ok\rsignet: signed in".into()),
        });
        let shown = failure.to_string();
        assert!(
            !shown.chars().any(char::is_control),
            "a raw control character reached the terminal: {shown:?}"
        );
        assert!(
            shown.contains("access_denied\\u{1b}]0;pwned\\u{7}"),
            "{shown}"
        );
        assert!(shown.contains("ok\\u{d}signet: signed in"), "{shown}");
    }
}
