//! The refresher's planner: given each provider's session as the cache describes it (times only, never
//! a token) and "now", it says which refreshes and warnings are due and when to look again. Pure: time
//! comes in as arguments; the tray's refresh loop runs it against the app's clock.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, TimeDelta, Utc};

use super::{MIN_REFRESH_SPACING, backoff, next_refresh_at};
use crate::Signet;
use crate::token_store::TokenCache;

/// Refreshes move earlier by a random amount up to this, so many machines do not hit Dex together.
pub const MAX_JITTER: TimeDelta = TimeDelta::seconds(30);

/// A session is not refreshed again sooner than this (or half its token's lifetime, if shorter).
pub const MIN_SPACING: TimeDelta = MIN_REFRESH_SPACING;

/// Network failures in a row before the person is told.
pub const FAILURES_BEFORE_NOTICE: u32 = 3;

/// One cached ID token's times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A provider's session as the planner sees it: times and flags from the cache, no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub provider: String,
    pub signed_in_at: DateTime<Utc>,
    pub refreshable: bool,
    /// One per audience the provider's clusters use; missing ones are left out.
    pub tokens: Vec<TokenTimes>,
    /// How long before a non-refreshable session ends to warn (`settings.warning_minutes`).
    pub warning: TimeDelta,
}

/// Something due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    Refresh {
        provider: String,
    },
    /// The session cannot refresh and ends at `ends_at`.
    WarnExpiring {
        provider: String,
        ends_at: DateTime<Utc>,
    },
}

/// What to do now and when to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Due tasks, the most overdue first.
    pub due: Vec<Task>,
    /// The earliest future task, if any.
    pub next: Option<DateTime<Utc>>,
}

/// What the planner remembers about a provider between plans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Track {
    /// Failed refreshes in a row, and when to try again.
    failures: u32,
    retry_at: Option<DateTime<Utc>>,
    /// Whether this failure streak was already reported.
    noticed: bool,
    last_success: Option<DateTime<Utc>>,
    /// `signed_in_at` of a session the IdP ended: not tried again until a new sign-in.
    ended: Option<DateTime<Utc>>,
    /// The end of a non-refreshable session already warned about.
    warned: Option<DateTime<Utc>>,
}

/// What to do after a failed refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub at: DateTime<Utc>,
    /// Failures in a row, this one included.
    pub failures: u32,
    /// Tell the person (once per streak, after [`FAILURES_BEFORE_NOTICE`]).
    pub notify: bool,
}

/// Decides when each session is refreshed. Pure: time comes in as arguments.
#[derive(Debug, Clone)]
pub struct RefreshPlanner {
    seed: u64,
    tracks: HashMap<String, Track>,
}

impl RefreshPlanner {
    /// A planner whose jitter derives from `seed` (random in the app, fixed in tests).
    pub fn new(seed: u64) -> RefreshPlanner {
        RefreshPlanner {
            seed,
            tracks: HashMap::new(),
        }
    }

