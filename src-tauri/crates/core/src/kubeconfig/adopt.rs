//! Adopting contexts someone else wrote (kubelogin exec users, legacy `auth-provider: oidc` users) as
//! Signet's, for `kubectl signet import`.
//!
//! This is the one place where Signet changes entries it did not write, so it changes as little as it can:
//! the adopted context keeps its name, namespace and every other field, and gets Signet's `signet` mark, its
//! `signet-<cluster>` user and Signet's cluster entry. The old user is left exactly as it was (it is the way
//! back, and other contexts or other kubeconfig files may still use it). The old cluster entry is taken over
//! (marked, fields kept) only when it already has Signet's cluster name and no context that stays foreign
//! uses it; otherwise Signet's cluster entry starts as a copy of it, so fields Signet does not manage
//! (`proxy-url`, `tls-server-name`, other extensions) survive the move. Everything else in the files is
//! untouched, under the same locked read → modify → atomic write as every other edit.
//!
//! Because import changes foreign entries, it always leaves a backup of the file as it was just before:
//! the usual one-time `<file>.signet-backup` when Signet never changed the file, else a timestamped
//! `<file>.signet-backup-<UTC time>`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use kube::config::{Context, Kubeconfig, NamedCluster, NamedContext};

use super::{
    Chain, EditOutcome, Entry, EntryKind, KubeconfigError, KubeconfigTarget, SignetEntry,
    backup_path, set_mark, signet_mark, upsert_one, user_name,
};
use crate::atomic_file;

/// A context that becomes Signet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The user the context uses now. If the file changed since the import was planned and the context
    /// uses another user, nothing is written.
    pub previous_user: String,
    /// Signet's entries for the cluster; `entry.context` is the adopted context's name.
    pub entry: SignetEntry,
}

/// One file of a chain as it is on disk, parsed (without rewriting relative paths).
#[derive(Debug, Clone)]
pub struct KubeconfigFile {
    /// The path as listed in the chain.
    pub path: PathBuf,
    /// Whether the file exists (a missing file reads as empty).
    pub exists: bool,
    pub config: Kubeconfig,
}

/// Why contexts could not be adopted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdoptError {
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// The context changed (or vanished) between planning and applying.
    #[error(
        "context '{context}' in '{}' changed since the import was planned ({what}); run the import again",
        .path.display()
    )]
    Changed {
        context: String,
        path: PathBuf,
        what: String,
    },
}

impl AdoptError {
    pub fn code(&self) -> &'static str {
        match self {
            AdoptError::Kubeconfig(e) => e.code(),
            AdoptError::Changed { .. } => "kubeconfig.changed",
        }
    }
}

/// Every file of the chain, parsed, in precedence order (no lock: client-go reads without one too).
pub fn read_files(target: &KubeconfigTarget) -> Result<Vec<KubeconfigFile>, KubeconfigError> {
    let chain = Chain::load(target)?;
    Ok(chain
        .files
        .into_iter()
        .map(|f| KubeconfigFile {
            exists: f.raw.original.is_some(),
            path: f.raw.path,
            config: f.config,
        })
        .collect())
}

/// Makes each adoption's context Signet's and writes Signet's cluster and user for it, in one locked edit
/// of the chain. Nothing is written if any adoption cannot be done.
pub fn adopt_contexts(
    target: &KubeconfigTarget,
    adoptions: &[Adoption],
) -> Result<EditOutcome, AdoptError> {
    let _locks = super::lock::LockSet::acquire(target.precedence(), target.lock_timeout())?;
    let mut chain = Chain::load(target)?;
    adopt_in_chain(&mut chain, adoptions)?;
    let extra_backups = import_backups(&chain)?;
    let mut outcome = chain.commit()?;
    outcome.backups.extend(extra_backups);
    Ok(outcome)
}

