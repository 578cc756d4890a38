//! Part 2, idle memory and wake-ups: the app (and a `--baseline-app` beside it) with no window open,
//! its memory from `/proc/<pid>/status` after the idle time, then each thread's wake-ups.

use std::path::Path;
use std::time::{Duration, Instant};

use signet_tests::desktop::App;

use super::bus::{AppNames, Bus, WatcherHost};
use super::desktop::Desktop;
use super::{Bench, MIB, Quantiles, Row};

impl Bench {
    /// The app, and the `--baseline-app` beside it in a second desktop, idle with no window open: memory
    /// after `--idle-secs`, then the wake-ups of each thread over the next `--wake-secs`.
    pub fn idle(&mut self, desktop: &Desktop) {
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
}

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
