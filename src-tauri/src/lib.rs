//! `signet`: the tray app. A thin shell over `signet-core` (DESIGN.md §2): the tray icon and menu
//! ([`tray`]), sign-in windows ([`login`]), commands for the switcher window ([`commands`]) over plain
//! DTOs ([`dto`]), notifications ([`notify`]), the agent socket for `kubectl-signet` ([`agent`]), the
//! forwarding socket for kubectl on other hosts ([`forward`]), background refresh ([`refresher`]) and
//! the desktop's light/dark preference for the windows (`theme`, Linux).
//!
//! [`run_app`] is generic over the Tauri runtime so tests drive the same app on the mock runtime; its
//! side effects come in through [`Services`] (keyring, clock, notifications, browser opener).
//! Behaviour that is not about windows, menus or notifications belongs in `signet-core`.

pub mod actions;
pub mod agent;
/// The names of every command (shared with `build.rs`, which puts them in the app manifest).
pub mod command_names;
pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
pub mod forward;
pub mod login;
pub mod manage;
pub mod notify;
pub mod refresher;
pub mod state;
pub mod switcher;
#[cfg(target_os = "linux")]
pub mod theme;
pub mod tray;

use tauri::{Manager, RunEvent, Runtime};

pub use error::AppError;
pub use state::{AppState, Services};

/// The app's configuration (`tauri.conf.json`), capabilities and embedded front end, for any runtime.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Builds the app: plugins (single-instance first), state, commands and — with `services.desktop` —
/// the tray icon and its periodic status check, the agent socket and background refresh.
pub fn build_app<R: Runtime>(
    builder: tauri::Builder<R>,
    services: Services,
    context: tauri::Context<R>,
) -> tauri::Result<tauri::App<R>> {
    let desktop = services.desktop;
    let open_switcher = services.open_switcher;
    let mut builder = builder;
    if desktop {
        builder = builder
            .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
                second_launch(app);
            }))
            .plugin(tauri_plugin_autostart::init(
                tauri_plugin_autostart::MacosLauncher::LaunchAgent,
                None,
            ));
    }
    builder
        .manage(AppState::new(services))
        .manage(login::Logins::default())
        .manage(tray::Shown::<R>::default())
        .manage(tray::Emitted::default())
        .manage(agent::AgentSocket::default())
        .manage(forward::Consent::default())
        .manage(refresher::Alerts::default())
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::config,
            commands::activity,
            commands::sign_in,
            commands::sign_out,
            commands::use_context,
            commands::list_namespaces,
            commands::discover,
            commands::save_provider,
            commands::remove_provider,
            commands::probe_server,
            commands::add_cluster,
            commands::remove_cluster,
            commands::test_cluster,
            commands::import_preview,
            commands::import_apply,
            commands::save_settings,
            commands::open_kubeconfig_location
        ])
        .setup(move |app| {
            if desktop {
                tray::create(app.handle())?;
                exit_on_termination(app.handle());
                #[cfg(target_os = "linux")]
                theme::follow(app.handle());
                agent::start(app.handle());
                forward::start(app.handle());
                refresher::spawn(app.handle());
                let configured = !app
                    .state::<AppState>()
                    .signet()
                    .config()
                    .providers
                    .is_empty();
                if switcher::opens_at_start(configured, open_switcher)
                    && let Err(e) = switcher::open(app.handle())
                {
                    tracing::warn!(error = %e, "could not open the switcher window");
                }
            }
            // The tray (if any) exists by now: the publisher's first redraw fills it in.
            tray::spawn_publisher(app.handle());
            Ok(())
        })
        .build(context)
}

/// Builds and runs the app until "Quit". Closing every window keeps it running in the tray.
pub fn run_app<R: Runtime>(
    builder: tauri::Builder<R>,
    services: Services,
    context: tauri::Context<R>,
) -> tauri::Result<()> {
    let app = build_app(builder, services, context)?;
    app.run(|app, event| match event {
        // `code: None` is "the last window closed"; an explicit `exit` (Quit) carries a code.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => agent::stop(app),
        _ => {}
    });
    Ok(())
}

/// SIGTERM (a session logout, `systemctl --user stop`) and SIGINT end the app the way "Quit" does, so
/// its exit handler runs and the agent socket is removed.
fn exit_on_termination<R: Runtime>(app: &tauri::AppHandle<R>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(signals) => signals,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch for SIGTERM; the agent socket may be left behind");
            return;
        }
    };
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                tracing::info!(signal, "asked to stop");
                app.exit(0);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch for SIGTERM");
    }
}

/// Another `signet` was started: bring our windows forward, or say where we are.
fn second_launch<R: Runtime>(app: &tauri::AppHandle<R>) {
    tracing::info!("a second instance was started; this one stays");
    if let Err(e) = switcher::open(app) {
        tracing::warn!(error = %e, "could not open the switcher window");
        app.state::<AppState>().notify(
            notify::Note::new(
                "Signet is already running",
                "Use its icon in the system tray.",
            ),
            None,
        );
    }
}