fn adopt_in_chain(chain: &mut Chain, adoptions: &[Adoption]) -> Result<(), AdoptError> {
    let adopted: HashSet<&str> = adoptions.iter().map(|a| a.entry.context.as_str()).collect();
    for adoption in adoptions {
        let entry = &adoption.entry;
        let (fi, ei) = chain
            .locate::<NamedContext>(&entry.context)
            .ok_or_else(|| AdoptError::Changed {
                context: entry.context.clone(),
                path: chain.files[chain.default].raw.path.clone(),
                what: "it no longer exists".into(),
            })?;
        let file = &chain.files[fi];
        let named = &file.config.contexts[ei];
        let context_file = file.raw.path.clone();
        let old_cluster = named.context.as_ref().map(|c| c.cluster.clone());
        match signet_mark(named.extensions()) {
            // Adopted already (an earlier run): only Signet's entries need writing.
            Some(mark) if mark.cluster == entry.cluster => {
                upsert_one(chain, entry)?;
                continue;
            }
            Some(mark) => {
                return Err(KubeconfigError::NotSignetOwned {
                    kind: EntryKind::Context,
                    name: entry.context.clone(),
                    path: context_file,
                    owner: Some(mark.cluster.to_owned()),
                }
                .into());
            }
            None => {}
        }
        let user = named.context.as_ref().and_then(|c| c.user.clone());
        if user.as_deref() != Some(adoption.previous_user.as_str()) {
            return Err(AdoptError::Changed {
                context: entry.context.clone(),
                path: context_file,
                what: format!(
                    "it uses user '{}', not '{}'",
                    user.as_deref().unwrap_or(""),
                    adoption.previous_user
                ),
            });
        }
        prepare_cluster_entry(chain, entry, old_cluster.as_deref(), &adopted)?;

        let mark = serde_json::json!({ "provider": entry.provider, "cluster": entry.cluster });
        let file = &mut chain.files[fi];
        let named = &mut file.config.contexts[ei];
        let ctx = named.context.get_or_insert_with(Context::default);
        ctx.cluster = entry.cluster.clone();
        ctx.user = Some(user_name(&entry.cluster));
        set_mark(named, &mark);
        file.dirty = true;

        upsert_one(chain, entry)?;
    }
    Ok(())
}

/// Makes sure the kubeconfig cluster named `entry.cluster` can be Signet's: takes over a foreign entry of
/// that name when every context using it is being adopted, else creates one as a copy of the context's old
/// cluster (without its `signet` mark).
fn prepare_cluster_entry(
    chain: &mut Chain,
    entry: &SignetEntry,
    old_cluster: Option<&str>,
    adopted: &HashSet<&str>,
) -> Result<(), KubeconfigError> {
    let mark = serde_json::json!({ "provider": entry.provider, "cluster": entry.cluster });
    match chain.locate::<NamedCluster>(&entry.cluster) {
        Some((fi, ei)) => {
            let file = &chain.files[fi];
            let named = &file.config.clusters[ei];
            match signet_mark(named.extensions()) {
                Some(m) if m.cluster == entry.cluster => return Ok(()),
                Some(m) => {
                    return Err(KubeconfigError::NotSignetOwned {
                        kind: EntryKind::Cluster,
                        name: entry.cluster.clone(),
                        path: file.raw.path.clone(),
                        owner: Some(m.cluster.to_owned()),
                    });
                }
                None => {}
            }
            let users = contexts_using_cluster(chain, &entry.cluster);
            if users.iter().any(|c| !adopted.contains(c.as_str())) {
                return Err(KubeconfigError::NotSignetOwned {
                    kind: EntryKind::Cluster,
                    name: entry.cluster.clone(),
                    path: file.raw.path.clone(),
                    owner: None,
                });
            }
            let file = &mut chain.files[fi];
            set_mark(&mut file.config.clusters[ei], &mark);
            file.dirty = true;
        }
        None => {
            let mut copy = old_cluster
                .and_then(|name| chain.locate::<NamedCluster>(name))
                .map(|(fi, ei)| chain.files[fi].config.clusters[ei].clone())
                .unwrap_or_else(|| NamedCluster::new(&entry.cluster));
            copy.name = entry.cluster.clone();
            if let Some(extensions) = copy.extensions_mut().as_mut() {
                extensions.retain(|e| e.name != super::EXTENSION_NAME);
            }
            set_mark(&mut copy, &mark);
            let default = chain.default;
            let file = &mut chain.files[default];
            file.config.clusters.push(copy);
            file.dirty = true;
        }
    }
    Ok(())
}

