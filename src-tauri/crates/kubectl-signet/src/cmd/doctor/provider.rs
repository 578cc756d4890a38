//! Doctor checks of the config and the identity providers: discovery, shared clients, clock skew.

use std::time::{Duration, SystemTime};

use signet_core::config::{Config, ConfigError, ProviderConfig};
use signet_core::http::{HttpClient, HttpOptions};
use signet_core::oidc::OidcProvider;
use signet_core::paths::Paths;

use super::Report;

/// Clock skew against the IdP that is worth a warning (ID tokens are checked against `exp`/`iat`).
const SKEW_WARN: Duration = Duration::from_secs(30);

/// Clock skew that breaks sign-in (fresh tokens look expired or not yet valid).
const SKEW_FAIL: Duration = Duration::from_secs(300);

pub(super) fn check_config(report: &mut Report, paths: &Paths) -> Option<Config> {
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
        Err(ConfigError::Missing { .. })
            if std::env::var_os(signet_core::forward::SOCKET_ENV)
                .is_some_and(|s| !s.is_empty()) =>
        {
            report.ok(
                "config",
                format!(
                    "no config at {file}: this host's clusters come from your desktop's Signet ({})",
                    signet_core::forward::SOCKET_ENV
                ),
            );
            None
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

pub(super) fn check_provider(report: &mut Report, provider: &ProviderConfig) {
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
pub(super) fn check_shared_clients(report: &mut Report, config: &Config) {
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
