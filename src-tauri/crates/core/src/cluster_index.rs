//! The exec plugin's way past the config (DESIGN.md §8): for each cluster, the provider and audience whose
//! cached token serves it, as of one version of the config file.
//!
//! `kubectl-signet token --cluster X` runs on every kubectl call. Loading the config parses and validates
//! all of it (every provider and cluster, CA files), in time that grows with its size, yet a fresh cached
//! token needs only two names from it: the cluster's provider and audience. The full path writes them
//! here once it has served a cluster; [`fresh_token`] reads them back and trusts them only while the
//! config file is the very file they came from: same path, device, inode, size, modification and change
//! times ([`FileStamp`]).
//!
//! Rules this module keeps:
//! - An entry is written only from a config that loaded and validated, with the stamp taken *before* the
//!   config was read, so an edit racing the load leaves a stamp that no longer matches the file.
//! - A stamp is recorded only once the config's times are [`SETTLE`] old (git's "racy clean" rule): any
//!   later write then gets a later change time, even on a filesystem with coarse timestamps, so an edit
//!   in place that keeps the size is still seen. The change time cannot be set back (`touch` sets only
//!   the modification time).
//! - Anything unusual (no entry, an entry for another config or cluster, another stamp, an unreadable or
//!   corrupt file) means "load the config", never an error.
//! - Freshness is not decided here: [`fresh_token`] applies [`CachedToken::is_fresh`], the rule of
//!   [`crate::Signet::token_for`], to the token read through [`TokenCache`].
//!
//! Files: `$XDG_CACHE_HOME/signet/index/<config>/<cluster>.json` (directories 0700, files 0600), where
//! `<config>` is a hash of the config's path, so two configs sharing one cache never evict each other.
//! They hold no secret; deleting them costs one slower `token` call each.

use std::path::PathBuf;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::atomic_file;
use crate::config::Config;
use crate::file_stamp::FileStamp;
use crate::paths::Paths;
use crate::token_store::{self, CachedToken, TokenCache};

pub use crate::file_stamp::SETTLE;

const INDEX_VERSION: u32 = 1;

/// What the index says serves a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub provider: String,
    pub audience: String,
}

/// One index file.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    version: u32,
    config: PathBuf,
    stamp: FileStamp,
    cluster: String,
    provider: String,
    audience: String,
}

/// The index of one config file.
#[derive(Debug, Clone)]
pub struct ClusterIndex {
    config_file: PathBuf,
    dir: PathBuf,
}

impl ClusterIndex {
    pub fn new(paths: &Paths) -> ClusterIndex {
        let digest = sha2::Sha256::digest(paths.config_file.as_os_str().as_encoded_bytes());
        let key: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        ClusterIndex {
            config_file: paths.config_file.clone(),
            dir: paths.cache_dir.join("index").join(key),
        }
    }

    fn path_for(&self, cluster: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", token_store::file_key(cluster)))
    }

    /// The cluster's provider and audience, when its entry was written from the config file as it is now.
    pub fn route(&self, cluster: &str) -> Option<Route> {
        let entry = self.read(cluster)?;
        let current = FileStamp::of(&self.config_file)?;
        (entry.version == INDEX_VERSION
            && entry.config == self.config_file
            && entry.cluster == cluster
            && entry.stamp == current)
            .then_some(Route {
                provider: entry.provider,
                audience: entry.audience,
            })
    }

    /// Records which provider and audience serve `cluster` in `config`, which was loaded from the file
    /// `stamp` was taken of (before reading it). Does nothing when the stamp is not [`SETTLE`]d at `now`,
    /// when `config` has no such cluster, or when the entry already says the same.
    pub fn record(
        &self,
        stamp: &FileStamp,
        config: &Config,
        cluster: &str,
        now: SystemTime,
    ) -> std::io::Result<()> {
        if !stamp.settled(now, SETTLE) {
            return Ok(());
        }
        let Some((c, p)) = config
            .cluster(cluster)
            .and_then(|c| Some((c, config.provider(&c.provider)?)))
        else {
            return Ok(());
        };
        let entry = Entry {
            version: INDEX_VERSION,
            config: self.config_file.clone(),
            stamp: *stamp,
            cluster: cluster.to_string(),
            provider: p.name.clone(),
            audience: c.audience_or(p).to_string(),
        };
        if self.read(cluster).as_ref() == Some(&entry) {
            return Ok(());
        }
        let body = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        for dir in [self.dir.parent(), Some(self.dir.as_path())]
            .into_iter()
            .flatten()
        {
            atomic_file::private_dir(dir)?;
        }
        atomic_file::write(&self.path_for(cluster), &body, 0o600)
    }

