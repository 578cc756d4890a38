//! `add provider` / `add cluster`: the setup use cases from flags. A provider is saved only once its
//! discovery works; a cluster's kubeconfig entries are written as it is added.

use std::path::PathBuf;

use signet_core::Signet;
use signet_core::config::ClusterConfig;
use signet_core::usecase::setup::{self, OnExisting, ProviderDraft};

use super::engine_or_empty;
use crate::cli::AddCommand;
use crate::output::{Failure, plugin_command, print_sync};

pub fn run(command: AddCommand) -> Result<(), Failure> {
    let signet = engine_or_empty()?;
    match command {
        AddCommand::Provider {
            name,
            issuer,
            client_id,
            connector,
            scopes,
            ca_file,
            login,
        } => add_provider(
            &signet,
            ProviderDraft {
                name,
                issuer,
                client_id,
                connector,
                scopes,
                ca_file: ca_file.map(absolute),
                ca_data: None,
                login: login.into(),
            },
        ),
        AddCommand::Cluster {
            name,
            provider,
            server,
            ca_file,
            insecure_skip_tls_verify,
            audience,
            namespace,
            context,
            credentials,
            kubeconfig,
        } => add_cluster(
            &signet,
            ClusterConfig {
                name,
                provider,
                server,
                ca_data: None,
                ca_file: ca_file.map(absolute),
                insecure_skip_tls_verify,
                audience,
                namespace,
                context,
                credentials: credentials.into(),
                kubeconfig: kubeconfig.map(absolute),
            },
        ),
    }
}

fn add_provider(signet: &Signet, draft: ProviderDraft) -> Result<(), Failure> {
    let saved = setup::save_provider(signet, draft, OnExisting::Refuse).map_err(|e| match e {
        signet_core::Error::Setup(setup::SetupError::Discovery { .. }) => Failure(format!(
            "{}; check --issuer, and --ca-file for a private CA",
            Failure::from(e).0
        )),
        e => Failure::from(e),
    })?;
    let offered = |yes: bool, no: &'static str| if yes { "offered" } else { no };
    println!("Added provider {} ({}).", saved.name, saved.offers.issuer);
    println!(
        "  device sign-in: {}; revocation: {}",
        offered(saved.offers.device_sign_in, "not offered"),
        offered(saved.offers.revocation, "not offered (as with Dex)")
    );
    println!(
        "Next: `kubectl signet add cluster NAME --provider {0} --server URL`, then `kubectl signet login {0}`.",
        saved.name
    );
    Ok(())
}

fn add_cluster(signet: &Signet, cluster: ClusterConfig) -> Result<(), Failure> {
    if cluster.insecure_skip_tls_verify {
        eprintln!(
            "signet: warning: TLS verification of {}'s API server is OFF; anyone on the network path can read your token",
            cluster.name
        );
    }
    let added = setup::add_cluster(signet, cluster, &plugin_command())?;
    println!(
        "Added cluster {} (provider {}).",
        added.name, added.provider
    );
    print_sync(&added.synced);
    Ok(())
}

fn absolute(file: PathBuf) -> PathBuf {
    std::path::absolute(&file).unwrap_or(file)
}
