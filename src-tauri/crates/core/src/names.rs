//! The one validator for the names Signet writes (DESIGN.md §3, §6): provider names, cluster and context
//! names, namespaces. The config parser, the catalog and kubeconfig imports, the CLI's flags and the tray's
//! forms all call it, so a name that one path refuses cannot come in through another.
//!
//! - A **provider** name becomes a keyring user, a lock file and a cache file name: `[a-z0-9-]`, 1–63
//!   characters.
//! - A **cluster** or **context** name goes into kubeconfig entries and into the exec plugin's arguments
//!   (`token --cluster NAME`): printable ASCII from a conservative set (letters, digits, `- . _ : @ / +`),
//!   1–253 characters, not starting with `-` (it would read as a flag). That keeps the names other tools
//!   generate (`arn:aws:eks:…:cluster/prod`, `gke_project_zone_name`, `user@cluster`) and refuses
//!   whitespace, quotes, control and look-alike characters.
//! - A **namespace** is a Kubernetes namespace: an RFC 1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at
//!   most 63 characters), as the API server requires.
//!
//! This module only decides; it does not sanitise (the kubeconfig import derives names itself) and never
//! echoes a refused name unescaped.

use crate::text::printable;

/// Which kind of name a [`NameError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Provider,
    Cluster,
    Context,
    Namespace,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            NameKind::Provider => "provider name",
            NameKind::Cluster => "cluster name",
            NameKind::Context => "context name",
            NameKind::Namespace => "namespace",
        }
    }

    /// The rule, as the error message states it.
    pub fn rule(self) -> &'static str {
        match self {
            NameKind::Provider => "use 1 to 63 of a-z, 0-9 and '-', not starting with '-'",
            NameKind::Cluster | NameKind::Context => {
                "use 1 to 253 of A-Z, a-z, 0-9 and - . _ : @ / +, not starting with '-' (no spaces or control characters)"
            }
            NameKind::Namespace => {
                "a namespace is an RFC 1123 label: 1 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit"
            }
        }
    }
}

/// A name that does not follow its rule. The message shows the name with control characters escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} '{}' is not allowed: {}", .kind.noun(), printable(.name), .kind.rule())]
pub struct NameError {
    pub kind: NameKind,
    pub name: String,
}

impl NameError {
    pub fn code(&self) -> &'static str {
        "config.invalid_name"
    }
}

/// Checks `name` against the rule for `kind`.
pub fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    let ok = match kind {
        NameKind::Provider => is_provider(name),
        NameKind::Cluster | NameKind::Context => is_cluster(name),
        NameKind::Namespace => is_namespace(name),
    };
    if ok {
        Ok(())
    } else {
        Err(NameError {
            kind,
            name: name.to_owned(),
        })
    }
}

fn is_provider(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_cluster(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:@/+".contains(&b))
}

/// RFC 1123 label, as Kubernetes validates namespace names (`IsDNS1123Label`).
fn is_namespace(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=63).contains(&bytes.len())
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_lowercase_digits_and_dashes() {
        for good in ["corp", "dex-example-com", "127-0-0-1", "a"] {
            check(NameKind::Provider, good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            "Corp",
            "corp inc",
            "corp_1",
            "corp.",
            &"a".repeat(64),
            "é",
            // `kubectl signet login -x` would read it as a flag (a catalog could ship one).
            "-",
            "-x",
            "--corp",
        ] {
            assert!(check(NameKind::Provider, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cluster_names_keep_what_other_tools_generate_and_refuse_the_rest() {
        for good in [
            "prod",
            "DEV",
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
            "gke_my-project_europe-west1_prod",
            "oidc@prod.example.com",
            "kind-kind",
            "a+b",
        ] {
            check(NameKind::Cluster, good).unwrap_or_else(|e| panic!("{good}: {e}"));
            check(NameKind::Context, good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            "-prod",
            "prod ctx",
            "prod\t",
            "prod\u{1b}[2J",
            "prod\u{202e}",
            "pröd",
            "a\"b",
            "a'b",
            "a#b",
            "a\\b",
            &"a".repeat(254),
        ] {
            assert!(check(NameKind::Context, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn namespaces_are_rfc1123_labels() {
        for good in ["default", "team-a", "a", "0", &"a".repeat(63)] {
            check(NameKind::Namespace, good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            "Bad_NS!",
            "team-",
            "-team",
            "team.a",
            "Team",
            &"a".repeat(64),
        ] {
            assert!(check(NameKind::Namespace, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_error_names_the_rule_and_escapes_the_name() {
        let err = check(NameKind::Namespace, "ns\u{1b}[31m").expect_err("refused");
        let message = err.to_string();
        assert!(
            message.starts_with("namespace 'ns\\u{1b}[31m' is not allowed: "),
            "{message}"
        );
        assert!(message.contains("RFC 1123"), "{message}");
        assert!(!message.contains('\u{1b}'), "{message:?}");
    }
}
