//! The kubeconfig chain as files: read (without following `Kubeconfig::read_from`'s path rewriting),
//! edited under the chain's locks, and written back atomically with a backup, only where something changed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;

use super::entry::{Entry, check_owned, set_mark, signet_mark};
use super::{EditOutcome, KubeconfigError, KubeconfigTarget, NEW_FILE_MODE, backup_path, lock};
use crate::atomic_file;

/// The files of a [`KubeconfigTarget`], parsed, in precedence order.
pub(super) struct Chain {
    pub(super) files: Vec<LoadedFile>,
    /// Index of the file that receives new entries and `current-context`.
    pub(super) default: usize,
}

/// One file of the chain as bytes on disk.
pub(super) struct RawFile {
    /// The path as listed in the chain (what locks and messages use).
    pub(super) path: PathBuf,
    /// Where the bytes live: `path` with symlinks followed, so writing keeps a symlink a symlink.
    pub(super) real_path: PathBuf,
    /// The file's text without a byte-order mark, when the file exists (also what the backup keeps).
    pub(super) original: Option<String>,
    /// The file's permission bits, kept on rewrite (0600 for a new file).
    pub(super) mode: u32,
}

/// One file of the chain, parsed.
pub(super) struct LoadedFile {
    pub(super) raw: RawFile,
    pub(super) config: Kubeconfig,
    pub(super) dirty: bool,
}

impl Chain {
    pub(super) fn load(target: &KubeconfigTarget) -> Result<Chain, KubeconfigError> {
        let files = target
            .precedence()
            .iter()
            .map(|path| LoadedFile::load(path))
            .collect::<Result<Vec<_>, _>>()?;
        let exists: Vec<bool> = files.iter().map(|f| f.raw.original.is_some()).collect();
        let default = target.default_index(&exists);
        Ok(Chain { files, default })
    }

    /// The first file defining `name` wins, as in client-go's merge.
    pub(super) fn locate<T: Entry>(&self, name: &str) -> Option<(usize, usize)> {
        self.files.iter().enumerate().find_map(|(fi, file)| {
            T::list(&file.config)
                .iter()
                .position(|e| e.name() == name)
                .map(|ei| (fi, ei))
        })
    }

    /// The merged `current-context`: the first file that sets a non-empty one.
    pub(super) fn current_context(&self) -> Option<&str> {
        self.files
            .iter()
            .filter_map(|f| f.config.current_context.as_deref())
            .find(|c| !c.is_empty())
    }

    /// Edits the entry named `name` where it lives (after checking it is `cluster`'s), or creates it in
    /// the default file. `edit` gets whether the entry is new. Files are marked dirty only on a change.
    pub(super) fn upsert<T: Entry>(
        &mut self,
        name: &str,
        cluster: &str,
        mark: &serde_json::Value,
        edit: impl FnOnce(&mut T, bool),
    ) -> Result<(), KubeconfigError> {
        match self.locate::<T>(name) {
            Some((fi, ei)) => {
                let file = &mut self.files[fi];
                let entry = &mut T::list_mut(&mut file.config)[ei];
                check_owned(entry, cluster, &file.raw.path)?;
                let before = serde_json::to_value(&*entry).ok();
                edit(entry, false);
                set_mark(entry, mark);
                let after = serde_json::to_value(&*entry).ok();
                if before.is_none() || before != after {
                    file.dirty = true;
                }
            }
            None => {
                let mut entry = T::new(name);
                edit(&mut entry, true);
                set_mark(&mut entry, mark);
                let file = &mut self.files[self.default];
                T::list_mut(&mut file.config).push(entry);
                file.dirty = true;
            }
        }
        Ok(())
    }

    /// Writes every changed file (backing it up first if Signet never has), atomically.
    pub(super) fn commit(self) -> Result<EditOutcome, KubeconfigError> {
        let mut outcome = EditOutcome::default();
        for mut file in self.files.into_iter().filter(|f| f.dirty) {
            if file.raw.original.is_none() {
                // What kubectl writes at the top of a new file.
                file.config
                    .api_version
                    .get_or_insert_with(|| "v1".to_owned());
                file.config.kind.get_or_insert_with(|| "Config".to_owned());
            }
            let yaml = serde_saphyr::to_string(&file.config).map_err(|source| {
                KubeconfigError::Serialize {
                    path: file.raw.path.clone(),
                    source,
                }
            })?;
            let holds_token = file.config.auth_infos.iter().any(|user| {
                signet_mark(Entry::extensions(user)).is_some()
                    && user.auth_info.as_ref().is_some_and(|a| a.token.is_some())
            });
            file.raw.write(&yaml, holds_token, &mut outcome)?;
        }
        Ok(outcome)
    }
}

