//! The refresh schedule the tray's agent follows (DESIGN.md §5.3): when to refresh a token before it
//! expires, and how long to wait after a refresh failed for network reasons. Pure time arithmetic: it
//! must not read a clock or sleep — the caller passes the times in.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Refreshes of one token are at least this far apart (or half its lifetime, if shorter).
pub const MIN_REFRESH_SPACING: TimeDelta = TimeDelta::seconds(30);

/// When the agent should next refresh a token issued at `issued_at` and expiring at `expires_at`: at
/// ~80% of its lifetime, but at least 2 minutes before `exp`, minus up to `jitter` so many machines do
/// not hit Dex in the same second. Never sooner than [`MIN_REFRESH_SPACING`] (or half the lifetime)
/// after issue, so a token shorter than 2 minutes is not refreshed over and over.
pub fn next_refresh_at(
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    jitter: TimeDelta,
) -> DateTime<Utc> {
    let lifetime = (expires_at - issued_at).max(TimeDelta::zero());
    let at_80 = issued_at + lifetime * 4 / 5;
    let latest = expires_at - TimeDelta::minutes(2);
    let earliest = issued_at + (lifetime / 2).min(MIN_REFRESH_SPACING);
    let when = at_80.min(latest);
    let jittered = when - jitter.min((when - issued_at) / 10).max(TimeDelta::zero());
    jittered.max(earliest)
}

/// Exponential backoff for refreshes that fail for network reasons: 5 s, 10 s, 20 s … up to 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempt.min(6));
    Duration::from_secs(secs.min(300))
}

mod planner;

pub use planner::{
    FAILURES_BEFORE_NOTICE, MAX_JITTER, MIN_SPACING, Plan, RefreshPlanner, Retry, SessionView,
    Task, TokenTimes, sessions,
};

#[cfg(test)]
mod tests;
