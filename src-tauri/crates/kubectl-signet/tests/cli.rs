//! `kubectl-signet` as kubectl runs it: the real kubectl, the exec entry, the API-server stand-in, the
//! Dex stand-in and the real keyring on a private D-Bus session.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_tests::apiserver::{ApiServer, ApiServerOptions, versioned_kubectl};
use signet_tests::cli::{CliWorld, probe, text};
use signet_tests::idp::{Idp, IdpOptions, jwt_claims};
use signet_tests::world::{ClosedPort, World};

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");

/// The fail-fast timing test runs alone (write lock); the others share (read lock). On 2 cores a test
/// running 50 kubectl processes would otherwise decide the timing.
static LOAD: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    LOAD.read().unwrap_or_else(|p| p.into_inner())
}

/// The CLI world with the API-server stand-in serving cluster `prod`, kubeconfig written and `prod`
/// current; sign-ins open `signet-probe browse alice`.
struct Env {
    cli: CliWorld,
    api: ApiServer,
}

impl std::ops::Deref for Env {
    type Target = CliWorld;

    fn deref(&self) -> &CliWorld {
        &self.cli
    }
}

impl Env {
    fn new(idp: IdpOptions) -> Env {
        let world = World::new(Idp::start(idp));
        let api = ApiServer::start(ApiServerOptions::new(world.idp.issuer(), "kubernetes"));
        let ca = world.root.path().join("apiserver-ca.pem");
        std::fs::write(&ca, &api.ca().ca_pem).expect("write CA");
        let mut config = world.config();
        config.clusters[0].server = api.url().to_string();
        config.clusters[0].ca_file = Some(ca);
        world.write_config(&config);
        let env = Env {
            cli: CliWorld::new(PLUGIN, world).browser("alice"),
            api,
        };
        let out = env.plugin(&["sync"]);
        assert!(out.status.success(), "sync: {}", text(&out.stderr));
        let out = env.plugin(&["use", "prod"]);
        assert!(out.status.success(), "use: {}", text(&out.stderr));
        env
    }

    fn login(&self) {
        let out = self.plugin(&["login", "corp", "--browser"]);
        assert!(out.status.success(), "login: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("Signed in to corp as alice@example.com (groups: dev, ops)"),
            "{stdout}"
        );
        self.world.idp.reset_stats();
    }
}

/// Waits (≤ 60 s) until `status --json` says the cluster's cached token has expired.
fn wait_until_expired(env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = env.plugin(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", text(&out.stderr));
        let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        if status["providers"][0]["clusters"][0]["fresh"] == false {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cached token never expired: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts `stderr` is exactly one line that starts with `signet: ` and returns it.
fn one_signet_line(what: &str, stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: exactly one line on stderr, got {}: {stderr:?}",
        lines.len()
    );
    assert!(
        lines[0].starts_with("signet: "),
        "{what}: the line starts with 'signet: ': {stderr:?}"
    );
    lines[0].to_string()
}

fn whoami(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("whoami JSON")
}

#[test]
fn kubectl_auth_whoami_through_the_exec_plugin_shows_alice_and_her_groups() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    env.login();
    let review = whoami(&env.kubectl(&["auth", "whoami", "-o", "json"]));
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "alice@example.com"
    );
    let groups = review["status"]["userInfo"]["groups"]
        .as_array()
        .expect("groups")
        .clone();
    for g in ["dev", "ops", "system:authenticated"] {
        assert!(groups.iter().any(|x| x == g), "group {g} in {groups:?}");
    }
    assert_eq!(
        env.world.idp.stats().token_requests.total,
        0,
        "fresh token: no IdP traffic"
    );
}

