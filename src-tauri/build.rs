//! Generates the app's context and its access-control list. Listing the app's commands in an app
//! manifest makes them subject to capabilities like plugin commands: only windows a capability names
//! (the `main` window) may call them, even from the app's own pages.

// `COMMANDS`: every command of `src/commands.rs`.
include!("src/command_names.rs");

fn main() {
    // tauri.conf.json embeds `frontendDist` (../ui/dist); without it Tauri's macro panics with a long trace.
    println!("cargo::rerun-if-changed=../ui/dist/index.html");
    if !std::path::Path::new("../ui/dist/index.html").is_file() {
        println!(
            "cargo::error=the switcher window's front end (ui/dist) is not built yet: run scripts/setup.sh \
             (npm ci and npm run build in ui/), then build again"
        );
        return;
    }
    let commands = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed (tauri.conf.json, capabilities/ or icons/)");
}
