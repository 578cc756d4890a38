//! `signet-bench`: the benchmarks of DESIGN.md §8 that compare Signet with other programs, run as whole
//! processes the way kubectl and people run them. Not a test: it measures and prints a table with the
//! ratios and the budgets; `scripts/bench.sh` builds everything in release mode and runs it.
//!
//! ```text
//! signet-bench --plugin target/release/kubectl-signet [--runs 200] [--kubectl-runs 200] [--use-runs 20]
//!              [--kubectl kubectl] [--gke-plugin gke-gcloud-auth-plugin] [--probe target/release/signet-probe]
//!              [--floor target/release/signet-floor]
//!              [--also-plugin PATH]… (other builds' `token` in the same rotation, to compare builds)
//!              [--keep]              (keep the temporary world and print how to run the plugin in it)
//! ```
//!
//! It builds its own world in a temporary directory (nothing touches your `HOME`, kubeconfig or keyring):
//! the Dex stand-in, the API-server stand-in (in this process), a private keyring on its own D-Bus
//! session, and a sign-in through `kubectl-signet login --browser-command "signet-probe browse alice"`.
//! The programs of a row take turns, in a new shuffled order each round, so drift on the machine hits
//! all alike.
//!
//! 1. `kubectl-signet token --cluster prod` with a fresh cached token, beside the floor (`signet-floor`:
//!    reads the same cached-token file and prints the same ExecCredential, nothing else), the same
//!    command over a config with 200 providers and 2,000 clusters, and `gke-gcloud-auth-plugin` serving
//!    its own cache (`~/.kube/gke_gcloud_auth_plugin_cache` with a far-future `token_expiry`, in its own
//!    temporary `HOME`), all in one rotation.
//! 2. `kubectl get --raw /version` against the API-server stand-in through Signet's exec entry, beside the
//!    same call through an exec entry running the floor and with a static token (the same ID token), in
//!    the same kubeconfig (`kubectl.rs`).
//! 3. `kubectl-signet use prod` beside `kubectl config use-context` on a generated kubeconfig with 2,000
//!    contexts (~2 MB); every run really switches the context (the two alternate between two contexts).
//! 4. 100 concurrent kubectl processes with an expired ID token: the IdP's token requests (exactly 1).

mod kubectl;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use signet_core::config::Config;
use signet_core::token_store::TokenCache;
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::bench::{Stats, count, ms, parse_flags};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::keyring::KeyringSession;
use signet_tests::world::{World, cluster, generated_kubeconfig, provider};

struct Options {
    plugin: PathBuf,
    probe: PathBuf,
    floor: PathBuf,
    kubectl: String,
    gke_plugin: String,
    runs: usize,
    kubectl_runs: usize,
    use_runs: usize,
    keep: bool,
    /// Other builds of kubectl-signet whose `token` joins the same rotation (to compare build settings).
    also_plugin: Vec<PathBuf>,
}

