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
use signet_core::token_store::SecretStore;

use std::collections::VecDeque;

use signet_core::kubeconfig::{ChainCache, KubeconfigTarget};

use crate::dto::{ActivityEntry, ContextView, ErrorDto, ProviderActivity, ProviderDto, StatusDto};
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
    /// Open the switcher window at start-up even when providers are configured (`signet --open`).
    pub open_switcher: bool,
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
    notifier: Arc<dyn Notifier>,
    pub(crate) opener: Arc<dyn UrlOpener>,
    pub(crate) kubectl_plugin: String,
    signet: RwLock<Arc<Signet>>,
    /// The config file's modification time when it was last read (`None`: it did not exist).
    config_stamp: Mutex<Option<SystemTime>>,
    /// Why the config could not be loaded (the app then runs with no providers and says so).
    config_error: Mutex<Option<ErrorDto>>,
    activity: Mutex<HashMap<String, ProviderActivity>>,
    /// Recent sign-ins, refreshes and failures for the switcher's Activity view, newest first.
    log: Mutex<VecDeque<ActivityEntry>>,
    /// Counts changes to the config and to what the app records (sign-ins starting and ending), so the
    /// background refresh can re-plan at once instead of at its next periodic wake-up.
    changes: (Mutex<u64>, Condvar),
    /// Kubeconfig chains as the status last read them; read again only when a file changed.
    kubeconfigs: ChainCache,
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
            open_switcher: _,
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
            log: Mutex::new(VecDeque::new()),
            changes: (Mutex::new(0), Condvar::new()),
            kubeconfigs: ChainCache::new(),
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

    /// Waits for the change counter to move past `seen`, up to `timeout` (`None`: no limit); returns its
    /// value.
    pub fn wait_for_change(&self, seen: u64, timeout: Option<Duration>) -> u64 {
        let Ok(guard) = self.changes.0.lock() else {
            std::thread::sleep(timeout.unwrap_or(Duration::from_secs(1)));
            return seen;
        };
        let unchanged = |n: &mut u64| *n == seen;
        match timeout {
            Some(timeout) => match self.changes.1.wait_timeout_while(guard, timeout, unchanged) {
                Ok((n, _)) => *n,
                Err(poisoned) => *poisoned.into_inner().0,
            },
            None => match self.changes.1.wait_while(guard, unchanged) {
                Ok(n) => *n,
                Err(poisoned) => *poisoned.into_inner(),
            },
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
        let contexts = contexts(&signet, &self.kubeconfigs);
        signet
            .status()
            .iter()
            .map(|status| {
                ProviderDto::new(
                    status,
                    signet.config(),
                    &contexts,
                    activity
                        .get(&status.provider)
                        .unwrap_or(&Default::default()),
                    now,
                )
            })
            .collect()
    }

    /// What the switcher window shows: the providers, kubectl's current context, the config's state.
    pub fn status(&self) -> StatusDto {
        let providers = self.providers();
        let current_context = providers
            .iter()
            .flat_map(|p| &p.clusters)
            .find(|c| c.current)
            .map(|c| c.context.clone())
            .or_else(|| self.current_context());
        StatusDto {
            providers,
            current_context,
            config_path: self.paths.config_file.display().to_string(),
            config_error: self.config_error(),
        }
    }

    /// kubectl's current context in the default kubeconfig chain (`None` when unset or unreadable).
    fn current_context(&self) -> Option<String> {
        let target =
            KubeconfigTarget::resolve(self.paths.kubeconfig_env.as_deref(), &self.paths.home, None);
        self.kubeconfigs.view(&target).ok()?.current_context.clone()
    }

    /// Every kubeconfig file the status reads: the default chain's and each cluster's.
    pub(crate) fn kubeconfig_files(&self) -> Vec<std::path::PathBuf> {
        let signet = self.signet();
        let default =
            KubeconfigTarget::resolve(self.paths.kubeconfig_env.as_deref(), &self.paths.home, None);
        let targets = std::iter::once(default).chain(
            signet
                .config()
                .clusters
                .iter()
                .map(|c| signet.kubeconfig_target(c)),
        );
        let mut files = std::collections::BTreeSet::new();
        for target in targets {
            files.extend(target.precedence().iter().cloned());
        }
        files.into_iter().collect()
    }

    /// Where each configured cluster's context stands in kubeconfig (chains read only when changed).
    pub(crate) fn contexts(&self) -> HashMap<String, ContextView> {
        contexts(&self.signet(), &self.kubeconfigs)
    }

    /// Shows a notification unless the person turned notifications off (`settings.notifications`).
    pub fn notify(&self, note: crate::notify::Note, on_action: Option<crate::notify::OnAction>) {
        if self.signet().config().settings.notifications {
            self.notifier.notify(note, on_action);
        } else {
            tracing::info!(summary = %note.summary, "notification not shown: notifications are off");
        }
    }

    /// Asks the person something in a notification, whether or not notifications are on: a question is not
    /// news (`on_action` gets the button pressed, or [`crate::notify::CLOSED`]).
    pub fn ask(&self, note: crate::notify::Note, on_action: crate::notify::OnAction) {
        self.notifier.notify(note, Some(on_action));
    }

    /// Adds to the activity log (newest first, bounded) and returns the entry.
    pub fn record(&self, entry: ActivityEntry) -> ActivityEntry {
        if let Ok(mut log) = self.log.lock() {
            log.push_front(entry.clone());
            log.truncate(ACTIVITY_LOG_SIZE);
        }
        entry
    }

    /// The activity log, newest first.
    pub fn activity(&self) -> Vec<ActivityEntry> {
        self.log
            .lock()
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether a sign-in to `provider` is running in the app.
    pub fn signing_in(&self, provider: &str) -> bool {
        self.activity
            .lock()
            .map(|a| a.get(provider).is_some_and(|a| a.signing_in))
            .unwrap_or(false)
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
        signet_core::usecase::setup::set_login_mode(&self.signet(), provider, mode)?;
        self.reload();
        Ok(())
    }
}

/// How many activity entries the app keeps (in memory; the log file keeps everything).
pub const ACTIVITY_LOG_SIZE: usize = 200;

/// Where each configured cluster's context stands in kubeconfig; each chain is read only when one of its
/// files changed since `cache` last read it.
fn contexts(signet: &Signet, cache: &ChainCache) -> HashMap<String, ContextView> {
    let mut views = HashMap::new();
    for cluster in &signet.config().clusters {
        let target = signet.kubeconfig_target(cluster);
        let found = cache.view(&target).map_or_else(
            |e| {
                tracing::debug!(error = %e, "kubeconfig unreadable for the status");
                Vec::new()
            },
            |view| view.contexts.clone(),
        );
        let context = found
            .iter()
            .find(|k| k.cluster == cluster.name && k.name == cluster.context_name());
        views.insert(
            cluster.name.clone(),
            ContextView {
                current: context.is_some_and(|k| k.current),
                namespace: context.and_then(|k| k.namespace.clone()),
                file: context
                    .map_or_else(|| target.default_file().to_path_buf(), |k| k.file.clone())
                    .display()
                    .to_string(),
            },
        );
    }
    views
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
