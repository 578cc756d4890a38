//! The commands the switcher window may call. Each is a one-liner over the app state, [`crate::login`]
//! or [`crate::manage`]; blocking work (discovery, token requests, kubeconfig and config files) runs on
//! a blocking thread, never on the main thread. Only the `main` window has a capability, so the login
//! window and any remote page cannot call these (a test proves it).
//!
//! Failures reach the front end as `{code, message}` ([`AppError`]).

use tauri::{AppHandle, Manager, Runtime};

use crate::dto::{
    ActivityEntry, ClusterInput, ConfigDto, ContextSwitched, DiscoveryDto, ImportPreview,
    ImportResult, ImportSourceDto, NamespaceList, ProviderInput, ReviewDto, ServerProbe,
    SettingsDto, SignInStarted, SignedOut, StatusDto,
};
use crate::error::AppError;
use crate::manage;
use crate::state::AppState;

/// Every provider, its account, expiry and clusters, and kubectl's current context. Never a token.
#[tauri::command]
pub async fn status<R: Runtime>(app: AppHandle<R>) -> Result<StatusDto, AppError> {
    blocking(move || Ok(app.state::<AppState>().status())).await
}

/// The config as the switcher edits it.
#[tauri::command]
pub async fn config<R: Runtime>(app: AppHandle<R>) -> Result<ConfigDto, AppError> {
    blocking(move || Ok(manage::config(&app))).await
}

/// Recent sign-ins, refreshes, failures and edits, newest first.
#[tauri::command]
pub async fn activity<R: Runtime>(app: AppHandle<R>) -> Result<Vec<ActivityEntry>, AppError> {
    Ok(app.state::<AppState>().activity())
}

/// Starts a sign-in in the provider's mode; resolves once the login window (or browser) is open.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    provider: String,
) -> Result<SignInStarted, AppError> {
    blocking(move || crate::login::start(&app, &provider)).await
}

/// Signs out of a provider.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    provider: String,
) -> Result<SignedOut, AppError> {
    blocking(move || crate::login::sign_out(&app, &provider)).await
}

/// Makes a cluster's context current, optionally setting its namespace.
#[tauri::command]
pub async fn use_context<R: Runtime>(
    app: AppHandle<R>,
    cluster: String,
    namespace: Option<String>,
) -> Result<ContextSwitched, AppError> {
    blocking(move || manage::use_context(&app, &cluster, namespace.as_deref())).await
}

/// The namespaces the person may list on a cluster.
#[tauri::command]
pub async fn list_namespaces<R: Runtime>(
    app: AppHandle<R>,
    cluster: String,
) -> Result<NamespaceList, AppError> {
    blocking(move || manage::list_namespaces(&app, &cluster)).await
}

/// An issuer's discovery, for the provider form.
#[tauri::command]
pub async fn discover(
    issuer: String,
    ca_file: Option<String>,
    ca_data: Option<String>,
) -> Result<DiscoveryDto, AppError> {
    blocking(move || manage::discover(&issuer, ca_file, ca_data)).await
}

/// Adds or changes a provider.
#[tauri::command]
pub async fn save_provider<R: Runtime>(
    app: AppHandle<R>,
    provider: ProviderInput,
) -> Result<ConfigDto, AppError> {
    blocking(move || manage::save_provider(&app, provider)).await
}

/// Removes a provider with its clusters and their kubeconfig entries.
#[tauri::command]
pub async fn remove_provider<R: Runtime>(
    app: AppHandle<R>,
    name: String,
) -> Result<ConfigDto, AppError> {
    blocking(move || manage::remove_provider(&app, &name)).await
}

/// Checks that an API server answers over TLS.
#[tauri::command]
pub async fn probe_server(
    server: String,
    ca_file: Option<String>,
    ca_data: Option<String>,
    insecure_skip_tls_verify: bool,
) -> Result<ServerProbe, AppError> {
    blocking(move || manage::probe_server(&server, ca_file, ca_data, insecure_skip_tls_verify))
        .await
}

/// Adds a cluster and writes its kubeconfig entries.
#[tauri::command]
pub async fn add_cluster<R: Runtime>(
    app: AppHandle<R>,
    cluster: ClusterInput,
) -> Result<ConfigDto, AppError> {
    blocking(move || manage::add_cluster(&app, cluster)).await
}

/// Removes a cluster and its kubeconfig entries.
#[tauri::command]
pub async fn remove_cluster<R: Runtime>(
    app: AppHandle<R>,
    name: String,
) -> Result<ConfigDto, AppError> {
    blocking(move || manage::remove_cluster(&app, &name)).await
}

/// Who the cluster says the person is; signs in first when needed.
#[tauri::command]
pub async fn test_cluster<R: Runtime>(
    app: AppHandle<R>,
    cluster: String,
) -> Result<ReviewDto, AppError> {
    blocking(move || manage::test_cluster(&app, &cluster)).await
}

/// What an import would change.
#[tauri::command]
pub async fn import_preview<R: Runtime>(
    app: AppHandle<R>,
    source: ImportSourceDto,
) -> Result<ImportPreview, AppError> {
    blocking(move || manage::import_preview(&app, source)).await
}

/// Applies an import; `allow_insecure` names the clusters the person confirmed may skip TLS verification.
#[tauri::command]
pub async fn import_apply<R: Runtime>(
    app: AppHandle<R>,
    source: ImportSourceDto,
    allow_insecure: Vec<String>,
) -> Result<ImportResult, AppError> {
    blocking(move || manage::import_apply(&app, source, allow_insecure)).await
}

/// Saves the settings.
#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    settings: SettingsDto,
) -> Result<SettingsDto, AppError> {
    blocking(move || manage::save_settings(&app, settings)).await
}

/// Opens the folder of a cluster's kubeconfig file.
#[tauri::command]
pub async fn open_kubeconfig_location<R: Runtime>(
    app: AppHandle<R>,
    cluster: String,
) -> Result<(), AppError> {
    blocking(move || manage::open_kubeconfig_location(&app, &cluster)).await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}
