//! `signet-probe`: a test-only process that drives `signet-core` with the real keyring, so tests can run
//! many processes at once (the exec-plugin situation) and restart them.
//!
//! Usage (paths come from `HOME`, `SIGNET_CONFIG` and `XDG_*`; `SIGNET_TEST_CLOCK_OFFSET` shifts "now" by
//! that many seconds so cached tokens look stale without waiting):
//!   signet-probe login <provider> <user> <password>
//!   signet-probe token <cluster>
//!   signet-probe refresh <provider>
//!   signet-probe logout <provider>
//!   signet-probe keyring-check
//!   signet-probe browse <user> <url>        (a "browser" for `--browser-command` / `$BROWSER`)
//! Prints one JSON line: `{"ok":…}` or `{"error":"<code>","message":"…"}` (exit 1). Never prints a token:
//! `fingerprint` is the first 16 hex digits of its SHA-256.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sha2::Digest;
use signet_core::Signet;
use signet_core::clock::Clock;
use signet_core::config::Config;
use signet_core::paths::Paths;
use signet_core::session::LoginMethod;
use signet_core::token_store::{KeyringStore, SecretStore};
use signet_tests::world::FormOpener;

#[derive(Debug)]
struct OffsetClock(TimeDelta);

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(value) => println!("{}", json!({ "ok": value })),
        Err(e) => {
            println!("{}", json!({ "error": e.code(), "message": e.to_string() }));
            std::process::exit(1);
        }
    }
}

fn fingerprint(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(args: &[String]) -> Result<serde_json::Value, signet_core::Error> {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    if arg(0) == "browse" {
        // A stand-in for a person at a browser: `browse <user> <url>` signs in through the IdP's form and
        // delivers the redirect to the loopback listener. Appends one line per launch to
        // $SIGNET_TEST_BROWSER_LOG so tests can count browser windows.
        if let Some(log) = std::env::var_os("SIGNET_TEST_BROWSER_LOG") {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("browser log");
            writeln!(f, "launch").expect("write browser log");
        }
        let ca = std::env::var_os("SIGNET_TEST_IDP_CA").map(|f| {
            let f = std::path::PathBuf::from(f);
            signet_tests::tls::TestCa {
                ca_pem: std::fs::read_to_string(&f).unwrap_or_default(),
                ca_file: f.clone(),
                cert_file: f.clone(),
                key_file: f,
            }
        });
        let body = signet_tests::browser::FormBrowser::new(ca.as_ref())
            .login_and_deliver(arg(2), arg(1), signet_tests::idp::PASSWORD)
            .map_err(|e| std::io::Error::other(e.to_string()));
        return match body {
            Ok(page) => Ok(json!({ "page": page.contains("Signed in") })),
            Err(e) => {
                eprintln!("browse failed: {e}");
                std::process::exit(1);
            }
        };
    }
    if arg(0) == "keyring-check" {
        let store = KeyringStore::open()?;
        return Ok(json!({ "present": store.get("probe")?.is_some() }));
    }
    let paths = Paths::from_env()?;
    let config = Config::load(&paths.config_file, &paths.home)?;
    let offset = std::env::var("SIGNET_TEST_CLOCK_OFFSET")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let secrets: Arc<dyn SecretStore> = Arc::new(KeyringStore::open()?);
    let signet = Signet::new(
        paths,
        config,
        secrets,
        Arc::new(OffsetClock(TimeDelta::seconds(offset))),
    );
    match arg(0) {
        "login" => {
            let ca_file = signet.provider_config(arg(1))?.ca_file.clone();
            let ca = ca_file.map(|f| signet_tests::tls::TestCa {
                ca_pem: std::fs::read_to_string(&f).unwrap_or_default(),
                ca_file: f.clone(),
                cert_file: f.clone(),
                key_file: f,
            });
            let opener = FormOpener::new(ca.as_ref(), arg(2), arg(3));
            let record = signet.login(
                arg(1),
                LoginMethod::Browser {
                    opener: &opener,
                    timeout: std::time::Duration::from_secs(30),
                },
            )?;
            Ok(json!({ "email": record.identity.email, "groups": record.identity.groups }))
        }
        "token" => {
            let token = signet.token_for(arg(1))?;
            Ok(json!({
                "fingerprint": fingerprint(token.id_token.expose()),
                "expires_at": token.expires_at,
                "email": token.identity.email,
                "audiences": token.identity.audiences,
            }))
        }
        "refresh" => {
            let record = signet.refresh(arg(1))?;
            Ok(json!({ "email": record.identity.email, "refreshed_at": record.refreshed_at }))
        }
        "logout" => Ok(json!({ "revocation": format!("{:?}", signet.logout(arg(1))?) })),
        other => {
            eprintln!("unknown probe command '{other}'");
            std::process::exit(2);
        }
    }
}
