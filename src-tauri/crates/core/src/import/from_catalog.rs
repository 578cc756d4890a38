//! Planning the merge of a team catalog into the config: reading it (a file or an https URL), refusing a
//! secret or a conflicting entry, and the kubeconfig entries of its new exec-mode clusters. Reads only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use super::plan::{ImportPlan, NewEntries, Skipped, validate};
use super::view::{Merged, mark_cluster};
use super::{CatalogSource, Conflict, ImportError, ImportSource};
use crate::config::{ClusterConfig, Config, Credentials, ProviderConfig, is_secure_or_loopback};
use crate::http::{HttpClient, HttpError, HttpOptions};
use crate::kubeconfig::{self, KubeconfigFile, KubeconfigTarget};
use crate::paths::Paths;

/// Reads a catalog: a file, or an https URL (plain http only on loopback) fetched with Signet's HTTP limits
/// (connect and total timeouts, size cap, no redirects).
pub fn read_catalog(source: &CatalogSource, http: HttpOptions) -> Result<String, ImportError> {
    match source {
        CatalogSource::File(path) => {
            std::fs::read_to_string(path).map_err(|source| ImportError::CatalogRead {
                path: path.clone(),
                source,
            })
        }
        CatalogSource::Url(url) => {
            let fetch_err = |detail: String| ImportError::CatalogFetch {
                url: url.clone(),
                detail,
            };
            let parsed = url::Url::parse(url).map_err(|e| fetch_err(format!("not a URL ({e})")))?;
            if !is_secure_or_loopback(&parsed) {
                return Err(ImportError::InsecureUrl { url: url.clone() });
            }
            let client = HttpClient::new(http).map_err(|e| fetch_err(e.to_string()))?;
            let response = client.get(url).map_err(|e| match e {
                // HttpError::Tls's advice (a provider's ca_file) has no counterpart for a catalog.
                HttpError::Tls { detail, .. } => fetch_err(format!(
                    "TLS failed: {detail}; if the catalog's server uses a private CA, add that CA to the system's trusted certificates (or point SSL_CERT_FILE at it)"
                )),
                other => fetch_err(other.to_string()),
            })?;
            let status = response.status();
            if status.is_redirection() {
                let to = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("somewhere else");
                return Err(fetch_err(format!(
                    "HTTP {} redirects to {to}; use that URL (Signet does not follow redirects)",
                    status.as_u16()
                )));
            }
            if !status.is_success() {
                return Err(fetch_err(format!("HTTP {}", status.as_u16())));
            }
            String::from_utf8(response.into_body())
                .map_err(|_| fetch_err("the answer is not UTF-8 text".into()))
        }
    }
}

/// Plans merging a catalog (its text, read with [`read_catalog`]) into the config.
pub fn plan_catalog_import(
    config: &Config,
    paths: &Paths,
    source: &CatalogSource,
    text: &str,
) -> Result<ImportPlan, ImportError> {
    let origin = source.origin();
    let parse_path = match source {
        CatalogSource::File(path) => std::path::absolute(path).unwrap_or_else(|_| path.clone()),
        CatalogSource::Url(url) => PathBuf::from(url),
    };
    let catalog = Config::parse_catalog(text, &parse_path)?;
    if let Some((index, p)) = catalog
        .providers
        .iter()
        .enumerate()
        .find(|(_, p)| p.client_secret.is_some())
    {
        return Err(ImportError::SecretInCatalog {
            origin,
            line: secret_line(text, index),
            index,
            provider: p.name.clone(),
        });
    }

    let merge = CatalogMerge {
        config,
        paths,
        catalog: &catalog,
        origin: &origin,
    };
    let mut reused = Vec::new();
    let mut notes = Vec::new();
    let (providers, provider_map) = merge.providers(&mut reused, &mut notes)?;
    let clusters = merge.clusters(&provider_map, &mut reused)?;

    let mut merged = config.clone();
    merged.providers.extend(providers.iter().cloned());
    merged.clusters.extend(clusters.iter().cloned());
    let merged = validate(&merged, &paths.config_file, &paths.home)?;

    let mut skipped = Vec::new();
    let new_entries = new_entries(paths, &clusters, &mut skipped)?;
    for c in clusters
        .iter()
        .filter(|c| c.credentials == Credentials::Token)
    {
        notes.push(format!(
            "cluster {} uses token mode: its kubeconfig entry is written after sign-in",
            c.name
        ));
    }

    Ok(ImportPlan {
        source: ImportSource::Catalog(source.clone()),
        config_file: paths.config_file.clone(),
        providers,
        clusters,
        reused,
        adoptions: Vec::new(),
        new_entries,
        skipped,
        notes,
        base: config.clone(),
        merged,
        home: paths.home.clone(),
    })
}

