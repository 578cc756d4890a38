//! Crash-safe file replacement and private directories.
//!
//! A reader (kubectl, another Signet process) must only ever see the old file or the new file, never a
//! truncated one: write a temporary file in the same directory, fsync it, rename it over the target, then
//! fsync the directory so the rename itself survives a power cut.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `contents` atomically; the file gets `mode` (Unix permission bits).
pub fn write(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Creates `dir` (and parents) if needed and makes sure only the owner can enter it (0700). For Signet's
/// own directories (cache, runtime, state): an existing one is tightened to 0700, but one that belongs to
/// another user — itself or the directory a symlink leads to — is refused, never changed (DESIGN.md §6).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    create_private(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = owned_by_me(dir)?;
        if meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist; an existing directory is left
/// as it is. For the directory of a file whose place the person chose (`SIGNET_CONFIG=./x.toml`): Signet
/// never changes the mode of a directory it did not create — the file itself is private.
pub fn parent_dir(dir: &Path) -> io::Result<()> {
    create_private(dir)
}

fn create_private(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The metadata of `dir` (symlinks followed), or an error when someone else owns it.
#[cfg(unix)]
fn owned_by_me(dir: &Path) -> io::Result<fs::Metadata> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir)?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        let through = match fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => " (through a symlink)",
            _ => "",
        };
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "directory '{}'{through} belongs to another user (uid {}, you are uid {me}); Signet keeps its files only in directories you own — remove it, or point the XDG directory elsewhere",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    Ok(meta)
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse to fsync a directory; the rename has happened either way.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_sets_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.json");
        write(&path, b"one", 0o600).expect("first write");
        write(&path, b"two", 0o600).expect("second write");
        assert_eq!(fs::read(&path).expect("read back"), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "expected 0600, got {mode:o}");
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files left behind: {leftovers:?}"
        );
    }

    /// A directory owned by another user: as root, a temporary one handed to `nobody`; otherwise `/`.
    #[cfg(unix)]
    fn foreign_dir(root: &Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        if rustix::process::geteuid().is_root() {
            let dir = root.join("someone-elses");
            fs::create_dir(&dir).expect("mkdir");
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown to nobody");
            dir
        } else {
            std::path::PathBuf::from("/")
        }
    }

    /// Issue 12 (weak spot 8): a cache/runtime/state directory that belongs to someone else — directly
    /// or through a symlink — is refused, and its mode is left alone.
    #[cfg(unix)]
    #[test]
    fn private_dir_refuses_a_directory_of_another_user_even_through_a_symlink() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = tempfile::tempdir().expect("tempdir");
        let foreign = foreign_dir(root.path());
        let before = fs::metadata(&foreign).expect("stat");
        let link = root.path().join("tokens");
        std::os::unix::fs::symlink(&foreign, &link).expect("symlink");
        for dir in [foreign.as_path(), link.as_path()] {
            let err = private_dir(dir).expect_err("another user's directory");
            assert!(
                err.to_string().contains("belongs to another user"),
                "{}: {err}",
                dir.display()
            );
        }
        let after = fs::metadata(&foreign).expect("stat");
        assert_eq!(
            (after.permissions().mode(), after.uid()),
            (before.permissions().mode(), before.uid()),
            "the foreign directory is untouched"
        );
    }

    /// `SIGNET_CONFIG=./x.toml` used to chmod the working directory to 0700: a directory Signet did not
    /// create keeps its mode; one it creates is 0700.
    #[cfg(unix)]
    #[test]
    fn a_parent_directory_signet_did_not_create_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let cwd = root.path().join("work");
        fs::create_dir(&cwd).expect("mkdir");
        fs::set_permissions(&cwd, fs::Permissions::from_mode(0o755)).expect("chmod");
        parent_dir(&cwd).expect("existing parent");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&cwd), 0o755, "an existing directory keeps its mode");
        let fresh = root.path().join("new/signet");
        parent_dir(&fresh).expect("created");
        assert_eq!(mode(&fresh), 0o700, "a directory Signet creates is private");
    }

    #[cfg(unix)]
    #[test]
    fn private_dir_tightens_a_loose_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("tokens");
        fs::create_dir(&target).expect("mkdir");
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&target).expect("private_dir");
        let mode = fs::metadata(&target).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "expected 0700, got {mode:o}");
    }
}