#[test]
fn token_prints_an_exec_credential_that_expires_before_the_jwt() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    env.login();
    let out = env.plugin(&["token", "--cluster", "prod"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cred: Value = serde_json::from_slice(&out.stdout).expect("ExecCredential JSON");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(cred["kind"], "ExecCredential");
    let jwt = cred["status"]["token"].as_str().expect("a token");
    assert_eq!(jwt.split('.').count(), 3, "a JWT");
    // client-go re-runs the plugin only after expirationTimestamp (no margin of its own), so it must come
    // before the JWT's exp — by Signet's margin, not by the whole lifetime.
    let expires = cred["status"]["expirationTimestamp"]
        .as_str()
        .expect("expirationTimestamp is set");
    let expires = chrono::DateTime::parse_from_rfc3339(expires)
        .unwrap_or_else(|e| panic!("expirationTimestamp {expires:?} is RFC 3339: {e}"))
        .timestamp();
    let claims = jwt_claims(jwt);
    let (exp, iat) = (
        claims["exp"].as_i64().expect("exp"),
        claims["iat"].as_i64().expect("iat"),
    );
    assert!(
        expires < exp && expires > iat,
        "expirationTimestamp {expires} must fall between the JWT's iat {iat} and exp {exp}"
    );
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr on the happy path: {}",
        text(&out.stderr)
    );

    let v1beta1 = env
        .command(PLUGIN)
        .args(["token", "--cluster", "prod"])
        .env("KUBERNETES_EXEC_INFO", r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#)
        .output()
        .expect("run");
    let cred: Value = serde_json::from_slice(&v1beta1.stdout).expect("JSON");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1beta1");
}

/// Waits until the config's times are `cluster_index::SETTLE` old, so `token` records the cluster's route.
fn wait_until_settled(config_file: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(config_file).expect("stat the config");
    let changed = std::time::UNIX_EPOCH
        + Duration::new(
            u64::try_from(meta.ctime().max(meta.mtime())).unwrap_or(0) + 1,
            0,
        );
    let settled = changed + signet_core::cluster_index::SETTLE;
    if let Ok(left) = settled.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left);
    }
}

/// `token --cluster prod` with `SIGNET_LOG=debug` (so stderr says which path served it) and
/// `KUBERNETES_EXEC_INFO` as kubectl sets it for v1beta1.
fn token_debug(env: &Env, args: &[&str]) -> (Output, bool) {
    let out = env
        .command(PLUGIN)
        .args(args)
        .env("SIGNET_LOG", "debug")
        .env("KUBERNETES_EXEC_INFO", r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#)
        .output()
        .expect("run kubectl-signet token");
    let fast = text(&out.stderr).contains("through the cluster index");
    (out, fast)
}

#[test]
fn the_fast_path_prints_what_the_full_path_prints_and_falls_back_on_a_stale_token_or_a_changed_config()
 {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    env.login();
    wait_until_settled(&env.world.paths.config_file);

    let (full, fast) = token_debug(&env, &["token", "--cluster", "prod"]);
    assert!(full.status.success(), "token: {}", text(&full.stderr));
    assert!(
        !fast,
        "expected the first call to load the config (no route recorded yet)"
    );
    for args in [
        &["token", "--cluster", "prod"][..],
        &["token", "--cluster=prod"][..],
    ] {
        let (out, fast) = token_debug(&env, args);
        assert!(
            fast,
            "{args:?}: expected the cluster index to serve: {}",
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stdout),
            text(&full.stdout),
            "{args:?}: expected the fast path to print the full path's ExecCredential byte for byte"
        );
    }

    // A cached token that is no longer fresh (10 s of an hour left) is refreshed, not served.
    let cache =
        signet_core::token_store::TokenCache::new(&env.world.paths).path_for("corp", "kubernetes");
    let mut cached: Value = serde_json::from_slice(&std::fs::read(&cache).expect("read the cache"))
        .expect("cache JSON");
    let now = chrono::Utc::now();
    cached["expires_at"] = Value::from((now + chrono::TimeDelta::seconds(10)).to_rfc3339());
    cached["issued_at"] = Value::from((now - chrono::TimeDelta::hours(1)).to_rfc3339());
    let stale_token = cached["id_token"].as_str().expect("id_token").to_owned();
    std::fs::write(&cache, serde_json::to_vec(&cached).expect("JSON")).expect("write the cache");
    let (out, fast) = token_debug(&env, &["token", "--cluster", "prod"]);
    assert!(out.status.success(), "token: {}", text(&out.stderr));
    assert!(!fast, "expected a token near expiry to take the full path");
    assert_eq!(
        env.world.idp.stats().token_requests.refresh_token,
        1,
        "expected one refresh for a token near expiry"
    );
    let cred: Value = serde_json::from_slice(&out.stdout).expect("ExecCredential JSON");
    assert_ne!(
        cred["status"]["token"], stale_token,
        "expected the refreshed token"
    );

    // An edit in place that keeps the size: the route recorded for the old text must not serve.
    let config = std::fs::read_to_string(&env.world.paths.config_file).expect("read the config");
    let renamed = config.replace("name = \"prod\"", "name = \"prud\"");
    assert_ne!(renamed, config, "the config names cluster prod");
    std::fs::write(&env.world.paths.config_file, &renamed).expect("edit the config in place");
    let (out, fast) = token_debug(&env, &["token", "--cluster", "prod"]);
    assert!(!fast, "expected a changed config to take the full path");
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected prod to be unknown now"
    );
    assert!(
        text(&out.stderr).contains("no cluster named 'prod' in the Signet config (known: prud)"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "expected no ExecCredential for an unknown cluster"
    );
}

