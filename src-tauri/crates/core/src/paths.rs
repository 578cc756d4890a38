//! Where Signet keeps its files (DESIGN.md §3), resolved once from the environment.
//!
//! Everything else in the crate takes a [`Paths`] instead of reading `HOME` or `XDG_*` itself, so tests
//! (which run in parallel threads of one process) can give every case its own directories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The directories and files Signet uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub home: PathBuf,
    /// `$SIGNET_CONFIG`, else `$XDG_CONFIG_HOME/signet/config.toml`.
    pub config_file: PathBuf,
    /// `$XDG_CACHE_HOME/signet`: holds `tokens/` and `locks/`.
    pub cache_dir: PathBuf,
    /// `$XDG_STATE_HOME/signet`: holds `signet.log`.
    pub state_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/signet`, when there is a runtime dir: holds the agent socket.
    pub runtime_dir: Option<PathBuf>,
    /// `$KUBECONFIG` as given (a list of files), for choosing kubeconfig files as client-go does.
    pub kubeconfig_env: Option<OsString>,
}

/// `HOME` is not set, so no default location can be worked out.
#[derive(Debug, thiserror::Error)]
#[error(
    "HOME is not set, so Signet cannot find its config and cache; set HOME (or SIGNET_CONFIG and the XDG_* variables)"
)]
pub struct NoHomeError;

impl Paths {
    /// Paths from this process's environment.
    pub fn from_env() -> Result<Paths, NoHomeError> {
        Paths::from_vars(|name| std::env::var_os(name))
    }

    /// Paths from any variable lookup (the XDG base-directory rules: an unset or relative value is ignored).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Paths, NoHomeError> {
        let home = var("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or(NoHomeError)?;
        let xdg = |name: &str, default: &str| {
            var(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .unwrap_or_else(|| home.join(default))
        };
        let config_file = var("SIGNET_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| xdg("XDG_CONFIG_HOME", ".config").join("signet/config.toml"));
        Ok(Paths {
            cache_dir: xdg("XDG_CACHE_HOME", ".cache").join("signet"),
            state_dir: xdg("XDG_STATE_HOME", ".local/state").join("signet"),
            runtime_dir: var("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|p| p.join("signet")),
            kubeconfig_env: var("KUBECONFIG"),
            config_file,
            home,
        })
    }

    /// Everything under one directory, as the tests use it.
    pub fn under(root: &Path) -> Paths {
        Paths {
            home: root.join("home"),
            config_file: root.join("config/signet/config.toml"),
            cache_dir: root.join("cache/signet"),
            state_dir: root.join("state/signet"),
            runtime_dir: Some(root.join("runtime/signet")),
            kubeconfig_env: Some(root.join("kubeconfig").into_os_string()),
        }
    }

    pub fn tokens_dir(&self) -> PathBuf {
        self.cache_dir.join("tokens")
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.cache_dir.join("locks")
    }

    /// Expands a leading `~/` against this `HOME`.
    pub fn expand_home(&self, path: &Path) -> PathBuf {
        match path.strip_prefix("~") {
            Ok(rest) => self.home.join(rest),
            Err(_) => path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn paths(vars: &[(&str, &str)]) -> Paths {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Paths::from_vars(|name| vars.get(name).cloned()).expect("HOME is set")
    }

    #[test]
    fn follows_xdg_defaults_under_home() {
        let p = paths(&[("HOME", "/h")]);
        assert_eq!(
            p.config_file,
            PathBuf::from("/h/.config/signet/config.toml")
        );
        assert_eq!(p.tokens_dir(), PathBuf::from("/h/.cache/signet/tokens"));
        assert_eq!(p.state_dir, PathBuf::from("/h/.local/state/signet"));
        assert_eq!(p.runtime_dir, None);
    }

    #[test]
    fn signet_config_and_absolute_xdg_vars_win_and_relative_ones_are_ignored() {
        let p = paths(&[
            ("HOME", "/h"),
            ("SIGNET_CONFIG", "/etc/signet.toml"),
            ("XDG_CACHE_HOME", "/c"),
            ("XDG_STATE_HOME", "relative"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
        ]);
        assert_eq!(p.config_file, PathBuf::from("/etc/signet.toml"));
        assert_eq!(p.locks_dir(), PathBuf::from("/c/signet/locks"));
        assert_eq!(p.state_dir, PathBuf::from("/h/.local/state/signet"));
        assert_eq!(p.runtime_dir, Some(PathBuf::from("/run/user/1/signet")));
    }

    #[test]
    fn missing_home_is_an_error() {
        assert!(Paths::from_vars(|_| None).is_err());
    }
}
