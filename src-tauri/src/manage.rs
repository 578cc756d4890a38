//! What the switcher window does besides signing in and out: switch context and namespace, add, edit
//! and remove providers and clusters, import, and settings. Each function is one use-case over the app
//! state and `signet-core`; they block (network, files) and run on a blocking thread (see `commands`).
//!
//! Config edits go through [`Config::checked`], so the window gets the same `key: message` errors as
//! the config file, and are saved atomically before the engine is rebuilt. Kubeconfig is only changed
//! through `signet-core::kubeconfig` (locked, backed up, Signet's entries only).

use std::path::PathBuf;
use std::time::Duration;

use signet_core::cluster_api::Namespaces;
use signet_core::config::{ClusterConfig, ProviderConfig, Settings};
use signet_core::import::{CatalogSource, ImportPlan};
use signet_core::session::SessionError;
use signet_core::text::printable;
use signet_core::usecase::setup::{self, OnExisting, ProviderDraft, SettingsChange};
use signet_core::usecase::switch;
use signet_core::usecase::{self, import::ImportFrom};
use tauri::{AppHandle, Manager, Runtime};

use crate::dto::{
    ActivityKind, AdoptionDto, ClusterInput, ConfigDto, ContextSwitched, DiscoveryDto,
    ImportPreview, ImportResult, ImportSourceDto, NamespaceList, ProviderInput, ReviewDto,
    ServerProbe, SettingsDto,
};
use crate::error::AppError;
use crate::events;
use crate::state::AppState;

/// How long "test" waits for a sign-in it had to start.
const TEST_SIGN_IN_WAIT: Duration = Duration::from_secs(5 * 60);

/// The config as the switcher edits it.
pub fn config<R: Runtime>(app: &AppHandle<R>) -> ConfigDto {
    let signet = app.state::<AppState>().signet();
    let config = signet.config();
    ConfigDto {
        providers: config.providers.iter().map(provider_input).collect(),
        clusters: config.clusters.iter().map(cluster_input).collect(),
        settings: settings_dto(&config.settings, start_at_login(app)),
    }
}

/// Makes a cluster's context current and (with `namespace`) sets its namespace.
pub fn use_context<R: Runtime>(
    app: &AppHandle<R>,
    cluster: &str,
    namespace: Option<&str>,
) -> Result<ContextSwitched, AppError> {
    let switched = switch::use_cluster(&app.state::<AppState>().signet(), cluster, namespace)?;
    let message = match &switched.namespace {
        Some(ns) => format!("current context {}, namespace {ns}", switched.context),
        None => format!("current context {}", switched.context),
    };
    events::record(
        app,
        ActivityKind::ContextSwitched,
        Some(&switched.provider),
        message,
    );
    app.state::<AppState>().changed();
    Ok(ContextSwitched {
        context: switched.context,
        namespace: switched.namespace,
        kubeconfig: switched.kubeconfig.display().to_string(),
    })
}

/// The namespaces the person may pick on `cluster`, listed with their own token.
pub fn list_namespaces<R: Runtime>(
    app: &AppHandle<R>,
    cluster: &str,
) -> Result<NamespaceList, AppError> {
    Ok(
        match switch::namespaces(&app.state::<AppState>().signet(), cluster)? {
            Namespaces::Listed(names) => NamespaceList {
                names,
                forbidden: false,
            },
            Namespaces::Forbidden => NamespaceList {
                names: Vec::new(),
                forbidden: true,
            },
        },
    )
}

/// Fetches an issuer's discovery document (and JWKS) as a sign-in would.
pub fn discover(
    issuer: &str,
    ca_file: Option<String>,
    ca_data: Option<String>,
) -> Result<DiscoveryDto, AppError> {
    Ok(setup::discover(
        issuer,
        non_empty(ca_file).map(PathBuf::from),
        non_empty(ca_data),
    )?)
}

/// Adds a provider, or changes the one of that name; its discovery must work first.
pub fn save_provider<R: Runtime>(
    app: &AppHandle<R>,
    input: ProviderInput,
) -> Result<ConfigDto, AppError> {
    let state = app.state::<AppState>();
    let draft = ProviderDraft {
        name: input.name.trim().to_string(),
        issuer: input.issuer.trim().to_string(),
        client_id: input.client_id.trim().to_string(),
        connector: non_empty(input.connector),
        scopes: input
            .scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect(),
        ca_file: non_empty(input.ca_file).map(PathBuf::from),
        ca_data: non_empty(input.ca_data),
        login: input.login,
    };
    let saved = setup::save_provider(&state.signet(), draft, OnExisting::Replace)?;
    state.reload();
    let verb = if saved.replaced { "changed" } else { "added" };
    events::record(
        app,
        ActivityKind::ConfigChanged,
        Some(&saved.name),
        format!("provider {verb}"),
    );
    app.state::<AppState>().changed();
    Ok(self::config(app))
}

