//! Reading old OIDC users: an exec entry running int128/kubelogin, or the legacy in-tree
//! `auth-provider: oidc`. Reads names and settings only; must never read a legacy user's `id-token` or
//! `refresh-token`.

use std::collections::HashMap;
use std::fmt;

use kube::config::NamedAuthInfo;

use crate::secret::Secret;

/// How an old kubeconfig user got its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldAuth {
    /// An exec entry running int128/kubelogin (`kubectl oidc-login get-token`, `kubelogin get-token`).
    Kubelogin,
    /// The legacy in-tree `auth-provider: {name: oidc}`.
    AuthProvider,
}

impl fmt::Display for OldAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OldAuth::Kubelogin => "kubelogin exec",
            OldAuth::AuthProvider => "legacy auth-provider oidc",
        })
    }
}

/// What an old OIDC user entry says about its provider. Never holds the legacy `id-token` or
/// `refresh-token`; the client secret is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcUser {
    pub kind: OldAuth,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Extra scopes, in order, without duplicates.
    pub scopes: Vec<String>,
    /// CA files for the issuer's TLS, as written (maybe relative or `~/`).
    pub ca_files: Vec<String>,
    /// Base64 PEM CA bundles for the issuer's TLS.
    pub ca_data: Vec<String>,
    /// Dex `connector_id` from kubelogin's `--oidc-auth-request-extra-params`.
    pub connector: Option<String>,
    /// Names of other auth-request parameters (not carried over).
    pub other_params: Vec<String>,
    /// kubelogin `--grant-type=device-code`.
    pub device: bool,
    pub insecure_skip_tls_verify: bool,
    pub use_access_token: bool,
    /// Flags or config keys Signet does not know (names only, never values).
    pub unknown: Vec<String>,
}

impl OidcUser {
    fn new(kind: OldAuth) -> OidcUser {
        OidcUser {
            kind,
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            scopes: Vec::new(),
            ca_files: Vec::new(),
            ca_data: Vec::new(),
            connector: None,
            other_params: Vec::new(),
            device: false,
            insecure_skip_tls_verify: false,
            use_access_token: false,
            unknown: Vec::new(),
        }
    }

    fn add_scopes(&mut self, list: &str) {
        for scope in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !self.scopes.iter().any(|s| s == scope) {
                self.scopes.push(scope.to_owned());
            }
        }
    }
}

/// kubelogin flags that take no value (pflag `BoolVar`); every other known flag takes one.
const KUBELOGIN_BOOL_FLAGS: &[&str] = &[
    "oidc-use-pkce",
    "oidc-use-access-token",
    "force-refresh",
    "force-keyring",
    "no-keyring",
    "insecure-skip-tls-verify",
    "tls-renegotiation-once",
    "tls-renegotiation-freely",
    "skip-open-browser",
];

/// kubelogin flags that only tune kubelogin itself and mean nothing for Signet.
const KUBELOGIN_IRRELEVANT_FLAGS: &[&str] = &[
    "oidc-use-pkce",
    "oidc-pkce-method",
    "force-refresh",
    "force-keyring",
    "no-keyring",
    "token-cache-dir",
    "token-cache-storage",
    "tls-renegotiation-once",
    "tls-renegotiation-freely",
    "listen-address",
    "skip-open-browser",
    "browser-command",
    "authentication-timeout-sec",
    "local-server-cert",
    "local-server-key",
    "open-url-after-authentication",
    "oidc-redirect-url",
    "oidc-redirect-url-hostname",
    "oidc-redirect-url-authcode-keyboard",
    "v",
    "log_file",
    "logtostderr",
];