    fn read(&self, cluster: &str) -> Option<Entry> {
        let bytes = std::fs::read(self.path_for(cluster)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The exec plugin's fast path: `cluster`'s cached token, when the index routes it and the token is fresh
/// at `now` by the rule of [`crate::Signet::token_for`]; `None` whenever the full path must decide.
/// Reads two small files and stats the config, whatever the config's size.
pub fn fresh_token(paths: &Paths, cluster: &str, now: DateTime<Utc>) -> Option<CachedToken> {
    let route = ClusterIndex::new(paths).route(cluster)?;
    TokenCache::new(paths)
        .read_quietly(&route.provider, &route.audience)
        .filter(|token| token.is_fresh(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClusterConfig, Credentials, LoginMode, ProviderConfig};

    fn config(audience: Option<&str>) -> Config {
        Config {
            providers: vec![ProviderConfig {
                client_id: "signet".into(),
                login: LoginMode::Browser,
                ..ProviderConfig::probe("https://idp.example.com")
            }],
            clusters: vec![ClusterConfig {
                name: "arn:aws:eks:eu-west-1:1:cluster/prod".into(),
                provider: "probe".into(),
                server: "https://api.example.com".into(),
                ca_data: None,
                ca_file: None,
                insecure_skip_tls_verify: false,
                audience: audience.map(Into::into),
                namespace: None,
                context: None,
                credentials: Credentials::Exec,
                kubeconfig: None,
            }],
            ..Config::default()
        }
    }

    const CLUSTER: &str = "arn:aws:eks:eu-west-1:1:cluster/prod";

    fn later() -> SystemTime {
        SystemTime::now() + SETTLE + std::time::Duration::from_secs(1)
    }

    fn setup() -> (tempfile::TempDir, Paths, ClusterIndex, FileStamp) {
        let root = tempfile::tempdir().expect("temp dir");
        let paths = Paths::under(root.path());
        config(None).save(&paths.config_file).expect("save config");
        let index = ClusterIndex::new(&paths);
        let stamp = FileStamp::of(&paths.config_file).expect("stamp");
        (root, paths, index, stamp)
    }

    #[test]
    fn routes_a_cluster_while_the_config_is_unchanged() {
        let (_root, _paths, index, stamp) = setup();
        index
            .record(&stamp, &config(None), CLUSTER, later())
            .expect("record");
        assert_eq!(
            index.route(CLUSTER),
            Some(Route {
                provider: "probe".into(),
                audience: "signet".into()
            }),
            "expected the provider and the client id as audience"
        );
        assert_eq!(
            index.route("prod"),
            None,
            "expected no route for another cluster"
        );
    }

    #[test]
    fn an_edit_in_place_of_the_same_size_invalidates_the_route() {
        let (_root, paths, index, stamp) = setup();
        index
            .record(&stamp, &config(None), CLUSTER, later())
            .expect("record");
        let text = std::fs::read_to_string(&paths.config_file).expect("read");
        std::fs::write(&paths.config_file, text.replace("signet", "sigmet")).expect("edit");
        assert_eq!(
            FileStamp::of(&paths.config_file).map(|s| s.size()),
            Some(stamp.size()),
            "the edit keeps the size"
        );
        assert_eq!(
            index.route(CLUSTER),
            None,
            "expected the stale entry to be ignored"
        );
    }

    #[test]
    fn a_config_written_just_now_is_not_recorded() {
        let (_root, _paths, index, stamp) = setup();
        index
            .record(&stamp, &config(None), CLUSTER, SystemTime::now())
            .expect("record");
        assert_eq!(
            index.route(CLUSTER),
            None,
            "expected no entry for a config younger than SETTLE"
        );
    }

    #[test]
    fn another_config_path_has_its_own_index() {
        let (root, paths, index, stamp) = setup();
        index
            .record(&stamp, &config(Some("kubernetes")), CLUSTER, later())
            .expect("record");
        let other = Paths {
            config_file: root.path().join("other.toml"),
            ..paths
        };
        std::fs::copy(index.config_file.clone(), &other.config_file).expect("copy");
        assert_eq!(
            ClusterIndex::new(&other).route(CLUSTER),
            None,
            "expected the other config's index to be empty"
        );
        assert_eq!(
            index.route(CLUSTER).map(|r| r.audience),
            Some("kubernetes".into())
        );
    }
}
