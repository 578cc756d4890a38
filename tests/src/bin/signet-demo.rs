//! `signet-demo`: a local playground for `scripts/run.sh`. Starts the Dex stand-in and the API-server
//! stand-in on loopback, writes a demo Signet config and a separate demo kubeconfig (never yours) into
//! `<demo dir>`, prints how to try it, and runs until Ctrl-C (or until stdin closes).
//!
//! Usage: signet-demo <demo dir> <path to kubectl-signet>

use std::io::Read;
use std::path::PathBuf;

use std::sync::Arc;

use signet_core::Signet;
use signet_core::clock::SystemClock;
use signet_core::config::{ClusterConfig, Config, Credentials, LoginMode, ProviderConfig};
use signet_core::paths::Paths;
use signet_core::token_store::MemoryStore;
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::idp::{Idp, IdpOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| usage()));
    let plugin = PathBuf::from(args.next().unwrap_or_else(|| usage()));
    std::fs::create_dir_all(&dir).expect("create the demo directory");
    // Every run starts from a clean state: the stand-ins are new (new keys, no grants) and the keyring
    // scripts/run.sh gives the demo is throw-away, so the last run's token cache and session records
    // would only describe sessions that no longer exist.
    match std::fs::remove_dir_all(dir.join("cache")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            panic!("remove the last demo's token cache: {e}")
        }
        _ => {}
    }

    let idp = Idp::start(IdpOptions {
        id_token_ttl: Some(600),
        ..IdpOptions::default()
    });
    let api = ApiServer::start(ApiServerOptions::new(idp.issuer(), "kubernetes"));
    let ca_file = dir.join("apiserver-ca.pem");
    std::fs::write(&ca_file, &api.ca().ca_pem).expect("write the API server CA");

    let config = Config {
        providers: vec![ProviderConfig {
            name: "demo".into(),
            issuer: idp.issuer().into(),
            client_id: "signet".into(),
            client_secret: None,
            connector: None,
            scopes: vec!["groups".into()],
            ca_file: None,
            ca_data: None,
            login: LoginMode::Browser,
            username_claim: "email".into(),
        }],
        clusters: vec![ClusterConfig {
            name: "demo".into(),
            provider: "demo".into(),
            server: api.url().into(),
            ca_data: None,
            ca_file: Some(ca_file.clone()),
            insecure_skip_tls_verify: false,
            audience: Some("kubernetes".into()),
            namespace: Some("default".into()),
            context: None,
            credentials: Credentials::Exec,
            kubeconfig: None,
        }],
        ..Config::default()
    };
    let config_file = dir.join("config.toml");
    config.save(&config_file).expect("write the demo config");
    let kubeconfig = dir.join("kubeconfig");
    // The demo kubeconfig is written by Signet itself (as `kubectl signet sync` would), never yours.
    let mut paths = Paths::from_env().expect("HOME is set");
    paths.config_file = config_file.clone();
    paths.kubeconfig_env = Some(kubeconfig.clone().into_os_string());
    let signet = Signet::new(
        paths,
        config.clone(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    );
    signet
        .sync_kubeconfig(None, &plugin.display().to_string())
        .expect("write the demo kubeconfig");
    signet
        .use_cluster("demo", None)
        .expect("make the demo context current");

    let mut env = format!(
        "export SIGNET_CONFIG={} KUBECONFIG={} XDG_CACHE_HOME={}",
        config_file.display(),
        kubeconfig.display(),
        dir.join("cache").display()
    );
    // scripts/run.sh gives the demo a private keyring when the session has none: other terminals reach it
    // through this bus address.
    if std::env::var_os("SIGNET_DEMO_IN_SESSION").is_some()
        && let Ok(bus) = std::env::var("DBUS_SESSION_BUS_ADDRESS")
    {
        env.push_str(&format!(" DBUS_SESSION_BUS_ADDRESS='{bus}'"));
    }
    std::fs::write(dir.join("env.sh"), format!("{env}\n")).expect("write env.sh");
    println!(
        "\nSignet demo is running: a Dex stand-in at {issuer} and a Kubernetes API server at {server}.\n\
         Nothing of yours is touched: config, kubeconfig and token cache live in {dir}.\n\n\
         In another terminal:\n\n  source {dir}/env.sh\n  {plugin} login demo          # sign in as alice / password (browser, or a device code over SSH)\n  \
         kubectl auth whoami          # alice@example.com, groups dev, ops\n  {plugin} status\n\n\
         (or just run `kubectl auth whoami` first: kubectl asks Signet, and Signet signs you in.)\n\
         Press Ctrl-C to stop the demo.",
        issuer = idp.issuer(),
        server = api.url(),
        dir = dir.display(),
        plugin = plugin.display(),
    );
    // Run until stdin closes or the process is interrupted.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    if sink.is_empty() {
        loop {
            std::thread::park();
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: signet-demo <demo dir> <path to kubectl-signet>");
    std::process::exit(2);
}
