//! `signet-switcher-bench`: the switcher window's and the tray menu's budgets of DESIGN.md §8 with many
//! clusters, measured on the real `signet` binary (release build) in the real webview. Not a test: it
//! measures and prints a Markdown table with each figure, its budget and its baseline from the same run;
//! nothing fails on a missed budget. `scripts/bench-tray.sh` builds everything in release mode and runs it.
//!
//! ```text
//! signet-switcher-bench --app target/release/signet [--providers 50] [--clusters-per-provider 20]
//!                       [--keys 20] [--reopen-runs 5] [--idle-secs 30] [--open-secs 5]
//!                       [--close-secs 10] [--menu-runs 10] [--keep]
//! ```
//!
//! One temporary desktop (`signet_tests::desktop::Session`: its own `HOME`, `XDG_*`, `KUBECONFIG`, D-Bus
//! session, keyring and Xvfb) and a generated config of `--providers` × `--clusters-per-provider`
//! clusters (1,000 by default). No provider is signed in: the switcher and the tray list every cluster of
//! a signed-out provider, with "Sign-in needed".
//!
//! 1. **The app as a person runs it** (started directly; the providers are configured, so no window
//!    opens at start):
//!    - idle private memory after `--idle-secs`: `RssAnon` from `/proc/<pid>/status` of the app plus
//!      every process below it (none before a window opens): the baseline of the "memory back" figure;
//!    - the tray menu: the app logs how long each new menu took to build (`tray menu built`, debug
//!      level: muda's items) and to hand to the tray (`tray menu set`: libayatana-appindicator's GTK
//!      menu and its dbusmenu export), and how long a change made in place took (`tray menu updated`).
//!      A new menu is built at start-up. Then, each a change a person causes: "Start at login" toggled
//!      through dbusmenu `--menu-runs` times (a check mark, in place); one provider signed in by
//!      another process, as `kubectl signet login` does (its submenu replaced, in place); and a 51st
//!      provider added to the config by another process, as `kubectl signet add provider` does (a new
//!      top-level row: a new menu, built and set);
//!    - `--reopen-runs` times: "Open Signet…" through dbusmenu, `--open-secs` for the page, the private
//!      memory of the app and every process below it (WebKitWebProcess, WebKitNetworkProcess), then the
//!      window closed as a window manager closes it (`WM_DELETE_WINDOW`) and, `--close-secs` later, the
//!      same memory again.
//! 2. **The app under tauri-driver** (WebKitWebDriver; the switcher opens at start-up):
//!    - the page's own mark: navigation start → the clusters list first painted
//!      (`signet:clusters-painted`, which the page sets after the frame that first shows the list);
//!    - `--keys` keystrokes in the filter box, alternating one digit (the list narrows) and Backspace
//!      (all 1,000 clusters again): a script in the page takes `performance.now()` at the key's
//!      `keydown`, then when a MutationObserver sees the list change, then after the next frame
//!      (`requestAnimationFrame` + a task). The figure is keydown → next frame. The list's
//!      `data-cluster-count` must say 1,000 again after each Backspace;
//!    - the window closed (`WM_DELETE_WINDOW`), then `--reopen-runs` times: "Open Signet…" through
//!      dbusmenu (t0 on the wall clock); the new window's mark on the wall clock
//!      (`performance.timeOrigin` + the mark) − t0 is **open → first paint**; closed again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signet_core::config::Config;
use signet_tests::bench::{Stats, count, ms, parse_flags};
use signet_tests::desktop::{Session, Tray, descendant, descendants};
use signet_tests::webdriver::{Driver, WebDriver, wait_until};
use signet_tests::world::{cluster, provider, seed_session};

const MB: f64 = 1_000_000.0;
const UI: Duration = Duration::from_secs(60);
/// How long one keystroke may take to show (far beyond the budget: a hang, not a slow list).
const KEY_WAIT: Duration = Duration::from_secs(20);
const BACKSPACE: &str = "\u{E003}";
/// Digits that narrow the generated list: every server ends in `:6443`, so 3, 4 and 6 match all.
const NARROWING: [&str; 7] = ["0", "1", "2", "5", "7", "8", "9"];
const OPEN: &str = "Open Signet…";
const AUTOSTART: &str = "Start at login";

