//! Opening the authorization URL in a browser.
//!
//! [`UrlOpener`] is the seam: the CLI uses [`SystemBrowser`] (`$BROWSER`, then `xdg-open` / `open` /
//! `start`) or [`CommandOpener`] (`--browser-command`); tests use an opener that submits the IdP's form.
//! Browsers are started with stdout discarded: the exec plugin's stdout belongs to kubectl.

use std::process::{Command, Stdio};

use url::Url;

/// Opens a URL for the person to sign in.
pub trait UrlOpener: Send + Sync {
    fn open(&self, url: &Url) -> Result<(), String>;
}

/// The person's browser: each entry of `$BROWSER` (colon-separated, `%s` replaced by the URL, else the URL
/// appended), then the platform's opener.
#[derive(Debug, Clone, Default)]
pub struct SystemBrowser {
    browser_var: Option<String>,
}

impl SystemBrowser {
    /// Reads `$BROWSER` from this process's environment.
    pub fn from_env() -> SystemBrowser {
        SystemBrowser {
            browser_var: std::env::var("BROWSER")
                .ok()
                .filter(|b| !b.trim().is_empty()),
        }
    }

    pub fn with_browser_var(value: Option<String>) -> SystemBrowser {
        SystemBrowser { browser_var: value }
    }

    fn candidates(&self, url: &Url) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for entry in self.browser_var.iter().flat_map(|v| v.split(':')) {
            let mut words: Vec<String> = entry.split_whitespace().map(String::from).collect();
            if words.is_empty() {
                continue;
            }
            if words.iter().any(|w| w.contains("%s")) {
                for w in &mut words {
                    *w = w.replace("%s", url.as_str());
                }
            } else {
                words.push(url.to_string());
            }
            out.push(words);
        }
        let platform = if cfg!(target_os = "macos") {
            vec!["open".to_string()]
        } else if cfg!(windows) {
            vec!["cmd".into(), "/c".into(), "start".into(), String::new()]
        } else {
            vec!["xdg-open".to_string()]
        };
        out.push(platform.into_iter().chain([url.to_string()]).collect());
        out
    }
}

impl UrlOpener for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        let mut tried = Vec::new();
        for words in self.candidates(url) {
            let Some((program, args)) = words.split_first() else {
                continue;
            };
            match Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
            {
                Ok(_) => return Ok(()),
                Err(e) => tried.push(format!("{program}: {e}")),
            }
        }
        Err(format!(
            "no browser could be started ({}); set $BROWSER or use --device",
            tried.join("; ")
        ))
    }
}

/// A shell command given by the person (`--browser-command 'firefox --private-window'`); the URL is passed
/// as the last argument.
#[derive(Debug, Clone)]
pub struct CommandOpener {
    pub command: String,
}

impl UrlOpener for CommandOpener {
    fn open(&self, url: &Url) -> Result<(), String> {
        Command::new("sh")
            .args([
                "-c",
                &format!("{} \"$1\"", self.command),
                "signet-browser",
                url.as_str(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| format!("could not run '{}': {e}", self.command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_var_entries_come_first_with_percent_s_substituted() {
        let url = Url::parse("https://idp.example/auth?x=1").expect("url");
        let b = SystemBrowser::with_browser_var(Some("firefox --new-tab %s:w3m".into()));
        let c = b.candidates(&url);
        assert_eq!(
            c[0],
            vec!["firefox", "--new-tab", "https://idp.example/auth?x=1"]
        );
        assert_eq!(c[1], vec!["w3m", "https://idp.example/auth?x=1"]);
        assert_eq!(c.len(), 3, "the platform opener comes last: {c:?}");
    }
}
