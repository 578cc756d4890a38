//! Importing: adopt kubelogin / legacy `auth-provider: oidc` contexts of a kubeconfig, or merge a team
//! catalog (a file or an https URL). [`plan`] reads the sources and says what would change; the plan's
//! [`ImportPlan::apply`] changes it (config first, then kubeconfig, locked and backed up).

use std::path::Path;

use crate::Error;
use crate::config::Config;
use crate::http::HttpOptions;
use crate::import::{self, CatalogSource, ImportPlan};
use crate::paths::Paths;

/// Where an import reads from.
#[derive(Debug, Clone, Copy)]
pub enum ImportFrom<'a> {
    /// A kubeconfig (`None`: `KUBECONFIG`, else `~/.kube/config`); `client_id` signs in as another Dex
    /// client than the old one.
    Kubeconfig {
        file: Option<&'a Path>,
        client_id: Option<&'a str>,
    },
    /// A team catalog.
    Catalog(&'a CatalogSource),
}

/// What importing from `from` would change, against the config file as it is now. Nothing changes yet.
pub fn plan(paths: &Paths, from: ImportFrom<'_>) -> Result<ImportPlan, Error> {
    let config = Config::load_or_default(&paths.config_file, &paths.home)?;
    Ok(match from {
        ImportFrom::Kubeconfig { file, client_id } => {
            import::plan_kubeconfig_import(&config, paths, file, client_id)?
        }
        ImportFrom::Catalog(source) => {
            let text = import::read_catalog(source, HttpOptions::default())?;
            import::plan_catalog_import(&config, paths, source, &text)?
        }
    })
}
