//! Step 2 of planning from a kubeconfig: one provider per issuer + (effective) client id, reusing an
//! existing provider of the same client.

use std::collections::{BTreeMap, BTreeSet};

use super::super::legacy::OldAuth;
use super::super::naming::{provider_base_name, unique};
use super::{CaChoice, Candidate, Findings, KubeconfigPlanner};
use crate::config::{LoginMode, ProviderConfig};

/// The providers the candidates sign in with.
pub(super) struct Providers {
    /// Providers added to the config.
    pub(super) added: Vec<ProviderConfig>,
    /// The provider name of each issuer + client id.
    pub(super) provider_of: BTreeMap<(String, String), String>,
}

impl KubeconfigPlanner<'_> {
    /// Step 2: a provider for each candidate's issuer + client id, added or reused.
    pub(super) fn providers(&self, candidates: &[Candidate], found: &mut Findings) -> Providers {
        let mut providers = Providers {
            added: Vec::new(),
            provider_of: BTreeMap::new(),
        };
        let mut provider_names: BTreeSet<String> = self
            .config
            .providers
            .iter()
            .map(|p| p.name.clone())
            .collect();
        for c in candidates {
            let client_id = self.client_id.unwrap_or(&c.oidc.client_id).to_owned();
            let key = (c.oidc.issuer.clone(), client_id);
            if let Some(name) = providers.provider_of.get(&key) {
                if let Some(p) = providers.added.iter_mut().find(|p| &p.name == name) {
                    merge_into_provider(p, c, self.client_id.is_some(), &mut found.notes);
                }
                continue;
            }
            if let Some(existing) = self
                .config
                .providers
                .iter()
                .find(|p| p.issuer == key.0 && p.client_id == key.1)
            {
                providers.provider_of.insert(key, existing.name.clone());
                found.reused.push(format!(
                    "provider {} (issuer {}, client {}): already configured, used as it is",
                    existing.name, existing.issuer, existing.client_id
                ));
                continue;
            }
            let base = provider_base_name(&c.oidc.issuer);
            let name = unique(&base, |n| provider_names.contains(n));
            provider_names.insert(name.clone());
            let provider = self.new_provider(c, name.clone(), &mut found.notes);
            providers.provider_of.insert(key, name);
            providers.added.push(provider);
        }
        providers
    }

    /// A provider for a candidate's client (or for `--client-id`, without the old client's secret).
    fn new_provider(&self, c: &Candidate, name: String, notes: &mut Vec<String>) -> ProviderConfig {
        let client_id = self.client_id.unwrap_or(&c.oidc.client_id).to_owned();
        let (ca_file, ca_data) = match &c.provider_ca {
            CaChoice::File(path) => (Some(path.clone()), None),
            CaChoice::Data(data) => (None, Some(data.clone())),
            CaChoice::System | CaChoice::Insecure => (None, None),
        };
        let overridden = self.client_id.is_some_and(|id| id != c.oidc.client_id);
        let mut provider = ProviderConfig {
            name: name.clone(),
            issuer: c.oidc.issuer.clone(),
            client_id: client_id.clone(),
            client_secret: if overridden {
                None
            } else {
                c.oidc.client_secret.clone()
            },
            connector: c.oidc.connector.clone(),
            scopes: Vec::new(),
            ca_file,
            ca_data,
            login: if c.oidc.device {
                LoginMode::Device
            } else {
                LoginMode::Browser
            },
            username_claim: "email".into(),
        };
        add_scopes(&mut provider, &c.oidc.scopes);
        if overridden && c.oidc.client_secret.is_some() {
            notes.push(format!(
                "provider {name}: the client secret of '{}' is not copied — Signet signs in as '{client_id}'",
                c.oidc.client_id
            ));
        }
        provider
    }
}

/// Folds a second old user of the same issuer + client into an added provider.
fn merge_into_provider(
    p: &mut ProviderConfig,
    c: &Candidate,
    overridden: bool,
    notes: &mut Vec<String>,
) {
    add_scopes(p, &c.oidc.scopes);
    if p.connector.is_none() {
        p.connector = c.oidc.connector.clone();
    } else if c.oidc.connector.is_some() && c.oidc.connector != p.connector {
        notes.push(format!(
            "provider {}: user {} asks for another Dex connector; the first one found is kept",
            p.name, c.user
        ));
    }
    if !overridden && p.client_secret.is_none() {
        p.client_secret = c.oidc.client_secret.clone();
    }
    if p.ca_file.is_none() && p.ca_data.is_none() {
        match &c.provider_ca {
            CaChoice::File(path) => p.ca_file = Some(path.clone()),
            CaChoice::Data(data) => p.ca_data = Some(data.clone()),
            CaChoice::System | CaChoice::Insecure => {}
        }
    }
    if c.oidc.device {
        p.login = LoginMode::Device;
    }
}

fn add_scopes(p: &mut ProviderConfig, scopes: &[String]) {
    for s in scopes {
        if !crate::config::BASE_SCOPES.contains(&s.as_str()) && !p.scopes.contains(s) {
            p.scopes.push(s.clone());
        }
    }
}

/// Notes about what an old user did that Signet does differently. Names flags, never values.
pub(super) fn user_notes(c: &Candidate, notes: &mut Vec<String>) {
    let who = format!("user {}", c.user);
    if c.oidc.insecure_skip_tls_verify {
        notes.push(format!(
            "{who} skipped TLS verification of the identity provider; Signet always verifies it — set the provider's ca_file if sign-in fails with a TLS error"
        ));
    }
    if c.oidc.use_access_token {
        notes.push(format!(
            "{who} sent the access token to the API server; Signet sends the ID token (Dex gives both the same audience)"
        ));
    }
    if !c.oidc.other_params.is_empty() {
        notes.push(format!(
            "{who}: auth request parameters not carried over: {}",
            c.oidc.other_params.join(", ")
        ));
    }
    if c.oidc.ca_files.len() + c.oidc.ca_data.len() > 1 {
        notes.push(format!(
            "{who} lists several IdP CAs; Signet uses the first one"
        ));
    }
    if !c.oidc.unknown.is_empty() {
        notes.push(format!(
            "{who}: settings Signet does not use: {}",
            c.oidc.unknown.join(", ")
        ));
    }
    if c.oidc.kind == OldAuth::AuthProvider {
        notes.push(format!(
            "{who} keeps its old id-token and refresh-token in the kubeconfig; Signet does not copy them (it signs in afresh) — delete the user once Signet works"
        ));
    }
}