fn main() {
    let mut opts = parse_args();
    let plugin = std::fs::canonicalize(&opts.plugin)
        .unwrap_or_else(|e| fail(&format!("--plugin {}: {e}", opts.plugin.display())));
    eprintln!("signet-bench: plugin {}", plugin.display());
    eprintln!(
        "signet-bench: starting the Dex stand-in, the API-server stand-in and a private keyring"
    );

    // The ID token must stay fresh for the whole run: a refresh inside a measured call would be a
    // different benchmark.
    let world = World::new(Idp::start(IdpOptions {
        id_token_ttl: Some(3600),
        ..IdpOptions::default()
    }));
    let plugin = installed_copy(&plugin, &world.root.path().join("bin"), "kubectl-signet");
    opts.floor = installed_copy(&opts.floor, &world.root.path().join("bin"), "signet-floor");
    let api = ApiServer::start(ApiServerOptions::new(world.idp.issuer(), "kubernetes"));
    let api_ca = world.root.path().join("apiserver-ca.pem");
    std::fs::write(&api_ca, &api.ca().ca_pem).unwrap_or_else(|e| fail(&format!("write CA: {e}")));
    let mut config = world.config();
    config.clusters[0].server = api.url().to_string();
    config.clusters[0].ca_file = Some(api_ca);
    world.write_config(&config);
    // Written now, so both configs are settled (cluster_index::SETTLE) by the time `token` is measured.
    let big_config_file = world.root.path().join("big-config.toml");
    big_config(&config)
        .save(&big_config_file)
        .unwrap_or_else(|e| fail(&format!("write the big config: {e}")));
    let keyring = KeyringSession::start(&world.paths.home);
    let env = Env {
        world: &world,
        keyring: &keyring,
        plugin: plugin.clone(),
        kubectl: opts.kubectl.clone(),
    };

    let browser = format!("{} browse alice", opts.probe.display());
    let login = env.plugin(&["login", "corp", "--browser-command", &browser]);
    check(&login, "kubectl-signet login");
    eprint!("{}", text(&login.stdout));

    let mut rows = vec![reference_row(&opts)];
    rows.extend(token_rows(&env, &config, &big_config_file, &opts));
    let token_file = token_file(&env, &config);
    rows.extend(kubectl::kubectl_rows(&env, &api, &token_file, &opts));
    rows.push(use_row(&env, &opts));
    rows.push(kubectl::concurrent_row(&env, &opts));
    print_table(&rows, &opts);
    drop(keyring);
    if opts.keep {
        // For profiling the token path by hand (`strace -c`, `perf stat`): the token cache outlives
        // the run; the IdP, the API server and the keyring do not (a fresh token needs none of them).
        let World { root, paths, .. } = world;
        let root = root.keep();
        println!();
        println!("kept {}; to run the plugin in it:", root.display());
        println!(
            "env -i PATH=\"$PATH\" HOME={} SIGNET_CONFIG={} XDG_CONFIG_HOME={root}/config XDG_CACHE_HOME={root}/cache XDG_STATE_HOME={root}/state KUBECONFIG={root}/kubeconfig {} token --cluster prod",
            paths.home.display(),
            paths.config_file.display(),
            plugin.display(),
            root = root.display(),
        );
    }
}

/// A copy of `program` in `dir`, as a package installs it. The linker's own output file (written through
/// a memory map) starts about 0.1 ms slower on this machine than a copy of the same bytes written with
/// `write`, so every build and the floor are measured as copies (the Go plugin is an installed file).
/// `kubectl-signet` is the small front binary: its full CLI, `signet-cli`, is copied beside it when
/// the build has one (an older build, measured with `--also-plugin`, may be the whole CLI in one file).
fn installed_copy(program: &Path, dir: &Path, name: &str) -> PathBuf {
    let copy = dir.join(name);
    let copy_file = |from: &Path, to: &Path| {
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::copy(from, to))
            .unwrap_or_else(|e| {
                fail(&format!(
                    "copy {} to {}: {e}",
                    from.display(),
                    dir.display()
                ))
            });
    };
    copy_file(program, &copy);
    let full = program.with_file_name("signet-cli");
    if name == "kubectl-signet" && full.is_file() {
        copy_file(&full, &dir.join("signet-cli"));
    }
    copy
}

/// The world's config plus 199 providers and 1,999 clusters (200 and 2,000 in all), each with a CA bundle
/// inline, as a large organisation's catalog would make it.
fn big_config(config: &Config) -> Config {
    let ca = base64::engine::general_purpose::STANDARD.encode(
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGUgZm9yIGEgYmVuY2htYXJr\n-----END CERTIFICATE-----\n",
    );
    let mut big = config.clone();
    for i in 0..199 {
        let mut p = provider(
            &format!("team-{i}"),
            &format!("https://dex-{i}.example.com"),
            None,
        );
        p.ca_data = Some(ca.clone());
        big.providers.push(p);
    }
    for i in 0..1999 {
        let mut c = cluster(
            &format!("cluster-{i}"),
            &format!("team-{}", i % 199),
            Some(&format!("kubernetes-{i}")),
        );
        c.server = format!("https://api-{i}.example.com:6443");
        c.ca_data = Some(ca.clone());
        big.clusters.push(c);
    }
    big
}

/// The environment of every command: the world's `HOME`, XDG directories, Signet config, `KUBECONFIG`
/// and the private keyring.
struct Env<'a> {
    world: &'a World,
    keyring: &'a KeyringSession,
    plugin: PathBuf,
    kubectl: String,
}

impl Env<'_> {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.world.command(program);
        self.keyring.apply(&mut cmd);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn plugin(&self, args: &[&str]) -> Output {
        self.command(&self.plugin)
            .args(args)
            .output()
            .unwrap_or_else(|e| fail(&format!("run kubectl-signet: {e}")))
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.command(&self.kubectl)
            .args(args)
            .output()
            .unwrap_or_else(|e| fail(&format!("run {}: {e}", self.kubectl)))
    }
}