impl RawFile {
    /// Reads `path` (following symlinks); a missing file is not an error.
    pub(super) fn read(path: &Path) -> Result<RawFile, KubeconfigError> {
        let read_err = |source| KubeconfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let real_path = follow_symlinks(path).map_err(read_err)?;
        let bytes = match fs::read(&real_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(RawFile {
                    path: path.to_path_buf(),
                    real_path,
                    original: None,
                    mode: NEW_FILE_MODE,
                });
            }
            Err(e) => return Err(read_err(e)),
        };
        let mode = file_mode(&real_path).map_err(read_err)?;
        let mut text = String::from_utf8(bytes).map_err(|_| KubeconfigError::Parse {
            path: path.to_path_buf(),
            message: "the file is not UTF-8 text".to_owned(),
        })?;
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        Ok(RawFile {
            path: path.to_path_buf(),
            real_path,
            original: Some(text),
            mode,
        })
    }

    pub(super) fn text(&self) -> Option<&str> {
        self.original.as_deref()
    }

    /// Replaces the file with `contents` atomically, keeping its mode — except that a file that holds a
    /// bearer token Signet wrote (`holds_token`, token mode) loses its group and other bits (0600), which is logged once and listed
    /// in `outcome.tightened`; before Signet's first change to an existing file, keeps a copy of it at
    /// [`backup_path`] (with the same mode).
    pub(super) fn write(
        &self,
        contents: &str,
        holds_token: bool,
        outcome: &mut EditOutcome,
    ) -> Result<(), KubeconfigError> {
        let mode = if holds_token && self.mode & 0o077 != 0 {
            if self.original.is_some() {
                tracing::warn!(
                    file = %self.real_path.display(),
                    from = format!("{:o}", self.mode & 0o777),
                    "the kubeconfig now holds a bearer token (token mode): made it 0600"
                );
                outcome.tightened.push(self.real_path.clone());
            }
            self.mode & !0o077
        } else {
            self.mode
        };
        if let Some(original) = &self.original {
            let backup = backup_path(&self.real_path);
            if fs::symlink_metadata(&backup).is_err() {
                atomic_file::write(&backup, original.as_bytes(), mode).map_err(|source| {
                    KubeconfigError::Write {
                        path: backup.clone(),
                        source,
                    }
                })?;
                outcome.backups.push(backup);
            }
        }
        atomic_file::write(&self.real_path, contents.as_bytes(), mode).map_err(|source| {
            KubeconfigError::Write {
                path: self.real_path.clone(),
                source,
            }
        })?;
        tracing::debug!(file = %self.real_path.display(), "kubeconfig written");
        outcome.written.push(self.real_path.clone());
        Ok(())
    }
}

impl LoadedFile {
    pub(super) fn load(path: &Path) -> Result<LoadedFile, KubeconfigError> {
        let raw = RawFile::read(path)?;
        let config = match raw.text() {
            Some(text) => parse(text, path)?,
            None => Kubeconfig::default(),
        };
        Ok(LoadedFile {
            raw,
            config,
            dirty: false,
        })
    }
}

/// Parses one file's text (all its YAML documents, merged like kube's `Kubeconfig::from_yaml`), with a
/// parser budget that grows with the file so a large but honest kubeconfig is never refused, and without
/// source snippets in errors (they could quote a token).
pub(super) fn parse(text: &str, path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 250_000usize.max(text.len()),
            max_events: 1_000_000usize.max(2 * text.len()),
        },
        with_snippet: false,
    };
    let parse_err = |message: String| KubeconfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let documents: Vec<Kubeconfig> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| parse_err(e.to_string()))?;
    documents
        .into_iter()
        .try_fold(Kubeconfig::default(), Kubeconfig::merge)
        .map_err(|e| parse_err(e.to_string()))
}

/// Follows a chain of symlinks at `path` (not in its directories) to the file that holds the bytes, even
/// when that file does not exist yet.
pub(super) fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "too many levels of symbolic links at '{}'",
        path.display()
    )))
}

#[cfg(unix)]
pub(super) fn file_mode(path: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
pub(super) fn file_mode(_path: &Path) -> io::Result<u32> {
    Ok(NEW_FILE_MODE)
}

/// Locks every file of the chain, then [`edit_locked`].
pub(super) fn edit<T>(
    target: &KubeconfigTarget,
    change: impl FnOnce(&mut Chain) -> Result<T, KubeconfigError>,
) -> Result<(T, EditOutcome), KubeconfigError> {
    let _locks = lock::LockSet::acquire(target.precedence(), target.lock_timeout())?;
    edit_locked(target, change)
}

/// Loads the chain, lets `change` edit it, writes what changed. The caller holds the locks.
pub(super) fn edit_locked<T>(
    target: &KubeconfigTarget,
    change: impl FnOnce(&mut Chain) -> Result<T, KubeconfigError>,
) -> Result<(T, EditOutcome), KubeconfigError> {
    let mut chain = Chain::load(target)?;
    let value = change(&mut chain)?;
    let outcome = chain.commit()?;
    Ok((value, outcome))
}