/// kubectl runs the small `kubectl-signet` front binary: it serves a fresh cached token by itself (a copy
/// with no full CLI beside it still does), and hands everything else to the full CLI, `signet-cli`, next
/// to it — saying in one line when that is missing.
#[test]
fn the_front_binary_serves_the_exec_entry_alone_and_hands_everything_else_to_the_full_cli() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    env.login();
    wait_until_settled(&env.world.paths.config_file);
    let token = |program: &Path| {
        env.command(program)
            .args(["token", "--cluster", "prod"])
            .output()
            .expect("run token")
    };
    let full = token(Path::new(PLUGIN));
    assert!(full.status.success(), "token: {}", text(&full.stderr));

    let alone = tempfile::tempdir().expect("tempdir");
    let front = alone.path().join("kubectl-signet");
    std::fs::copy(PLUGIN, &front).expect("copy the front binary alone");
    let out = token(&front);
    assert!(
        out.status.success(),
        "the front alone: {}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        text(&full.stdout),
        "the same ExecCredential"
    );

    let out = env
        .command(&front)
        .arg("--version")
        .output()
        .expect("run --version");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("signet-cli") && err.contains("reinstall"),
        "{err}"
    );

    let out = env.plugin(&["--version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("kubectl-signet "),
        "the full CLI answers: {}",
        text(&out.stdout)
    );
}