/// A catalog being merged into a config.
struct CatalogMerge<'a> {
    config: &'a Config,
    paths: &'a Paths,
    catalog: &'a Config,
    /// The catalog's file or URL, as errors name it.
    origin: &'a str,
}

impl CatalogMerge<'_> {
    /// The catalog providers to add, and the config provider each catalog provider maps to.
    fn providers(
        &self,
        reused: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<ProviderConfig>, BTreeMap<String, String>), ImportError> {
        let config = self.config;
        let mut providers = Vec::new();
        let mut provider_map: BTreeMap<String, String> = BTreeMap::new();
        for p in &self.catalog.providers {
            if let Some(existing) = config.provider(&p.name) {
                let diff = provider_differences(p, existing);
                if !diff.is_empty() {
                    return Err(self.conflict("provider", &p.name, &existing.name, diff));
                }
                reused.push(format!(
                    "provider {}: already configured, unchanged",
                    p.name
                ));
                provider_map.insert(p.name.clone(), p.name.clone());
            } else if let Some(existing) = config
                .providers
                .iter()
                .find(|e| e.issuer == p.issuer && e.client_id == p.client_id)
            {
                notes.push(format!(
                    "catalog provider {} is the same client as your provider {} (issuer {}, client {}); its clusters use {} (one client must have one session: Dex keeps one refresh token per client)",
                    p.name, existing.name, p.issuer, p.client_id, existing.name
                ));
                provider_map.insert(p.name.clone(), existing.name.clone());
            } else {
                provider_map.insert(p.name.clone(), p.name.clone());
                providers.push(p.clone());
            }
        }
        Ok((providers, provider_map))
    }

    /// The catalog clusters to add, with their provider mapped by `provider_map`.
    fn clusters(
        &self,
        provider_map: &BTreeMap<String, String>,
        reused: &mut Vec<String>,
    ) -> Result<Vec<ClusterConfig>, ImportError> {
        let config = self.config;
        let mut clusters = Vec::new();
        for c in &self.catalog.clusters {
            let mut c = c.clone();
            c.provider = provider_map.get(&c.provider).cloned().unwrap_or(c.provider);
            if let Some(existing) = config.cluster(&c.name) {
                let diff = cluster_differences(&c, existing, config, self.catalog);
                if !diff.is_empty() {
                    return Err(self.conflict("cluster", &c.name, &existing.name, diff));
                }
                reused.push(format!("cluster {}: already configured, unchanged", c.name));
                continue;
            }
            if let Some(existing) = config
                .clusters
                .iter()
                .find(|e| e.context_name() == c.context_name())
            {
                return Err(self.conflict(
                    "cluster",
                    &c.name,
                    &existing.name,
                    vec![format!(
                        "both use the kubeconfig context '{}'",
                        c.context_name()
                    )],
                ));
            }
            clusters.push(c);
        }
        Ok(clusters)
    }

    fn conflict(
        &self,
        kind: &'static str,
        name: &str,
        existing: &str,
        differences: Vec<String>,
    ) -> ImportError {
        ImportError::Conflict(Box::new(Conflict {
            kind,
            name: name.to_owned(),
            origin: self.origin.to_owned(),
            existing: existing.to_owned(),
            config: self.paths.config_file.clone(),
            differences: differences.join("; "),
        }))
    }
}

/// Kubeconfig entries for the new exec-mode clusters, unless a foreign entry holds one of their names
/// (then the cluster is `skipped` with the reason).
fn new_entries(
    paths: &Paths,
    clusters: &[ClusterConfig],
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<NewEntries>, ImportError> {
    let mut new_entries = Vec::new();
    let mut views: Vec<(KubeconfigTarget, Vec<KubeconfigFile>)> = Vec::new();
    for c in clusters
        .iter()
        .filter(|c| c.credentials == Credentials::Exec)
    {
        let explicit = c.kubeconfig.as_deref().map(|p| paths.expand_home(p));
        let target = KubeconfigTarget::resolve(
            paths.kubeconfig_env.as_deref(),
            &paths.home,
            explicit.as_deref(),
        );
        if !views.iter().any(|(t, _)| *t == target) {
            let files = kubeconfig::read_files(&target)?;
            views.push((target.clone(), files));
        }
        let files = views
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, f)| f.as_slice())
            .unwrap_or_default();
        let merged_view = Merged::new(files);
        if let Some(reason) = foreign_name(&merged_view, c) {
            skipped.push(Skipped {
                what: format!("kubeconfig entries of cluster {}", c.name),
                reason: format!(
                    "{reason}; the cluster is imported, but its context is not written (rename it with `context = …`, or adopt a kubelogin context with `kubectl signet import`)"
                ),
            });
            continue;
        }
        let file = merged_view
            .contexts
            .iter()
            .find(|(_, x)| x.name == c.context_name())
            .map(|(fi, _)| files[*fi].path.clone())
            .unwrap_or_else(|| target.default_file().to_path_buf());
        new_entries.push(NewEntries {
            cluster: c.name.clone(),
            context: c.context_name().to_owned(),
            file,
            target,
        });
    }
    Ok(new_entries)
}

