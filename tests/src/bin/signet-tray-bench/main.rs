//! `signet-tray-bench`: the tray app's budgets of DESIGN.md §8, measured on the real `signet` binary
//! (release build) in a private desktop. Not a test: it measures and prints a Markdown table with the
//! budgets; nothing fails on a missed budget. `scripts/bench-tray.sh` builds everything in release mode
//! and runs it.
//!
//! ```text
//! signet-tray-bench --app target/release/signet --plugin target/release/kubectl-signet
//!                   [--probe target/release/signet-probe]
//!                   [--launch-runs 15] [--idle-secs 60] [--idle-runs 1] [--wake-secs 300]
//!                   [--baseline-app PATH] [--sign-in-runs 8]
//!                   [--parts launch,idle,sign-in] [--keep]
//!                   [--app-env KEY=VALUE]…   (added to the app's environment, for experiments)
//! ```
//!
//! Everything runs in a temporary root: its own `HOME`, `XDG_*`, `KUBECONFIG` and Signet config, its own
//! D-Bus session (`dbus-run-session`, set up before the bus starts so the services it activates live in
//! the root too) with an unlocked gnome-keyring, Xvfb on a free display, a quiet notification server on
//! that bus, the Dex stand-in (`tests/idp`) and the API-server stand-in (in this process). Nothing
//! touches your `HOME`, kubeconfig or keyring. The config has provider `corp` (embedded sign-in) and
//! cluster `prod`, so the app starts in the tray only (no window) unless WebDriver drives it.
//!
//! 1. **Launch → tray.** From spawning `signet` to its StatusNotifierItem
//!    (`/org/ayatana/NotificationItem/tray_icon_tray_app_signet`) being exported on the session bus,
//!    polled every 2 ms in-process with zbus (`ListNames` + `GetConnectionUnixProcessID` to find the
//!    app's connections, then `Properties.Get(org.kde.StatusNotifierItem, Id)` on the item). Runs
//!    rotate between a bus with a StatusNotifierWatcher (as under a desktop panel; the time its
//!    `RegisterStatusNotifierItem` call arrives is recorded too), one without (as in the tests), and
//!    one with a watcher and `GDK_GL=` set empty, so that GDK probes GL at start as it did before the app
//!    set `GDK_GL=disable` itself (the probe's cost in the same run). Budget: p90.
//!    The agent socket (`$XDG_RUNTIME_DIR/signet/agent.sock`) appearing is polled in the same loop.
//!    One unmeasured launch first (page cache, portals the bus activates).
//! 2. **Idle memory and wake-ups.** The app with no window open, after `--idle-secs` idle: `RssAnon`
//!    (the budget) and `VmRSS` from `/proc/<pid>/status`; then, over `--wake-secs`, each thread's
//!    voluntary context switches (`/proc/<pid>/task/*/status`: every sleep ends in a wake-up), summed
//!    per thread name. Not signed in, nothing is planned, so the budget is 0. With `--baseline-app`, a
//!    former build idles beside it at the same time, in a desktop of its own.
//! 3. **Sign-in.** The app under tauri-driver (it then opens its switcher window, and login windows
//!    share the automation context); `kubectl-signet token --cluster prod` (interactive) asks the app's
//!    agent to sign in, the app opens its login window, the benchmark fills the Dex stand-in's form
//!    through WebDriver, takes t0 right before sending the click on "Login", and polls `KUBECONFIG`
//!    every 1 ms until it holds the context `prod` (the file is removed before each run). Between runs
//!    `kubectl-signet logout corp`. The app's log (`signet_core=debug`) splits each interval. Before the
//!    app starts, two sign-ins with `signet-probe` warm the Node stand-in up (its first requests are
//!    much slower than later ones; Dex has no such warm-up).

mod bus;
mod desktop;
mod idle;
mod launch;
mod sign_in;

use std::path::{Path, PathBuf};
use std::time::Duration;

use signet_core::config::{Config, LoginMode};
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::bench::{Stats, count, parse_flags};
use signet_tests::desktop::on_path;
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::{cluster, provider};

use desktop::Desktop;

/// How often the launch loop looks at the bus and the socket.
const LAUNCH_POLL: Duration = Duration::from_millis(2);
/// How often the sign-in loop looks at the kubeconfig file.
const KUBECONFIG_POLL: Duration = Duration::from_millis(1);
const MIB: f64 = 1024.0 * 1024.0;

struct Options {
    app: PathBuf,
    plugin: PathBuf,
    probe: PathBuf,
    launch_runs: usize,
    idle_secs: u64,
    idle_runs: usize,
    /// How long wake-ups are counted after the idle time.
    wake_secs: u64,
    /// A former build run beside `app` in the idle part (its own desktop), as the baseline.
    baseline_app: Option<PathBuf>,
    sign_in_runs: usize,
    parts: Vec<String>,
    keep: bool,
    /// Extra `KEY=VALUE`s for the app's environment (experiments: `LD_BIND_NOW=1`, `GDK_GL=disable`).
    app_env: Vec<(String, String)>,
}

