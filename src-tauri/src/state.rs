//! The tray app's managed state: the engine ([`Signet`]) built from the config file, and what the app
//! knows beyond the engine's status (sign-ins running, the last failure per provider).
//!
//! The engine is rebuilt when the config file changes (the CLI may edit it while the tray runs) and when
//! the app itself changes it (switching a provider to `browser` sign-in). It holds no GUI handle, so
//! everything here also runs under Tauri's mock runtime.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use signet_core::Signet;
use signet_core::clock::Clock;
use signet_core::config::{Config, LoginMode};
use signet_core::oidc::opener::UrlOpener;
use signet_core::paths::Paths;
use signet_core::session::SessionError;
use signet_core::token_store::SecretStore;

use crate::dto::{ErrorDto, ProviderActivity, ProviderDto};
use crate::error::AppError;
use crate::notify::Notifier;

/// The side effects the app runs against: real ones in `main`, test doubles in tests.
pub struct Services {
    pub paths: Paths,
    pub secrets: Arc<dyn SecretStore>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<dyn Notifier>,
    /// Opens URLs for `browser` and `device` sign-ins.
    pub opener: Arc<dyn UrlOpener>,
    /// The command kubeconfig exec entries run (`kubectl-signet`, or its absolute path).
    pub kubectl_plugin: String,
    /// Desktop integration: the tray icon, the single-instance and autostart plugins, the periodic
    /// status check, the agent socket and background refresh. Off under the mock runtime, which has no
    /// display or session bus to offer them (tests start the agent themselves).
    pub desktop: bool,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("paths", &self.paths)
            .field("desktop", &self.desktop)
            .finish_non_exhaustive()
    }
}

/// Everything the commands, the tray and the login windows share.
pub struct AppState {
    paths: Paths,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) opener: Arc<dyn UrlOpener>,
    pub(crate) kubectl_plugin: String,
    signet: RwLock<Arc<Signet>>,
    /// The config file's modification time when it was last read (`None`: it did not exist).
    config_stamp: Mutex<Option<SystemTime>>,
    /// Why the config could not be loaded (the app then runs with no providers and says so).
    config_error: Mutex<Option<ErrorDto>>,
    activity: Mutex<HashMap<String, ProviderActivity>>,
    /// Counts changes to the config and to what the app records (sign-ins starting and ending), so the
    /// background refresh can re-plan at once instead of at its next periodic wake-up.
    changes: (Mutex<u64>, Condvar),
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(services: Services) -> AppState {
        let Services {
            paths,
            secrets,
            clock,
            notifier,
            opener,
            kubectl_plugin,
            desktop: _,
        } = services;
        let stamp = modified(&paths);
        let (config, error) = load_config(&paths);
        let signet = Signet::new(paths.clone(), config, secrets.clone(), clock.clone());
        AppState {
            paths,
            secrets,
            clock,
            notifier,
            opener,
            kubectl_plugin,
            signet: RwLock::new(Arc::new(signet)),
            config_stamp: Mutex::new(stamp),
            config_error: Mutex::new(error),
            activity: Mutex::new(HashMap::new()),
            changes: (Mutex::new(0), Condvar::new()),
        }
    }

    /// The change counter (see [`AppState::wait_for_change`]).
    pub fn changes(&self) -> u64 {
        self.changes.0.lock().map(|n| *n).unwrap_or(0)
    }

    /// Says that the config or a provider's state changed.
    pub fn changed(&self) {
        if let Ok(mut n) = self.changes.0.lock() {
            *n = n.wrapping_add(1);
        }
        self.changes.1.notify_all();
    }

    /// Waits up to `timeout` for the change counter to move past `seen`; returns its value.
    pub fn wait_for_change(&self, seen: u64, timeout: Duration) -> u64 {
        let Ok(guard) = self.changes.0.lock() else {
            std::thread::sleep(timeout);
            return seen;
        };
        match self
            .changes
            .1
            .wait_timeout_while(guard, timeout, |n| *n == seen)
        {
            Ok((n, _)) => *n,
            Err(poisoned) => *poisoned.into_inner().0,
        }
    }

    /// The current engine (cheap to clone; keep it for the duration of one operation).
    pub fn signet(&self) -> Arc<Signet> {
        match self.signet.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Why the config could not be loaded, if it could not.
    pub fn config_error(&self) -> Option<ErrorDto> {
        self.config_error.lock().ok().and_then(|e| e.clone())
    }

    /// Re-reads the config when the file changed since it was last read; `true` if it did.
    pub fn reload_if_changed(&self) -> bool {
        let now = modified(&self.paths);
        let changed = self
            .config_stamp
            .lock()
            .map(|stamp| *stamp != now)
            .unwrap_or(false);
        if changed {
            self.reload();
        }
        changed
    }

    /// Re-reads the config and rebuilds the engine.
    pub fn reload(&self) {
        let stamp = modified(&self.paths);
        let (config, error) = load_config(&self.paths);
        let signet = Signet::new(
            self.paths.clone(),
            config,
            self.secrets.clone(),
            self.clock.clone(),
        );
        if let Ok(mut s) = self.signet.write() {
            *s = Arc::new(signet);
        }
        if let Ok(mut e) = self.config_error.lock() {
            *e = error;
        }
        if let Ok(mut s) = self.config_stamp.lock() {
            *s = stamp;
        }
        tracing::info!(config = %self.paths.config_file.display(), "config reloaded");
        self.changed();
    }

    /// Every provider as the UI shows it, now.
    pub fn providers(&self) -> Vec<ProviderDto> {
        let signet = self.signet();
        let now = self.clock.now();
        let activity = self.activity.lock().map(|a| a.clone()).unwrap_or_default();
        signet
            .status()
            .iter()
            .map(|status| {
                ProviderDto::new(
                    status,
                    signet.config(),
                    activity
                        .get(&status.provider)
                        .unwrap_or(&Default::default()),
                    now,
                )
            })
            .collect()
    }

    /// Changes what the app records about a provider.
    pub fn update_activity(&self, provider: &str, change: impl FnOnce(&mut ProviderActivity)) {
        if let Ok(mut activity) = self.activity.lock() {
            change(activity.entry(provider.to_string()).or_default());
        }
        self.changed();
    }

    /// Changes a provider's sign-in mode in the config file and reloads it.
    pub fn set_login_mode(&self, provider: &str, mode: LoginMode) -> Result<(), AppError> {
        let mut config = Config::load(&self.paths.config_file, &self.paths.home)?;
        let Some(entry) = config.providers.iter_mut().find(|p| p.name == provider) else {
            return Err(AppError::Core(
                SessionError::UnknownProvider {
                    name: provider.into(),
                    known: config
                        .providers
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .into(),
            ));
        };
        entry.login = mode;
        config.save(&self.paths.config_file)?;
        tracing::info!(provider, ?mode, "sign-in mode changed");
        self.reload();
        Ok(())
    }
}

fn modified(paths: &Paths) -> Option<SystemTime> {
    std::fs::metadata(&paths.config_file)
        .and_then(|m| m.modified())
        .ok()
}

fn load_config(paths: &Paths) -> (Config, Option<ErrorDto>) {
    match Config::load_or_default(&paths.config_file, &paths.home) {
        Ok(config) => (config, None),
        Err(e) => {
            tracing::error!(error = %e, "the config could not be loaded; running with no providers");
            let error = ErrorDto {
                code: e.code().to_string(),
                message: e.to_string(),
            };
            (Config::default(), Some(error))
        }
    }
}