struct Options {
    app: PathBuf,
    providers: usize,
    per_provider: usize,
    keys: usize,
    reopen_runs: usize,
    idle_secs: u64,
    open_secs: u64,
    close_secs: u64,
    menu_runs: usize,
    keep: bool,
}

/// One row of the table.
struct Row {
    what: String,
    result: String,
    baseline: String,
    budget: &'static str,
    within: Option<bool>,
}

fn main() {
    let opts = parse_args();
    let root = tempfile::tempdir().expect("create the benchmark's root");
    let config = generated_config(opts.providers, opts.per_provider);
    let clusters = config.clusters.len();
    eprintln!(
        "signet-switcher-bench: {} providers × {} clusters = {clusters} clusters; {} CPUs; load {}",
        opts.providers,
        opts.per_provider,
        cpus(),
        load_average()
    );
    let session = Session::quiet(root.path(), Some(&config));
    let mut rows = Vec::new();
    let mut loads = vec![("start", load_average())];
    alone(&opts, &session, &mut rows);
    loads.push(("after the app alone", load_average()));
    in_the_webview(&opts, &session, clusters, &mut rows);
    loads.push(("end", load_average()));
    print_table(&opts, clusters, &rows, &loads);
    drop(session);
    if opts.keep {
        eprintln!("signet-switcher-bench: kept {}", root.keep().display());
    }
}

/// `team-00` … with `cluster-PP-CC` each, as a large organisation's catalog would make them.
fn generated_config(providers: usize, per_provider: usize) -> Config {
    let mut config = Config::default();
    for p in 0..providers {
        let name = format!("team-{p:02}");
        config.providers.push(provider(
            &name,
            &format!("https://dex-{p:02}.example.com"),
            None,
        ));
        for c in 0..per_provider {
            let mut cl = cluster(&format!("cluster-{p:02}-{c:02}"), &name, Some("kubernetes"));
            cl.server = format!("https://api-{p:02}-{c:02}.example.com:6443");
            config.clusters.push(cl);
        }
    }
    config
}

// -------------------------------------------------------------------------------------------------
// 1. The app alone: idle memory and the tray menu

/// The memory figures of the app alone: idle, with the switcher open, and after each close.
struct MemoryFigures {
    idle: u64,
    with_window: Vec<u64>,
    after_close: Vec<u64>,
}

/// Idle memory (the baseline), the tray menu's build times, then the switcher opened and closed.
fn alone(opts: &Options, session: &Session, rows: &mut Vec<Row>) -> MemoryFigures {
    let mut cmd = session.command(&opts.app);
    cmd.env(
        "SIGNET_LOG",
        "signet_app=debug,signet=info,signet_core=info",
    );
    let mut app = session.spawn(cmd);
    let tray = session.tray(app.pid());
    eprintln!(
        "signet-switcher-bench: the app alone (pid {}), idle for {} s",
        app.pid(),
        opts.idle_secs
    );
    std::thread::sleep(Duration::from_secs(opts.idle_secs));
    let idle = tree_memory(app.pid());
    eprintln!("  idle: {}", idle.describe());
    let labels = session.labels(&tray);
    eprintln!(
        "  tray menu: {} rows with labels (submenus included)",
        labels.len()
    );
    let menu = menu_changes(opts, session, &tray);
    let mut figures = MemoryFigures {
        idle: idle.total_anon,
        with_window: Vec::new(),
        after_close: Vec::new(),
    };
    for run in 0..opts.reopen_runs {
        let (open, closed) = open_and_close(opts, session, &tray, app.pid(), run);
        figures.with_window.push(open);
        figures.after_close.push(closed);
    }
    app.terminate();
    menu_rows(rows, &menu, labels.len());
    rows.push(Row {
        what: format!(
            "Idle, no window ever opened, after {} s: private memory (`RssAnon`, app + child processes)",
            opts.idle_secs
        ),
        result: mb(idle.total_anon),
        baseline: "—".into(),
        budget: "≤ 28 MB (DESIGN §8, idle)",
        within: Some(idle.total_anon as f64 <= 28.0 * MB),
    });
    memory_rows(rows, &figures, opts.close_secs);
    figures
}