/// One line of the table.
struct Row {
    what: String,
    signet: Stats,
    baseline_name: String,
    baseline: Stats,
    /// How the two are compared: a ratio (`×`) or an overhead in percent.
    comparison: Comparison,
    budget: String,
    /// Whether the measured values are within the budget.
    within: Option<bool>,
    /// A result that is not a timing (shown instead of `signet`'s).
    result: Option<String>,
}

enum Comparison {
    Ratio,
    Overhead,
    None,
}

/// The overhead of `a` over `b` in percent, from the median of the per-round differences (the two ran
/// back to back in each round, so a burst of load on the machine hits both) over `b`'s median.
fn paired_overhead(a: &Stats, b: &Stats) -> f64 {
    let mut diffs: Vec<f64> = a
        .samples
        .iter()
        .zip(&b.samples)
        .map(|(x, y)| x.as_secs_f64() - y.as_secs_f64())
        .collect();
    diffs.sort_by(f64::total_cmp);
    diffs[diffs.len() / 2] / b.median.as_secs_f64() * 100.0
}

fn time(cmd: &mut Command) -> (Duration, Output) {
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("run {cmd:?}: {e}")));
    (started.elapsed(), out)
}

/// Runs `a` and `b` alternately `runs` times each (after `warmup` unmeasured rounds); each closure runs
/// the program once and returns its time.
fn alternate(
    runs: usize,
    warmup: usize,
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
) -> (Stats, Stats) {
    let mut stats = rotate(runs, warmup, &mut [&mut a, &mut b]);
    let second = stats.pop().expect("two programs");
    let first = stats.pop().expect("two programs");
    (first, second)
}