/// Signs out of a provider, removes its clusters' kubeconfig entries, then the clusters and the
/// provider from the config.
pub fn remove_provider<R: Runtime>(app: &AppHandle<R>, name: &str) -> Result<ConfigDto, AppError> {
    let state = app.state::<AppState>();
    let removed = setup::remove_provider(&state.signet(), name)?;
    if let Ok(revocation) = removed.sign_out {
        crate::login::signed_out(app, name, revocation);
    }
    state.reload();
    let names: Vec<&str> = removed.clusters.iter().map(String::as_str).collect();
    events::record(
        app,
        ActivityKind::ConfigChanged,
        Some(name),
        format!(
            "provider removed with its clusters: {}",
            list_or_none(&names)
        ),
    );
    app.state::<AppState>().changed();
    Ok(self::config(app))
}

/// Checks that an API server answers over TLS with the CA given.
pub fn probe_server(
    server: &str,
    ca_file: Option<String>,
    ca_data: Option<String>,
    insecure_skip_tls_verify: bool,
) -> Result<ServerProbe, AppError> {
    let probe = setup::probe_server(candidate_cluster(ClusterInput {
        name: "probe".into(),
        provider: "probe".into(),
        server: server.into(),
        ca_file,
        ca_data,
        insecure_skip_tls_verify,
        audience: None,
        context: None,
        namespace: None,
        credentials: Default::default(),
        kubeconfig: None,
    }))?;
    Ok(ServerProbe {
        version: probe.version,
        auth_required: probe.auth_required,
    })
}

/// Adds a cluster and writes its kubeconfig entries.
pub fn add_cluster<R: Runtime>(
    app: &AppHandle<R>,
    input: ClusterInput,
) -> Result<ConfigDto, AppError> {
    let state = app.state::<AppState>();
    let added = setup::add_cluster(
        &state.signet(),
        candidate_cluster(input),
        &state.kubectl_plugin,
    )?;
    state.reload();
    events::record(
        app,
        ActivityKind::ConfigChanged,
        Some(&added.provider),
        format!(
            "cluster {} added; its kubeconfig context is written",
            added.name
        ),
    );
    app.state::<AppState>().changed();
    Ok(self::config(app))
}

/// Removes a cluster's kubeconfig entries, then the cluster from the config.
pub fn remove_cluster<R: Runtime>(app: &AppHandle<R>, name: &str) -> Result<ConfigDto, AppError> {
    let state = app.state::<AppState>();
    let provider = setup::remove_cluster(&state.signet(), name)?;
    state.reload();
    events::record(
        app,
        ActivityKind::ConfigChanged,
        Some(&provider),
        format!("cluster {name} removed with its kubeconfig entries"),
    );
    app.state::<AppState>().changed();
    Ok(self::config(app))
}

/// Asks the cluster who the person is (SelfSubjectReview), signing in first when needed.
pub fn test_cluster<R: Runtime>(app: &AppHandle<R>, cluster: &str) -> Result<ReviewDto, AppError> {
    let state = app.state::<AppState>();
    let review = match switch::review(&state.signet(), cluster) {
        Err(signet_core::Error::Session(SessionError::SignInRequired { provider, .. })) => {
            crate::login::sign_in_and_wait(app, &provider, TEST_SIGN_IN_WAIT)?;
            switch::review(&state.signet(), cluster)?
        }
        other => other?,
    };
    Ok(ReviewDto {
        username: review.username,
        groups: review.groups,
    })
}

