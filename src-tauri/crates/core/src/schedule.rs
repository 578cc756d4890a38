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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_happens_at_80_percent_but_two_minutes_before_expiry_at_the_latest() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).expect("ts");
        assert_eq!(
            next_refresh_at(t(0), t(3600), TimeDelta::zero()),
            t(2880),
            "80% of an hour"
        );
        assert_eq!(
            next_refresh_at(t(0), t(300), TimeDelta::zero()),
            t(180),
            "2 min before a 5 min token"
        );
        assert_eq!(
            next_refresh_at(t(0), t(60), TimeDelta::zero()),
            t(30),
            "a 1 min token after half its life, not at once (no refresh storm)"
        );
        let jittered = next_refresh_at(t(0), t(3600), TimeDelta::seconds(30));
        assert_eq!(jittered, t(2850), "jitter moves it earlier");
        assert_eq!(
            next_refresh_at(t(0), t(3600), TimeDelta::hours(5)),
            t(2880 - 288),
            "jitter is capped at 10%"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(10), Duration::from_secs(300));
    }
}
