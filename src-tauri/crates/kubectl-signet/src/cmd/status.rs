//! `status`: providers, accounts, groups, where each session is kept, and each cluster's token expiry
//! (a table, or `--json`). Never a token.

use chrono::Utc;
use signet_core::text::printable;
use signet_core::token_store::{LazyKeyringStore, SecretStore, StoreKind};

use super::engine;
use crate::output::Failure;

pub fn run(json: bool) -> Result<(), Failure> {
    let signet = engine()?;
    let now = Utc::now();
    let statuses = signet.status();
    // Which store holds each session: chosen once, only for providers with a session on record.
    let secrets = LazyKeyringStore::with_choice(signet.config().settings.secret_store);
    let stores: Vec<Option<SessionStore>> = statuses
        .iter()
        .map(|s| {
            s.session
                .as_ref()
                .map(|r| SessionStore::find(&secrets, &s.provider, r.refreshable))
        })
        .collect();
    if json {
        let value: Vec<serde_json::Value> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({
                    "provider": s.provider,
                    "signed_in": s.session.is_some(),
                    "email": s.session.as_ref().and_then(|r| r.identity.email.clone()),
                    "groups": s.session.as_ref().map(|r| r.identity.groups.clone()).unwrap_or_default(),
                    "signed_in_at": s.session.as_ref().map(|r| r.signed_in_at),
                    "refreshed_at": s.session.as_ref().and_then(|r| r.refreshed_at),
                    "store": stores[i].as_ref().map(SessionStore::to_json),
                    "clusters": s.clusters.iter().map(|c| serde_json::json!({
                        "cluster": c.cluster,
                        "audience": c.audience,
                        "expires_at": c.expires_at,
                        "fresh": c.expires_at.is_some_and(|e| e > now),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "providers": value }));
        return Ok(());
    }
    if statuses.is_empty() {
        println!(
            "No providers configured. Add one with `kubectl signet add provider` or import a catalog."
        );
    }
    for (s, store) in statuses.into_iter().zip(stores) {
        match &s.session {
            Some(r) => println!(
                "{}: signed in as {} ({})",
                s.provider,
                printable(r.identity.email.as_deref().unwrap_or(&r.identity.subject)),
                if r.identity.groups.is_empty() {
                    "no groups".into()
                } else {
                    printable(&r.identity.groups.join(", ")).into_owned()
                }
            ),
            None => println!(
                "{}: not signed in — run `kubectl signet login {}`",
                s.provider, s.provider
            ),
        }
        if let Some(store) = store {
            println!("  {}", store.line());
        }
        for c in s.clusters {
            let state = match c.expires_at {
                Some(e) if e > now => format!("token valid for {}", human(e - now)),
                Some(_) => "token expired (refreshed on next use)".to_string(),
                None => "no token".to_string(),
            };
            println!("  {:<24} {state}", c.cluster);
        }
    }
    Ok(())
}

/// Where a provider's refresh token is, for `status` (DESIGN.md §5.5).
#[derive(Debug)]
enum SessionStore {
    /// The chosen store holds it.
    Held(StoreKind),
    /// The chosen store has none; the other one does (moving needs a sign-in, never a copy).
    Elsewhere {
        chosen: StoreKind,
        holder: StoreKind,
    },
    /// No refresh token anywhere (the provider issued none, or it was removed).
    Missing {
        chosen: StoreKind,
        refreshable: bool,
    },
    /// The store could not be used.
    Unusable(String),
}

impl SessionStore {
    fn find(secrets: &LazyKeyringStore, provider: &str, refreshable: bool) -> SessionStore {
        let chosen = match secrets.chosen() {
            Ok(kind) => kind,
            Err(e) => return SessionStore::Unusable(e.to_string()),
        };
        match secrets.get(provider) {
            Ok(Some(_)) => SessionStore::Held(chosen),
            Ok(None) => match secrets.other_holding(provider) {
                Some(holder) => SessionStore::Elsewhere { chosen, holder },
                None => SessionStore::Missing {
                    chosen,
                    refreshable,
                },
            },
            Err(e) => SessionStore::Unusable(e.to_string()),
        }
    }

    fn line(&self) -> String {
        match self {
            SessionStore::Held(kind) => {
                format!("session kept in the {} ({})", kind.label(), kind.keeps())
            }
            SessionStore::Elsewhere { chosen, holder } => format!(
                "the session is in the {} but Signet now uses the {}: sign in again (Signet never copies it between stores)",
                holder.label(),
                chosen.label()
            ),
            SessionStore::Missing {
                chosen,
                refreshable: true,
            } => format!(
                "no refresh token in the {}: sign in again when the token expires",
                chosen.label()
            ),
            SessionStore::Missing { chosen, .. } => format!(
                "the provider issued no refresh token; the {} holds nothing",
                chosen.label()
            ),
            SessionStore::Unusable(why) => {
                format!("the keyring cannot be used: {}", printable(why))
            }
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let (kind, holds, sign_in_again) = match self {
            SessionStore::Held(kind) => (Some(*kind), true, false),
            SessionStore::Elsewhere { chosen, .. } => (Some(*chosen), false, true),
            SessionStore::Missing {
                chosen,
                refreshable,
            } => (Some(*chosen), false, *refreshable),
            SessionStore::Unusable(_) => (None, false, false),
        };
        serde_json::json!({
            "kind": kind,
            "label": kind.map(StoreKind::label),
            "keeps": kind.map(StoreKind::keeps),
            "holds_session": holds,
            "sign_in_again": sign_in_again,
            "detail": self.line(),
        })
    }
}

fn human(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds();
    match s {
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