#[test]
fn an_expired_id_token_is_refreshed_transparently_and_fifty_kubectls_cause_one_refresh() {
    // Alone (write lock): 50 kubectl processes on 2 cores are the load this test measures.
    let _alone = LOAD.write().unwrap_or_else(|p| p.into_inner());
    let env = Env::new(IdpOptions {
        id_token_ttl: Some(5),
        ..IdpOptions::default()
    });
    env.login();
    // The refreshed token lives 10 minutes: fresh for however long the 50 processes take to start, so a
    // second refresh can only come from a locking bug, never from a slow machine.
    env.world.idp.set_id_token_ttl(600);
    wait_until_expired(&env);
    let children: Vec<_> = (0..50)
        .map(|_| {
            env.command("kubectl")
                .args(["get", "ns", "-o", "name"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn kubectl")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl get ns: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("namespace/default"));
    }
    let stats = env.world.idp.stats();
    assert_eq!(
        stats.token_requests.refresh_token, 1,
        "one refresh for 50 kubectl processes: {stats:?}"
    );
    assert_eq!(stats.refresh_failures, 0);
}

#[test]
fn a_revoked_session_fails_fast_with_one_line_when_not_interactive() {
    let _alone = LOAD.write().unwrap_or_else(|p| p.into_inner());
    let env = Env::new(IdpOptions {
        id_token_ttl: Some(4),
        ..IdpOptions::default()
    });
    env.login();
    let launches = env.browser_launches();
    env.world.idp.revoke("alice");
    std::thread::sleep(Duration::from_millis(4200));
    env.world.idp.reset_stats();
    let start = Instant::now();
    let out = env.kubectl(&["get", "ns"]);
    let took = start.elapsed();
    eprintln!("kubectl with a revoked session failed after {took:?}");
    assert!(!out.status.success());
    // Failing fast means: one refresh request, no sign-in started, and no wait for one (a sign-in would
    // wait minutes); the bound leaves a loaded 2-core machine plenty of room.
    let stats = env.world.idp.stats();
    assert_eq!(
        (
            stats.token_requests.refresh_token,
            stats.token_requests.total,
            stats.auth_requests
        ),
        (1, 1, 0),
        "one refresh attempt and no sign-in: {stats:?}"
    );
    assert!(
        took < Duration::from_secs(20),
        "failed without waiting, took {took:?}"
    );
    // kubectl runs the plugin several times (API discovery retries) and adds its own lines; every line of
    // the plugin's is its one-line message, and the first says why the session ended.
    let stderr = text(&out.stderr);
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("signet:")).collect();
    assert!(
        !ours.is_empty(),
        "the plugin's message reaches the user: {stderr}"
    );
    assert!(
        ours[0].contains("rejected the refresh token"),
        "the first says why: {stderr}"
    );
    assert!(
        ours.iter()
            .all(|l| l.starts_with("signet: sign-in to 'corp' required")
                && l.contains("run `kubectl signet login corp`")),
        "each says what to run: {stderr}"
    );
    // One plugin call, as kubectl makes it: exactly one line.
    let out = env
        .command(PLUGIN)
        .args(["token", "--cluster", "prod"])
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#,
        )
        .output()
        .expect("run the plugin");
    assert_eq!(out.status.code(), Some(1));
    let line = one_signet_line("a dead session", &text(&out.stderr));
    assert!(line.contains("run `kubectl signet login corp`"), "{line}");
    assert_eq!(
        env.browser_launches(),
        launches,
        "no browser from a non-interactive call"
    );
}

#[test]
fn twenty_interactive_token_calls_with_a_dead_session_open_one_browser() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let exec_info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#;
    let children: Vec<_> = (0..20)
        .map(|_| {
            env.command(PLUGIN)
                .args(["token", "--cluster", "prod"])
                .env("KUBERNETES_EXEC_INFO", exec_info)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn plugin")
        })
        .collect();
    let mut tokens = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("plugin");
        assert!(out.status.success(), "token: {}", text(&out.stderr));
        let cred: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "each caller prints an ExecCredential ({e}): {:?}",
                text(&out.stdout)
            )
        });
        assert_eq!(cred["kind"], "ExecCredential", "{cred}");
        let token = cred["status"]["token"].as_str().expect("a token");
        assert_eq!(
            jwt_claims(token)["email"],
            "alice@example.com",
            "alice's token"
        );
        tokens.push(token.to_string());
    }
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        1,
        "all 20 callers answer the one token of the one sign-in"
    );
    assert_eq!(
        env.browser_launches(),
        1,
        "exactly one browser for 20 callers"
    );
    assert_eq!(env.world.idp.stats().token_requests.authorization_code, 1);
}

