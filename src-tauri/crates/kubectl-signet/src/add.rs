//! `add provider` / `add cluster`: edit the config from flags, validated exactly as a hand-written file
//! is (the new config is rendered and parsed back), and a provider's discovery is checked before saving.

use signet_core::Error;
use signet_core::config::{ClusterConfig, Config, Credentials, LoginMode, ProviderConfig};
use signet_core::http::HttpOptions;
use signet_core::oidc::OidcProvider;
use signet_core::paths::Paths;

use crate::AddCommand;
use crate::commands::{Failure, plugin_command, print_sync, signet};

pub fn run(command: AddCommand) -> Result<(), Failure> {
    let paths = Paths::from_env().map_err(Error::from)?;
    let mut config = Config::load_or_default(&paths.config_file, &paths.home)?;
    match command {
        AddCommand::Provider {
            name,
            issuer,
            client_id,
            connector,
            scopes,
            ca_file,
            login,
        } => {
            if config.provider(&name).is_some() {
                return Err(Failure(format!(
                    "a provider named '{name}' already exists in {}",
                    paths.config_file.display()
                )));
            }
            let login = match login.as_str() {
                "embedded" => LoginMode::Embedded,
                "browser" => LoginMode::Browser,
                "device" => LoginMode::Device,
                other => {
                    return Err(Failure(format!(
                        "--login must be embedded, browser or device (not '{other}')"
                    )));
                }
            };
            let provider = ProviderConfig {
                name: name.clone(),
                issuer,
                client_id,
                client_secret: None,
                connector,
                scopes,
                ca_file: ca_file.map(|f| std::path::absolute(&f).unwrap_or(f)),
                ca_data: None,
                login,
                username_claim: "email".into(),
            };
            config.providers.push(provider);
            let config = config.checked(&paths.home)?;
            let provider = config
                .provider(&name)
                .ok_or_else(|| Failure("provider vanished".into()))?;
            let oidc = OidcProvider::discover(provider, HttpOptions::default()).map_err(|e| {
                Failure(format!("{e}; the provider was not saved (check --issuer, and --ca-file for a private CA)"))
            })?;
            let meta = oidc.metadata();
            config.save(&paths.config_file)?;
            println!("Added provider {name} ({}).", meta.issuer().as_str());
            println!(
                "  device sign-in: {}; revocation: {}",
                if meta
                    .additional_metadata()
                    .device_authorization_endpoint
                    .is_some()
                {
                    "offered"
                } else {
                    "not offered"
                },
                if oidc.can_revoke() {
                    "offered"
                } else {
                    "not offered (as with Dex)"
                }
            );
            println!(
                "Next: `kubectl signet add cluster NAME --provider {name} --server URL`, then `kubectl signet login {name}`."
            );
        }
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
        } => {
            if config.cluster(&name).is_some() {
                return Err(Failure(format!(
                    "a cluster named '{name}' already exists in {}",
                    paths.config_file.display()
                )));
            }
            let credentials = match credentials.as_str() {
                "exec" => Credentials::Exec,
                "token" => Credentials::Token,
                other => {
                    return Err(Failure(format!(
                        "--credentials must be exec or token (not '{other}')"
                    )));
                }
            };
            config.clusters.push(ClusterConfig {
                name: name.clone(),
                provider: provider.clone(),
                server,
                ca_data: None,
                ca_file: ca_file.map(|f| std::path::absolute(&f).unwrap_or(f)),
                insecure_skip_tls_verify,
                audience,
                namespace,
                context,
                credentials,
                kubeconfig: kubeconfig.map(|f| std::path::absolute(&f).unwrap_or(f)),
            });
            if insecure_skip_tls_verify {
                eprintln!(
                    "signet: warning: TLS verification of {name}'s API server is OFF; anyone on the network path can read your token"
                );
            }
            let config = config.checked(&paths.home)?;
            config.save(&paths.config_file)?;
            println!("Added cluster {name} (provider {provider}).");
            let reports = signet()?.sync_kubeconfig(Some(&provider), &plugin_command())?;
            print_sync(&reports);
        }
    }
    Ok(())
}
