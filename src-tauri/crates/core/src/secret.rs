//! A string that must never be shown: ID tokens, refresh tokens, client secrets.
//!
//! `Secret` has no `Display`, and its `Debug` prints `Secret([redacted])`, so a secret cannot reach a log
//! line, an error message or IPC by accident. The only way to read it is [`Secret::expose`], which makes every
//! place that needs the clear text easy to find.

use serde::{Deserialize, Serialize};

/// A redacting wrapper around a secret string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The clear text. Call this only where the secret leaves the process for its one purpose (an HTTP
    /// request, the keyring, the exec-credential output, the 0600 cache file).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secret = Secret::new("eyJhbGciOiJSUzI1NiJ9.payload.sig");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("eyJ"), "secret leaked into Debug: {shown}");
        assert!(
            shown.contains("[redacted]"),
            "expected a redaction marker in {shown}"
        );
    }
}
