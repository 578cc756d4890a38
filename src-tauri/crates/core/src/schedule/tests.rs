use chrono::{DateTime, TimeDelta, Utc};

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

// The refresher's planner.

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
}

const WARNING: TimeDelta = TimeDelta::minutes(10);

fn session(provider: &str, issued: i64, lifetime: i64) -> SessionView {
    SessionView {
        provider: provider.into(),
        signed_in_at: at(issued),
        refreshable: true,
        tokens: vec![TokenTimes {
            issued_at: at(issued),
            expires_at: at(issued + lifetime),
        }],
        warning: WARNING,
    }
}

fn refresh(provider: &str) -> Task {
    Task::Refresh {
        provider: provider.into(),
    }
}

#[test]
fn jitter_is_stable_per_token_and_at_most_thirty_seconds() {
    let planner = RefreshPlanner::new(7);
    let j = planner.jitter("corp", at(0));
    assert_eq!(j, planner.jitter("corp", at(0)), "re-planning keeps it");
    let all: Vec<TimeDelta> = (0..200).map(|i| planner.jitter("corp", at(i))).collect();
    assert!(
        all.iter()
            .all(|j| *j >= TimeDelta::zero() && *j <= MAX_JITTER),
        "{all:?}"
    );
    assert!(
        all.iter().any(|j| *j != all[0]),
        "different tokens get different jitter"
    );
    assert_ne!(
        RefreshPlanner::new(8).jitter("corp", at(0)),
        RefreshPlanner::new(9).jitter("corp", at(0)),
        "different machines (seeds) spread out"
    );
}

#[test]
fn refreshes_at_eighty_percent_minus_jitter_and_picks_the_earliest_provider() {
    let planner = RefreshPlanner::new(1);
    let corp = session("corp", 0, 3600);
    let dev = session("dev", 600, 3600);
    let corp_at = planner.refresh_at(&corp).expect("refreshable");
    assert!(
        corp_at <= at(2880) && corp_at >= at(2880) - MAX_JITTER,
        "an hour token at 80% minus jitter, got {corp_at}"
    );
    let plan = planner.plan(&[dev.clone(), corp.clone()], at(100));
    assert_eq!(plan.due, vec![], "nothing due yet");
    assert_eq!(plan.next, Some(corp_at), "corp is next");
    let plan = planner.plan(&[dev.clone(), corp.clone()], at(3500));
    assert_eq!(
        plan.due,
        vec![refresh("corp"), refresh("dev")],
        "both due; the more overdue first"
    );
    assert_eq!(plan.next, None);
}

#[test]
fn an_overdue_or_expired_token_is_refreshed_at_once_after_a_suspend() {
    let planner = RefreshPlanner::new(1);
    let corp = session("corp", 0, 600);
    // The machine slept through the planned time and the token's expiry.
    let plan = planner.plan(&[corp], at(5000));
    assert_eq!(plan.due, vec![refresh("corp")]);
}

#[test]
fn a_session_without_cached_tokens_is_refreshed_at_once() {
    let planner = RefreshPlanner::new(1);
    let mut corp = session("corp", 0, 600);
    corp.tokens.clear();
    assert_eq!(planner.plan(&[corp], at(1)).due, vec![refresh("corp")]);
}

#[test]
fn short_tokens_are_refreshed_before_expiry_but_never_in_a_storm() {
    let mut planner = RefreshPlanner::new(1);
    // 20 s tokens: "2 minutes before exp" is impossible, so after half the lifetime.
    let corp = session("corp", 0, 20);
    assert_eq!(planner.refresh_at(&corp), Some(at(10)));
    // The refresh at 10 s returned a token whose clock is skewed into the past: the local spacing
    // still holds it off.
    planner.succeeded("corp", at(10));
    let skewed = session("corp", -100, 20);
    assert_eq!(planner.refresh_at(&skewed), Some(at(20)));
    // A normal token is not held back by the spacing.
    planner.succeeded("corp", at(0));
    assert_eq!(
        planner.refresh_at(&session("corp", 0, 300)),
        Some(at(180) - planner.jitter("corp", at(0)).min(TimeDelta::seconds(18)))
    );
}

#[test]
fn network_failures_back_off_and_are_reported_once_per_streak() {
    let mut planner = RefreshPlanner::new(1);
    let corp = [session("corp", 0, 600)];
    let first = planner.failed("corp", at(500));
    assert_eq!(
        first,
        Retry {
            at: at(505),
            failures: 1,
            notify: false
        }
    );
    assert_eq!(planner.plan(&corp, at(504)).due, vec![]);
    assert_eq!(planner.plan(&corp, at(504)).next, Some(at(505)));
    assert_eq!(planner.plan(&corp, at(505)).due, vec![refresh("corp")]);
    let second = planner.failed("corp", at(505));
    assert_eq!((second.at, second.notify), (at(515), false));
    let third = planner.failed("corp", at(515));
    assert_eq!((third.at, third.notify), (at(535), true), "told after 3");
    let fourth = planner.failed("corp", at(535));
    assert_eq!((fourth.at, fourth.notify), (at(575), false), "only once");
    for _ in 0..10 {
        planner.failed("corp", at(600));
    }
    assert_eq!(
        planner.failed("corp", at(600)).at,
        at(900),
        "backoff stops at five minutes"
    );
    planner.succeeded("corp", at(700));
    assert_eq!(
        planner.failed("corp", at(800)),
        Retry {
            at: at(805),
            failures: 1,
            notify: false
        },
        "a success starts a new streak"
    );
}

#[test]
fn a_session_the_idp_ended_is_not_tried_again_until_a_new_sign_in() {
    let mut planner = RefreshPlanner::new(1);
    let corp = session("corp", 0, 600);
    planner.ended("corp", corp.signed_in_at);
    let plan = planner.plan(std::slice::from_ref(&corp), at(5000));
    assert_eq!(
        plan,
        Plan {
            due: vec![],
            next: None
        }
    );
    let again = session("corp", 6000, 600);
    assert!(
        planner.refresh_at(&again).is_some(),
        "a new sign-in is planned again"
    );
}

#[test]
fn a_session_that_cannot_refresh_is_warned_about_once_before_it_ends() {
    let mut planner = RefreshPlanner::new(1);
    let mut corp = session("corp", 0, 3600);
    corp.refreshable = false;
    let corp = [corp];
    let warn_at = at(3600) - WARNING;
    let plan = planner.plan(&corp, at(0));
    assert_eq!(
        plan,
        Plan {
            due: vec![],
            next: Some(warn_at)
        },
        "never refreshed"
    );
    let plan = planner.plan(&corp, warn_at);
    assert_eq!(
        plan.due,
        vec![Task::WarnExpiring {
            provider: "corp".into(),
            ends_at: at(3600)
        }]
    );
    planner.warned("corp", at(3600));
    assert_eq!(planner.plan(&corp, warn_at).due, vec![], "once");
    assert_eq!(
        RefreshPlanner::new(1).plan(&corp, at(3700)).due,
        vec![],
        "an ended session is not warned about"
    );
}

#[test]
fn forgotten_sessions_start_clean() {
    let mut planner = RefreshPlanner::new(1);
    planner.failed("corp", at(0));
    planner.retain(&[]);
    assert_eq!(
        planner.failed("corp", at(10)).failures,
        1,
        "the old streak is gone"
    );
}