/// The contexts (as kubectl sees them: first file wins) whose cluster is `cluster`.
fn contexts_using_cluster(chain: &Chain, cluster: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for file in &chain.files {
        for named in &file.config.contexts {
            if seen.insert(named.name.as_str())
                && named.context.as_ref().is_some_and(|c| c.cluster == cluster)
            {
                found.push(named.name.clone());
            }
        }
    }
    found
}

/// For every file about to be rewritten whose one-time backup already exists (Signet changed it before),
/// keeps a timestamped copy of it as it is now, so the import can always be undone by hand.
fn import_backups(chain: &Chain) -> Result<Vec<PathBuf>, KubeconfigError> {
    let mut made = Vec::new();
    for file in chain.files.iter().filter(|f| f.dirty) {
        let Some(original) = &file.raw.original else {
            continue;
        };
        if std::fs::symlink_metadata(backup_path(&file.raw.real_path)).is_err() {
            continue; // commit makes the one-time backup, which is this very state
        }
        let backup = timestamped_backup(&file.raw.real_path);
        atomic_file::write(&backup, original.as_bytes(), file.raw.mode).map_err(|source| {
            KubeconfigError::Write {
                path: backup.clone(),
                source,
            }
        })?;
        made.push(backup);
    }
    Ok(made)
}

