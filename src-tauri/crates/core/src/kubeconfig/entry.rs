//! Signet's entries one by one: the `signet` extension that marks them, the check that an entry is
//! Signet's before it is changed, and the upsert of a cluster, user and context.

use std::collections::HashMap;
use std::path::Path;

use kube::config::{
    AuthInfo, Cluster, Context, ExecConfig, ExecInteractiveMode, Kubeconfig, NamedAuthInfo,
    NamedCluster, NamedContext, NamedExtension,
};
use serde::Serialize;

use super::chain::Chain;
use super::{
    ClusterCa, EXEC_API_VERSION, EXTENSION_NAME, EntryCredentials, EntryKind, INSTALL_HINT,
    KubeconfigError, SignetEntry,
};

pub(super) fn upsert_one(chain: &mut Chain, entry: &SignetEntry) -> Result<(), KubeconfigError> {
    let mark = serde_json::json!({ "provider": entry.provider, "cluster": entry.cluster });
    let cluster = entry.cluster.as_str();

    chain.upsert::<NamedCluster>(&entry.cluster, cluster, &mark, |named, _created| {
        let c = named.cluster.get_or_insert_with(Cluster::default);
        c.server = Some(entry.server.clone());
        let (data, file, insecure) = match &entry.ca {
            ClusterCa::System => (None, None, None),
            ClusterCa::Data(data) => (Some(data.clone()), None, None),
            ClusterCa::File(path) => (None, Some(path.to_string_lossy().into_owned()), None),
            ClusterCa::InsecureSkipTlsVerify => (None, None, Some(true)),
        };
        c.certificate_authority_data = data;
        c.certificate_authority = file;
        c.insecure_skip_tls_verify = insecure;
    })?;

    chain.upsert::<NamedAuthInfo>(&entry.user_name(), cluster, &mark, |named, _created| {
        let user = named.auth_info.get_or_insert_with(AuthInfo::default);
        match &entry.credentials {
            EntryCredentials::Exec { command, args, env } => {
                user.token = None;
                // Keep what the person may have added (env, provideClusterInfo, unknown keys).
                let exec = user.exec.get_or_insert_with(ExecConfig::default);
                exec.api_version = Some(EXEC_API_VERSION.to_owned());
                exec.command = Some(command.clone());
                exec.args = Some(args.clone());
                exec.interactive_mode = Some(ExecInteractiveMode::IfAvailable);
                exec.install_hint = Some(INSTALL_HINT.to_owned());
                set_env(&mut exec.env, env);
            }
            EntryCredentials::Token(token) => {
                user.exec = None;
                user.token = Some(token.expose().to_owned().into());
            }
        }
    })?;

    let user = entry.user_name();
    chain.upsert::<NamedContext>(&entry.context, cluster, &mark, |named, created| {
        let ctx = named.context.get_or_insert_with(Context::default);
        ctx.cluster = entry.cluster.clone();
        ctx.user = Some(user);
        if created {
            ctx.namespace = entry.namespace.clone();
        }
    })?;
    Ok(())
}

/// Sets each `(name, value)` in an exec entry's `env` list, keeping the other variables there.
fn set_env(list: &mut Option<Vec<HashMap<String, String>>>, env: &[(String, String)]) {
    if env.is_empty() {
        return;
    }
    let list = list.get_or_insert_with(Vec::new);
    for (name, value) in env {
        list.retain(|item| item.get("name") != Some(name));
        list.push(HashMap::from([
            ("name".to_owned(), name.clone()),
            ("value".to_owned(), value.clone()),
        ]));
    }
}

/// The `signet` extension's value, borrowed.
pub(super) struct SignetMark<'a> {
    pub(super) provider: &'a str,
    pub(super) cluster: &'a str,
}

pub(super) fn signet_mark(extensions: Option<&Vec<NamedExtension>>) -> Option<SignetMark<'_>> {
    let value = &extensions?
        .iter()
        .find(|e| e.name == EXTENSION_NAME)?
        .extension;
    Some(SignetMark {
        provider: value.get("provider")?.as_str()?,
        cluster: value.get("cluster")?.as_str()?,
    })
}

pub(super) fn is_owned_by<T: Entry>(entry: &T, cluster: &str) -> bool {
    signet_mark(entry.extensions()).is_some_and(|m| m.cluster == cluster)
}

pub(super) fn check_owned<T: Entry>(
    entry: &T,
    cluster: &str,
    path: &Path,
) -> Result<(), KubeconfigError> {
    match signet_mark(entry.extensions()) {
        Some(mark) if mark.cluster == cluster => Ok(()),
        other => Err(KubeconfigError::NotSignetOwned {
            kind: T::KIND,
            name: entry.name().to_owned(),
            path: path.to_path_buf(),
            owner: other.map(|m| m.cluster.to_owned()),
        }),
    }
}

/// What the three kinds of named entries have in common.
pub(super) trait Entry: Serialize + Sized {
    const KIND: EntryKind;
    fn new(name: &str) -> Self;
    fn name(&self) -> &str;
    fn list(config: &Kubeconfig) -> &Vec<Self>;
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self>;
    fn extensions(&self) -> Option<&Vec<NamedExtension>>;
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>>;
}

impl Entry for NamedCluster {
    const KIND: EntryKind = EntryKind::Cluster;
    fn new(name: &str) -> Self {
        NamedCluster {
            name: name.to_owned(),
            ..NamedCluster::default()
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn list(config: &Kubeconfig) -> &Vec<Self> {
        &config.clusters
    }
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self> {
        &mut config.clusters
    }
    fn extensions(&self) -> Option<&Vec<NamedExtension>> {
        self.cluster.as_ref()?.extensions.as_ref()
    }
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>> {
        &mut self.cluster.get_or_insert_with(Cluster::default).extensions
    }
}

impl Entry for NamedAuthInfo {
    const KIND: EntryKind = EntryKind::User;
    fn new(name: &str) -> Self {
        NamedAuthInfo {
            name: name.to_owned(),
            ..NamedAuthInfo::default()
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn list(config: &Kubeconfig) -> &Vec<Self> {
        &config.auth_infos
    }
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self> {
        &mut config.auth_infos
    }
    fn extensions(&self) -> Option<&Vec<NamedExtension>> {
        self.auth_info.as_ref()?.extensions.as_ref()
    }
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>> {
        &mut self
            .auth_info
            .get_or_insert_with(AuthInfo::default)
            .extensions
    }
}

impl Entry for NamedContext {
    const KIND: EntryKind = EntryKind::Context;
    fn new(name: &str) -> Self {
        NamedContext {
            name: name.to_owned(),
            ..NamedContext::default()
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn list(config: &Kubeconfig) -> &Vec<Self> {
        &config.contexts
    }
    fn list_mut(config: &mut Kubeconfig) -> &mut Vec<Self> {
        &mut config.contexts
    }
    fn extensions(&self) -> Option<&Vec<NamedExtension>> {
        self.context.as_ref()?.extensions.as_ref()
    }
    fn extensions_mut(&mut self) -> &mut Option<Vec<NamedExtension>> {
        &mut self.context.get_or_insert_with(Context::default).extensions
    }
}

pub(super) fn set_mark<T: Entry>(entry: &mut T, mark: &serde_json::Value) {
    let extensions = entry.extensions_mut().get_or_insert_with(Vec::new);
    match extensions.iter_mut().find(|e| e.name == EXTENSION_NAME) {
        Some(existing) => existing.extension = mark.clone(),
        None => extensions.push(NamedExtension {
            name: EXTENSION_NAME.to_owned(),
            extension: mark.clone(),
        }),
    }
}