#[test]
fn cli_errors_are_one_actionable_line_with_exit_1_and_usage_errors_exit_2() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let out = env.plugin(&["token", "--cluster", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let line = one_signet_line("unknown cluster", &text(&out.stderr));
    assert!(
        line.contains("no cluster named 'nope' in the Signet config (known: prod)"),
        "{line}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");

    let out = env.plugin(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "usage error");

    std::fs::write(&env.world.paths.config_file, "[[providers]]\nname = 1\n")
        .expect("break the config");
    let out = env.plugin(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let line = one_signet_line("broken config", &text(&out.stderr));
    assert!(line.contains("config.toml:2:"), "{line}");
    let _ = &env.api;
}

#[test]
fn status_json_reports_who_is_signed_in() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    env.login();
    let out = env.plugin(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(status["providers"][0]["email"], "alice@example.com");
    assert_eq!(status["providers"][0]["clusters"][0]["fresh"], true);
    let log = std::fs::read_to_string(env.world.root.path().join("state/signet/signet.log"))
        .expect("the CLI keeps a log");
    assert!(log.contains("signed in"), "sign-in is logged");
    assert!(!log.contains("eyJ"), "no token in the log file");
    let out = env.plugin(&["logout", "corp"]);
    assert!(
        text(&out.stdout).contains("Signed out of corp"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(env.keyring.lookup("signet", "corp"), None);
}

#[test]
fn add_provider_validates_discovery_and_add_cluster_writes_a_context_kubectl_uses() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let down = ClosedPort::new();
    let out = env.plugin(&[
        "add",
        "provider",
        "corp2",
        "--issuer",
        &down.url("/dex").replace("http:", "https:"),
    ]);
    assert_eq!(out.status.code(), Some(1), "unreachable issuer is refused");
    assert!(
        text(&out.stderr).contains("was not saved"),
        "{}",
        text(&out.stderr)
    );

    let issuer = env.world.idp.issuer().to_string();
    let out = env.plugin(&["add", "provider", "corp2", "--issuer", &issuer]);
    assert!(out.status.success(), "add provider: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("revocation: not offered"),
        "{}",
        text(&out.stdout)
    );

    let ca = env.world.root.path().join("apiserver-ca.pem");
    let out = env.plugin(&[
        "add",
        "cluster",
        "staging",
        "--provider",
        "corp2",
        "--server",
        env.api.url(),
        "--ca-file",
        ca.to_str().expect("utf-8 path"),
        "--audience",
        "kubernetes",
        "--namespace",
        "team-a",
    ]);
    assert!(out.status.success(), "add cluster: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("context staging (cluster staging)"),
        "{}",
        text(&out.stdout)
    );

    let out = env.plugin(&[
        "add",
        "cluster",
        "bad",
        "--provider",
        "nope",
        "--server",
        "https://x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no provider named 'nope'"),
        "{}",
        text(&out.stderr)
    );

    let out = env.plugin(&["use", "staging", "--namespace", "team-a"]);
    assert!(out.status.success(), "use: {}", text(&out.stderr));
    let current = env.kubectl(&["config", "current-context"]);
    assert_eq!(text(&current.stdout).trim(), "staging");
    let ns = env.kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.contexts[0].context.namespace}",
    ]);
    assert_eq!(text(&ns.stdout).trim(), "team-a");

    let out = env
        .command(PLUGIN)
        .args(["login", "corp2", "--browser-command"])
        .arg(format!(
            "{} browse alice",
            probe(Path::new(PLUGIN)).display()
        ))
        .output()
        .expect("login");
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    let review = whoami(&env.kubectl(&["auth", "whoami", "-o", "json"]));
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "alice@example.com"
    );
}

#[test]
fn token_mode_writes_a_static_token_that_kubectl_uses_and_rewrites_it_on_refresh() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let mut config =
        signet_core::config::Config::load(&env.world.paths.config_file, &env.world.paths.home)
            .expect("config");
    config.clusters[0].credentials = signet_core::config::Credentials::Token;
    // Token mode needs a fresh set of entries: remove the exec ones first (sync refuses nothing here:
    // the entries are Signet's, so they are rewritten in place).
    config.save(&env.world.paths.config_file).expect("save");
    env.login();
    let token = env.kubectl(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.users[0].user.token}",
    ]);
    assert!(
        text(&token.stdout).starts_with("eyJ"),
        "a static JWT is written (not shown)"
    );
    let exec = env.kubectl(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.users[0].user.exec}",
    ]);
    assert!(
        text(&exec.stdout).trim().is_empty(),
        "no exec entry left in token mode"
    );
    let review = whoami(&env.kubectl(&["auth", "whoami", "-o", "json"]));
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "alice@example.com"
    );

    // A refresh (what the tray agent's timer does) rewrites the static token in kubeconfig. A token
    // issued within the same second as the first would be byte-identical (same claims, deterministic
    // RS256), so the refresh waits for the next second of `iat`.
    let issued = jwt_claims(&text(&token.stdout))["iat"]
        .as_i64()
        .expect("the ID token has iat");
    while chrono::Utc::now().timestamp() <= issued {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = env
        .command(probe(Path::new(PLUGIN)))
        .args(["refresh", "corp"])
        .output()
        .expect("run signet-probe refresh");
    assert!(
        out.status.success(),
        "refresh: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(env.world.idp.stats().token_requests.refresh_token, 1);
    let rewritten = env.kubectl(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.users[0].user.token}",
    ]);
    let (before, after) = (text(&token.stdout), text(&rewritten.stdout));
    assert!(after.starts_with("eyJ"), "still a static JWT");
    assert!(
        after != before,
        "the refreshed token replaced the old one in kubeconfig (tokens not shown)"
    );
    assert!(
        jwt_claims(&after)["iat"].as_i64() > jwt_claims(&before)["iat"].as_i64(),
        "the new token is newer"
    );
    let review = whoami(&env.kubectl(&["auth", "whoami", "-o", "json"]));
    assert_eq!(
        review["status"]["userInfo"]["username"], "alice@example.com",
        "kubectl uses the rewritten token"
    );
}

