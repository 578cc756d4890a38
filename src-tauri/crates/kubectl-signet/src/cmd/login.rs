//! `login`: sign in to a provider (or a cluster's provider), then write its clusters' kubeconfig entries.

use signet_core::text::printable;

use super::engine;
use crate::cli::LoginArgs;
use crate::output::{Failure, print_sync};
use crate::sign_in;

pub fn run(args: LoginArgs) -> Result<(), Failure> {
    let signet = engine()?;
    let provider = match signet.config().provider(&args.target) {
        Some(p) => p.name.clone(),
        None => signet.cluster_config(&args.target)?.provider.clone(),
    };
    let device = args.device || (args.browser_command.is_none() && sign_in::prefer_device());
    let signed_in = sign_in::sign_in(&signet, &provider, device, args.browser_command)?;
    let groups = &signed_in.record.identity.groups;
    let groups = if groups.is_empty() {
        "no groups".to_string()
    } else {
        format!("groups: {}", groups.join(", "))
    };
    // The name and groups are the IdP's claims: shown with control characters escaped.
    println!(
        "Signed in to {provider} as {} ({}).",
        printable(signed_in.who()),
        printable(&groups)
    );
    print_sync(&signed_in.synced?);
    Ok(())
}
