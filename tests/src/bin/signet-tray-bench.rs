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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;
use signet_core::config::{Config, LoginMode};
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::bench::{Stats, count, ms, parse_flags};
use signet_tests::desktop::{App, Session, on_path};
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::webdriver::{Driver, WebDriver, wait_until};
use signet_tests::world::{cluster, provider};

/// `TrayIconBuilder::with_id("signet")` as libayatana-appindicator exports it.
const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_signet";
const ITEM_INTERFACE: &str = "org.kde.StatusNotifierItem";
const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";
/// How long the benchmark waits for an answer to a D-Bus call.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection of the app that did not answer this many calls in a row is not asked again (GTK's
/// connection may be slow while the app starts; a connection with no object server never answers).
const SILENT_AFTER: u32 = 3;
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

    // ---------------------------------------------------------------------------------------------
    // 1. Launch → tray registered

    fn launch(&mut self, desktop: &Desktop) {
        let runs = self.opts.launch_runs;
        eprintln!(
            "signet-tray-bench: launch → tray, {runs} runs each with a StatusNotifierWatcher, without one, \
             and with one and `GDK_GL=` (empty: GDK probes GL), interleaved"
        );
        let bus = Bus::connect(&desktop.bus);
        let mut watcher = WatcherHost::new(&desktop.bus);
        // Unmeasured: the first start pays for the page cache and the services the bus activates.
        let warm = self.launch_once(desktop, &bus, &mut watcher, true, &[]);
        eprintln!(
            "  warm-up: exported after {}",
            ms(warm.exported.unwrap_or_default())
        );
        let mut with = Vec::new();
        let mut without = Vec::new();
        let mut probed = Vec::new();
        // An empty `GDK_GL` is left alone by the app (a value the person set), and GDK then probes GL as
        // it did before the app set `GDK_GL=disable` itself (main.rs `skip_gl_probe`): the cost of the
        // probe, in the same run. For a former build, the same as leaving it unset.
        let gl_probe: &[(&str, &str)] = &[("GDK_GL", "")];
        for round in 0..runs {
            // Rotate which configuration goes first in a round, so none always follows another.
            let mut order = [(true, false), (false, false), (true, true)];
            order.rotate_left(round % 3);
            for (watched, gl_probed) in order {
                let env = if gl_probed { gl_probe } else { &[] };
                let sample = self.launch_once(desktop, &bus, &mut watcher, watched, env);
                eprintln!(
                    "  run {:>2} {:<10} exported {:>9}  registered {:>9}  socket {:>9}  first log line {:>9}",
                    round + 1,
                    match (watched, gl_probed) {
                        (true, false) => "watcher",
                        (false, _) => "no watcher",
                        (true, true) => "GL probe",
                    },
                    sample.exported.map(ms).unwrap_or_else(|| "—".into()),
                    sample.registered.map(ms).unwrap_or_else(|| "—".into()),
                    sample.socket.map(ms).unwrap_or_else(|| "—".into()),
                    sample.first_log.map(ms).unwrap_or_else(|| "—".into()),
                );
                match (watched, gl_probed) {
                    (true, false) => with.push(sample),
                    (false, _) => without.push(sample),
                    (true, true) => probed.push(sample),
                }
            }
        }
        drop(watcher);

        // DESIGN §8: launch → tray item p90 ≤ 350 ms.
        let budget = Duration::from_millis(350);
        let exported = |samples: &[LaunchSample]| {
            Stats::of(samples.iter().filter_map(|s| s.exported).collect())
        };
        let with_exported = exported(&with);
        self.rows.push(Row::duration(
            "Launch → StatusNotifierItem exported on the session bus, StatusNotifierWatcher present (desktop panel)",
            &with_exported,
            "p90 ≤ 350 ms",
            Some(with_exported.p90 <= budget),
        ));
        let probed_exported = exported(&probed);
        self.rows.push(Row::duration(
            "Launch → StatusNotifierItem exported, watcher present, GDK's GL probe on (`GDK_GL=` empty; the app sets `GDK_GL=disable` only when unset)",
            &probed_exported,
            "—",
            None,
        ));
        let registered = Stats::of(with.iter().filter_map(|s| s.registered).collect());
        if registered.runs > 0 {
            self.rows.push(Row::duration(
                "Launch → `RegisterStatusNotifierItem` received by the watcher",
                &registered,
                "—",
                None,
            ));
        }
        let without_exported = exported(&without);
        self.rows.push(Row::duration(
            "Launch → StatusNotifierItem exported, no watcher on the bus (as in the tests)",
            &without_exported,
            "p90 ≤ 350 ms",
            Some(without_exported.p90 <= budget),
        ));
        let all: Vec<&LaunchSample> = with.iter().chain(&without).collect();
        let socket = Stats::of(all.iter().filter_map(|s| s.socket).collect());
        self.rows.push(Row::duration(
            "Launch → agent socket (`$XDG_RUNTIME_DIR/signet/agent.sock`) exists (both kinds of run)",
            &socket,
            "—",
            None,
        ));
        let first_log = Stats::of(all.iter().filter_map(|s| s.first_log).collect());
        let after_log = Stats::of(
            all.iter()
                .filter_map(|s| Some(s.exported?.saturating_sub(s.first_log?)))
                .collect(),
        );
        if first_log.runs > 0 {
            self.notes.push(format!(
                "Launch: the app's first log line (`tray icon created`, in Tauri's setup hook, once the \
                 process is loaded, GTK is up on the display and the plugins are registered) came {} \
                 (p10–p90 {}–{}) after the spawn; the item was on the bus {} after that line.",
                ms(first_log.median),
                ms(first_log.p10),
                ms(first_log.p90),
                ms(after_log.median),
            ));
        }
    }

    fn launch_once(
        &self,
        desktop: &Desktop,
        bus: &Bus,
        watcher: &mut WatcherHost,
        watched: bool,
        env: &[(&str, &str)],
    ) -> LaunchSample {
        let socket = desktop.root.join("runtime/signet/agent.sock");
        // A socket left by the last (terminated) instance would count as this one's.
        let _ = std::fs::remove_file(&socket);
        watcher.set(watched, bus);
        let log_offset = file_len(&desktop.app_log());
        let spawned_at = SystemTime::now();
        let started = Instant::now();
        let mut app = desktop.spawn_app_with(&self.app, env);
        let pid = app.pid();
        let mut names = AppNames::new(pid);
        let mut sample = LaunchSample::default();
        let deadline = started + Duration::from_secs(30);
        while sample.exported.is_none() || sample.socket.is_none() {
            if sample.exported.is_none() && names.item_exported(bus) {
                sample.exported = Some(started.elapsed());
            }
            if sample.socket.is_none() && socket.exists() {
                sample.socket = Some(started.elapsed());
            }
            if let Some(status) = app.try_wait() {
                panic!(
                    "signet exited during launch ({status}); app log:\n{}",
                    desktop.app_log_text()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "no tray item or agent socket 30 s after launch; app log:\n{}",
                    desktop.app_log_text()
                );
            }
            std::thread::sleep(LAUNCH_POLL);
        }
        if watched {
            // The registration follows the export; give it a moment.
            let until = Instant::now() + Duration::from_secs(2);
            while sample.registered.is_none() && Instant::now() < until {
                sample.registered = watcher.registered_since(started);
                std::thread::sleep(LAUNCH_POLL);
            }
        }
        sample.first_log = first_log_line_after(&desktop.app_log(), log_offset, spawned_at);
        app.terminate();
        // The next instance must not find this one's single-instance name still on the bus.
        names.wait_gone(bus);
        sample
    }

    // ---------------------------------------------------------------------------------------------
    // 2. Idle memory

    /// The app, and the `--baseline-app` beside it in a second desktop, idle with no window open: memory
    /// after `--idle-secs`, then the wake-ups of each thread over the next `--wake-secs`.
    fn idle(&mut self, desktop: &Desktop) {
        let (secs, wake_secs) = (self.opts.idle_secs, self.opts.wake_secs);
        let baseline_root = tempfile::tempdir().expect("create the baseline's root");
        let baseline = self.opts.baseline_app.clone().map(|app| {
            let config = self.config(baseline_root.path());
            let desktop = Desktop::start(baseline_root.path(), &config, &self.opts.app_env);
            (app, desktop)
        });
        let mut subjects = vec![("this build", self.app.clone(), desktop)];
        if let Some((app, desktop)) = &baseline {
            subjects.push(("baseline", app.clone(), desktop));
        }
        for run in 0..self.opts.idle_runs {
            let mut running: Vec<Idler> = subjects
                .iter()
                .map(|(label, app, desktop)| Idler::start(label, app, desktop))
                .collect();
            eprintln!(
                "signet-tray-bench: idle run {}: tray up, idling {secs} s with no window open, then counting wake-ups for {wake_secs} s",
                run + 1
            );
            let started = Instant::now();
            let mut next = 0;
            while started.elapsed() < Duration::from_secs(secs) {
                let elapsed = started.elapsed().as_secs();
                if elapsed >= next {
                    for idler in &mut running {
                        idler.report(elapsed);
                    }
                    next += 10;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            let before: Vec<Threads> = running.iter_mut().map(|i| i.settled()).collect();
            while started.elapsed() < Duration::from_secs(secs + wake_secs) {
                for idler in &mut running {
                    idler.check();
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            for (idler, before) in running.iter_mut().zip(before) {
                idler.wakeups = Some(before.wakeups_until(&Threads::of(idler.pid)));
            }
            if run == 0 {
                self.idle_notes(&running);
            }
            for idler in running {
                self.idle_rows(&idler, secs, wake_secs);
            }
        }
    }

    fn idle_notes(&mut self, running: &[Idler]) {
        for idler in running {
            let m = &idler.memory;
            self.notes.push(format!(
                "Idle, {}: RssFile {:.1} MiB and RssShmem {:.1} MiB of the VmRSS are mapped files (the shared \
                 libraries) and shared memory; {} thread(s); child processes: {}.",
                idler.label,
                m.rss_file as f64 / MIB,
                m.rss_shmem as f64 / MIB,
                m.threads,
                if idler.children.is_empty() {
                    "none (no WebKit process runs without a window)".to_string()
                } else {
                    idler.children.join(", ")
                }
            ));
            if let Some(w) = &idler.wakeups {
                self.notes.push(format!(
                    "Idle wake-ups, {} (voluntary context switches per thread name over the window): {}.",
                    idler.label,
                    w.describe()
                ));
            }
        }
    }

    fn idle_rows(&mut self, idler: &Idler, secs: u64, wake_secs: u64) {
        let label = idler.label;
        let anon = Quantiles::of_bytes(&[idler.memory.rss_anon]);
        let rss = Quantiles::of_bytes(&[idler.memory.vm_rss]);
        let mine = label == "this build";
        self.rows.push(Row::memory(
            &format!("Idle, no window open, after {secs} s: `RssAnon` (private memory), {label}"),
            &anon,
            if mine { "≤ 28 MB" } else { "—" },
            mine.then_some(anon.median <= 28.0 * 1_000_000.0),
        ));
        self.rows.push(Row::memory(
            &format!(
                "Idle, no window open, after {secs} s: `VmRSS` (with shared libraries), {label}"
            ),
            &rss,
            "—",
            None,
        ));
        if let Some(w) = &idler.wakeups {
            let total = w.total();
            self.rows.push(Row {
                what: format!(
                    "Idle wake-ups over {wake_secs} s after that (voluntary context switches, all threads; nothing planned: not signed in), {label}"
                ),
                result: format!("{total} ({:.2}/min)", total as f64 * 60.0 / wake_secs as f64),
                budget: if mine { "0 beyond planned".into() } else { "—".into() },
                within: mine.then_some(total == 0),
            });
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 3. Sign-in: IdP form submitted → kubeconfig written

    fn sign_in(&mut self, desktop: &Desktop) {
        let runs = self.opts.sign_in_runs;
        eprintln!(
            "signet-tray-bench: sign-in, form submitted → kubeconfig written, {runs} runs under tauri-driver"
        );
        self.warm_up_idp(desktop);
        let driver = Driver::start(&desktop.root.join("driver.log"), |cmd| {
            desktop.env(cmd);
            cmd.envs(desktop.app_env.iter().map(|(k, v)| (k, v)));
            // The breakdown comes from the app's log lines around the sign-in.
            cmd.env(
                "SIGNET_LOG",
                "signet_app=debug,signet=info,signet_core=debug",
            );
        });
        let webdriver = driver.session(&self.app, &[]).unwrap_or_else(|e| {
            panic!(
                "a WebDriver session starts the app: {e}\ndriver log:\n{}",
                driver.log_text()
            )
        });
        let main = webdriver
            .window_handle()
            .expect("the session is attached to the switcher window");
        let socket = desktop.root.join("runtime/signet/agent.sock");
        let until = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(
                Instant::now() < until,
                "no agent socket; app log:\n{}",
                desktop.app_log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let signer = SignIn {
            desktop,
            driver: &driver,
            webdriver: &webdriver,
            main: &main,
            plugin: &self.plugin,
        };
        let mut samples = Vec::new();
        for run in 0..runs {
            let (sample, token) = signer.once();
            let at = |d: Option<Duration>| d.map(ms).unwrap_or_else(|| "?".into());
            eprintln!(
                "  run {:>2}: {:>9}  (from t0: redirect caught {}, token answered {}, signed in {}, \
                 kubeconfig written {}, seen {}, current-context seen {}; window shown {} after asking)",
                run + 1,
                ms(sample.total),
                at(sample.caught),
                at(sample.token),
                at(sample.stored),
                at(sample.written),
                ms(sample.total),
                at(sample.current),
                ms(sample.window_shown),
            );
            samples.push(sample);
            if run == 0 {
                // The token the sign-in cached authenticates at the API-server stand-in.
                let version = self.api_version(&token);
                eprintln!(
                    "signet-tray-bench: the API-server stand-in accepted the signed-in token (server {version})"
                );
            }
            signer.sign_out();
        }
        let stats = self.idp.stats();
        eprintln!(
            "signet-tray-bench: IdP token requests: {} authorization_code, {} refresh_token",
            stats.token_requests.authorization_code, stats.token_requests.refresh_token
        );

        // DESIGN §8: ≤ 100 ms median after the first sign-in.
        let budget = Duration::from_millis(100);
        let first = Stats::of(samples.iter().take(1).map(|s| s.total).collect());
        self.rows.push(Row::duration(
            "Sign-in: IdP form submitted → kubeconfig written, first sign-in after the app started",
            &first,
            "—",
            None,
        ));
        let describe = |samples: &[SignInSample], f: fn(&SignInSample) -> Option<Duration>| {
            let values: Vec<Duration> = samples.iter().filter_map(f).collect();
            if values.is_empty() {
                return "?".to_string();
            }
            let s = Stats::of(values);
            if s.runs == 1 {
                ms(s.median)
            } else {
                format!("{} ({}–{})", ms(s.median), ms(s.p10), ms(s.p90))
            }
        };
        let split = |samples: &[SignInSample]| {
            format!(
                "click sent → the login window caught the redirect to the callback {}; → `POST /token` \
                 answered {}; → ID token verified, refresh token in the keyring, token cache and session \
                 written (`signed in`) {}; → kubeconfig written and seen by the poll {}; `current-context` \
                 seen {} after that (0 when set in the same locked edit)",
                describe(samples, |s| s.caught),
                describe(samples, |s| Some(s.token?.saturating_sub(s.caught?))),
                describe(samples, |s| Some(s.stored?.saturating_sub(s.token?))),
                describe(samples, |s| Some(s.total.saturating_sub(s.stored?))),
                describe(samples, |s| Some(s.current?.saturating_sub(s.total))),
            )
        };
        self.notes.push(format!(
            "Sign-in, first after the app started (from the app's log, wall clock): {}.",
            split(&samples[..1])
        ));
        if samples.len() > 1 {
            let rest = &samples[1..];
            let total = Stats::of(rest.iter().map(|s| s.total).collect());
            self.rows.push(Row::duration(
                "Sign-in: IdP form submitted → kubeconfig written, later sign-ins (sign-out between)",
                &total,
                "median ≤ 100 ms",
                Some(total.median <= budget),
            ));
            self.notes.push(format!(
                "Sign-in, later runs, medians (p10–p90): {}.",
                split(rest)
            ));
        }
        self.notes.push(
            "Sign-in interval: t0 is taken right before the WebDriver click on the Dex stand-in's \"Login\" \
             button is sent, t1 when the 1 ms poll first reads a `KUBECONFIG` holding context `prod` (the file \
             is removed before each run). It includes the WebDriver click (HTTP to tauri-driver → \
             WebKitWebDriver → the automation session → a synthesized click), the form POST to the IdP and \
             its redirects (password check, consent, code), the login window catching the redirect to the \
             loopback callback (never sent), the code exchange (`POST /token` with the PKCE verifier), the ID \
             token's verification (signature against the JWKS fetched at discovery when the window opened; \
             `iss`, `aud`, `azp`, `nonce`), the refresh token's write to the keyring (gnome-keyring over \
             D-Bus), the token cache and session record, and the locked kubeconfig write. The IdP was \
             warmed up first with two sign-ins of its own (`signet-probe login`), so the Node stand-in's \
             first-request costs are not counted."
                .into(),
        );
        let _ = webdriver.delete();
        drop(driver);
    }

    /// Two sign-ins (and sign-outs) with `signet-probe` through the IdP's form, before the app starts:
    /// the Node stand-in's first requests to its login and token paths are much slower than later
    /// ones (real Dex, in Go, has no such warm-up). Leaves no session and no kubeconfig behind.
    fn warm_up_idp(&self, desktop: &Desktop) {
        for _ in 0..2 {
            for args in [
                &["login", "corp", "alice", PASSWORD][..],
                &["logout", "corp"][..],
            ] {
                let out = desktop
                    .command(&self.opts.probe)
                    .args(args)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap_or_else(|e| panic!("run {}: {e}", self.opts.probe.display()));
                assert!(
                    out.status.success(),
                    "signet-probe {}: {}{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let _ = std::fs::remove_file(desktop.root.join("kubeconfig"));
    }

    /// `GET /version` at the API-server stand-in with `token`: its answer's `gitVersion`.
    fn api_version(&self, token: &str) -> String {
        let api = self.api();
        let cert = reqwest::Certificate::from_pem(api.ca().ca_pem.as_bytes())
            .expect("the API server's CA is PEM");
        let client = reqwest::blocking::Client::builder()
            .add_root_certificate(cert)
            .build()
            .expect("build an HTTP client");
        let answer = client
            .get(format!("{}/version", api.url()))
            .bearer_auth(token)
            .send()
            .expect("GET /version at the API-server stand-in");
        let status = answer.status();
        let body: Value = answer.json().unwrap_or_default();
        assert!(
            status.is_success(),
            "the API-server stand-in refused the signed-in token ({status}): {:?}",
            api.last_auth_failure()
        );
        body["gitVersion"].as_str().unwrap_or("?").to_string()
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

#[derive(Debug, Default)]
struct LaunchSample {
    exported: Option<Duration>,
    registered: Option<Duration>,
    socket: Option<Duration>,
    /// From the spawn to the app's first log line (wall clock; ~µs resolution).
    first_log: Option<Duration>,
}

struct SignInSample {
    total: Duration,
    /// From t0 to the kubeconfig's `current-context` being `prod` (seen by the same poll).
    current: Option<Duration>,
    /// From t0 to the app's log lines (wall clock), when they are there.
    caught: Option<Duration>,
    token: Option<Duration>,
    stored: Option<Duration>,
    written: Option<Duration>,
    /// From asking for the sign-in to the login window's form being there (not measured time).
    window_shown: Duration,
}

/// One sign-in at a time through the app under WebDriver.
struct SignIn<'a> {
    desktop: &'a Desktop,
    driver: &'a Driver,
    webdriver: &'a WebDriver,
    main: &'a str,
    plugin: &'a Path,
}

impl SignIn<'_> {
    fn logs(&self) -> String {
        format!(
            "app log:\n{}\ndriver log (tail):\n{}",
            self.desktop.app_log_text(),
            tail(&self.driver.log_text(), 40)
        )
    }

    /// One sign-in: returns its timings and the token `kubectl-signet token` printed.
    fn once(&self) -> (SignInSample, String) {
        let kubeconfig = self.desktop.root.join("kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let log_offset = file_len(&self.desktop.app_log());
        let asked = Instant::now();
        // As kubectl runs the exec entry from a terminal: the agent opens the login window.
        let exec_info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#;
        let token_call = self
            .desktop
            .command(self.plugin)
            .args(["token", "--cluster", "prod"])
            .env("KUBERNETES_EXEC_INFO", exec_info)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl-signet token");

        let login = self
            .webdriver
            .switch_to_the_other_window(self.main, "#login", Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!("the login window with the IdP's form: {e}\n{}", self.logs())
            });
        let user = self.webdriver.find("#login").expect("the user name field");
        let window_shown = asked.elapsed();
        user.send_keys("alice").expect("type the user name");
        self.webdriver
            .find("#password")
            .and_then(|p| p.send_keys(PASSWORD))
            .expect("type the password");
        let submit = self
            .webdriver
            .find("#submit-login")
            .expect("the form's Login button");
        // Let the page and the app settle after the typing.
        std::thread::sleep(Duration::from_millis(300));

        let t0_wall = SystemTime::now();
        let t0 = Instant::now();
        let (total, current) = std::thread::scope(|scope| {
            // The click may only return once the navigation it caused settles (or fail with "no such
            // window" when the app destroys the window): it runs beside the poll, not before it.
            let click = scope.spawn(|| submit.click());
            let until = t0 + Duration::from_secs(30);
            let total = loop {
                if kubeconfig_state(&kubeconfig, "prod").0 {
                    break t0.elapsed();
                }
                assert!(
                    Instant::now() < until,
                    "no kubeconfig with context prod 30 s after the click\n{}",
                    self.logs()
                );
                std::thread::sleep(KUBECONFIG_POLL);
            };
            // Into a kubeconfig without a current context, the sign-in then makes `prod` current (a
            // second locked edit).
            let until = Instant::now() + Duration::from_millis(500);
            let current = loop {
                if kubeconfig_state(&kubeconfig, "prod").1 {
                    break Some(t0.elapsed());
                }
                if Instant::now() > until {
                    break None;
                }
                std::thread::sleep(KUBECONFIG_POLL);
            };
            if let Ok(Err(e)) = click.join() {
                eprintln!("    (the click command ended with: {e})");
            }
            (total, current)
        });

        let out = token_call
            .wait_with_output()
            .expect("wait for kubectl-signet token");
        assert!(
            out.status.success(),
            "kubectl-signet token got a token after the sign-in: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        let credential: Value =
            serde_json::from_slice(&out.stdout).expect("kubectl-signet token prints JSON");
        let token = credential["status"]["token"]
            .as_str()
            .expect("the ExecCredential carries a token")
            .to_string();
        wait_until(
            "the app to close the login window",
            Duration::from_secs(30),
            || Ok((!self.webdriver.window_handles()?.contains(&login)).then_some(())),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        self.webdriver
            .switch_to_window(self.main)
            .expect("switch back to the switcher window");

        let lines = log_lines_after(&self.desktop.app_log(), log_offset);
        let since = |needle: &str| {
            lines
                .iter()
                .find(|(_, text)| text.contains(needle))
                .and_then(|(at, _)| at.duration_since(t0_wall).ok())
        };
        let sample = SignInSample {
            total,
            current,
            caught: since("caught the sign-in redirect"),
            token: since("/token status="),
            stored: since(" signed in"),
            written: since("kubeconfig written"),
            window_shown,
        };
        (sample, token)
    }

    fn sign_out(&self) {
        let out = self
            .desktop
            .command(self.plugin)
            .args(["logout", "corp"])
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl-signet logout");
        assert!(
            out.status.success(),
            "kubectl-signet logout corp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Let the app's notification and tray update after the sign-in finish before the next run.
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// What the kubeconfig at `path` holds: whether it has a context named `context`, and whether that is
/// its `current-context`. (The file is written atomically, so a read sees all of a write or none.)
fn kubeconfig_state(path: &Path, context: &str) -> (bool, bool) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (false, false);
    };
    let text = format!("\n{text}");
    let current = text.contains(&format!("\ncurrent-context: {context}\n"));
    let Some((_, contexts)) = text.split_once("\ncontexts:") else {
        return (false, current);
    };
    let listed = contexts
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with([' ', '-']))
        .any(|l| l.trim_start_matches(['-', ' ']) == format!("name: {context}"));
    (listed, current)
}

// -------------------------------------------------------------------------------------------------
// The private desktop

/// The benchmark's desktop: the shared private session (quiet: no extra logging), plus what `--app-env`
/// adds to the app's environment only.
struct Desktop {
    session: Session,
    app_env: Vec<(String, String)>,
}

impl std::ops::Deref for Desktop {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Desktop {
    fn start(root: &Path, config: &Config, app_env: &[(String, String)]) -> Desktop {
        Desktop {
            session: Session::quiet(root, Some(config)),
            app_env: app_env.to_vec(),
        }
    }

    /// Starts `signet` directly, with `--app-env` added.
    fn spawn_app(&self, app: &Path) -> App {
        self.spawn_app_with(app, &[])
    }

    /// [`spawn_app`](Self::spawn_app) with `env` added too.
    fn spawn_app_with(&self, app: &Path, env: &[(&str, &str)]) -> App {
        let mut cmd = self.session.command(app);
        cmd.envs(self.app_env.iter().map(|(k, v)| (k, v)));
        cmd.envs(env.iter().copied());
        self.session.spawn(cmd)
    }

    fn app_log(&self) -> PathBuf {
        self.session.app_log_path()
    }

    fn app_log_text(&self) -> String {
        tail(&self.session.app_log(), 60)
    }
}

// -------------------------------------------------------------------------------------------------
// The session bus

/// The benchmark's own connection to the desktop's bus.
struct Bus {
    conn: zbus::blocking::Connection,
    dbus: zbus::blocking::fdo::DBusProxy<'static>,
}

impl Bus {
    fn connect(address: &str) -> Bus {
        // A connection with no object server never answers a call (zbus queues it): without a timeout,
        // asking such a connection of the app for the item would hang the benchmark.
        let conn = zbus::blocking::connection::Builder::address(address)
            .map(|b| b.method_timeout(CALL_TIMEOUT))
            .and_then(|b| b.build())
            .expect("connect to the desktop's session bus");
        let dbus = zbus::blocking::fdo::DBusProxy::new(&conn).expect("the bus's own interface");
        Bus { conn, dbus }
    }

    fn unique_names(&self) -> Vec<String> {
        self.dbus
            .list_names()
            .map(|names| {
                names
                    .into_iter()
                    .map(|n| n.to_string())
                    .filter(|n| n.starts_with(':'))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn pid_of(&self, name: &str) -> Option<u32> {
        let name = zbus::names::BusName::try_from(name).ok()?;
        self.dbus.get_connection_unix_process_id(name).ok()
    }

    fn has_owner(&self, name: &str) -> bool {
        zbus::names::BusName::try_from(name)
            .ok()
            .and_then(|n| self.dbus.name_has_owner(n).ok())
            .unwrap_or(false)
    }

    /// Whether `name` answers for the tray item (`Properties.Get(StatusNotifierItem, Id)`).
    /// Whether the connection `name` serves the item; `None` when it does not answer at all.
    fn ask_for_item(&self, name: &str) -> Option<bool> {
        match self.conn.call_method(
            Some(name),
            ITEM_PATH,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(ITEM_INTERFACE, "Id"),
        ) {
            Ok(_) => Some(true),
            Err(zbus::Error::InputOutput(_)) => None,
            Err(e) if e.to_string().contains("imed out") => None,
            Err(_) => Some(false),
        }
    }
}

/// The bus connections of one process, learnt as they appear.
struct AppNames {
    pid: u32,
    seen: std::collections::HashSet<String>,
    ours: Vec<String>,
    /// Calls in a row each connection left unanswered.
    unanswered: std::collections::HashMap<String, u32>,
    /// The process's connections that stopped being asked (still waited for in `wait_gone`).
    silent: Vec<String>,
}

impl AppNames {
    fn new(pid: u32) -> AppNames {
        AppNames {
            pid,
            seen: Default::default(),
            ours: Vec::new(),
            unanswered: Default::default(),
            silent: Vec::new(),
        }
    }

    /// Looks for new connections of the process, then asks each for the tray item.
    fn item_exported(&mut self, bus: &Bus) -> bool {
        for name in bus.unique_names() {
            if self.seen.insert(name.clone()) && bus.pid_of(&name) == Some(self.pid) {
                self.ours.push(name);
            }
        }
        let mut found = false;
        for name in &self.ours {
            match bus.ask_for_item(name) {
                Some(true) => {
                    found = true;
                    break;
                }
                Some(false) => {
                    self.unanswered.remove(name);
                }
                None => *self.unanswered.entry(name.clone()).or_default() += 1,
            }
        }
        let silent: Vec<String> = self
            .unanswered
            .iter()
            .filter(|(_, n)| **n >= SILENT_AFTER)
            .map(|(name, _)| name.clone())
            .collect();
        if !silent.is_empty() {
            eprintln!(
                "  (connection(s) {silent:?} of the app did not answer {SILENT_AFTER} calls of {CALL_TIMEOUT:?}; not asked again)"
            );
            self.ours.retain(|n| !silent.contains(n));
            for name in silent {
                self.unanswered.remove(&name);
                self.silent.push(name);
            }
        }
        found
    }

    /// Waits (≤ 5 s) until none of the process's connections is on the bus any more.
    fn wait_gone(&self, bus: &Bus) {
        let until = Instant::now() + Duration::from_secs(5);
        while self
            .ours
            .iter()
            .chain(&self.silent)
            .any(|n| bus.has_owner(n))
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A minimal `org.kde.StatusNotifierWatcher` (what a desktop panel provides): records when items
/// register.
#[derive(Clone, Default)]
struct Watcher {
    registered: Arc<Mutex<Vec<(Instant, String)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String) {
        let at = Instant::now();
        if let Ok(mut registered) = self.registered.lock() {
            registered.push((at, service));
        }
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.registered
            .lock()
            .map(|r| r.iter().map(|(_, s)| s.clone()).collect())
            .unwrap_or_default()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The watcher, on the bus or not.
struct WatcherHost {
    address: String,
    watcher: Watcher,
    conn: Option<zbus::blocking::Connection>,
}

impl WatcherHost {
    fn new(address: &str) -> WatcherHost {
        WatcherHost {
            address: address.to_string(),
            watcher: Watcher::default(),
            conn: None,
        }
    }

    /// Puts the watcher on the bus (`on`) or takes it off, and forgets earlier registrations.
    fn set(&mut self, on: bool, bus: &Bus) {
        if let Ok(mut registered) = self.watcher.registered.lock() {
            registered.clear();
        }
        match (on, self.conn.is_some()) {
            (true, false) => {
                let conn = zbus::blocking::connection::Builder::address(self.address.as_str())
                    .and_then(|b| b.name(WATCHER_NAME))
                    .and_then(|b| b.serve_at("/StatusNotifierWatcher", self.watcher.clone()))
                    .and_then(|b| b.build())
                    .expect("serve the StatusNotifierWatcher");
                self.conn = Some(conn);
            }
            (false, true) => {
                self.conn = None;
                let until = Instant::now() + Duration::from_secs(5);
                while bus.has_owner(WATCHER_NAME) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            _ => {}
        }
    }

    fn registered_since(&self, started: Instant) -> Option<Duration> {
        self.watcher
            .registered
            .lock()
            .ok()?
            .iter()
            .find(|(at, _)| *at >= started)
            .map(|(at, _)| at.duration_since(started))
    }
}

// -------------------------------------------------------------------------------------------------
// /proc and the app's log

#[derive(Debug, Default)]
struct Memory {
    rss_anon: u64,
    rss_file: u64,
    rss_shmem: u64,
    vm_rss: u64,
    pss_anon: u64,
    threads: u64,
}

impl Memory {
    /// From `/proc/<pid>/status` and `smaps_rollup` (bytes).
    fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let field = |text: &str, key: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Memory {
            rss_anon: field(&status, "RssAnon") * 1024,
            rss_file: field(&status, "RssFile") * 1024,
            rss_shmem: field(&status, "RssShmem") * 1024,
            vm_rss: field(&status, "VmRSS") * 1024,
            pss_anon: field(&rollup, "Pss_Anon") * 1024,
            threads: field(&status, "Threads"),
        }
    }
}

/// One app idling in its desktop (with a StatusNotifierWatcher, as under a panel).
struct Idler<'a> {
    label: &'static str,
    desktop: &'a Desktop,
    app: App,
    pid: u32,
    names: AppNames,
    bus: Bus,
    _watcher: WatcherHost,
    memory: Memory,
    children: Vec<String>,
    wakeups: Option<Wakeups>,
}

impl<'a> Idler<'a> {
    fn start(label: &'static str, app: &Path, desktop: &'a Desktop) -> Idler<'a> {
        let bus = Bus::connect(&desktop.bus);
        let mut watcher = WatcherHost::new(&desktop.bus);
        watcher.set(true, &bus);
        let _ = std::fs::remove_file(desktop.root.join("runtime/signet/agent.sock"));
        let app = desktop.spawn_app(app);
        let pid = app.pid();
        let mut names = AppNames::new(pid);
        let until = Instant::now() + Duration::from_secs(30);
        while !names.item_exported(&bus) {
            assert!(
                Instant::now() < until,
                "no tray item 30 s after launch ({label}); app log:\n{}",
                desktop.app_log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Idler {
            label,
            desktop,
            app,
            pid,
            names,
            bus,
            _watcher: watcher,
            memory: Memory::default(),
            children: Vec::new(),
            wakeups: None,
        }
    }

    fn check(&mut self) {
        if let Some(status) = self.app.try_wait() {
            panic!(
                "signet ({}) exited while idle ({status}); app log:\n{}",
                self.label,
                self.desktop.app_log_text()
            );
        }
    }

    fn report(&mut self, elapsed: u64) {
        self.check();
        let m = Memory::of(self.pid);
        eprintln!(
            "  {:<10} t={elapsed:>3} s  RssAnon {:.1} MiB  RssFile {:.1} MiB  RssShmem {:.1} MiB  VmRSS {:.1} MiB  threads {}",
            self.label,
            m.rss_anon as f64 / MIB,
            m.rss_file as f64 / MIB,
            m.rss_shmem as f64 / MIB,
            m.vm_rss as f64 / MIB,
            m.threads
        );
    }

    /// The memory figures at the end of the idle time, and the threads' counters to count from.
    fn settled(&mut self) -> Threads {
        self.check();
        self.memory = Memory::of(self.pid);
        self.children = children_of(self.pid);
        let m = &self.memory;
        eprintln!(
            "  {}: RssAnon {:.1} MiB, VmRSS {:.1} MiB, Pss_Anon {:.1} MiB; child processes: {}",
            self.label,
            m.rss_anon as f64 / MIB,
            m.vm_rss as f64 / MIB,
            m.pss_anon as f64 / MIB,
            if self.children.is_empty() {
                "none".to_string()
            } else {
                self.children.join(", ")
            }
        );
        Threads::of(self.pid)
    }
}

impl Drop for Idler<'_> {
    fn drop(&mut self) {
        self.app.terminate();
        self.names.wait_gone(&self.bus);
    }
}

/// Each thread's name and voluntary context switches (a thread switches out voluntarily each time it
/// sleeps, so each one is a wake-up to come), from `/proc/<pid>/task/*/status`.
struct Threads(std::collections::HashMap<u32, (String, u64)>);

impl Threads {
    fn of(pid: u32) -> Threads {
        let mut threads = std::collections::HashMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Threads(threads);
        };
        for task in tasks.filter_map(Result::ok) {
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            let field = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            };
            let name = field("Name").unwrap_or_default();
            let switches = field("voluntary_ctxt_switches")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            threads.insert(tid, (name, switches));
        }
        Threads(threads)
    }

    /// The wake-ups between `self` and `later`, per thread name (threads started since count from 0).
    fn wakeups_until(&self, later: &Threads) -> Wakeups {
        let mut by_name: std::collections::BTreeMap<String, (u64, usize)> = Default::default();
        for (tid, (name, switches)) in &later.0 {
            let before = self.0.get(tid).map_or(0, |(_, s)| *s);
            let entry = by_name.entry(name.clone()).or_default();
            entry.0 += switches.saturating_sub(before);
            entry.1 += 1;
        }
        Wakeups(by_name.into_iter().map(|(n, (w, t))| (n, w, t)).collect())
    }
}

/// Wake-ups per thread name: `(name, wake-ups, threads of that name)`.
struct Wakeups(Vec<(String, u64, usize)>);

impl Wakeups {
    fn total(&self) -> u64 {
        self.0.iter().map(|(_, w, _)| w).sum()
    }

    fn describe(&self) -> String {
        let mut rows: Vec<&(String, u64, usize)> = self.0.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let woke: Vec<String> = rows
            .iter()
            .filter(|(_, w, _)| *w > 0)
            .map(|(name, w, threads)| format!("`{name}`×{threads} {w}"))
            .collect();
        let quiet: Vec<String> = rows
            .iter()
            .filter(|(_, w, _)| *w == 0)
            .map(|(name, _, threads)| format!("`{name}`×{threads}"))
            .collect();
        format!(
            "{}; no wake-up: {}",
            if woke.is_empty() {
                "none woke".to_string()
            } else {
                woke.join(", ")
            },
            quiet.join(", ")
        )
    }
}

/// `name (pid, VmRSS)` of every process whose parent is `pid`.
fn children_of(pid: u32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then(|| {
                let name = head.split_once('(').map_or("?", |(_, n)| n);
                let rss = Memory::of(child).vm_rss as f64 / MIB;
                format!("{name} ({child}, VmRSS {rss:.1} MiB)")
            })
        })
        .collect()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The app's log lines written after byte `offset`, with their timestamps.
fn log_lines_after(path: &Path, offset: u64) -> Vec<(SystemTime, String)> {
    let text = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(text.len());
    String::from_utf8_lossy(&text[start..])
        .lines()
        .filter_map(|line| {
            let (stamp, rest) = line.split_once(' ')?;
            let at: DateTime<Utc> = DateTime::parse_from_rfc3339(stamp).ok()?.into();
            Some((SystemTime::from(at), rest.trim().to_string()))
        })
        .collect()
}

fn first_log_line_after(path: &Path, offset: u64, spawned_at: SystemTime) -> Option<Duration> {
    log_lines_after(path, offset)
        .first()
        .and_then(|(at, _)| at.duration_since(spawned_at).ok())
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
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