fn timestamped_backup(real_path: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let base = backup_path(real_path);
    let mut candidate = PathBuf::from(format!("{}-{stamp}", base.display()));
    let mut n = 2;
    while std::fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{}-{stamp}-{n}", base.display()));
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::kubeconfig::{ClusterCa, DEFAULT_EXEC_COMMAND, EntryCredentials};

    const OLD: &str = r#"apiVersion: v1
kind: Config
preferences: {colors: true}
clusters:
- name: prod
  cluster:
    server: https://api.prod.example:6443
    certificate-authority-data: TFMwdA==
    proxy-url: http://proxy.example:3128
- name: staging
  cluster:
    server: https://api.staging.example:6443
    extensions:
    - name: other-tool
      extension: {keep: me}
users:
- name: oidc
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: kubectl
      args: [oidc-login, get-token, --oidc-issuer-url=https://dex.example, --oidc-client-id=signet]
- name: admin
  user: {client-certificate-data: Y2VydA==, client-key-data: a2V5}
contexts:
- name: prod
  context: {cluster: prod, user: oidc, namespace: team-a}
- name: prod-admin
  context: {cluster: prod, user: admin}
- name: staging
  context: {cluster: staging, user: oidc, some-unknown: 1}
current-context: prod-admin
"#;

    fn entry(cluster: &str, context: &str, server: &str) -> SignetEntry {
        SignetEntry {
            provider: "dex".into(),
            cluster: cluster.into(),
            context: context.into(),
            server: server.into(),
            ca: ClusterCa::System,
            namespace: None,
            credentials: EntryCredentials::exec(DEFAULT_EXEC_COMMAND, cluster),
        }
    }

    fn target(file: &Path) -> KubeconfigTarget {
        KubeconfigTarget::resolve(None, Path::new("/nonexistent"), Some(file))
            .with_lock_timeout(Duration::from_millis(300))
    }

    fn json(path: &Path) -> Value {
        let files = read_files(&target(path)).expect("read");
        serde_json::to_value(&files[0].config).expect("json")
    }

    fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
        list.as_array()
            .expect("list")
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("entry {name} in {list}"))
    }

    #[test]
    fn adopts_contexts_taking_over_an_unshared_cluster_and_copying_a_shared_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, OLD).expect("write");
        let before = json(&path);
        let adoptions = [
            Adoption {
                previous_user: "oidc".into(),
                entry: entry("prod-2", "prod", "https://api.prod.example:6443"),
            },
            Adoption {
                previous_user: "oidc".into(),
                entry: entry("staging", "staging", "https://api.staging.example:6443"),
            },
        ];
        let outcome = adopt_contexts(&target(&path), &adoptions).expect("adopt");
        assert_eq!(outcome.backups, vec![backup_path(&path)], "one-time backup");
        let after = json(&path);

        let prod = find(&after["contexts"], "prod");
        assert_eq!(prod["context"]["cluster"], "prod-2");
        assert_eq!(prod["context"]["user"], "signet-prod-2");
        assert_eq!(prod["context"]["namespace"], "team-a", "namespace kept");
        assert_eq!(
            prod["context"]["extensions"][0]["extension"]["cluster"],
            "prod-2"
        );
        let staging = find(&after["contexts"], "staging");
        assert_eq!(staging["context"]["some-unknown"], 1, "unknown field kept");

        // `prod` is shared with prod-admin: left alone; Signet's prod-2 is a copy keeping proxy-url.
        assert_eq!(
            find(&after["clusters"], "prod"),
            find(&before["clusters"], "prod")
        );
        let copy = find(&after["clusters"], "prod-2");
        assert_eq!(copy["cluster"]["proxy-url"], "http://proxy.example:3128");
        // `staging` was used only by the adopted context: taken over, its other extension kept.
        let staging = find(&after["clusters"], "staging");
        let names: Vec<&str> = staging["cluster"]["extensions"]
            .as_array()
            .expect("extensions")
            .iter()
            .map(|e| e["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["other-tool", "signet"]);

        // The old users, the other context, preferences and current-context are untouched.
        for user in ["oidc", "admin"] {
            assert_eq!(
                find(&after["users"], user),
                find(&before["users"], user),
                "{user}"
            );
        }
        assert_eq!(
            find(&after["contexts"], "prod-admin"),
            find(&before["contexts"], "prod-admin")
        );
        assert_eq!(after["preferences"], before["preferences"]);
        assert_eq!(after["current-context"], "prod-admin");
        let user = find(&after["users"], "signet-staging");
        assert_eq!(
            user["user"]["exec"]["args"],
            serde_json::json!(["token", "--cluster", "staging"])
        );

        // Running it again changes nothing.
        let again = adopt_contexts(&target(&path), &adoptions).expect("adopt again");
        assert!(again.written.is_empty(), "idempotent: {again:?}");
    }

    #[test]
    fn a_context_that_changed_since_the_plan_is_not_adopted_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, OLD).expect("write");
        let adoptions = [Adoption {
            previous_user: "someone-else".into(),
            entry: entry("prod-2", "prod", "https://api.prod.example:6443"),
        }];
        let err = adopt_contexts(&target(&path), &adoptions).expect_err("changed");
        assert_eq!(err.code(), "kubeconfig.changed", "{err}");
        assert!(err.to_string().contains("uses user 'oidc'"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            OLD,
            "file untouched"
        );
    }

    #[test]
    fn taking_over_a_cluster_another_context_still_uses_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, OLD).expect("write");
        let adoptions = [Adoption {
            previous_user: "oidc".into(),
            entry: entry("prod", "prod", "https://api.prod.example:6443"),
        }];
        let err = adopt_contexts(&target(&path), &adoptions).expect_err("shared cluster");
        assert_eq!(err.code(), "kubeconfig.not_signet_owned", "{err}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), OLD);
    }

    #[test]
    fn a_second_import_keeps_a_timestamped_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, OLD).expect("write");
        std::fs::write(backup_path(&path), "older backup").expect("write backup");
        let adoptions = [Adoption {
            previous_user: "oidc".into(),
            entry: entry("staging", "staging", "https://api.staging.example:6443"),
        }];
        let outcome = adopt_contexts(&target(&path), &adoptions).expect("adopt");
        assert_eq!(outcome.backups.len(), 1, "{outcome:?}");
        let extra = &outcome.backups[0];
        assert!(
            extra
                .display()
                .to_string()
                .starts_with(&format!("{}-", backup_path(&path).display())),
            "{}",
            extra.display()
        );
        assert_eq!(std::fs::read_to_string(extra).expect("read"), OLD);
        assert_eq!(
            std::fs::read_to_string(backup_path(&path)).expect("read"),
            "older backup",
            "the one-time backup is never overwritten"
        );
    }
}