/// Runs every program once per round, `runs` rounds (after `warmup` unmeasured ones), in a new shuffled
/// order each round. A fixed order would give each program the same predecessor every time, and the one
/// right after a heavy process (the Go plugin's exit leaves the kernel work to do) would always pay for it.
fn rotate(runs: usize, warmup: usize, programs: &mut [&mut dyn FnMut() -> Duration]) -> Vec<Stats> {
    let n = programs.len();
    for _ in 0..warmup {
        for p in programs.iter_mut() {
            p();
        }
    }
    let mut samples = vec![Vec::with_capacity(runs); n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..runs {
        shuffle(&mut order, &mut rng);
        for &i in &order {
            samples[i].push(programs[i]());
        }
    }
    samples.into_iter().map(Stats::of).collect()
}

/// Fisher–Yates with xorshift64 (deterministic; statistical quality is not needed here).
fn shuffle(order: &mut [usize], rng: &mut u64) {
    for i in (1..order.len()).rev() {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        let j = (*rng % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

/// The cost of starting any process here (`/bin/true`), for scale.
fn reference_row(opts: &Options) -> Row {
    let run = || time(Command::new("/bin/true").stdin(Stdio::null())).0;
    let (one, _) = alternate(opts.runs, 10, run, run);
    Row {
        what: "process start + exit (`/bin/true`), for scale".into(),
        signet: one.clone(),
        baseline_name: "—".into(),
        baseline: one,
        comparison: Comparison::None,
        budget: "—".into(),
        within: None,
        result: None,
    }
}

/// `token` rows: the plugin (over the world's config and over a config with 200 providers and 2,000
/// clusters, and each `--also-plugin`) beside the floor and the Go plugin, all in one rotation.
fn token_rows(env: &Env, config: &Config, big_config_file: &Path, opts: &Options) -> Vec<Row> {
    eprintln!(
        "signet-bench: token, fresh cached token, {} runs each",
        opts.runs
    );
    wait_until_settled(&[&env.world.paths.config_file, big_config_file]);
    let exec_info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#;
    let big_kib = std::fs::metadata(big_config_file)
        .map(|m| m.len() / 1024)
        .unwrap_or(0);
    let variants = std::iter::once((
        env.plugin.clone(),
        None,
        String::from("`kubectl-signet token --cluster prod`, fresh cached token"),
    ))
    .chain(std::iter::once((
        env.plugin.clone(),
        Some(big_config_file),
        format!("same, config with 200 providers and 2,000 clusters ({big_kib} KiB)"),
    )))
    .chain(opts.also_plugin.iter().enumerate().map(|(i, p)| {
        let dir = env.world.root.path().join(format!("also-{i}"));
        (
            installed_copy(p, &dir, "kubectl-signet"),
            None,
            format!("same, other build: {}", p.display()),
        )
    }));
    let mut plugins: Vec<(String, Command, Vec<u8>)> = variants
        .map(|(plugin, config_file, what)| {
            let mut cmd = env.command(&plugin);
            cmd.args(["token", "--cluster", "prod"])
                .env("KUBERNETES_EXEC_INFO", exec_info);
            if let Some(file) = config_file {
                cmd.env("SIGNET_CONFIG", file);
            }
            let first = cmd
                .output()
                .unwrap_or_else(|e| fail(&format!("{} token: {e}", plugin.display())));
            check(&first, "kubectl-signet token");
            let cred: serde_json::Value = serde_json::from_slice(&first.stdout)
                .unwrap_or_else(|e| fail(&format!("token printed no JSON: {e}")));
            if cred["status"]["token"].as_str().is_none() {
                fail("kubectl-signet token printed no token");
            }
            // The first call recorded the cluster's route; say whether the next one takes the fast path.
            let debug = cmd
                .env("SIGNET_LOG", "debug")
                .output()
                .unwrap_or_else(|e| fail(&format!("{} token: {e}", plugin.display())));
            cmd.env_remove("SIGNET_LOG");
            let fast = text(&debug.stderr).contains("through the cluster index");
            eprintln!(
                "signet-bench: {what}: {}",
                if fast {
                    "served through the cluster index"
                } else {
                    "not served through the cluster index (or a build that does not say so)"
                }
            );
            (what, cmd, first.stdout)
        })
        .collect();

    let token_file = token_file(env, config);
    let mut floor_cmd = env.command(&opts.floor);
    floor_cmd.arg(&token_file);
    let first = floor_cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("run {}: {e}", opts.floor.display())));
    check(&first, "signet-floor");
    if first.stdout != plugins[0].2 {
        fail(&format!(
            "signet-floor and kubectl-signet print different ExecCredentials:\n{}\n{}",
            text(&first.stdout),
            text(&plugins[0].2)
        ));
    }

    let gke_home = env.world.root.path().join("gke-home");
    let mut gke_cmd = gke_command(&gke_home, &opts.gke_plugin);
    let first = gke_cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("run {}: {e}", opts.gke_plugin)));
    check(&first, "gke-gcloud-auth-plugin");
    let cred: serde_json::Value = serde_json::from_slice(&first.stdout)
        .unwrap_or_else(|e| fail(&format!("gke-gcloud-auth-plugin printed no JSON: {e}")));
    if cred["status"]["token"] != GKE_CACHED_TOKEN {
        fail("gke-gcloud-auth-plugin did not serve its cache (it would call gcloud)");
    }

    let mut gke = || {
        let (took, out) = time(&mut gke_cmd);
        check(&out, "gke-gcloud-auth-plugin");
        took
    };
    let mut floor = || {
        let (took, out) = time(&mut floor_cmd);
        check(&out, "signet-floor");
        took
    };
    let mut runners: Vec<Box<dyn FnMut() -> Duration + '_>> = plugins
        .iter_mut()
        .map(|(_, cmd, _)| {
            Box::new(move || {
                let (took, out) = time(cmd);
                check(&out, "kubectl-signet token");
                took
            }) as Box<dyn FnMut() -> Duration>
        })
        .collect();
    let mut programs: Vec<&mut dyn FnMut() -> Duration> = vec![&mut gke, &mut floor];
    programs.extend(
        runners
            .iter_mut()
            .map(|r| r.as_mut() as &mut dyn FnMut() -> Duration),
    );
    let stats = rotate(opts.runs, 20, &mut programs);
    drop(programs);
    drop(runners);
    let gke = stats[0].clone();
    let floor = stats[1].clone();
    let mut rows = vec![Row {
        what: "floor: `signet-floor` reads the cached-token file and prints the ExecCredential"
            .into(),
        signet: floor.clone(),
        baseline_name: "—".into(),
        baseline: floor.clone(),
        comparison: Comparison::None,
        budget: "—".into(),
        within: None,
        result: None,
    }];
    for ((what, _, _), signet) in plugins.iter().zip(&stats[2..]) {
        rows.push(Row {
            what: what.clone(),
            signet: signet.clone(),
            baseline_name: "the floor".into(),
            baseline: floor.clone(),
            comparison: Comparison::Ratio,
            budget: "≤ 1.15×".into(),
            within: Some(ratio(signet.median, floor.median) <= 1.15),
            result: None,
        });
    }
    rows.push(Row {
        what: "`kubectl-signet token --cluster prod`, fresh cached token".into(),
        signet: stats[2].clone(),
        baseline_name: "`gke-gcloud-auth-plugin`, cached token".into(),
        baseline: gke,
        comparison: Comparison::Ratio,
        budget: "—".into(),
        within: None,
        result: None,
    });
    rows
}

