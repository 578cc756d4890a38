//! `import`: adopt kubelogin / legacy `auth-provider: oidc` contexts of a kubeconfig, or merge a team
//! catalog. Prints the plan (all of it on `--dry-run`), then applies it and says what changed. The
//! decisions live in `signet_core::catalog`; this file only reads flags and prints.

use std::path::PathBuf;

use signet_core::Error;
use signet_core::catalog::{self, CatalogSource};
use signet_core::config::Config;
use signet_core::http::HttpOptions;
use signet_core::paths::Paths;

use crate::commands::{Failure, plugin_command};

pub fn run(
    kubeconfig: Option<PathBuf>,
    catalog_arg: Option<String>,
    dry_run: bool,
    client_id: Option<String>,
) -> Result<(), Failure> {
    let paths = Paths::from_env().map_err(Error::from)?;
    let config = Config::load_or_default(&paths.config_file, &paths.home)?;
    let plan = match &catalog_arg {
        Some(arg) => {
            let source = CatalogSource::from_arg(arg);
            let text = catalog::read_catalog(&source, HttpOptions::default())?;
            catalog::plan_catalog_import(&config, &paths, &source, &text)?
        }
        None => catalog::plan_kubeconfig_import(
            &config,
            &paths,
            kubeconfig.as_deref(),
            client_id.as_deref(),
        )?,
    };
    print!("{plan}");
    if plan.is_empty() {
        println!();
        println!(
            "Nothing to import{}.",
            if catalog_arg.is_some() {
                ": everything in the catalog is configured already"
            } else {
                " (no kubelogin or auth-provider oidc contexts left to adopt)"
            }
        );
        return Ok(());
    }
    if dry_run {
        println!();
        println!(
            "Dry run: nothing was changed. Run the same command without --dry-run to apply it."
        );
        return Ok(());
    }

    let outcome = plan.apply(&plugin_command())?;
    println!();
    println!("Imported.");
    if let Some(config) = &outcome.config_saved {
        println!("  saved {}", config.display());
    }
    for (context, cluster) in &outcome.adopted {
        println!("  adopted context {context} (Signet cluster {cluster})");
    }
    for (context, cluster) in &outcome.entries_written {
        println!("  context {context} (cluster {cluster})");
    }
    for file in &outcome.kubeconfig.written {
        println!("  wrote {}", file.display());
    }
    for backup in &outcome.kubeconfig.backups {
        println!("  backed up the previous file to {}", backup.display());
    }
    match outcome.sign_in.as_slice() {
        [] => {}
        [one] => println!("Next: sign in with `kubectl signet login {one}`."),
        many => {
            println!("Next: sign in to each provider:");
            for p in many {
                println!("  kubectl signet login {p}");
            }
        }
    }
    Ok(())
}
