//! The rows with real kubectl: `kubectl get --raw /version` through Signet's exec entry, through an exec
//! entry running the floor, and with a static token (one rotation); then 100 concurrent kubectl
//! processes whose token has expired, which must cause exactly one token request to the IdP.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use signet_tests::apiserver::ApiServer;

use super::{Comparison, Env, Options, Row, check, fail, paired_overhead, rotate, text, time};

/// The kubectl overhead budget of DESIGN.md §8, in percent.
const OVERHEAD_BUDGET: f64 = 3.0;

/// `kubectl get --raw /version` with Signet's exec entry (context `prod`), with an exec entry that runs
/// the floor on the same cached-token file (`prod-floor`: what any exec plugin costs kubectl at least),
/// and with the same ID token as a static `token:` (`prod-static`), in one rotation.
pub fn kubectl_rows(env: &Env, api: &ApiServer, token_file: &Path, opts: &Options) -> Vec<Row> {
    eprintln!(
        "signet-bench: kubectl get --raw /version, exec entry vs floor exec entry vs static token, {} runs each",
        opts.kubectl_runs
    );
    let token = current_token(env);
    add_context(env, "prod-static", &["--token", &token]);
    let floor = opts.floor.display().to_string();
    let file = token_file.display().to_string();
    add_context(
        env,
        "prod-floor",
        &[
            &format!("--exec-command={floor}"),
            &format!("--exec-arg={file}"),
            "--exec-api-version=client.authentication.k8s.io/v1",
            "--exec-interactive-mode=IfAvailable",
        ],
    );

    let run = |context: &str| {
        let mut cmd = env.command(&env.kubectl);
        cmd.args(["get", "--raw", "/version", "--context", context]);
        let (took, out) = time(&mut cmd);
        check(&out, "kubectl get --raw /version");
        took
    };
    api.reset_stats();
    let warmup = 5;
    let (mut signet, mut floor, mut static_token) =
        (|| run("prod"), || run("prod-floor"), || run("prod-static"));
    let mut stats = rotate(
        opts.kubectl_runs,
        warmup,
        &mut [&mut signet, &mut floor, &mut static_token],
    );
    // Every kubectl run must be exactly one request with the token: a dispatcher that asks the server
    // for its version first would run the plugin twice and skew the comparison.
    let requests = api.requests_for_token_count(&token);
    let expected = 3 * (opts.kubectl_runs + warmup) as u64;
    if requests != expected {
        eprintln!(
            "signet-bench: warning: the API server saw {requests} requests with the token, expected {expected}"
        );
    }
    let static_token = stats.pop().unwrap_or_else(|| fail("three programs"));
    let floor_exec = stats.pop().unwrap_or_else(|| fail("three programs"));
    let exec = stats.pop().unwrap_or_else(|| fail("three programs"));
    let within = |s| paired_overhead(s, &static_token) <= OVERHEAD_BUDGET;
    vec![
        Row {
            what: "`kubectl get --raw /version` through Signet's exec entry".into(),
            within: Some(within(&exec)),
            signet: exec,
            baseline_name: "same with a static token".into(),
            baseline: static_token.clone(),
            comparison: Comparison::Overhead,
            budget: format!("≤ {OVERHEAD_BUDGET}% overhead"),
            result: None,
        },
        Row {
            what: "same through an exec entry running the floor (what any exec plugin costs)"
                .into(),
            signet: floor_exec,
            baseline_name: "same with a static token".into(),
            baseline: static_token,
            comparison: Comparison::Overhead,
            budget: "—".into(),
            within: None,
            result: None,
        },
    ]
}

/// The ID token `kubectl-signet token --cluster prod` prints now.
fn current_token(env: &Env) -> String {
    let out = env.plugin(&["token", "--cluster", "prod"]);
    check(&out, "kubectl-signet token");
    let cred: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| fail(&format!("JSON: {e}")));
    cred["status"]["token"]
        .as_str()
        .unwrap_or_else(|| fail("no token"))
        .to_owned()
}

/// A user `bench-<context>` with `credentials` (`kubectl config set-credentials` flags) and a context of
/// that name on cluster `prod`.
fn add_context(env: &Env, context: &str, credentials: &[&str]) {
    let user = format!("bench-{context}");
    let mut args = vec!["config", "set-credentials", &user];
    args.extend_from_slice(credentials);
    check(&env.kubectl(&args), "kubectl config set-credentials");
    let user_flag = format!("--user={user}");
    let set = env.kubectl(&[
        "config",
        "set-context",
        context,
        "--cluster=prod",
        &user_flag,
    ]);
    check(&set, "kubectl config set-context");
}

/// How many kubectl processes start at once with an expired token (DESIGN.md §8).
const CONCURRENT: usize = 100;

/// 100 `kubectl get --raw /version` started at once through Signet's exec entry while the cached ID
/// token has expired: all must succeed, with exactly one token request (a refresh) to the IdP. Signs in
/// again with a 5 s ID token and waits until it has expired; the refresh then gives a 1 h token, fresh
/// for however long the processes take to start, so a second request can only be a locking bug.
/// Run last: it replaces the session the other rows use.
pub fn concurrent_row(env: &Env, opts: &Options) -> Row {
    eprintln!(
        "signet-bench: {CONCURRENT} concurrent kubectl with an expired token (signs in again and waits 6 s)"
    );
    let idp = &env.world.idp;
    idp.set_id_token_ttl(5);
    let browser = format!("{} browse alice", opts.probe.display());
    check(
        &env.plugin(&["login", "corp", "--browser-command", &browser]),
        "kubectl-signet login",
    );
    idp.set_id_token_ttl(3600);
    std::thread::sleep(Duration::from_secs(6));
    idp.reset_stats();
    let started = Instant::now();
    let children: Vec<Child> = (0..CONCURRENT)
        .map(|_| {
            env.command(&env.kubectl)
                .args(["get", "--raw", "/version", "--context", "prod"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| fail(&format!("spawn kubectl: {e}")))
        })
        .collect();
    let mut failed = Vec::new();
    for child in children {
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| fail(&format!("wait for kubectl: {e}")));
        if !out.status.success() {
            failed.push(text(&out.stderr));
        }
    }
    let took = started.elapsed();
    let stats = idp.stats();
    if let Some(first) = failed.first() {
        eprintln!("signet-bench: a concurrent kubectl failed: {first}");
    }
    let requests = stats.token_requests.total;
    Row {
        what: format!("{CONCURRENT} concurrent `kubectl get --raw /version`, expired ID token"),
        signet: super::Stats::of(vec![took]),
        baseline_name: "—".into(),
        baseline: super::Stats::of(vec![took]),
        comparison: Comparison::None,
        budget: "exactly 1 token request; all succeed".into(),
        within: Some(requests == 1 && failed.is_empty()),
        result: Some(format!(
            "{requests} token request(s) ({} refresh), {}/{CONCURRENT} succeeded, {} for all",
            stats.token_requests.refresh_token,
            CONCURRENT - failed.len(),
            super::ms(took)
        )),
    }
}