/// The line of the `index`-th provider's `client_secret` (best effort: the first such line otherwise).
fn secret_line(text: &str, index: usize) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut provider = None;
    let mut first = None;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("[[providers]]") {
            provider = Some(provider.map_or(0, |p: usize| p + 1));
        }
        if t.starts_with("client_secret") {
            first.get_or_insert(i + 1);
            if provider == Some(index) {
                return i + 1;
            }
        }
    }
    first.unwrap_or(1)
}

/// Why the kubeconfig cannot take Signet's entries for `c`: a foreign entry holds one of its names.
fn foreign_name(view: &Merged<'_>, c: &ClusterConfig) -> Option<String> {
    let owned = |ext: Option<&Vec<kube::config::NamedExtension>>| {
        mark_cluster(ext).is_some_and(|owner| owner == c.name)
    };
    if let Some((_, ctx)) = view
        .contexts
        .iter()
        .find(|(_, x)| x.name == c.context_name())
        && !owned(ctx.context.as_ref().and_then(|x| x.extensions.as_ref()))
    {
        return Some(format!(
            "the kubeconfig already has a context '{}' that is not Signet's",
            ctx.name
        ));
    }
    if let Some((_, cluster)) = view.clusters.get(c.name.as_str())
        && !owned(cluster.cluster.as_ref().and_then(|x| x.extensions.as_ref()))
    {
        return Some(format!(
            "the kubeconfig already has a cluster '{}' that is not Signet's",
            c.name
        ));
    }
    let user = kubeconfig::user_name(&c.name);
    if let Some((_, u)) = view.users.get(user.as_str())
        && !owned(u.auth_info.as_ref().and_then(|x| x.extensions.as_ref()))
    {
        return Some(format!(
            "the kubeconfig already has a user '{user}' that is not Signet's"
        ));
    }
    None
}

fn differ<T: PartialEq + fmt::Debug>(out: &mut Vec<String>, key: &str, catalog: &T, config: &T) {
    if catalog != config {
        out.push(format!(
            "{key} is {catalog:?} in the catalog, {config:?} in the config"
        ));
    }
}

/// What a catalog provider and an existing one of the same name disagree on (per-person settings —
/// `login`, a local `client_secret` — are not compared).
fn provider_differences(catalog: &ProviderConfig, config: &ProviderConfig) -> Vec<String> {
    let mut out = Vec::new();
    differ(&mut out, "issuer", &catalog.issuer, &config.issuer);
    differ(&mut out, "client_id", &catalog.client_id, &config.client_id);
    differ(&mut out, "connector", &catalog.connector, &config.connector);
    let scopes = |p: &ProviderConfig| p.scopes.iter().cloned().collect::<BTreeSet<_>>();
    differ(&mut out, "scopes", &scopes(catalog), &scopes(config));
    differ(&mut out, "ca_file", &catalog.ca_file, &config.ca_file);
    if catalog.ca_data != config.ca_data {
        out.push("ca_data differs".into());
    }
    differ(
        &mut out,
        "username_claim",
        &catalog.username_claim,
        &config.username_claim,
    );
    out
}

/// What a catalog cluster and an existing one of the same name disagree on (per-person settings —
/// `namespace`, `credentials`, `kubeconfig` — are not compared).
fn cluster_differences(
    catalog: &ClusterConfig,
    config: &ClusterConfig,
    existing: &Config,
    catalog_config: &Config,
) -> Vec<String> {
    let mut out = Vec::new();
    differ(&mut out, "provider", &catalog.provider, &config.provider);
    differ(&mut out, "server", &catalog.server, &config.server);
    differ(&mut out, "ca_file", &catalog.ca_file, &config.ca_file);
    if catalog.ca_data != config.ca_data {
        out.push("ca_data differs".into());
    }
    differ(
        &mut out,
        "insecure_skip_tls_verify",
        &catalog.insecure_skip_tls_verify,
        &config.insecure_skip_tls_verify,
    );
    let audience = |c: &ClusterConfig, cfg: &Config| {
        c.audience.clone().or_else(|| {
            cfg.provider(&c.provider)
                .or_else(|| existing.provider(&c.provider))
                .map(|p| p.client_id.clone())
        })
    };
    differ(
        &mut out,
        "audience",
        &audience(catalog, catalog_config),
        &audience(config, existing),
    );
    differ(
        &mut out,
        "context",
        &catalog.context_name().to_owned(),
        &config.context_name().to_owned(),
    );
    out
}