    /// The jitter for a token: fixed per (provider, issue time), between zero and [`MAX_JITTER`], so
    /// re-planning does not move a refresh around.
    pub fn jitter(&self, provider: &str, issued_at: DateTime<Utc>) -> TimeDelta {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.seed, provider, issued_at.timestamp_millis()).hash(&mut h);
        let span = MAX_JITTER.num_milliseconds().unsigned_abs() + 1;
        TimeDelta::milliseconds(i64::try_from(h.finish() % span).unwrap_or(0))
    }

    /// When the session should next be refreshed; `None` if it cannot be (no refresh token) or the IdP
    /// ended it.
    pub fn refresh_at(&self, view: &SessionView) -> Option<DateTime<Utc>> {
        if !view.refreshable {
            return None;
        }
        let track = self.tracks.get(&view.provider);
        if track.and_then(|t| t.ended) == Some(view.signed_in_at) {
            return None;
        }
        let shortest = view
            .tokens
            .iter()
            .map(|t| (t.expires_at - t.issued_at).max(TimeDelta::zero()))
            .min();
        let spacing = shortest.map_or(MIN_SPACING, |l| (l / 2).min(MIN_SPACING));
        let mut when = view
            .tokens
            .iter()
            .map(|t| {
                next_refresh_at(
                    t.issued_at,
                    t.expires_at,
                    self.jitter(&view.provider, t.issued_at),
                )
            })
            .min()
            // A session without cached tokens: fetch them now.
            .unwrap_or(view.signed_in_at);
        if let Some(track) = track {
            if let Some(retry) = track.retry_at {
                when = when.max(retry);
            }
            if let Some(last) = track.last_success {
                when = when.max(last + spacing);
            }
        }
        Some(when)
    }

    /// When to warn that a non-refreshable session ends, and that end; `None` when there is nothing to
    /// warn about (refreshable, already warned, or already over at `now`).
    fn warning(
        &self,
        view: &SessionView,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if view.refreshable {
            return None;
        }
        let ends_at = view.tokens.iter().map(|t| t.expires_at).min()?;
        let warned = self.tracks.get(&view.provider).and_then(|t| t.warned);
        if ends_at <= now || warned == Some(ends_at) {
            return None;
        }
        Some((ends_at - view.warning, ends_at))
    }

    /// What is due at `now`, and when to look again.
    pub fn plan(&self, sessions: &[SessionView], now: DateTime<Utc>) -> Plan {
        let mut due: Vec<(DateTime<Utc>, Task)> = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        let mut consider = |at: DateTime<Utc>, task: Task| {
            if at <= now {
                due.push((at, task));
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        for view in sessions {
            if let Some(at) = self.refresh_at(view) {
                consider(
                    at,
                    Task::Refresh {
                        provider: view.provider.clone(),
                    },
                );
            }
            if let Some((at, ends_at)) = self.warning(view, now) {
                consider(
                    at,
                    Task::WarnExpiring {
                        provider: view.provider.clone(),
                        ends_at,
                    },
                );
            }
        }
        due.sort_by_key(|(at, _)| *at);
        Plan {
            due: due.into_iter().map(|(_, task)| task).collect(),
            next,
        }
    }

    /// A refresh succeeded at `now`.
    pub fn succeeded(&mut self, provider: &str, now: DateTime<Utc>) {
        let track = self.tracks.entry(provider.to_string()).or_default();
        *track = Track {
            last_success: Some(now),
            warned: track.warned,
            ..Track::default()
        };
    }

    /// A refresh failed at `now` for a reason that may pass: when to try again, and whether to say so.
    pub fn failed(&mut self, provider: &str, now: DateTime<Utc>) -> Retry {
        let track = self.tracks.entry(provider.to_string()).or_default();
        let wait = backoff(track.failures);
        track.failures += 1;
        let at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(5));
        track.retry_at = Some(at);
        let notify = track.failures >= FAILURES_BEFORE_NOTICE && !track.noticed;
        track.noticed |= notify;
        Retry {
            at,
            failures: track.failures,
            notify,
        }
    }

    /// The IdP ended the session that began at `signed_in_at`: do not try it again.
    pub fn ended(&mut self, provider: &str, signed_in_at: DateTime<Utc>) {
        let track = self.tracks.entry(provider.to_string()).or_default();
        *track = Track {
            ended: Some(signed_in_at),
            ..Track::default()
        };
    }

    /// The person was warned that the session ends at `ends_at`.
    pub fn warned(&mut self, provider: &str, ends_at: DateTime<Utc>) {
        self.tracks.entry(provider.to_string()).or_default().warned = Some(ends_at);
    }

    /// Forgets what it knew about providers that have no session any more (signed out, or ended and
    /// forgotten), so a new sign-in starts with a clean slate.
    pub fn retain(&mut self, sessions: &[SessionView]) {
        self.tracks
            .retain(|provider, _| sessions.iter().any(|s| &s.provider == provider));
    }
}

/// Every provider's session as the planner sees it, from the cache (no network, no keyring).
pub fn sessions(signet: &Signet) -> Vec<SessionView> {
    let cache = TokenCache::new(signet.paths());
    let warning = TimeDelta::minutes(signet.config().settings.warning_minutes.into());
    signet
        .config()
        .providers
        .iter()
        .filter_map(|p| {
            let record = cache.read_session(&p.name)?;
            let tokens = signet
                .audiences(p)
                .iter()
                .filter_map(|audience| cache.read(&p.name, audience))
                .map(|t| TokenTimes {
                    issued_at: t.issued_at,
                    expires_at: t.expires_at,
                })
                .collect();
            Some(SessionView {
                provider: p.name.clone(),
                signed_in_at: record.signed_in_at,
                refreshable: record.refreshable,
                tokens,
                warning,
            })
        })
        .collect()
}