/// "Open Signet…" through dbusmenu, the page given `--open-secs` to load and paint, then closed as its
/// window manager would; returns the private memory with the window open and `--close-secs` after.
fn open_and_close(
    opts: &Options,
    session: &Session,
    tray: &Tray,
    pid: u32,
    run: usize,
) -> (u64, u64) {
    session.click(tray, OPEN);
    session.wait("WebKit's web process for the switcher", 60, || {
        descendants(pid)
            .iter()
            .any(|(_, name)| name.starts_with("WebKitWebProces"))
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(opts.open_secs));
    let open = tree_memory(pid);
    eprintln!(
        "  switcher open {} (+{} s): {}",
        run + 1,
        opts.open_secs,
        open.describe()
    );
    session.wait("the switcher closed by WM_DELETE_WINDOW", 30, || {
        close_window(session).ok()
    });
    let closed = settle(opts, pid, &format!("closed {}", run + 1));
    (open.total_anon, closed.total_anon)
}

fn memory_rows(rows: &mut Vec<Row>, f: &MemoryFigures, close_secs: u64) {
    let open = median_bytes(&f.with_window);
    rows.push(Row {
        what: "Switcher open: private memory (app + WebKit processes)".into(),
        result: mb(open),
        baseline: format!("idle {}", mb(f.idle)),
        budget: "—",
        within: None,
    });
    let closed = median_bytes(&f.after_close);
    let worst = f.after_close.iter().copied().max().unwrap_or(0);
    let each: Vec<String> = f
        .after_close
        .iter()
        .map(|b| format!("{:.1}", *b as f64 / MB))
        .collect();
    rows.push(Row {
        what: format!(
            "Switcher closed, {close_secs} s later: private memory (app + WebKit processes), after each of {} opens: {} MB",
            f.after_close.len(),
            each.join(", ")
        ),
        result: format!(
            "{} ({:+.1} MB; worst {:+.1} MB)",
            mb(closed),
            (closed as f64 - f.idle as f64) / MB,
            (worst as f64 - f.idle as f64) / MB
        ),
        baseline: format!("idle {}", mb(f.idle)),
        budget: "≤ idle + 15 MB",
        within: Some((closed as f64) <= f.idle as f64 + 15.0 * MB),
    });
}

/// The tray menu's times for each kind of change (see the module docs).
struct MenuFigures {
    start_up: Option<MenuBuild>,
    toggles: Vec<Duration>,
    sign_in: Vec<Duration>,
    new_provider: MenuBuild,
}

fn menu_changes(opts: &Options, session: &Session, tray: &Tray) -> MenuFigures {
    let start_up = menu_log(session, 0).first().copied();
    let updated = || menu_updates(session);
    for run in 0..opts.menu_runs {
        let before = updated().len();
        session.click(tray, AUTOSTART);
        session.wait(&format!("menu update {}", run + 1), 30, || {
            (updated().len() > before).then_some(())
        });
    }
    let toggles = updated();

    let paths = session.paths();
    seed_session(&paths, "team-07");
    session.wait("team-07's sign-in in the tray menu", 30, || {
        let labels = session.labels(tray);
        labels
            .iter()
            .any(|l| l.starts_with("team-07 — alice@example.com"))
            .then_some(())
    });
    let sign_in = updated()[toggles.len()..].to_vec();

    let builds = menu_log(session, 0).len();
    let mut config =
        Config::load(&paths.config_file, &paths.home).expect("load the generated config");
    config
        .providers
        .push(provider("team-50", "https://dex-50.example.com", None));
    config
        .save(&paths.config_file)
        .expect("save the config with a 51st provider");
    let new_provider = session.wait("the menu built anew with team-50", 30, || {
        menu_log(session, builds)
            .first()
            .filter(|b| b.set.is_some())
            .copied()
    });
    MenuFigures {
        start_up,
        toggles,
        sign_in,
        new_provider,
    }
}

/// One menu build from the app's log: (build, set on the tray), either may be absent.
#[derive(Debug, Clone, Copy)]
struct MenuBuild {
    built: Duration,
    set: Option<Duration>,
}

impl MenuBuild {
    fn total(&self) -> Option<Duration> {
        self.set.map(|set| set + self.built)
    }
}

/// The `tray menu built` / `tray menu set` lines of the app's log, from the `skip`-th build on.
fn menu_log(session: &Session, skip: usize) -> Vec<MenuBuild> {
    let mut out: Vec<MenuBuild> = Vec::new();
    for line in session.app_log().lines() {
        if line.contains("tray menu built") {
            if let Some(built) = micros_field(line, "build_us") {
                out.push(MenuBuild { built, set: None });
            }
        } else if line.contains("tray menu set")
            && let (Some(set), Some(last)) = (micros_field(line, "set_us"), out.last_mut())
        {
            last.set = Some(set);
        }
    }
    out.into_iter().skip(skip).collect()
}

/// The times of the `tray menu updated` lines (changes made in place).
fn menu_updates(session: &Session) -> Vec<Duration> {
    session
        .app_log()
        .lines()
        .filter(|line| line.contains("tray menu updated"))
        .filter_map(|line| micros_field(line, "update_us"))
        .collect()
}

fn micros_field(line: &str, key: &str) -> Option<Duration> {
    let at = line.find(&format!("{key}="))? + key.len() + 1;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Duration::from_micros)
}

