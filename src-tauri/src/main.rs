//! The `signet` tray app's entry point: real services, logging, and the Wry runtime.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::Arc;

use anyhow::Context as _;
use signet_app::Services;
use signet_app::notify::DesktopNotifier;
use signet_core::clock::SystemClock;
use signet_core::oidc::opener::SystemBrowser;
use signet_core::paths::Paths;
use signet_core::token_store::LazyKeyringStore;

const USAGE: &str = "\
Usage: signet [--open]

Signet keeps you signed in to Kubernetes clusters behind Dex: it lives in the system tray, runs sign-ins,
refreshes tokens and writes kubeconfig contexts. The CLI is `kubectl signet` (see `kubectl signet --help`).

Options:
      --open     Show the switcher window at start (a running Signet shows it instead)
  -h, --help     Print help
  -V, --version  Print version
";

fn main() -> anyhow::Result<()> {
    skip_gl_probe();
    let mut open_switcher = false;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--open") => open_switcher = true,
            // WebKitWebDriver starts the app it automates with `--automation` (tauri-driver's tests).
            Some("--automation") => {}
            Some("-V" | "--version") => {
                println!("signet {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            Some("-h" | "--help") => {
                print!("{USAGE}");
                return Ok(());
            }
            _ => {
                eprintln!(
                    "signet: unexpected argument '{}'\n\n{USAGE}",
                    arg.to_string_lossy()
                );
                std::process::exit(2);
            }
        }
    }
    let paths = Paths::from_env()?;
    init_logging(&paths);
    // `[settings] secret_store`, read once at start (a broken config is reported by the app itself; until
    // it is fixed the default, `auto`, applies). Changing it takes effect at the next start.
    let secret_store = signet_core::config::Config::load(&paths.config_file, &paths.home)
        .map(|c| c.settings.secret_store)
        .unwrap_or_default();
    let services = Services {
        paths,
        secrets: Arc::new(LazyKeyringStore::with_choice(secret_store)),
        clock: Arc::new(SystemClock),
        notifier: Arc::new(DesktopNotifier::default()),
        opener: Arc::new(SystemBrowser::from_env()),
        kubectl_plugin: kubectl_plugin(),
        desktop: true,
        // `signet --open`: show the switcher at start (scripts/run.sh does, for the demo).
        open_switcher,
    };
    signet_app::run_app(tauri::Builder::default(), services, signet_app::context())
        .context("the tray app failed")
}

/// GDK probes GL when it opens the display (GLX through libepoxy, which loads Mesa and, under Xvfb,
/// LLVM): about 100 ms of a ~200 ms launch on the benchmark machine, for a process that never draws with
/// GL — the tray is a D-Bus item, and a webview renders in WebKit's own processes. `GDK_GL=disable`
/// skips the probe; GDK reads it once, when GTK starts. A `GDK_GL` the person set is left as it is.
///
/// Changing the environment is sound only while no other thread may read it, which is why
/// `std::env::set_var` is `unsafe` (forbidden here). This runs first in `main`, before anything starts a
/// thread, through GLib's `g_setenv` (the function GDK's own `g_getenv` pairs with).
#[cfg(target_os = "linux")]
fn skip_gl_probe() {
    if std::env::var_os("GDK_GL").is_none()
        && let Err(e) = glib::setenv("GDK_GL", "disable", false)
    {
        eprintln!("signet: could not set GDK_GL=disable ({e}); GTK probes GL at start");
    }
}

#[cfg(not(target_os = "linux"))]
fn skip_gl_probe() {}

/// The exec command for kubeconfig entries: the `kubectl-signet` installed next to this program (as
/// `kubectl-signet` when that is also the one on `PATH`), else `kubectl-signet` from `PATH`.
fn kubectl_plugin() -> String {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("kubectl-signet")))
        .filter(|p| p.is_file());
    match sibling {
        Some(path) => signet_core::sync::plugin_command(&path, std::env::var_os("PATH").as_deref()),
        None => "kubectl-signet".into(),
    }
}

/// Logs to stderr and to `$XDG_STATE_HOME/signet/signet.log` (0600). `SIGNET_LOG` is a tracing filter.
fn init_logging(paths: &Paths) {
    use tracing_subscriber::fmt::writer::MakeWriterExt as _;
    let filter = std::env::var("SIGNET_LOG")
        .unwrap_or_else(|_| "signet_app=info,signet=info,signet_core=info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false);
    let result = match open_log(paths) {
        Ok(file) => builder
            .with_writer(std::io::stderr.and(std::sync::Mutex::new(file)))
            .with_ansi(false)
            .try_init(),
        Err(e) => {
            eprintln!(
                "signet: cannot write {}: {e}; logging to stderr only",
                paths.state_dir.join("signet.log").display()
            );
            builder.with_writer(std::io::stderr).try_init()
        }
    };
    if let Err(e) = result {
        eprintln!("signet: logging unavailable: {e}");
    }
}

fn open_log(paths: &Paths) -> std::io::Result<std::fs::File> {
    signet_core::atomic_file::private_dir(&paths.state_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(paths.state_dir.join("signet.log"))
}