#[test]
fn the_main_flow_works_with_kubectl_1_27_and_1_33() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    env.login();
    for version in ["1.27", "1.33"] {
        let kubectl = versioned_kubectl(version);
        let out = env
            .command(&kubectl)
            .args(["auth", "whoami", "-o", "json"])
            .output()
            .expect("run kubectl");
        let review = whoami(&out);
        assert_eq!(
            review["status"]["userInfo"]["username"], "alice@example.com",
            "kubectl {version}"
        );
        let out = env
            .command(&kubectl)
            .args(["get", "ns", "-o", "name"])
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {version} get ns: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("namespace/team-a"),
            "kubectl {version}"
        );
    }
}

#[test]
fn the_plugin_links_no_gui_libraries() {
    // It starts on every kubectl call: no GTK, WebKit or tray libraries may be loaded (DESIGN.md §2).
    let out = Command::new("ldd").arg(PLUGIN).output().expect("run ldd");
    assert!(out.status.success(), "ldd: {}", text(&out.stderr));
    let libs = text(&out.stdout);
    for gui in [
        "gtk",
        "webkit",
        "appindicator",
        "gdk",
        "soup",
        "javascriptcore",
    ] {
        assert!(
            !libs.to_lowercase().contains(gui),
            "{gui} is linked into kubectl-signet:\n{libs}"
        );
    }
}

#[test]
fn every_command_answers_bad_input_with_one_actionable_line_and_exit_1() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let cases: &[(&[&str], &str)] = &[
        (&["token", "--cluster", "nope"], "no cluster named 'nope'"),
        (&["login", "nope"], "no cluster named 'nope'"),
        (&["logout", "nope"], "no provider named 'nope'"),
        (&["use", "nope"], "no cluster named 'nope'"),
        (
            &[
                "add",
                "cluster",
                "prod",
                "--provider",
                "corp",
                "--server",
                "https://x",
            ],
            "already exists",
        ),
        (
            &["add", "provider", "Bad Name", "--issuer", "https://x"],
            "a-z, 0-9",
        ),
        (
            &[
                "import",
                "--catalog",
                "/nonexistent/catalog.toml",
                "--dry-run",
            ],
            "catalog",
        ),
    ];
    for (args, expected) in cases {
        let out = env.plugin(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} exits 1: {stderr}");
        let line = one_signet_line(&format!("{args:?}"), &stderr);
        assert!(
            line.contains(expected),
            "{args:?}: expected '{expected}' in: {line}"
        );
    }

    // The identity provider is down: login says so and what to check.
    let World { idp, .. } = &env.world;
    let issuer = idp.issuer().to_string();
    let mut config =
        signet_core::config::Config::load(&env.world.paths.config_file, &env.world.paths.home)
            .expect("config");
    let down = ClosedPort::new();
    config.providers[0].issuer =
        issuer.replace(&format!(":{}", idp.port()), &format!(":{}", down.port()));
    config.save(&env.world.paths.config_file).expect("save");
    let out = env.plugin(&["login", "corp", "--browser"]);
    assert_eq!(out.status.code(), Some(1));
    let line = one_signet_line("unreachable issuer", &text(&out.stderr));
    assert!(
        line.contains("cannot connect"),
        "unreachable issuer: {line}"
    );
}