fn menu_rows(rows: &mut Vec<Row>, menu: &MenuFigures, labels: usize) {
    let fifty = Duration::from_millis(50);
    let build_row = |what: String, build: Option<MenuBuild>, total: bool| {
        let time = build.and_then(|b| if total { b.total() } else { Some(b.built) });
        Row {
            what,
            result: time.map_or("?".into(), ms),
            baseline: "—".into(),
            budget: "≤ 50 ms",
            within: time.map(|t| t <= fifty),
        }
    };
    let updates_row = |what: String, times: &[Duration]| {
        let stats = Stats::of(times.to_vec());
        Row {
            what,
            result: stats.spread(),
            baseline: "—".into(),
            budget: "≤ 50 ms",
            within: (stats.runs > 0).then(|| stats.median <= fifty),
        }
    };
    rows.push(build_row(
        format!(
            "Tray menu with 1,000 clusters at start-up ({labels} labelled rows): muda items built"
        ),
        menu.start_up,
        false,
    ));
    rows.push(build_row(
        "Tray menu at start-up: built + set on the tray (GTK menu, dbusmenu export)".into(),
        menu.start_up,
        true,
    ));
    rows.push(updates_row(
        "\"Start at login\" toggled: the check mark changed in place".into(),
        &menu.toggles,
    ));
    rows.push(updates_row(
        "A provider signed in by another process: its submenu (20 clusters) replaced in place"
            .into(),
        &menu.sign_in,
    ));
    rows.push(build_row(
        "A 51st provider added to the config: a new menu built + set on the tray".into(),
        Some(menu.new_provider),
        true,
    ));
}

// -------------------------------------------------------------------------------------------------
// 2. The switcher in the real webview

/// What the page measured for one keystroke (ms, `performance.now()`).
#[derive(Debug)]
struct Keystroke {
    to_dom: f64,
    to_frame: f64,
    rows: u64,
}

fn in_the_webview(opts: &Options, session: &Session, clusters: usize, rows: &mut Vec<Row>) {
    let driver = Driver::start(&session.root.join("driver.log"), |cmd| {
        session.env(cmd);
        cmd.env("SIGNET_LOG", "signet_app=info,signet=info,signet_core=info");
    });
    let webdriver = driver.session(&opts.app, &[]).unwrap_or_else(|e| {
        panic!(
            "a WebDriver session starts the app: {e}\ndriver log:\n{}",
            driver.log_text()
        )
    });
    let pid = wait_until("the app under tauri-driver", UI, || {
        Ok(descendant(driver.pid(), &opts.app))
    })
    .expect("the app runs under tauri-driver");
    let tray = session.tray(pid);
    let first_paint = painted_mark(&webdriver).expect("the page marks its first paint");
    eprintln!(
        "signet-switcher-bench: under tauri-driver (app pid {pid}); navigation → clusters painted {:.1} ms",
        first_paint.since_navigation
    );
    let (narrow, widen) = keystrokes(&webdriver, opts.keys, clusters);
    close_window(session).expect("close the switcher as its window manager would");
    wait_closed(&webdriver);
    let mut opened = Vec::new();
    for run in 0..opts.reopen_runs {
        opened.push(reopen(&webdriver, session, &tray, run));
        close_window(session).expect("close the switcher as its window manager would");
        wait_closed(&webdriver);
    }
    drop(webdriver);
    drop(driver);
    webview_rows(
        rows,
        &WebviewFigures {
            since_navigation: first_paint.since_navigation,
            opened,
            narrow,
            widen,
            clusters,
        },
    );
}