/// Reads an exec entry: `None` when it is not int128/kubelogin's `get-token`, `Some(Err(why))` when it is
/// but Signet cannot take it over (no issuer, a password or client-credentials grant, …).
///
/// Recognised: `kubectl oidc-login get-token …`, `kubectl-oidc_login get-token …` and `kubelogin get-token …`
/// (any directory, `.exe` too). Flags in both pflag forms, `--flag=value` and `--flag value`;
/// `--oidc-extra-scope` is repeatable and takes comma lists; `--oidc-auth-request-extra-params` takes
/// `k=v` comma lists, of which `connector_id` becomes the provider's Dex connector.
pub fn parse_kubelogin(command: &str, args: &[String]) -> Option<Result<OidcUser, String>> {
    let rest = get_token_args(command, args)?;
    let mut read = KubeloginRead {
        user: OidcUser::new(OldAuth::Kubelogin),
        grant_type: String::from("auto"),
        username: false,
    };
    for arg in kubelogin_args(rest) {
        match arg {
            KubeloginArg::Positional(number) => {
                read.user.unknown.push(format!("argument #{number}"));
            }
            KubeloginArg::Flag(name, value) => read.flag(name, value),
        }
    }
    Some(read.finish())
}

/// The arguments after `get-token`, when `command args` runs int128/kubelogin's `get-token`.
fn get_token_args<'a>(command: &str, args: &'a [String]) -> Option<&'a [String]> {
    let program = command
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(command)
        .trim_end_matches(".exe");
    let arg = |i: usize| args.get(i).map(String::as_str);
    match program {
        "kubectl" if arg(0) == Some("oidc-login") && arg(1) == Some("get-token") => {
            Some(&args[2..])
        }
        "kubectl-oidc_login" | "kubectl-oidc-login" | "kubelogin"
            if arg(0) == Some("get-token") =>
        {
            Some(&args[1..])
        }
        _ => None,
    }
}

/// One kubelogin argument: a flag with its value (`""` when it has none), or a positional argument (its
/// 1-based number; its value is never kept).
enum KubeloginArg<'a> {
    Flag(&'a str, String),
    Positional(usize),
}

/// Splits kubelogin's arguments the way pflag does, up to `--`.
fn kubelogin_args(rest: &[String]) -> Vec<KubeloginArg<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let raw = rest[i].as_str();
        i += 1;
        if raw == "--" {
            break;
        }
        let Some(flag) = raw.strip_prefix("--").or_else(|| raw.strip_prefix('-')) else {
            out.push(KubeloginArg::Positional(i));
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        // `-v1` / `-v=1`: the log level shorthand.
        if !raw.starts_with("--")
            && name.starts_with('v')
            && name[1..].bytes().all(|b| b.is_ascii_digit())
        {
            if name == "v" && inline.is_none() && rest.get(i).is_some_and(|n| !n.starts_with('-')) {
                i += 1;
            }
            continue;
        }
        let value = if KUBELOGIN_BOOL_FLAGS.contains(&name) {
            inline.or_else(|| Some("true".into()))
        } else if inline.is_some() {
            inline
        } else if is_known_kubelogin_flag(name) || rest.get(i).is_some_and(|n| !n.starts_with('-'))
        {
            // pflag gives a value flag the next argument whatever it looks like; for flags we do not
            // know, only a next argument that is not itself a flag is taken as the value.
            let next = rest.get(i).cloned();
            if next.is_some() {
                i += 1;
            }
            next
        } else {
            None
        };
        out.push(KubeloginArg::Flag(name, value.unwrap_or_default()));
    }
    out
}

/// What kubelogin's flags said so far.
struct KubeloginRead {
    user: OidcUser,
    grant_type: String,
    /// `--username` was given (the password grant, under `--grant-type=auto`).
    username: bool,
}

