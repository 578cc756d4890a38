//! Generates the app's context and its access-control list. Listing the app's commands in an app
//! manifest makes them subject to capabilities like plugin commands: only windows a capability names
//! (the `main` window) may call them, even from the app's own pages.

// `COMMANDS`: every command of `src/commands.rs`.
include!("src/command_names.rs");

fn main() {
    let commands = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed (tauri.conf.json, capabilities/ or icons/)");
}
