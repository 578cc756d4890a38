//! Planning the adoption of a kubeconfig's kubelogin and legacy OIDC contexts, in three steps:
//! [`candidates`](KubeconfigPlanner::candidates) (the contexts that can be adopted, and why the others
//! cannot), `providers` (one provider per issuer + client id) and `clusters` (a Signet cluster per context,
//! and what happens to its kubeconfig cluster entry). Reads the kubeconfig chain and the config; writes
//! nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use kube::config::{Context, NamedCluster, NamedContext};

use super::legacy::{OidcUser, classify};
use super::plan::{ImportPlan, Skipped, validate};
use super::view::{Merged, mark_cluster};
use super::{ImportError, ImportSource};
use crate::config::{Config, is_secure_or_loopback};
use crate::kubeconfig::{self, KubeconfigFile, KubeconfigTarget};
use crate::names::{self, NameKind};
use crate::paths::Paths;

mod clusters;
mod providers;

/// Plans adopting the kubelogin and legacy OIDC contexts of the kubeconfig chain (`KUBECONFIG`, else
/// `~/.kube/config`) or of `explicit` (`--kubeconfig`). `client_id` is `--client-id`.
pub fn plan_kubeconfig_import(
    config: &Config,
    paths: &Paths,
    explicit: Option<&Path>,
    client_id: Option<&str>,
) -> Result<ImportPlan, ImportError> {
    let default_target =
        KubeconfigTarget::resolve(paths.kubeconfig_env.as_deref(), &paths.home, None);
    let explicit = explicit.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    if let Some(file) = &explicit
        && !file.exists()
    {
        return Err(ImportError::KubeconfigMissing { path: file.clone() });
    }
    // An explicit file that is not part of the usual chain becomes the clusters' `kubeconfig` setting, so
    // that `sync` and `use` keep writing there.
    let outside = explicit
        .clone()
        .filter(|f| !default_target.precedence().iter().any(|p| same_file(p, f)));
    // The chain Signet will write to is also the view the plan is made on (which contexts use a cluster,
    // which names are free); an explicit file inside the chain only limits which contexts are adopted.
    let target = match &outside {
        Some(file) => KubeconfigTarget::resolve(None, &paths.home, Some(file)),
        None => default_target,
    };
    let files = kubeconfig::read_files(&target)?;
    let only = explicit
        .as_deref()
        .and_then(|f| files.iter().position(|file| same_file(&file.path, f)));
    KubeconfigPlanner {
        config,
        paths,
        files: &files,
        only,
        client_id,
        outside: outside.as_deref(),
        write_target: &target,
    }
    .plan(ImportSource::Kubeconfig {
        files: match &explicit {
            Some(file) => vec![file.clone()],
            None => target.precedence().to_vec(),
        },
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// The CA of a context's kubeconfig cluster, as Signet's config holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CaChoice {
    System,
    Data(String),
    File(PathBuf),
    Insecure,
}

/// A context that passed every check, before names are chosen.
struct Candidate {
    context: String,
    file_index: usize,
    user: String,
    oidc: OidcUser,
    old_cluster: String,
    server: String,
    ca: CaChoice,
    namespace: Option<String>,
    provider_ca: CaChoice,
    /// The existing Signet cluster this context belongs to, when the config already names it.
    existing_cluster: Option<String>,
}

/// Plans adopting a kubeconfig's contexts: [`plan`](Self::plan) runs the three steps.
struct KubeconfigPlanner<'a> {
    config: &'a Config,
    paths: &'a Paths,
    files: &'a [KubeconfigFile],
    /// With `--kubeconfig F` inside the chain: only F's contexts are adopted.
    only: Option<usize>,
    client_id: Option<&'a str>,
    outside: Option<&'a Path>,
    write_target: &'a KubeconfigTarget,
}

/// What the steps found besides the providers and clusters: shown with the plan, in the order found.
#[derive(Default)]
struct Findings {
    reused: Vec<String>,
    skipped: Vec<Skipped>,
    notes: Vec<String>,
}

impl KubeconfigPlanner<'_> {
    fn expand(&self, raw: &str, dir: &Path) -> PathBuf {
        let path = self.paths.expand_home(Path::new(raw));
        if path.is_relative() {
            dir.join(path)
        } else {
            path
        }
    }

    fn dir_of(&self, file_index: usize) -> PathBuf {
        self.files[file_index]
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The provider CA from kubelogin's / auth-provider's CA settings.
    fn provider_ca(&self, user: &OidcUser, dir: &Path) -> Result<CaChoice, String> {
        if let Some(data) = user.ca_data.first() {
            check_pem_base64(data).map_err(|e| format!("its IdP CA data {e}"))?;
            return Ok(CaChoice::Data(data.clone()));
        }
        if let Some(file) = user.ca_files.first() {
            let path = self.expand(file, dir);
            return match std::fs::read(&path) {
                Ok(bytes)
                    if String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") =>
                {
                    Ok(CaChoice::File(path))
                }
                Ok(_) => Err(format!(
                    "its IdP CA file '{}' holds no PEM certificate",
                    path.display()
                )),
                Err(e) => Err(format!(
                    "its IdP CA file '{}' cannot be read ({e})",
                    path.display()
                )),
            };
        }
        Ok(CaChoice::System)
    }

    fn plan(&self, source: ImportSource) -> Result<ImportPlan, ImportError> {
        let view = Merged::new(self.files);
        let mut found = Findings::default();
        let candidates = self.candidates(&view, &mut found.skipped);
        let adopted: BTreeSet<&str> = candidates.iter().map(|c| c.context.as_str()).collect();
        let providers = self.providers(&candidates, &mut found);
        for c in &candidates {
            providers::user_notes(c, &mut found.notes);
        }
        let (clusters, adoptions) = self.clusters(
            &view,
            &candidates,
            &adopted,
            &providers.provider_of,
            &mut found,
        );
        for a in &adoptions {
            if !a.old_user_also_used_by.is_empty() {
                found.notes.push(format!(
                    "user {} is still used by {}, which {} not adopted",
                    a.old_user,
                    a.old_user_also_used_by.join(", "),
                    if a.old_user_also_used_by.len() == 1 {
                        "is"
                    } else {
                        "are"
                    }
                ));
            }
        }
        found.notes.dedup();
        if providers.added.iter().any(|p| p.client_secret.is_some()) {
            found.notes.push(
                "a provider keeps the old client's secret (in the config, mode 0600). Signet signs in with a loopback redirect on a random port (http://127.0.0.1:PORT/callback), which Dex accepts only for a public client without redirectURIs; if sign-in fails with a redirect_uri error, register a public client for Signet, list it in the old client's trustedPeers, and import again with --client-id".into(),
            );
        }

        let mut merged_config = self.config.clone();
        merged_config
            .providers
            .extend(providers.added.iter().cloned());
        merged_config.clusters.extend(clusters.iter().cloned());
        let merged_config = validate(&merged_config, &self.paths.config_file, &self.paths.home)?;
        Ok(ImportPlan {
            source,
            config_file: self.paths.config_file.clone(),
            providers: providers.added,
            clusters,
            reused: found.reused,
            adoptions,
            new_entries: Vec::new(),
            skipped: found.skipped,
            notes: found.notes,
            base: self.config.clone(),
            merged: merged_config,
            home: self.paths.home.clone(),
        })
    }

    /// Step 1: the contexts of old OIDC users that can be adopted. Those that cannot are `skipped`, with
    /// the reason.
    fn candidates(&self, view: &Merged<'_>, skipped: &mut Vec<Skipped>) -> Vec<Candidate> {
        let mut classified: BTreeMap<&str, Option<Result<OidcUser, String>>> = BTreeMap::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        for (fi, named) in &view.contexts {
            if self.only.is_some_and(|only| only != *fi) {
                continue;
            }
            let Some(ctx) = &named.context else { continue };
            if mark_cluster(ctx.extensions.as_ref()).is_some() {
                continue; // Signet's already
            }
            let Some(user_name) = ctx.user.as_deref() else {
                continue;
            };
            let Some((_, user)) = view.users.get(user_name) else {
                continue;
            };
            let oidc = match classified
                .entry(user_name)
                .or_insert_with(|| classify(user))
            {
                None => continue,
                Some(Err(reason)) => Err(reason.clone()),
                Some(Ok(oidc)) => Ok(oidc.clone()),
            };
            match oidc.and_then(|oidc| self.candidate(view, *fi, named, ctx, user_name, oidc)) {
                Ok(candidate) => candidates.push(candidate),
                Err(reason) => skipped.push(Skipped {
                    what: format!("context {} (user {user_name})", named.name),
                    reason,
                }),
            }
        }
        candidates
    }

    /// Checks one context of an old OIDC user; `Err` is why it cannot be adopted.
    fn candidate(
        &self,
        view: &Merged<'_>,
        file_index: usize,
        named: &NamedContext,
        ctx: &Context,
        user_name: &str,
        oidc: OidcUser,
    ) -> Result<Candidate, String> {
        check_context(named, ctx)?;
        check_issuer(&oidc.issuer)?;
        let (user_file, _) = view.users[user_name];
        let provider_ca = self.provider_ca(&oidc, &self.dir_of(user_file))?;
        let Some((cluster_file, cluster)) = view.clusters.get(ctx.cluster.as_str()) else {
            return Err(format!(
                "its cluster '{}' is not in the kubeconfig",
                ctx.cluster
            ));
        };
        let Some(server) = cluster.cluster.as_ref().and_then(|c| c.server.clone()) else {
            return Err(format!("its cluster '{}' has no server", ctx.cluster));
        };
        match url::Url::parse(&server) {
            Ok(url) if is_secure_or_loopback(&url) => {}
            _ => {
                return Err(format!(
                    "its server '{server}' is not an https URL (plain http only on loopback)"
                ));
            }
        }
        let ca = self.cluster_ca(cluster, &self.dir_of(*cluster_file))?;
        let existing_cluster = self.existing_cluster(&named.name, &oidc, &server)?;
        Ok(Candidate {
            context: named.name.clone(),
            file_index,
            user: user_name.to_owned(),
            oidc,
            old_cluster: ctx.cluster.clone(),
            server,
            ca,
            namespace: ctx.namespace.clone(),
            provider_ca,
            existing_cluster,
        })
    }

    /// The Signet cluster that already names this context, when it is the same cluster (same provider
    /// client and server); `Err` when it is another one.
    fn existing_cluster(
        &self,
        context: &str,
        oidc: &OidcUser,
        server: &str,
    ) -> Result<Option<String>, String> {
        let Some(c) = self
            .config
            .clusters
            .iter()
            .find(|c| c.context_name() == context)
        else {
            return Ok(None);
        };
        let provider = self.config.provider(&c.provider);
        let same_provider = provider.is_some_and(|p| {
            p.issuer == oidc.issuer && p.client_id == self.client_id.unwrap_or(&oidc.client_id)
        });
        if same_provider && c.server == server {
            return Ok(Some(c.name.clone()));
        }
        Err(format!(
            "Signet's cluster '{}' already uses the context name '{}' with {}; rename one of them",
            c.name,
            context,
            if same_provider {
                format!("server {}", c.server)
            } else {
                format!("provider {}", c.provider)
            }
        ))
    }

    /// The CA of a kubeconfig cluster (client-go: `certificate-authority-data` wins over the file; a
    /// relative file is relative to the kubeconfig that defines it).
    fn cluster_ca(&self, cluster: &NamedCluster, dir: &Path) -> Result<CaChoice, String> {
        let Some(c) = &cluster.cluster else {
            return Ok(CaChoice::System);
        };
        if let Some(data) = c
            .certificate_authority_data
            .as_deref()
            .filter(|d| !d.is_empty())
        {
            check_pem_base64(data).map_err(|e| {
                format!(
                    "its cluster '{}' certificate-authority-data {e}",
                    cluster.name
                )
            })?;
            return Ok(CaChoice::Data(data.to_owned()));
        }
        if let Some(file) = c.certificate_authority.as_deref().filter(|f| !f.is_empty()) {
            let path = self.expand(file, dir);
            if !path.is_file() {
                return Err(format!(
                    "its cluster '{}' certificate-authority '{}' does not exist",
                    cluster.name,
                    path.display()
                ));
            }
            return Ok(CaChoice::File(path));
        }
        if c.insecure_skip_tls_verify == Some(true) {
            return Ok(CaChoice::Insecure);
        }
        Ok(CaChoice::System)
    }
}

/// The context's own names must be ones Signet can manage.
fn check_context(named: &NamedContext, ctx: &Context) -> Result<(), String> {
    if names::check(NameKind::Context, &named.name).is_err() {
        return Err(format!(
            "Signet cannot manage a context with this name ({}); rename it with `kubectl config rename-context` and import again",
            NameKind::Context.rule()
        ));
    }
    if let Some(ns) = &ctx.namespace
        && names::check(NameKind::Namespace, ns).is_err()
    {
        return Err(format!(
            "its namespace '{ns}' is not valid ({}); fix it with `kubectl config set-context {} --namespace=NS` and import again",
            NameKind::Namespace.rule(),
            named.name
        ));
    }
    Ok(())
}

/// The issuer must be an https URL (plain http only on loopback).
fn check_issuer(issuer: &str) -> Result<(), String> {
    match url::Url::parse(issuer) {
        Ok(url) if is_secure_or_loopback(&url) => Ok(()),
        Ok(_) => Err(format!(
            "its issuer '{issuer}' is not https (Signet allows plain http only on loopback)"
        )),
        Err(e) => Err(format!("its issuer '{issuer}' is not a URL ({e})")),
    }
}

fn check_pem_base64(data: &str) -> Result<(), String> {
    let compact: String = data.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("is not base64 ({e})"))?;
    if String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        Ok(())
    } else {
        Err("does not decode to a PEM certificate".into())
    }
}