/// What an import would change (nothing changes yet). Names, paths and reasons come from a kubeconfig or a
/// catalog: they are shown with control characters escaped.
pub fn import_preview<R: Runtime>(
    app: &AppHandle<R>,
    source: ImportSourceDto,
) -> Result<ImportPreview, AppError> {
    let plan = plan(app, source)?;
    let shown = |s: String| printable(&s).into_owned();
    let preview = ImportPreview {
        empty: plan.is_empty(),
        config_file: plan.config_file.display().to_string(),
        providers: plan
            .providers
            .iter()
            .map(|p| format!("{} ({})", p.name, p.issuer))
            .collect(),
        clusters: plan
            .clusters
            .iter()
            .map(|c| format!("{} ({})", c.name, c.server))
            .collect(),
        reused: plan.reused.clone(),
        adoptions: plan
            .adoptions
            .iter()
            .map(|a| AdoptionDto {
                context: a.context.clone(),
                file: a.file.display().to_string(),
                old_user: a.old_user.clone(),
                old_auth: a.old_auth.to_string(),
                cluster: a.cluster.clone(),
                provider: a.provider.clone(),
            })
            .collect(),
        new_entries: plan
            .new_entries
            .iter()
            .map(|e| format!("{} ({})", e.context, e.file.display()))
            .collect(),
        skipped: plan
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.what, s.reason))
            .collect(),
        notes: plan.notes.clone(),
        insecure: plan.insecure_clusters(),
    };
    Ok(ImportPreview {
        providers: preview.providers.into_iter().map(shown).collect(),
        clusters: preview.clusters.into_iter().map(shown).collect(),
        reused: preview.reused.into_iter().map(shown).collect(),
        adoptions: preview
            .adoptions
            .into_iter()
            .map(|a| AdoptionDto {
                context: shown(a.context),
                file: shown(a.file),
                old_user: shown(a.old_user),
                old_auth: a.old_auth,
                cluster: a.cluster,
                provider: a.provider,
            })
            .collect(),
        new_entries: preview.new_entries.into_iter().map(shown).collect(),
        skipped: preview.skipped.into_iter().map(shown).collect(),
        notes: preview.notes.into_iter().map(shown).collect(),
        ..preview
    })
}

/// Plans the import again (the files may have changed since the preview) and applies it. `allow_insecure`
/// names the clusters the person confirmed may skip TLS verification; a cluster that skips it and is not
/// named refuses the whole import (`import.insecure_not_allowed`), nothing changed.
pub fn import_apply<R: Runtime>(
    app: &AppHandle<R>,
    source: ImportSourceDto,
    allow_insecure: Vec<String>,
) -> Result<ImportResult, AppError> {
    let state = app.state::<AppState>();
    let plan = plan(app, source)?;
    let outcome = plan.apply(&state.kubectl_plugin, &allow_insecure)?;
    state.reload();
    let pairs = |v: &[(String, String)]| -> Vec<String> {
        v.iter()
            .map(|(context, cluster)| format!("{context} → {cluster}"))
            .collect()
    };
    let result = ImportResult {
        config_saved: outcome.config_saved.map(|p| p.display().to_string()),
        adopted: pairs(&outcome.adopted),
        entries_written: pairs(&outcome.entries_written),
        backups: outcome
            .kubeconfig
            .backups
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        sign_in: outcome.sign_in,
    };
    events::record(
        app,
        ActivityKind::ConfigChanged,
        None,
        format!(
            "imported {}: {} contexts adopted, {} written",
            plan.source,
            result.adopted.len(),
            result.entries_written.len()
        ),
    );
    app.state::<AppState>().changed();
    Ok(result)
}

/// Saves the settings, then turns start-at-login on or off.
pub fn save_settings<R: Runtime>(
    app: &AppHandle<R>,
    settings: SettingsDto,
) -> Result<SettingsDto, AppError> {
    let state = app.state::<AppState>();
    let change = SettingsChange {
        notifications: settings.notifications,
        warning_minutes: settings.warning_minutes,
        kubeconfig: non_empty(settings.default_kubeconfig).map(PathBuf::from),
        credentials: settings.default_credentials,
        allow_forwarding: settings.allow_forwarding,
        forward_without_asking: settings.forward_without_asking,
    };
    let saved = setup::save_settings(&state.signet(), change)?;
    state.reload();
    if !saved.allow_forwarding {
        app.state::<crate::forward::Consent>().0.forget();
    }
    events::record(app, ActivityKind::ConfigChanged, None, "settings saved");
    if let Some(manager) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        && manager.is_enabled().ok() != Some(settings.start_at_login)
    {
        let changed = if settings.start_at_login {
            manager.enable()
        } else {
            manager.disable()
        };
        changed.map_err(|e| {
            AppError::Internal(format!(
                "the settings were saved, but start at login could not be changed: {e}"
            ))
        })?;
    }
    Ok(settings_dto(&saved, start_at_login(app)))
}

