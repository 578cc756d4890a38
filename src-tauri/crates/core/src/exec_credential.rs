//! The kubectl exec-credential format (client-go `pkg/apis/clientauthentication/{v1,v1beta1}`).
//!
//! This module owns reading `KUBERNETES_EXEC_INFO` and rendering the `ExecCredential` that
//! `kubectl-signet token` prints on stdout. It does no I/O, no logging and no token handling beyond copying
//! the token into the output: it runs on every kubectl call, so it is a handful of string operations.
//!
//! Rules from client-go it follows:
//! > stdout must decode as an `ExecCredential` whose group and version equal the configured `apiVersion`.
//!
//! so the output repeats the version kubectl sent (v1 when it sent none), and
//! > The plugin is run again when `now().After(expirationTimestamp)`. There is no early-refresh margin,
//!
//! so `expirationTimestamp` is set [`EXPIRY_MARGIN`] before the token's `exp`.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;

use crate::secret::Secret;

/// How long before the token's `exp` kubectl is told it expires, so a request never leaves with a token
/// that dies on the way.
pub const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(30);

/// The `client.authentication.k8s.io` versions kubectl accepts (v1alpha1 is rejected by client-go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecApiVersion {
    #[default]
    V1,
    V1beta1,
}

impl ExecApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecApiVersion::V1 => "client.authentication.k8s.io/v1",
            ExecApiVersion::V1beta1 => "client.authentication.k8s.io/v1beta1",
        }
    }

    pub fn parse(value: &str) -> Option<ExecApiVersion> {
        match value {
            "client.authentication.k8s.io/v1" => Some(ExecApiVersion::V1),
            "client.authentication.k8s.io/v1beta1" => Some(ExecApiVersion::V1beta1),
            _ => None,
        }
    }
}

/// Why `KUBERNETES_EXEC_INFO` was ignored. Carries no part of the value (which could hold CA data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecInfoProblem {
    #[error(
        "KUBERNETES_EXEC_INFO is not an ExecCredential JSON object; answering with client.authentication.k8s.io/v1"
    )]
    NotJson,
    #[error(
        "KUBERNETES_EXEC_INFO asks for unsupported apiVersion '{0}'; answering with client.authentication.k8s.io/v1"
    )]
    UnsupportedVersion(String),
}

/// What kubectl told the plugin through `KUBERNETES_EXEC_INFO`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecInfo {
    /// The version to answer with.
    pub api_version: ExecApiVersion,
    /// `spec.interactive`: whether the plugin may use the terminal (`None` when kubectl did not say).
    pub interactive: Option<bool>,
    /// Set when the variable was present but unusable; the defaults above are used instead. The caller
    /// decides whether to mention it (on stderr, never stdout).
    pub problem: Option<ExecInfoProblem>,
}

#[derive(Deserialize)]
struct RawInfo<'a> {
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    spec: Option<RawSpec>,
}

#[derive(Deserialize)]
struct RawSpec {
    #[serde(default)]
    interactive: Option<bool>,
}

impl ExecInfo {
    /// Reads the value of `KUBERNETES_EXEC_INFO` (absent or blank: v1, interactivity unknown).
    ///
    /// > This is a JSON `ExecCredential` encoded with the configured apiVersion. `spec.interactive` is always
    /// > present in v1. It tells the plugin whether its stdin is the user's terminal.
    pub fn from_env_value(value: Option<&str>) -> ExecInfo {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return ExecInfo::default();
        };
        let raw: RawInfo<'_> = match serde_json::from_str(value) {
            Ok(raw) => raw,
            Err(_) => {
                return ExecInfo {
                    problem: Some(ExecInfoProblem::NotJson),
                    ..ExecInfo::default()
                };
            }
        };
        let interactive = raw.spec.and_then(|s| s.interactive);
        match raw.api_version.as_deref().map(ExecApiVersion::parse) {
            Some(Some(api_version)) => ExecInfo {
                api_version,
                interactive,
                problem: None,
            },
            Some(None) => ExecInfo {
                interactive,
                problem: raw
                    .api_version
                    .map(|v| ExecInfoProblem::UnsupportedVersion(v.into_owned())),
                ..ExecInfo::default()
            },
            None => ExecInfo {
                interactive,
                ..ExecInfo::default()
            },
        }
    }
}

/// When kubectl should consider the token expired: [`EXPIRY_MARGIN`] before `expires_at`, whole seconds,
/// and never before `now`.
pub fn expiration_timestamp(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let early = floor_to_second(expires_at - EXPIRY_MARGIN);
    if early >= now {
        early
    } else {
        let floored = floor_to_second(now);
        if floored == now {
            now
        } else {
            floored + TimeDelta::seconds(1)
        }
    }
}