struct WebviewFigures {
    since_navigation: f64,
    opened: Vec<Duration>,
    narrow: Vec<Keystroke>,
    widen: Vec<Keystroke>,
    clusters: usize,
}

/// The page's `signet:clusters-painted` mark: since navigation start, and on the wall clock (ms).
struct Painted {
    since_navigation: f64,
    epoch_ms: f64,
}

fn painted_mark(webdriver: &WebDriver) -> signet_tests::webdriver::Result<Painted> {
    let value = wait_until("the page's mark signet:clusters-painted", UI, || {
        let v = webdriver.execute(
            "const m = performance.getEntriesByName('signet:clusters-painted')[0];\
             return m ? [m.startTime, performance.timeOrigin + m.startTime] : null;",
            &[],
        )?;
        Ok((!v.is_null()).then_some(v))
    })?;
    Ok(Painted {
        since_navigation: value[0].as_f64().unwrap_or(f64::NAN),
        epoch_ms: value[1].as_f64().unwrap_or(f64::NAN),
    })
}

/// Installs the page-side measure of one keystroke: keydown → list mutated → next frame.
const MEASURE_KEY: &str = r#"
const grid = document.getElementById('cluster-grid');
const input = document.getElementById('filter');
const m = { t0: null, dom: null, frame: null };
window.__signetKey = m;
const observer = new MutationObserver(() => {
  if (m.dom !== null || m.t0 === null) return;
  m.dom = performance.now();
  observer.disconnect();
  requestAnimationFrame(() => setTimeout(() => { m.frame = performance.now(); }, 0));
});
input.addEventListener('keydown', () => { m.t0 = performance.now(); }, { capture: true, once: true });
observer.observe(grid, { childList: true, subtree: true, characterData: true, attributes: true });
return true;
"#;

/// The keystroke's figures once the frame after it ran, with the rows the grid says it has.
const READ_KEY: &str = r#"
const m = window.__signetKey;
if (!m || m.frame === null) return null;
const grid = document.getElementById('cluster-grid');
const count = grid.getAttribute('data-cluster-count');
const rows = count !== null ? Number(count) : document.querySelectorAll('tr.cluster-row').length;
return [m.dom - m.t0, m.frame - m.t0, rows];
"#;

fn keystrokes(
    webdriver: &WebDriver,
    keys: usize,
    clusters: usize,
) -> (Vec<Keystroke>, Vec<Keystroke>) {
    let input = webdriver
        .wait_for("#filter", UI)
        .expect("the filter box is shown");
    input.click().expect("focus the filter box");
    let (mut narrow, mut widen) = (Vec::new(), Vec::new());
    for round in 0..keys {
        let digit = NARROWING[round % NARROWING.len()];
        narrow.push(one_key(webdriver, &input, digit));
        widen.push(one_key(webdriver, &input, BACKSPACE));
        let back = widen.last().map_or(0, |k| k.rows);
        assert_eq!(
            back, clusters as u64,
            "after Backspace the list shows every cluster again"
        );
    }
    eprintln!(
        "  {keys} narrowing keystrokes (rows after: {:?}…), {keys} Backspaces",
        narrow.iter().take(3).map(|k| k.rows).collect::<Vec<_>>()
    );
    (narrow, widen)
}

fn one_key(
    webdriver: &WebDriver,
    input: &signet_tests::webdriver::Element<'_>,
    key: &str,
) -> Keystroke {
    webdriver
        .execute(MEASURE_KEY, &[])
        .expect("install the keystroke measure");
    input.send_keys(key).expect("type into the filter");
    let v = wait_until("the frame after the keystroke", KEY_WAIT, || {
        let v = webdriver.execute(READ_KEY, &[])?;
        Ok((!v.is_null()).then_some(v))
    })
    .unwrap_or_else(|e| {
        let page = webdriver.execute(
            "return [JSON.stringify(window.__signetKey), document.activeElement && document.activeElement.id, \
             document.getElementById('filter').value, document.querySelectorAll('tr.cluster-row').length];",
            &[],
        );
        panic!("the list did not change after the key {key:?}: {e}; the page: {page:?}")
    });
    Keystroke {
        to_dom: v[0].as_f64().unwrap_or(f64::NAN),
        to_frame: v[1].as_f64().unwrap_or(f64::NAN),
        rows: v[2].as_u64().unwrap_or(0),
    }
}