#[test]
fn doctor_warns_when_two_providers_share_issuer_and_client_id() {
    // Dex keeps one refresh token per (user, connector, client): such providers sign each other out.
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let out = env.plugin(&["doctor"]);
    assert!(
        !text(&out.stdout).contains("same issuer and client id"),
        "one provider: no warning\n{}",
        text(&out.stdout)
    );
    let mut config =
        signet_core::config::Config::load(&env.world.paths.config_file, &env.world.paths.home)
            .expect("the test config loads");
    let mut twin = config.providers[0].clone();
    twin.name = "corp-b".into();
    config.providers.push(twin);
    env.world.write_config(&config);
    let out = env.plugin(&["doctor"]);
    let stdout = text(&out.stdout);
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("same issuer and client id"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning for the pair:\n{stdout}");
    for part in ["warn ", "'corp', 'corp-b'", "its own client id"] {
        assert!(
            warnings[0].contains(part),
            "expected '{part}' in: {}",
            warnings[0]
        );
    }
}

#[test]
fn token_mode_makes_the_kubeconfig_private_and_doctor_checks_the_modes_of_every_secret_file() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let paths = &env.world.paths;
    let mut config =
        signet_core::config::Config::load(&paths.config_file, &paths.home).expect("config");
    config.clusters[0].credentials = signet_core::config::Credentials::Token;
    config.save(&paths.config_file).expect("save");
    let kubeconfig = env.world.root.path().join("kubeconfig");
    chmod(&kubeconfig, 0o644);

    let out = env.plugin(&["login", "corp", "--browser"]);
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    assert_eq!(
        mode(&kubeconfig),
        0o600,
        "a kubeconfig that holds a bearer token is made private"
    );
    let out = env.plugin(&["sync"]);
    assert!(out.status.success(), "sync: {}", text(&out.stderr));
    let log = std::fs::read_to_string(paths.state_dir.join("signet.log")).expect("signet.log");
    assert_eq!(
        log.matches("made it 0600").count(),
        1,
        "logged once, by the write that tightened it:\n{log}"
    );
    assert!(!log.contains("eyJ"), "the log never holds a token");
    let out = env.plugin(&["doctor"]);
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("chmod"),
        "private files: no mode line\n{stdout}"
    );

    // Loosen every file that matters, then doctor names each with its fix.
    let backup = signet_core::kubeconfig::backup_path(&kubeconfig);
    if !backup.exists() {
        std::fs::write(&backup, "users:\n- name: x\n  user:\n    token: old\n").expect("backup");
    }
    chmod(&backup, 0o644);
    chmod(&kubeconfig, 0o644);
    chmod(&paths.config_file, 0o644);
    let cached: Vec<PathBuf> = std::fs::read_dir(paths.tokens_dir())
        .expect("the token cache")
        .map(|e| e.expect("entry").path())
        .flat_map(|p| match std::fs::read_dir(&p) {
            Ok(inner) => inner.map(|e| e.expect("entry").path()).collect(),
            Err(_) => vec![p],
        })
        .collect();
    assert!(!cached.is_empty(), "a token is cached after login");
    for file in &cached {
        chmod(file, 0o644);
    }
    chmod(&paths.tokens_dir(), 0o755);

    let out = env.plugin(&["doctor"]);
    let stdout = text(&out.stdout);
    assert!(
        !out.status.success(),
        "readable tokens fail doctor\n{stdout}"
    );
    let line_for = |path: &Path| -> String {
        let shown = path.display().to_string();
        stdout
            .lines()
            .find(|l| l.contains(&format!("{shown} is mode")))
            .unwrap_or_else(|| panic!("a line for {shown}\n{stdout}"))
            .to_string()
    };
    let mut secret_files = vec![kubeconfig.clone(), backup.clone(), paths.tokens_dir()];
    secret_files.extend(cached);
    for file in secret_files.iter().chain([&paths.config_file]) {
        let line = line_for(file);
        // Only Signet writes the token cache: a readable token there fails; the config, a kubeconfig
        // (the person's file) and its backup warn.
        let level = if file == &kubeconfig || file == &backup || file == &paths.config_file {
            "warn "
        } else {
            "fail "
        };
        assert!(line.starts_with(level), "{line}");
        let fix = if file == &paths.tokens_dir() {
            "chmod 700"
        } else {
            "chmod 600"
        };
        assert!(
            line.contains(&format!("fix: {fix} '{}'", file.display())),
            "{line}"
        );
    }
    assert!(!stdout.contains("eyJ"), "doctor never shows a token");
}

