//! `sync`: write or repair the kubeconfig entries of every configured cluster (`--remove` takes them out).

use super::engine;
use crate::output::{Failure, plugin_command, print_sync};

pub fn run(remove: bool) -> Result<(), Failure> {
    let signet = engine()?;
    if remove {
        for (cluster, outcome) in signet.remove_kubeconfig_entries()? {
            for file in &outcome.written {
                println!(
                    "  removed cluster {cluster}'s entries from {}",
                    file.display()
                );
            }
        }
        println!(
            "Signet's kubeconfig entries are removed; `kubectl signet sync` writes them back."
        );
        return Ok(());
    }
    let reports = signet.sync_kubeconfig(None, &plugin_command())?;
    if reports.is_empty() {
        println!("No clusters configured; add one with `kubectl signet add cluster`.");
    }
    print_sync(&reports);
    Ok(())
}