/// Closes the switcher (title "Signet") as a person does with its close button; WebDriver's "Close
/// Window" cannot be used: closing the last window ends the WebDriver session, and WebKitWebDriver
/// then stops the app.
fn close_window(session: &Session) -> Result<(), String> {
    session.close_window("Signet")
}

/// Waits until the app has no switcher window any more (WebDriver lists no window).
fn wait_closed(webdriver: &WebDriver) {
    wait_until("the switcher window gone", UI, || {
        Ok(webdriver
            .window_handles()
            .map_or(true, |h| h.is_empty())
            .then_some(()))
    })
    .expect("the switcher closes on WM_DELETE_WINDOW");
}

/// Waits `--close-secs` after a close and reads the memory of the app and its children.
fn settle(opts: &Options, pid: u32, what: &str) -> TreeMemory {
    std::thread::sleep(Duration::from_secs(opts.close_secs));
    let m = tree_memory(pid);
    eprintln!("  {what} (+{} s): {}", opts.close_secs, m.describe());
    m
}

/// "Open Signet…" through dbusmenu; returns open → first paint of the clusters list.
fn reopen(webdriver: &WebDriver, session: &Session, tray: &Tray, run: usize) -> Duration {
    let t0 = epoch_ms();
    session.click(tray, OPEN);
    let handle = wait_until("the reopened switcher among the window handles", UI, || {
        Ok(webdriver.window_handles()?.into_iter().next())
    })
    .expect("WebDriver sees the reopened switcher");
    webdriver
        .switch_to_window(&handle)
        .expect("switch to the reopened switcher");
    let painted = painted_mark(webdriver).expect("the reopened page marks its first paint");
    let open_to_paint = Duration::from_secs_f64(((painted.epoch_ms - t0) / 1000.0).max(0.0));
    let navigation_at = painted.epoch_ms - painted.since_navigation - t0;
    eprintln!(
        "  open {}: tray click → clusters painted {} (tray click → navigation start {navigation_at:.0} ms; \
         navigation → painted {:.1} ms; {})",
        run + 1,
        ms(open_to_paint),
        painted.since_navigation,
        page_timeline(webdriver)
    );
    open_to_paint
}

/// Where the page's time went: the document, the script, and each request to the app (the IPC calls
/// are `ipc://localhost/<command>` requests), in ms since navigation start.
const TIMELINE: &str = r#"
const nav = performance.getEntriesByType('navigation')[0];
const parts = [];
if (nav) parts.push('document ' + Math.round(nav.responseEnd) + ', DOMContentLoaded ' + Math.round(nav.domContentLoadedEventEnd));
for (const m of performance.getEntriesByType('mark')) parts.push(m.name.replace('signet:', '') + ' ' + Math.round(m.startTime));
for (const r of performance.getEntriesByType('resource')) {
  const name = r.name.replace(/^.*\/\/[^/]*\//, '').replace(/\?.*$/, '');
  parts.push(name + ' ' + Math.round(r.startTime) + '→' + Math.round(r.responseEnd));
}
return parts.join('; ');
"#;

/// How long the page's first two calls take when made again: `status` and `config` (ms).
const IPC: &str = r#"
const invoke = window.__TAURI_INTERNALS__.invoke;
const out = [];
for (const command of ['status', 'config']) {
  const t = performance.now();
  await invoke(command);
  out.push(command + ' ' + Math.round(performance.now() - t) + ' ms');
}
return out.join(', ');
"#;

fn page_timeline(webdriver: &WebDriver) -> String {
    let text = |script: &str| {
        webdriver
            .execute(script, &[])
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "?".into())
    };
    format!("{}; IPC again: {}", text(TIMELINE), text(IPC))
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn webview_rows(rows: &mut Vec<Row>, f: &WebviewFigures) {
    let opened = Stats::of(f.opened.clone());
    rows.push(Row {
        what: "Switcher: \"Open Signet…\" clicked in the tray → clusters list first painted".into(),
        result: opened.spread(),
        baseline: format!(
            "first window at start-up: navigation → painted {:.1} ms",
            f.since_navigation
        ),
        budget: "≤ 300 ms",
        within: (opened.runs > 0).then(|| opened.median <= Duration::from_millis(300)),
    });
    let n = f.clusters;
    for (what, keys) in [
        (
            format!("Filter, one keystroke (a digit) → list updated and painted, {n} clusters"),
            &f.narrow,
        ),
        (
            format!("Render, Backspace → all {n} clusters listed and painted"),
            &f.widen,
        ),
    ] {
        let frame = Stats::of(keys.iter().map(|k| millis(k.to_frame)).collect());
        let dom = Stats::of(keys.iter().map(|k| millis(k.to_dom)).collect());
        rows.push(Row {
            what,
            result: frame.spread(),
            baseline: format!("keydown → DOM updated {}", ms(dom.median)),
            budget: "≤ 50 ms",
            within: (frame.runs > 0).then(|| frame.median <= Duration::from_millis(50)),
        });
    }
}

fn millis(v: f64) -> Duration {
    Duration::from_secs_f64((v / 1000.0).max(0.0))
}

// -------------------------------------------------------------------------------------------------
// /proc

/// Private memory of a process and every process below it.
struct TreeMemory {
    app_anon: u64,
    total_anon: u64,
    children: Vec<(String, u64)>,
}

impl TreeMemory {
    fn describe(&self) -> String {
        let kids: Vec<String> = self
            .children
            .iter()
            .map(|(name, anon)| format!("{name} {}", mb(*anon)))
            .collect();
        format!(
            "RssAnon app {} + children {} = {} [{}]",
            mb(self.app_anon),
            mb(self.total_anon - self.app_anon),
            mb(self.total_anon),
            kids.join(", ")
        )
    }
}

fn tree_memory(pid: u32) -> TreeMemory {
    let app_anon = rss_anon(pid);
    let children: Vec<(String, u64)> = descendants(pid)
        .into_iter()
        .map(|(child, name)| (name, rss_anon(child)))
        .collect();
    let total_anon = app_anon + children.iter().map(|(_, a)| a).sum::<u64>();
    TreeMemory {
        app_anon,
        total_anon,
        children,
    }
}

fn rss_anon(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

// -------------------------------------------------------------------------------------------------
// The table

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MB)
}