/// Two identity providers at once (issue 12): two Dex stand-ins, each trusted by its own API server; a
/// person signed in to both (alice at one, bob at the other) reaches each cluster with that cluster's
/// provider's token, and neither token ever reaches the other cluster.
#[test]
fn two_identity_providers_signed_in_at_once_each_cluster_gets_its_own_providers_token() {
    let _shared = shared();
    let env = Env::new(IdpOptions::default());
    let lab_idp = Idp::start(IdpOptions::default());
    let lab_api = ApiServer::start(ApiServerOptions::new(lab_idp.issuer(), "kubernetes"));
    let lab_ca = env.world.root.path().join("lab-apiserver-ca.pem");
    std::fs::write(&lab_ca, &lab_api.ca().ca_pem).expect("write the lab API server's CA");
    let paths = &env.world.paths;
    let mut config =
        signet_core::config::Config::load(&paths.config_file, &paths.home).expect("config");
    config
        .providers
        .push(signet_tests::world::provider("lab", lab_idp.issuer(), None));
    let mut staging = signet_tests::world::cluster("staging", "lab", Some("kubernetes"));
    staging.server = lab_api.url().to_string();
    staging.ca_file = Some(lab_ca);
    config.clusters.push(staging);
    env.world.write_config(&config);
    let out = env.plugin(&["sync"]);
    assert!(out.status.success(), "sync: {}", text(&out.stderr));

    env.login();
    let bob = format!("{} browse bob", probe(Path::new(PLUGIN)).display());
    let out = env.plugin(&["login", "lab", "--browser-command", &bob]);
    assert!(out.status.success(), "login lab: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Signed in to lab as bob@example.com (groups: viewers)"),
        "{}",
        text(&out.stdout)
    );

    let out = env.plugin(&["status", "--json"]);
    assert!(out.status.success(), "status: {}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let signed_in: Vec<(String, String)> = status["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter(|p| p["signed_in"] == true)
        .map(|p| {
            (
                p["provider"].as_str().unwrap_or_default().to_string(),
                p["email"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        signed_in,
        [
            ("corp".to_string(), "alice@example.com".to_string()),
            ("lab".to_string(), "bob@example.com".to_string())
        ],
        "both sessions at once: {status}"
    );
    let corp_refresh = env.keyring.lookup("signet", "corp");
    let lab_refresh = env.keyring.lookup("signet", "lab");
    assert!(
        corp_refresh.is_some() && lab_refresh.is_some() && corp_refresh != lab_refresh,
        "each provider has its own refresh token in the keyring"
    );

    // Each cluster, through kubectl and the exec entry, as the person its provider signed in.
    for (context, user) in [
        ("prod", "alice@example.com"),
        ("staging", "bob@example.com"),
    ] {
        let review = whoami(&env.kubectl(&["auth", "whoami", "--context", context, "-o", "json"]));
        assert_eq!(
            review["status"]["userInfo"]["username"], user,
            "kubectl --context {context}"
        );
        let out = env.kubectl(&["get", "ns", "--context", context]);
        assert!(
            out.status.success(),
            "kubectl get ns --context {context}: {}",
            text(&out.stderr)
        );
    }

    // Each token is its own provider's, and each API server only ever saw its own provider's token.
    let token = |cluster: &str| -> String {
        let out = env.plugin(&["token", "--cluster", cluster]);
        assert!(
            out.status.success(),
            "token {cluster}: {}",
            text(&out.stderr)
        );
        let cred: Value = serde_json::from_slice(&out.stdout).expect("ExecCredential JSON");
        cred["status"]["token"]
            .as_str()
            .expect("a token")
            .to_string()
    };
    let (prod_token, staging_token) = (token("prod"), token("staging"));
    assert_eq!(jwt_claims(&prod_token)["iss"], env.world.idp.issuer());
    assert_eq!(jwt_claims(&staging_token)["iss"], lab_idp.issuer());
    let prod_key = signet_tests::apiserver::token_key(&prod_token);
    let staging_key = signet_tests::apiserver::token_key(&staging_token);
    let prod_stats = env.api.stats();
    let lab_stats = lab_api.stats();
    assert_eq!(
        prod_stats.per_token.keys().collect::<Vec<_>>(),
        [&prod_key],
        "prod's API server saw only corp's token: {prod_stats:?}"
    );
    assert_eq!(
        lab_stats.per_token.keys().collect::<Vec<_>>(),
        [&staging_key],
        "staging's API server saw only lab's token: {lab_stats:?}"
    );
    assert_eq!(
        (
            prod_stats.unauthorized_requests,
            lab_stats.unauthorized_requests
        ),
        (0, 0),
        "no request was refused"
    );
}