/// Opens the folder of the kubeconfig file a cluster's context lives in.
pub fn open_kubeconfig_location<R: Runtime>(
    app: &AppHandle<R>,
    cluster: &str,
) -> Result<(), AppError> {
    let state = app.state::<AppState>();
    // Only the kubeconfig is read: no token cache, no session (the full status is not needed here).
    let file = state
        .contexts()
        .remove(cluster)
        .map(|c| PathBuf::from(c.file))
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "no cluster named '{cluster}' in the Signet config; reopen the Clusters view"
            ))
        })?;
    let folder = file.parent().unwrap_or(&file);
    let url = url::Url::from_directory_path(folder).map_err(|()| {
        AppError::Invalid(format!("'{}' is not an absolute path", folder.display()))
    })?;
    state
        .opener
        .open(&url)
        .map_err(|e| AppError::Internal(format!("could not open {}: {e}", folder.display())))
}

fn plan<R: Runtime>(app: &AppHandle<R>, source: ImportSourceDto) -> Result<ImportPlan, AppError> {
    let paths = app.state::<AppState>().paths().clone();
    Ok(match source {
        ImportSourceDto::Kubeconfig { path } => {
            let file = non_empty(path).map(|p| paths.expand_home(std::path::Path::new(&p)));
            let from = ImportFrom::Kubeconfig {
                file: file.as_deref(),
                client_id: None,
            };
            usecase::import::plan(&paths, from)?
        }
        ImportSourceDto::Catalog { location } => {
            let location = location.trim();
            if location.is_empty() {
                return Err(AppError::Invalid(
                    "give the catalog's file path or https URL".into(),
                ));
            }
            let source = match CatalogSource::from_arg(location) {
                CatalogSource::File(p) => CatalogSource::File(paths.expand_home(&p)),
                url => url,
            };
            usecase::import::plan(&paths, ImportFrom::Catalog(&source))?
        }
    })
}

fn candidate_cluster(input: ClusterInput) -> ClusterConfig {
    ClusterConfig {
        name: input.name.trim().to_string(),
        provider: input.provider.trim().to_string(),
        server: input.server.trim().to_string(),
        ca_data: non_empty(input.ca_data),
        ca_file: non_empty(input.ca_file).map(PathBuf::from),
        insecure_skip_tls_verify: input.insecure_skip_tls_verify,
        audience: non_empty(input.audience),
        namespace: non_empty(input.namespace),
        context: non_empty(input.context),
        credentials: input.credentials,
        kubeconfig: non_empty(input.kubeconfig).map(PathBuf::from),
    }
}

fn provider_input(p: &ProviderConfig) -> ProviderInput {
    ProviderInput {
        name: p.name.clone(),
        issuer: p.issuer.clone(),
        client_id: p.client_id.clone(),
        connector: p.connector.clone(),
        scopes: p.scopes.clone(),
        ca_file: p.ca_file.as_ref().map(|f| f.display().to_string()),
        ca_data: p.ca_data.clone(),
        login: p.login,
    }
}

fn cluster_input(c: &ClusterConfig) -> ClusterInput {
    ClusterInput {
        name: c.name.clone(),
        provider: c.provider.clone(),
        server: c.server.clone(),
        ca_file: c.ca_file.as_ref().map(|f| f.display().to_string()),
        ca_data: c.ca_data.clone(),
        insecure_skip_tls_verify: c.insecure_skip_tls_verify,
        audience: c.audience.clone(),
        context: c.context.clone(),
        namespace: c.namespace.clone(),
        credentials: c.credentials,
        kubeconfig: c.kubeconfig.as_ref().map(|f| f.display().to_string()),
    }
}

fn settings_dto(settings: &Settings, start_at_login: bool) -> SettingsDto {
    SettingsDto {
        start_at_login,
        notifications: settings.notifications,
        warning_minutes: settings.warning_minutes,
        default_kubeconfig: settings
            .kubeconfig
            .as_ref()
            .map(|f| f.display().to_string()),
        default_credentials: settings.credentials,
        allow_forwarding: settings.allow_forwarding,
        forward_without_asking: settings.forward_without_asking,
    }
}

fn start_at_login<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .and_then(|m| m.is_enabled().ok())
        .unwrap_or(false)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