fn median_bytes(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

fn print_table(opts: &Options, clusters: usize, rows: &[Row], loads: &[(&str, String)]) {
    println!(
        "Switcher and tray menu, {} providers × {} clusters ({clusters}), release build; {} CPUs; load averages: {}",
        opts.providers,
        opts.per_provider,
        cpus(),
        loads
            .iter()
            .map(|(when, l)| format!("{when} {l}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!("| Measurement | Result | Baseline (same run) | Budget | Within |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let within = match r.within {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        println!(
            "| {} | {} | {} | {} | {within} |",
            r.what, r.result, r.baseline, r.budget
        );
    }
}

const USAGE: &str = "usage: signet-switcher-bench --app PATH [--providers 50] [--clusters-per-provider 20] \
                     [--keys 20] [--reopen-runs 5] [--idle-secs 30] [--open-secs 5] [--close-secs 10] [--menu-runs 10] [--keep]";

fn parse_args() -> Options {
    let mut opts = Options {
        app: PathBuf::new(),
        providers: 50,
        per_provider: 20,
        keys: 20,
        reopen_runs: 5,
        idle_secs: 30,
        open_secs: 5,
        close_secs: 10,
        menu_runs: 10,
        keep: false,
    };
    opts.keep = parse_flags("signet-switcher-bench", USAGE, |flag, value| {
        match flag {
            "--app" => opts.app = PathBuf::from(value),
            "--providers" => opts.providers = count(flag, &value)?,
            "--clusters-per-provider" => opts.per_provider = count(flag, &value)?,
            "--keys" => opts.keys = count(flag, &value)?,
            "--reopen-runs" => opts.reopen_runs = count(flag, &value)?,
            "--idle-secs" => opts.idle_secs = count(flag, &value)? as u64,
            "--open-secs" => opts.open_secs = count(flag, &value)? as u64,
            "--close-secs" => opts.close_secs = count(flag, &value)? as u64,
            "--menu-runs" => opts.menu_runs = count(flag, &value)?,
            other => return Err(format!("unknown flag {other}")),
        }
        Ok(())
    });
    if opts.app.as_os_str().is_empty() || !Path::new(&opts.app).is_file() {
        signet_tests::bench::fail(
            "signet-switcher-bench",
            USAGE,
            "--app must name the signet binary (scripts/bench-tray.sh passes the release build)",
        );
    }
    opts
}
