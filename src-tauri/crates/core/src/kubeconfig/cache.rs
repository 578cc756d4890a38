//! Reading a kubeconfig chain again only when it changed. The tray computes its status on every change
//! and every check; a 2 MB kubeconfig must not be parsed each time. Each chain's view is kept with every
//! file's [`FileStamp`]; any difference — or a file appearing or going — reads the chain again. A view is
//! kept only once every file of it is [`SETTLE`] old, so a second write in
//! the same timestamp tick (same size) is never missed; until then each status reads the chain.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::chain::Chain;
use super::{KubeconfigError, KubeconfigTarget, SignetContext, signet_contexts_of};
use crate::file_stamp::{FileStamp, SETTLE};

/// What the status needs from a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainView {
    /// The merged `current-context` (`None` when unset).
    pub current_context: Option<String>,
    /// Signet's contexts in the merged view, in file order.
    pub contexts: Vec<SignetContext>,
}

/// A file of the chain (`None`: missing).
type Stamp = Option<FileStamp>;

/// A chain's view and the stamps of its files when it was read.
type Kept = (Vec<Stamp>, Arc<ChainView>);

/// Views of kubeconfig chains, read again only when a file of the chain changed.
#[derive(Debug, Default)]
pub struct ChainCache {
    views: Mutex<HashMap<Vec<PathBuf>, Kept>>,
    reads: AtomicUsize,
}

impl ChainCache {
    pub fn new() -> ChainCache {
        ChainCache::default()
    }

    /// `target`'s view: the kept one while no file of the chain changed, else a fresh read.
    pub fn view(&self, target: &KubeconfigTarget) -> Result<Arc<ChainView>, KubeconfigError> {
        let key = target.precedence().to_vec();
        // Stamped before reading: a write during the read shows as a change next time.
        let stamps: Vec<Stamp> = key.iter().map(|p| FileStamp::of(p)).collect();
        if let Ok(views) = self.views.lock()
            && let Some((seen, view)) = views.get(&key)
            && *seen == stamps
        {
            return Ok(view.clone());
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let chain = Chain::load(target)?;
        let view = Arc::new(ChainView {
            current_context: chain.current_context().map(str::to_owned),
            contexts: signet_contexts_of(&chain),
        });
        let now = SystemTime::now();
        if let Ok(mut views) = self.views.lock() {
            if stamps.iter().flatten().all(|s| s.settled(now, SETTLE)) {
                views.insert(key, (stamps, view.clone()));
            } else {
                views.remove(&key);
            }
        }
        Ok(view)
    }

    /// How many times a chain was actually read (for tests and benchmarks).
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }
}