fn floor_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The plugin's stdout: one line of compact JSON, for example
/// `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"…","expirationTimestamp":"2026-08-24T10:15:00Z"}}`.
pub fn render(
    version: ExecApiVersion,
    token: &Secret,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    let token = token.expose();
    let expiry = expiration_timestamp(expires_at, now).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut out = String::with_capacity(token.len() + 160);
    out.push_str(r#"{"apiVersion":""#);
    out.push_str(version.as_str());
    out.push_str(r#"","kind":"ExecCredential","status":{"token":""#);
    push_json_escaped(&mut out, token);
    out.push_str(r#"","expirationTimestamp":""#);
    out.push_str(&expiry);
    out.push_str("\"}}\n");
    out
}

/// Appends `s` as the inside of a JSON string (RFC 8259 §7). A JWT never needs escaping; this is for safety.
fn push_json_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[n >> 4]));
                out.push(char::from(HEX[n & 0xf]));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid RFC 3339 in test")
            .with_timezone(&Utc)
    }

    #[test]
    fn renders_the_exact_v1_json() {
        let out = render(
            ExecApiVersion::V1,
            &Secret::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2ln"),
            at("2026-08-24T10:15:30Z"),
            at("2026-08-24T10:00:00Z"),
        );
        assert_eq!(
            out,
            "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2ln\",\"expirationTimestamp\":\"2026-08-24T10:15:00Z\"}}\n"
        );
    }

    #[test]
    fn renders_the_exact_v1beta1_json() {
        let out = render(
            ExecApiVersion::V1beta1,
            &Secret::new("tok"),
            at("2026-08-24T10:15:30.900Z"),
            at("2026-08-24T10:00:00Z"),
        );
        assert_eq!(
            out,
            "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok\",\"expirationTimestamp\":\"2026-08-24T10:15:00Z\"}}\n"
        );
    }

    #[test]
    fn output_is_an_exec_credential_that_json_parsers_accept() {
        let out = render(
            ExecApiVersion::V1,
            &Secret::new("we\"ird\\tok\n"),
            at("2026-08-24T10:15:30Z"),
            at("2026-08-24T10:00:00Z"),
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(v["status"]["token"], "we\"ird\\tok\n", "token round-trips");
        assert_eq!(v["kind"], "ExecCredential");
    }

    #[test]
    fn expiry_is_30s_early_but_never_in_the_past() {
        let now = at("2026-08-24T10:00:00.250Z");
        assert_eq!(
            expiration_timestamp(at("2026-08-24T11:00:00Z"), now),
            at("2026-08-24T10:59:30Z")
        );
        assert_eq!(
            expiration_timestamp(at("2026-08-24T10:00:10Z"), now),
            at("2026-08-24T10:00:01Z"),
            "10 s left: expected now, rounded up to a whole second"
        );
        let whole = at("2026-08-24T10:00:00Z");
        assert_eq!(
            expiration_timestamp(at("2026-08-24T09:00:00Z"), whole),
            whole
        );
    }

    #[test]
    fn reads_version_and_interactive_from_exec_info() {
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://x","config":{"a":1}},"interactive":true}}"#;
        assert_eq!(
            ExecInfo::from_env_value(Some(v1)),
            ExecInfo {
                api_version: ExecApiVersion::V1,
                interactive: Some(true),
                problem: None
            }
        );
        let beta = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;
        assert_eq!(
            ExecInfo::from_env_value(Some(beta)),
            ExecInfo {
                api_version: ExecApiVersion::V1beta1,
                interactive: Some(false),
                problem: None
            }
        );
        let no_spec = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1"}"#;
        assert_eq!(ExecInfo::from_env_value(Some(no_spec)).interactive, None);
    }

    #[test]
    fn absent_exec_info_means_v1_without_a_problem() {
        for value in [None, Some(""), Some("  \n")] {
            assert_eq!(
                ExecInfo::from_env_value(value),
                ExecInfo::default(),
                "{value:?}"
            );
        }
        assert_eq!(ExecInfo::default().api_version, ExecApiVersion::V1);
    }

    #[test]
    fn garbage_exec_info_falls_back_to_v1_and_says_why() {
        let garbage = ExecInfo::from_env_value(Some("{not json"));
        assert_eq!(garbage.api_version, ExecApiVersion::V1);
        assert_eq!(garbage.problem, Some(ExecInfoProblem::NotJson));

        let alpha = ExecInfo::from_env_value(Some(
            r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{"interactive":true}}"#,
        ));
        assert_eq!(alpha.api_version, ExecApiVersion::V1);
        assert_eq!(alpha.interactive, Some(true));
        assert_eq!(
            alpha.problem,
            Some(ExecInfoProblem::UnsupportedVersion(
                "client.authentication.k8s.io/v1alpha1".into()
            ))
        );
        let wrong_type = ExecInfo::from_env_value(Some(r#"{"apiVersion":5}"#));
        assert_eq!(wrong_type.problem, Some(ExecInfoProblem::NotJson));
    }
}
