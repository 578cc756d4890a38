//! One file per command; each reads its flags, calls `signet-core` (a use case where there is one) and
//! prints the outcome. Commands never import from each other: what they share is in `crate::output`
//! (failures, sync lines) and `crate::sign_in`.

mod add;
mod doctor;
mod import;
mod login;
mod logout;
mod remote;
mod status;
mod sync;
pub mod token;
mod use_cluster;

use std::sync::Arc;

use signet_core::clock::SystemClock;
use signet_core::config::Config;
use signet_core::paths::Paths;
use signet_core::token_store::LazyKeyringStore;
use signet_core::{Error, Signet};

use crate::cli::Command;
use crate::output::Failure;

pub fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Token { cluster } => token::run(&cluster),
        Command::Login(args) => login::run(args),
        Command::Logout { provider } => logout::run(&provider),
        Command::Status { json } => status::run(json),
        Command::Use { cluster, namespace } => use_cluster::run(&cluster, namespace.as_deref()),
        Command::Sync { remove } => sync::run(remove),
        Command::Add(add) => add::run(add),
        Command::Import(args) => import::run(args),
        Command::Remote(command) => remote::run(command),
        Command::Doctor => doctor::run(),
    }
}

/// The engine over the config file, with the secret store the config chooses.
pub fn engine() -> Result<Signet, Error> {
    engine_at(Paths::from_env()?)
}

/// The engine over the config file `paths` names.
pub fn engine_at(paths: Paths) -> Result<Signet, Error> {
    let config = Config::load(&paths.config_file, &paths.home)?;
    Ok(engine_over(paths, config))
}

/// The engine, over an empty config when there is no config file yet (the first `add`).
pub fn engine_or_empty() -> Result<Signet, Error> {
    let paths = Paths::from_env()?;
    let config = Config::load_or_default(&paths.config_file, &paths.home)?;
    Ok(engine_over(paths, config))
}

fn engine_over(paths: Paths, config: Config) -> Signet {
    let secrets = LazyKeyringStore::with_choice(config.settings.secret_store);
    Signet::new(paths, config, Arc::new(secrets), Arc::new(SystemClock))
}
