// The names of every command in [`crate::commands`]: `build.rs` includes this file to put them in the
// app manifest (so capabilities govern them), and the capability tests call each one from places that
// must be refused.

/// Every command the switcher window may call (`capabilities/main.json` allows each).
pub const COMMANDS: &[&str] = &[
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