fn main() {
    let opts = parse_args();
    let app = std::fs::canonicalize(&opts.app)
        .unwrap_or_else(|e| fail(&format!("--app {}: {e}", opts.app.display())));
    let plugin = std::fs::canonicalize(&opts.plugin)
        .unwrap_or_else(|e| fail(&format!("--plugin {}: {e}", opts.plugin.display())));
    for tool in ["Xvfb", "dbus-run-session", "gnome-keyring-daemon"] {
        if !on_path(tool) {
            fail(&format!(
                "`{tool}` is not installed: run scripts/setup.sh (it installs xvfb, dbus, gnome-keyring)"
            ));
        }
    }
    eprintln!("signet-tray-bench: app {}", app.display());
    let loads = vec![("start", load_average())];
    let mut bench = Bench {
        opts,
        app,
        plugin,
        idp: Idp::start(IdpOptions {
            id_token_ttl: Some(3600),
            ..IdpOptions::default()
        }),
        api: None,
        rows: Vec::new(),
        notes: Vec::new(),
        loads,
    };
    let api = ApiServer::start(ApiServerOptions::new(bench.idp.issuer(), "kubernetes"));
    bench.api = Some(api);

    let part = |name: &str| bench.opts.parts.iter().any(|p| p == name);
    let (launch, idle, sign_in) = (part("launch"), part("idle"), part("sign-in"));
    if launch || idle {
        let root = tempfile::tempdir().expect("create the benchmark root");
        let desktop = Desktop::start(root.path(), &bench.config(root.path()), &bench.opts.app_env);
        if launch {
            bench.launch(&desktop);
            bench.loads.push(("after launch", load_average()));
        }
        if idle {
            bench.idle(&desktop);
            bench.loads.push(("after idle", load_average()));
        }
        drop(desktop);
        bench.keep(root);
    }
    if sign_in {
        let root = tempfile::tempdir().expect("create the benchmark root");
        let desktop = Desktop::start(root.path(), &bench.config(root.path()), &bench.opts.app_env);
        bench.sign_in(&desktop);
        bench.loads.push(("after sign-in", load_average()));
        drop(desktop);
        bench.keep(root);
    }
    bench.print();
}

struct Bench {
    opts: Options,
    app: PathBuf,
    plugin: PathBuf,
    idp: Idp,
    api: Option<ApiServer>,
    rows: Vec<Row>,
    /// Lines printed under the table (what dominated, what an interval includes).
    notes: Vec<String>,
    loads: Vec<(&'static str, String)>,
}

impl Bench {
    fn api(&self) -> &ApiServer {
        self.api.as_ref().expect("the API server runs")
    }

    /// Provider `corp` (embedded sign-in at the Dex stand-in) and cluster `prod` at the API-server
    /// stand-in, whose CA goes into `root`.
    fn config(&self, root: &Path) -> Config {
        let ca = root.join("apiserver-ca.pem");
        std::fs::write(&ca, &self.api().ca().ca_pem).expect("write the API server's CA");
        let mut corp = provider("corp", self.idp.issuer(), None);
        corp.login = LoginMode::Embedded;
        let mut prod = cluster("prod", "corp", Some("kubernetes"));
        prod.server = self.api().url().to_string();
        prod.ca_file = Some(ca);
        Config {
            providers: vec![corp],
            clusters: vec![prod],
            ..Config::default()
        }
    }

    fn keep(&self, root: tempfile::TempDir) {
        if self.opts.keep {
            let kept = root.keep();
            eprintln!("signet-tray-bench: kept {}", kept.display());
        }
    }

