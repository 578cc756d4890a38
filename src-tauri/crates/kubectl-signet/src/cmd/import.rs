//! `import`: adopt kubelogin / legacy `auth-provider: oidc` contexts of a kubeconfig, or merge a team
//! catalog. Prints the plan (all of it on `--dry-run`), then applies it and says what changed. The
//! decisions live in `signet_core::import`; this file only reads flags, asks and prints.
//!
//! A team catalog comes from someone else (often a URL), so `import --catalog` asks before it changes
//! anything: on a terminal it shows the plan and asks (y/N); `--yes` skips the question; with no terminal
//! and no `--yes` it changes nothing and says how to apply. Clusters that skip TLS verification are
//! imported only with `--allow-insecure` (DESIGN.md §6).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use signet_core::Error;
use signet_core::import::{CatalogSource, ImportError};
use signet_core::paths::Paths;
use signet_core::usecase::{self, import::ImportFrom};

use crate::cli::ImportArgs;
use crate::output::{Failure, plugin_command};

pub fn run(args: ImportArgs) -> Result<(), Failure> {
    let paths = Paths::from_env().map_err(Error::from)?;
    let source = args.catalog.as_deref().map(CatalogSource::from_arg);
    let from = match &source {
        Some(source) => ImportFrom::Catalog(source),
        None => ImportFrom::Kubeconfig {
            file: args.kubeconfig.as_deref(),
            client_id: args.client_id.as_deref(),
        },
    };
    let plan = usecase::import::plan(&paths, from)?;
    print!("{plan}");
    if plan.is_empty() {
        println!();
        println!(
            "Nothing to import{}.",
            if args.catalog.is_some() {
                ": everything in the catalog is configured already"
            } else {
                " (no kubelogin or auth-provider oidc contexts left to adopt)"
            }
        );
        return Ok(());
    }
    if args.dry_run {
        println!();
        println!(
            "Dry run: nothing was changed. Run the same command without --dry-run to apply it."
        );
        return Ok(());
    }
    let insecure = plan.insecure_clusters();
    if !insecure.is_empty() && !args.allow_insecure {
        return Err(Error::from(ImportError::InsecureNotAllowed { clusters: insecure }).into());
    }
    if args.catalog.is_some() && !args.yes && !confirm()? {
        println!("Nothing was changed.");
        return Ok(());
    }

    let outcome = plan.apply(&plugin_command(), &insecure)?;
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

/// Asks (y/N) on the terminal; without one, refuses and says how to apply.
fn confirm() -> Result<bool, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure(
            "the catalog was not imported: there is no terminal to ask on. Check the plan above, then run the same command with --yes to apply it".into(),
        ));
    }
    println!();
    print!("Apply this import? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure(format!("could not read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