impl KubeloginRead {
    fn flag(&mut self, name: &str, value: String) {
        let user = &mut self.user;
        let on = || value != "false";
        match name {
            "oidc-issuer-url" => user.issuer = value,
            "oidc-client-id" => user.client_id = value,
            "oidc-client-secret" => user.client_secret = Some(Secret::new(value)),
            "oidc-extra-scope" => user.add_scopes(&value),
            "certificate-authority" => user.ca_files.push(value),
            "certificate-authority-data" => user.ca_data.push(value),
            "oidc-auth-request-extra-params" => {
                for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
                    if key == "connector_id" && !val.is_empty() {
                        user.connector = Some(val.to_owned());
                    } else if !user.other_params.iter().any(|p| p == key) {
                        user.other_params.push(key.to_owned());
                    }
                }
            }
            "grant-type" => self.grant_type = value,
            "username" => self.username = !value.is_empty(),
            "password" => {}
            "insecure-skip-tls-verify" => user.insecure_skip_tls_verify = on(),
            "oidc-use-access-token" => user.use_access_token = on(),
            _ if KUBELOGIN_IRRELEVANT_FLAGS.contains(&name) => {}
            _ => user.unknown.push(format!("--{name}")),
        }
    }

    /// The user, or why Signet cannot take it over (its grant, a missing issuer or client id).
    fn finish(self) -> Result<OidcUser, String> {
        let mut user = self.user;
        match self.grant_type.as_str() {
            "auto" if self.username => {
                return Err(
                    "it signs in with a username and password (the password grant), which Signet does not offer".into(),
                );
            }
            "auto" | "authcode" | "authcode-keyboard" => {}
            "device-code" => user.device = true,
            other => {
                return Err(format!(
                    "it uses kubelogin's '{other}' grant, which Signet does not offer (Signet signs a person in)"
                ));
            }
        }
        if user.issuer.is_empty() {
            return Err(
                "its kubelogin arguments have no --oidc-issuer-url (is it Azure's kubelogin?)"
                    .into(),
            );
        }
        if user.client_id.is_empty() {
            return Err("its kubelogin arguments have no --oidc-client-id".into());
        }
        Ok(user)
    }
}

fn is_known_kubelogin_flag(name: &str) -> bool {
    matches!(
        name,
        "oidc-issuer-url"
            | "oidc-client-id"
            | "oidc-client-secret"
            | "oidc-extra-scope"
            | "certificate-authority"
            | "certificate-authority-data"
            | "oidc-auth-request-extra-params"
            | "grant-type"
            | "username"
            | "password"
    ) || KUBELOGIN_IRRELEVANT_FLAGS.contains(&name)
}

/// Reads a legacy `auth-provider: {name: oidc, config: …}` (client-go `plugin/pkg/client/auth/oidc`).
///
/// Keys: `idp-issuer-url`, `client-id`, `client-secret`, `idp-certificate-authority`,
/// `idp-certificate-authority-data`, `extra-scopes` (comma list). `id-token` and `refresh-token` are
/// deliberately not read: Signet signs in afresh.
pub fn parse_auth_provider(config: &HashMap<String, String>) -> Result<OidcUser, String> {
    let mut user = OidcUser::new(OldAuth::AuthProvider);
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort();
    for key in keys {
        let value = &config[key];
        match key.as_str() {
            "idp-issuer-url" => user.issuer = value.clone(),
            "client-id" => user.client_id = value.clone(),
            "client-secret" if !value.is_empty() => {
                user.client_secret = Some(Secret::new(value.clone()));
            }
            "idp-certificate-authority" if !value.is_empty() => user.ca_files.push(value.clone()),
            "idp-certificate-authority-data" if !value.is_empty() => {
                user.ca_data.push(value.clone());
            }
            "extra-scopes" => user.add_scopes(value),
            "id-token"
            | "refresh-token"
            | "client-secret"
            | "idp-certificate-authority"
            | "idp-certificate-authority-data" => {}
            other => user.unknown.push(other.to_owned()),
        }
    }
    if user.issuer.is_empty() {
        return Err("its auth-provider config has no idp-issuer-url".into());
    }
    if user.client_id.is_empty() {
        return Err("its auth-provider config has no client-id".into());
    }
    Ok(user)
}

/// Whether a kubeconfig user is an old OIDC user Signet can adopt.
pub(super) fn classify(user: &NamedAuthInfo) -> Option<Result<OidcUser, String>> {
    let info = user.auth_info.as_ref()?;
    if let Some(exec) = &info.exec {
        let command = exec.command.as_deref()?;
        return parse_kubelogin(command, exec.args.as_deref().unwrap_or_default());
    }
    let provider = info.auth_provider.as_ref()?;
    (provider.name == "oidc").then(|| parse_auth_provider(&provider.config))
}