    fn print(&self) {
        println!();
        println!(
            "Tray app (`signet`, release build), Xvfb + private D-Bus session + gnome-keyring; medians (p10–p90)."
        );
        println!();
        println!("| Measurement | Result | Budget | Within |");
        println!("|---|---|---|---|");
        for r in &self.rows {
            let within = match r.within {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            };
            println!("| {} | {} | {} | {} |", r.what, r.result, r.budget, within);
        }
        println!();
        for note in &self.notes {
            println!("- {note}");
        }
        println!();
        println!(
            "Polling: launch loop every {} ms (zbus in-process, plus a `stat` of the socket); kubeconfig every {} ms.",
            LAUNCH_POLL.as_millis(),
            KUBECONFIG_POLL.as_millis()
        );
        let loads: Vec<String> = self
            .loads
            .iter()
            .map(|(when, load)| format!("{when}: {load}"))
            .collect();
        println!(
            "Machine: {} CPUs; load averages (1/5/15 min) {}.",
            std::thread::available_parallelism().map_or(0, usize::from),
            loads.join("; ")
        );
        println!(
            "app: {}; runs: launch {} per configuration (+1 warm-up), idle {} × {} s, sign-in {}",
            self.app.display(),
            self.opts.launch_runs,
            self.opts.idle_runs,
            self.opts.idle_secs,
            self.opts.sign_in_runs
        );
    }
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// -------------------------------------------------------------------------------------------------
// Statistics and the table

/// Median and p10–p90 of plain numbers (bytes).
struct Quantiles {
    runs: usize,
    median: f64,
    p10: f64,
    p90: f64,
}

impl Quantiles {
    fn of(mut values: Vec<f64>) -> Quantiles {
        values.sort_by(f64::total_cmp);
        if values.is_empty() {
            return Quantiles {
                runs: 0,
                median: f64::NAN,
                p10: f64::NAN,
                p90: f64::NAN,
            };
        }
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Quantiles {
            runs: values.len(),
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
        }
    }

    fn of_bytes(samples: &[u64]) -> Quantiles {
        Quantiles::of(samples.iter().map(|&b| b as f64).collect())
    }
}

struct Row {
    what: String,
    result: String,
    budget: String,
    within: Option<bool>,
}

impl Row {
    fn duration(what: &str, s: &Stats, budget: &str, within: Option<bool>) -> Row {
        Row {
            what: what.into(),
            result: s.spread(),
            budget: budget.into(),
            within: within.filter(|_| s.runs > 0),
        }
    }

    fn memory(what: &str, s: &Quantiles, budget: &str, within: Option<bool>) -> Row {
        let mb = |b: f64| format!("{:.1} MB ({:.1} MiB)", b / 1e6, b / MIB);
        let result = if s.runs == 1 {
            format!("{}, n=1", mb(s.median))
        } else {
            format!(
                "{} (range {:.1}–{:.1} MB), n={}",
                mb(s.median),
                s.p10 / 1e6,
                s.p90 / 1e6,
                s.runs
            )
        };
        Row {
            what: what.into(),
            result,
            budget: budget.into(),
            within,
        }
    }
}

fn parse_args() -> Options {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut opts = Options {
        app: PathBuf::new(),
        plugin: PathBuf::new(),
        probe: here.join("signet-probe"),
        launch_runs: 15,
        idle_secs: 60,
        idle_runs: 1,
        wake_secs: 300,
        baseline_app: None,
        sign_in_runs: 8,
        parts: vec!["launch".into(), "idle".into(), "sign-in".into()],
        keep: false,
        app_env: Vec::new(),
    };
    opts.keep = parse_flags("signet-tray-bench", USAGE, |flag, value| {
        match flag {
            "--app" => opts.app = PathBuf::from(value),
            "--plugin" => opts.plugin = PathBuf::from(value),
            "--probe" => opts.probe = PathBuf::from(value),
            "--launch-runs" => opts.launch_runs = count(flag, &value)?,
            "--idle-secs" => opts.idle_secs = count(flag, &value)? as u64,
            "--idle-runs" => opts.idle_runs = count(flag, &value)?,
            "--wake-secs" => opts.wake_secs = count(flag, &value)? as u64,
            "--baseline-app" => opts.baseline_app = Some(PathBuf::from(value)),
            "--sign-in-runs" => opts.sign_in_runs = count(flag, &value)?,
            "--app-env" => match value.split_once('=') {
                Some((key, val)) if !key.is_empty() => {
                    opts.app_env.push((key.to_string(), val.to_string()));
                }
                _ => return Err(format!("--app-env: not KEY=VALUE: {value}")),
            },
            "--parts" => {
                opts.parts = value.split(',').map(|p| p.trim().to_string()).collect();
                if let Some(bad) = opts
                    .parts
                    .iter()
                    .find(|p| !["launch", "idle", "sign-in"].contains(&p.as_str()))
                {
                    return Err(format!("--parts: unknown part {bad}"));
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
        Ok(())
    });
    if opts.app.as_os_str().is_empty() || opts.plugin.as_os_str().is_empty() {
        fail("--app and --plugin are required (scripts/bench-tray.sh passes the release builds)");
    }
    opts
}

const USAGE: &str = "usage: signet-tray-bench --app PATH --plugin PATH [--probe PATH] [--launch-runs N] [--idle-secs N] \
                     [--idle-runs N] [--wake-secs N] [--baseline-app PATH] [--sign-in-runs N] [--parts launch,idle,sign-in] [--keep] \
                     [--app-env KEY=VALUE]…";

fn fail(msg: &str) -> ! {
    signet_tests::bench::fail("signet-tray-bench", USAGE, msg)
}
