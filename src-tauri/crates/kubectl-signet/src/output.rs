//! What every command shares in how it answers: the one-line [`Failure`], the lines a kubeconfig sync
//! prints, and the exec entry's command. Text from outside (an IdP, a catalog) is shown with control
//! characters escaped.

use signet_core::Error;
use signet_core::sync::SyncReport;
use signet_core::text::printable_multiline;

/// A failure shown to the person as one line (or a few), prefixed with `signet:`.
#[derive(Debug)]
pub struct Failure(pub String);

/// Failures often quote text from outside (an IdP's `error_description`, a catalog's names): control
/// characters are shown escaped, never sent to the terminal.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "signet: {}", printable_multiline(&self.0))
    }
}

impl<E: Into<Error>> From<E> for Failure {
    /// The message and its causes on one line ("failed to write kubeconfig '…': Permission denied"): the
    /// cause is often what tells the person what to fix.
    fn from(e: E) -> Self {
        let e = e.into();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        Failure(text)
    }
}

/// The command kubeconfig exec entries run: the `kubectl-signet` front binary that runs this CLI —
/// `kubectl-signet` when that is the one on PATH, else its absolute path.
pub fn plugin_command() -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| "kubectl-signet".into());
    signet_core::sync::plugin_command(&front_of(&exe), std::env::var_os("PATH").as_deref())
}

/// The front binary of the full CLI at `exe`: `kubectl-signet` beside it (a build tree, the tarball), or
/// in `../../bin/` (the Debian package's `/usr/lib/signet/signet-cli`); `exe` itself when neither exists.
fn front_of(exe: &std::path::Path) -> std::path::PathBuf {
    let Some(dir) = exe.parent() else {
        return exe.to_path_buf();
    };
    [
        dir.join("kubectl-signet"),
        dir.join("../../bin/kubectl-signet"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| exe.to_path_buf())
}

pub fn print_sync(reports: &[SyncReport]) {
    for r in reports {
        for (cluster, context) in &r.contexts {
            println!("  context {context} (cluster {cluster})");
        }
        for cluster in &r.awaiting_sign_in {
            println!("  cluster {cluster}: token mode, written after sign-in");
        }
        if let Some(context) = &r.made_current {
            println!("  {context} is now the current context (there was none)");
        }
        for file in &r.outcome.written {
            println!("  wrote {}", file.display());
        }
        for backup in &r.outcome.backups {
            println!("  backed up the previous file to {}", backup.display());
        }
        for file in &r.outcome.tightened {
            println!(
                "  made {} 0600: it now holds a bearer token (token mode)",
                file.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: an IdP's `error` / `error_description` reach the terminal through a failure; a control
    /// character there could retitle the terminal or rewrite the line (`\r`), so it is shown escaped.
    #[test]
    fn a_failure_never_prints_a_control_character_from_the_idp() {
        let failure = Failure::from(signet_core::oidc::OidcError::Refused {
            error: "access_denied\u{1b}]0;pwned\u{7}".into(),
            description: Some("ok\rsignet: signed in".into()),
        });
        let shown = failure.to_string();
        assert!(
            !shown.chars().any(char::is_control),
            "a raw control character reached the terminal: {shown:?}"
        );
        assert!(
            shown.contains("access_denied\\u{1b}]0;pwned\\u{7}"),
            "{shown}"
        );
        assert!(shown.contains("ok\\u{d}signet: signed in"), "{shown}");
    }
}
