//! Which kubeconfig files Signet reads and which one gets new entries, decided exactly as client-go's
//! `clientcmd` decides it (`loader.go` `NewDefaultClientConfigLoadingRules`, `config.go` `GetDefaultFilename`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long Signet waits for another writer's `<file>.lock` before giving up (kubectl itself never waits).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// The kubeconfig files in play for one read or edit: the loading precedence and where new entries go.
///
/// Built once from `KUBECONFIG`, `HOME` and an optional explicit file; the file *existence* checks that
/// pick the default file run again inside the lock at every edit, because another program may have created
/// a file since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigTarget {
    precedence: Vec<PathBuf>,
    explicit: bool,
    lock_timeout: Duration,
}

impl KubeconfigTarget {
    /// Resolves the files as client-go does.
    ///
    /// > `KUBECONFIG` is split with `filepath.SplitList` and de-duplicated. If it is unset, `~/.kube/config`
    /// > is used. `--kubeconfig` (ExplicitPath) replaces the whole chain.
    ///
    /// Empty entries are dropped (client-go skips them when loading); a `KUBECONFIG` made only of empty
    /// entries counts as unset. `explicit` is a cluster's `kubeconfig = …` from Signet's config (or
    /// `--kubeconfig`); unlike kubectl's loader, a missing explicit file is not an error: Signet creates it.
    pub fn resolve(
        kubeconfig_env: Option<&OsStr>,
        home: &Path,
        explicit: Option<&Path>,
    ) -> KubeconfigTarget {
        if let Some(file) = explicit {
            return KubeconfigTarget {
                precedence: vec![file.to_path_buf()],
                explicit: true,
                lock_timeout: DEFAULT_LOCK_TIMEOUT,
            };
        }
        let mut precedence: Vec<PathBuf> = Vec::new();
        for file in kubeconfig_env.into_iter().flat_map(std::env::split_paths) {
            if !file.as_os_str().is_empty() && !precedence.contains(&file) {
                precedence.push(file);
            }
        }
        if precedence.is_empty() {
            precedence.push(home.join(".kube").join("config"));
        }
        KubeconfigTarget {
            precedence,
            explicit: false,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// [`resolve`](Self::resolve) with this process's `KUBECONFIG`.
    pub fn from_env(home: &Path, explicit: Option<&Path>) -> KubeconfigTarget {
        KubeconfigTarget::resolve(std::env::var_os("KUBECONFIG").as_deref(), home, explicit)
    }

    /// How long an edit waits for other writers' locks (default [`DEFAULT_LOCK_TIMEOUT`]).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> KubeconfigTarget {
        self.lock_timeout = timeout;
        self
    }

    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The files in loading order: the first file that defines a name wins.
    pub fn precedence(&self) -> &[PathBuf] {
        &self.precedence
    }

    /// Whether the chain is one explicitly chosen file (`--kubeconfig` or the cluster's `kubeconfig`).
    pub fn is_explicit(&self) -> bool {
        self.explicit
    }

    /// The file that receives new entries and `current-context`, as of now.
    ///
    /// > New stanzas go to `GetDefaultFilename()`: the explicit `--kubeconfig` file, if given; otherwise,
    /// > with one `KUBECONFIG` entry, that entry; with several entries, the first one that exists, or the
    /// > last entry if none exist; with no `KUBECONFIG`, `~/.kube/config`.
    pub fn default_file(&self) -> &Path {
        let exists: Vec<bool> = self.precedence.iter().map(|p| p.exists()).collect();
        &self.precedence[self.default_index(&exists)]
    }

    /// [`default_file`](Self::default_file) as an index into [`precedence`](Self::precedence), given which
    /// files exist.
    pub(super) fn default_index(&self, exists: &[bool]) -> usize {
        if self.precedence.len() == 1 {
            return 0;
        }
        exists
            .iter()
            .position(|e| *e)
            .unwrap_or(self.precedence.len() - 1)
    }
}