/// The cached-token file of the world's cluster `prod` (what the floor reads).
fn token_file(env: &Env, config: &Config) -> PathBuf {
    let cluster = &config.clusters[0];
    let provider = config
        .provider(&cluster.provider)
        .unwrap_or_else(|| fail("the world's cluster has no provider"));
    TokenCache::new(&env.world.paths).path_for(&provider.name, cluster.audience_or(provider))
}

/// Sleeps until every file's times are [`signet_core::cluster_index::SETTLE`] old, so the first `token`
/// call records the cluster's route and the measured calls can take the fast path.
fn wait_until_settled(files: &[&Path]) {
    let settle = signet_core::cluster_index::SETTLE + Duration::from_millis(100);
    for file in files {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(file)
            .unwrap_or_else(|e| fail(&format!("stat {}: {e}", file.display())));
        let changed = std::time::UNIX_EPOCH
            + Duration::new(u64::try_from(m.ctime().max(m.mtime())).unwrap_or(0), 0)
            + Duration::from_secs(1);
        let age = changed.elapsed().unwrap_or_default();
        if age < settle {
            std::thread::sleep(settle - age);
        }
    }
}

const GKE_CACHED_TOKEN: &str = "ya29.signet-bench-cached-token";

/// `gke-gcloud-auth-plugin` in its own `HOME` whose `~/.kube` holds a one-context kubeconfig and the
/// plugin's cache for that context, valid until 2099. The plugin keys the cache on the kubeconfig's
/// `current-context` and its extra arguments (none here), and reads it from the kubeconfig's directory.
fn gke_command(home: &Path, program: &str) -> Command {
    let kube = home.join(".kube");
    std::fs::create_dir_all(&kube).unwrap_or_else(|e| fail(&format!("mkdir: {e}")));
    std::fs::write(
        kube.join("config"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gke\n  cluster:\n    server: https://127.0.0.1:1\n\
         users:\n- name: gke\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n\
         \x20     command: gke-gcloud-auth-plugin\n      interactiveMode: IfAvailable\n\
         contexts:\n- name: gke\n  context:\n    cluster: gke\n    user: gke\ncurrent-context: gke\n",
    )
    .unwrap_or_else(|e| fail(&format!("write the gke kubeconfig: {e}")));
    let cache = serde_json::json!({
        "current_context": "gke",
        "access_token": GKE_CACHED_TOKEN,
        "token_expiry": "2099-01-01T00:00:00Z",
        "extra_args": "",
    });
    std::fs::write(kube.join("gke_gcloud_auth_plugin_cache"), cache.to_string())
        .unwrap_or_else(|e| fail(&format!("write the gke cache: {e}")));
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", kube.join("config"))
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
        )
        .stdin(Stdio::null());
    cmd
}

