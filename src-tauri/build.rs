//! Generates the app's context and its access-control list. Listing the app's commands in an app
//! manifest makes them subject to capabilities like plugin commands: only windows a capability names
//! (the `main` window) may call them, even from the app's own pages.

/// Every command of `src/commands.rs` (the capability in `capabilities/main.json` allows them all).
const COMMANDS: &[&str] = &[
    "status",
    "config",
    "activity",
    "sign_in",
    "sign_out",
    "use_context",
    "list_namespaces",
    "discover",
    "save_provider",
    "remove_provider",
    "probe_server",
    "add_cluster",
    "remove_cluster",
    "test_cluster",
    "import_preview",
    "import_apply",
    "save_settings",
    "open_kubeconfig_location",
];

fn main() {
    let commands = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed (tauri.conf.json, capabilities/ or icons/)");
}