fn use_row(env: &Env, opts: &Options) -> Row {
    let file = env.world.root.path().join("big-kubeconfig");
    std::fs::write(&file, generated_kubeconfig(2000))
        .unwrap_or_else(|e| fail(&format!("write the generated kubeconfig: {e}")));
    let with_big = |mut cmd: Command| {
        cmd.env("KUBECONFIG", &file);
        cmd
    };
    // Signet's entries in the big file; the first change also makes the one backup, outside the timing.
    let sync = with_big(env.command(&env.plugin)).arg("sync").output();
    check(
        &sync.unwrap_or_else(|e| fail(&format!("sync: {e}"))),
        "kubectl-signet sync",
    );
    let size_kib = std::fs::metadata(&file)
        .map(|m| m.len() / 1024)
        .unwrap_or(0);
    eprintln!(
        "signet-bench: use vs kubectl config use-context on 2,000 contexts ({size_kib} KiB), {} runs each",
        opts.use_runs
    );
    // Each program switches away from the context the other just chose, so every run writes.
    let (signet, kubectl) = alternate(
        opts.use_runs,
        2,
        || {
            let mut cmd = with_big(env.command(&env.plugin));
            cmd.args(["use", "prod"]);
            let (took, out) = time(&mut cmd);
            check(&out, "kubectl-signet use prod");
            took
        },
        || {
            let mut cmd = with_big(env.command(&env.kubectl));
            cmd.args(["config", "use-context", "ctx-1000"]);
            let (took, out) = time(&mut cmd);
            check(&out, "kubectl config use-context");
            took
        },
    );
    let ratio = ratio(signet.median, kubectl.median);
    Row {
        what: format!("`kubectl-signet use prod`, 2,000 contexts ({size_kib} KiB)"),
        signet,
        baseline_name: "`kubectl config use-context`".into(),
        baseline: kubectl,
        comparison: Comparison::Ratio,
        budget: "≤ 0.05×".into(),
        within: Some(ratio <= 0.05),
        result: None,
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn overhead(a: Duration, b: Duration) -> f64 {
    (a.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0
}

fn print_table(rows: &[Row], opts: &Options) {
    println!();
    println!(
        "Medians (p10–p90) of whole-process wall time; the programs of a row took turns (shuffled each round)."
    );
    println!(
        "kubectl overhead: median of the per-round differences over the static-token median (medians: the"
    );
    println!("ratio of the two medians).");
    println!();
    println!("| Measurement | Signet | Compared with | Baseline | Ratio | Budget | Within |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let (baseline, comparison) = match r.comparison {
            Comparison::Ratio => (
                r.baseline.spread(),
                format!("{:.2}×", ratio(r.signet.median, r.baseline.median)),
            ),
            Comparison::Overhead => (
                r.baseline.spread(),
                format!(
                    "{:+.1}% (medians: {:+.1}%)",
                    paired_overhead(&r.signet, &r.baseline),
                    overhead(r.signet.median, r.baseline.median)
                ),
            ),
            Comparison::None => ("—".into(), "—".into()),
        };
        let within = match r.within {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.what,
            r.result.clone().unwrap_or_else(|| r.signet.spread()),
            r.baseline_name,
            baseline,
            comparison,
            r.budget,
            within
        );
    }
    println!();
    println!(
        "plugin: {}; kubectl: {}; runs: token {}, kubectl {}, use {}",
        opts.plugin.display(),
        opts.kubectl,
        opts.runs,
        opts.kubectl_runs,
        opts.use_runs
    );
}

fn check(out: &Output, what: &str) {
    if !out.status.success() {
        fail(&format!(
            "{what} failed ({}): {}",
            out.status,
            text(&out.stderr)
        ));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_args() -> Options {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut opts = Options {
        plugin: PathBuf::new(),
        probe: here.join("signet-probe"),
        floor: here.join("signet-floor"),
        kubectl: "kubectl".into(),
        gke_plugin: "gke-gcloud-auth-plugin".into(),
        runs: 200,
        kubectl_runs: 200,
        use_runs: 20,
        keep: false,
        also_plugin: Vec::new(),
    };
    opts.keep = parse_flags("signet-bench", USAGE, |flag, value| {
        match flag {
            "--plugin" => opts.plugin = PathBuf::from(value),
            "--probe" => opts.probe = PathBuf::from(value),
            "--floor" => opts.floor = PathBuf::from(value),
            "--also-plugin" => opts.also_plugin.push(PathBuf::from(value)),
            "--kubectl" => opts.kubectl = value,
            "--gke-plugin" => opts.gke_plugin = value,
            "--runs" => opts.runs = count(flag, &value)?,
            "--kubectl-runs" => opts.kubectl_runs = count(flag, &value)?,
            "--use-runs" => opts.use_runs = count(flag, &value)?,
            other => return Err(format!("unknown flag {other}")),
        }
        Ok(())
    });
    if opts.plugin.as_os_str().is_empty() {
        fail("--plugin is required (build it with `cargo build --release -p kubectl-signet`)");
    }
    opts
}

const USAGE: &str = "usage: signet-bench --plugin PATH [--runs N] [--kubectl-runs N] [--use-runs N] \
                     [--kubectl PROGRAM] [--gke-plugin PROGRAM] [--probe PATH] [--floor PATH] [--also-plugin PATH] \
                     [--keep]";

fn fail(msg: &str) -> ! {
    signet_tests::bench::fail("signet-bench", USAGE, msg)
}
