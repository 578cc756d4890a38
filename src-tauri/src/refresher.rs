//! Background refresh (DESIGN.md §5.3) and the notifications about sessions: sign-in needed, refresh
//! failing for a network reason, a session that cannot refresh ending soon.
//!
//! The [`Planner`] is pure: given each provider's session as the cache describes it (times only, never a
//! token) and "now", it says which refreshes and warnings are due and when to look again. Unit tests drive
//! it with fixed times. The loop ([`spawn`]) runs it on a background thread against the app's clock:
//!
//! - each refreshable session is refreshed at [`next_refresh_at`] of its earliest token (~80% of the
//!   lifetime, at least 2 minutes before `exp`, minus a random jitter of up to [`MAX_JITTER`]), but never
//!   again within [`MIN_SPACING`] (or half a lifetime) of the last refresh, so a short-lived token or a
//!   skewed clock cannot cause a refresh storm;
//! - network failures are retried after [`backoff`]; after [`FAILURES_BEFORE_NOTICE`] in a row the
//!   person is told once;
//! - a session the IdP ended (`session.sign_in_required`) is not tried again; the tray is rebuilt and one
//!   "Sign-in needed" notification with a "Sign in" button appears;
//! - the loop wakes at least every [`REPLAN_INTERVAL`] and re-plans from the wall clock, so time spent
//!   suspended (when monotonic sleeps stand still) or a clock jump is noticed within that interval; it
//!   also re-plans at once when the config or a provider's state changes.
//!
//! Every notification goes through one [`RateLimiter`] keyed by kind and provider ([`Alerts`]); a missing
//! notification daemon is the notifier's business (logged, never fatal).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Local, TimeDelta, Utc};
use signet_core::schedule::{backoff, next_refresh_at};
use signet_core::session::SessionError;
use signet_core::token_store::TokenCache;
use tauri::{AppHandle, Manager, Runtime};

use crate::dto::{ActivityKind, ErrorDto};
use crate::notify::{Note, RateLimiter};
use crate::state::AppState;

/// The loop looks at the wall clock at least this often.
pub const REPLAN_INTERVAL: Duration = Duration::from_secs(30);
/// Refreshes move earlier by a random amount up to this, so many machines do not hit Dex together.
pub const MAX_JITTER: TimeDelta = TimeDelta::seconds(30);
/// A session is not refreshed again sooner than this (or half its token's lifetime, if shorter).
pub const MIN_SPACING: TimeDelta = signet_core::schedule::MIN_REFRESH_SPACING;
/// Network failures in a row before the person is told.
pub const FAILURES_BEFORE_NOTICE: u32 = 3;
/// At most one notification of a kind per provider this often.
pub const NOTICE_WINDOW: TimeDelta = TimeDelta::minutes(5);
/// The key of the "Sign in" button on notifications.
pub const ACTION_SIGN_IN: &str = "sign-in";
/// A wake-up this much later than planned is logged as a suspend or clock change.
const LATE: TimeDelta = TimeDelta::seconds(10);

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
pub struct Planner {
    seed: u64,
    tracks: HashMap<String, Track>,
}

impl Planner {
    /// A planner whose jitter derives from `seed` (random in the app, fixed in tests).
    pub fn new(seed: u64) -> Planner {
        Planner {
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

/// Rate-limited notifications about sessions (managed state).
#[derive(Debug)]
pub struct Alerts(Mutex<RateLimiter>);

impl Default for Alerts {
    fn default() -> Self {
        Alerts(Mutex::new(RateLimiter::new(NOTICE_WINDOW)))
    }
}

impl Alerts {
    fn allow(&self, kind: &str, provider: &str, now: DateTime<Utc>) -> bool {
        self.0
            .lock()
            .map(|mut l| l.allow(&format!("{kind}:{provider}"), now))
            .unwrap_or(false)
    }
}

/// Shows "Sign-in needed" for `provider`, with a "Sign in" button that opens its login window — unless
/// one was shown in the last [`NOTICE_WINDOW`]. Returns whether it was shown.
pub fn sign_in_needed<R: Runtime>(app: &AppHandle<R>, provider: &str) -> bool {
    let state = app.state::<AppState>();
    if !app
        .state::<Alerts>()
        .allow("sign-in-needed", provider, state.now())
    {
        tracing::debug!(provider, "sign-in needed; notified recently");
        return false;
    }
    let clusters = cluster_names(&state, provider);
    let body = if clusters.is_empty() {
        format!("Your session with {provider} has ended. Sign in again to keep using it.")
    } else {
        format!("Your session with {provider} has ended. Sign in again to keep using {clusters}.")
    };
    notify_with_sign_in(
        app,
        Note::new(format!("Sign-in needed for {provider}"), body),
        provider,
    );
    true
}

fn notify_with_sign_in<R: Runtime>(app: &AppHandle<R>, note: Note, provider: &str) {
    let (action_app, action_provider) = (app.clone(), provider.to_string());
    app.state::<AppState>().notify(
        note.with_action(ACTION_SIGN_IN, "Sign in"),
        Some(Box::new(move |key: &str| {
            if key == ACTION_SIGN_IN || key == "default" {
                crate::login::spawn_start(&action_app, &action_provider);
            }
        })),
    );
}

fn cluster_names(state: &AppState, provider: &str) -> String {
    state
        .signet()
        .config()
        .clusters_of(provider)
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every provider's session as the planner sees it, from the cache (no network, no keyring).
pub fn sessions(state: &AppState) -> Vec<SessionView> {
    let signet = state.signet();
    let cache = TokenCache::new(state.paths());
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

/// The refresh loop's state between rounds.
#[derive(Debug)]
pub struct Refresher {
    planner: Planner,
    /// Providers whose `last_error` this loop set (and so clears after a good refresh).
    flagged: Vec<String>,
}

impl Refresher {
    pub fn new(seed: u64) -> Refresher {
        Refresher {
            planner: Planner::new(seed),
            flagged: Vec::new(),
        }
    }

    /// One round: re-reads the config if it changed, runs every due task, and returns when the next
    /// task is due (`None`: nothing planned).
    pub fn round<R: Runtime>(&mut self, app: &AppHandle<R>) -> Option<DateTime<Utc>> {
        let state = app.state::<AppState>();
        state.reload_if_changed();
        loop {
            let now = state.now();
            let sessions = sessions(&state);
            self.planner.retain(&sessions);
            let plan = self.planner.plan(&sessions, now);
            if plan.due.is_empty() {
                return plan.next;
            }
            for task in plan.due {
                match task {
                    Task::Refresh { provider } => {
                        let view = sessions.iter().find(|s| s.provider == provider);
                        self.refresh(app, &provider, view.map(|v| v.signed_in_at));
                    }
                    Task::WarnExpiring { provider, ends_at } => {
                        self.planner.warned(&provider, ends_at);
                        warn_expiring(app, &provider, ends_at);
                    }
                }
            }
        }
    }

    fn refresh<R: Runtime>(
        &mut self,
        app: &AppHandle<R>,
        provider: &str,
        signed_in_at: Option<DateTime<Utc>>,
    ) {
        let state = app.state::<AppState>();
        tracing::debug!(provider, "background refresh");
        let result = state.signet().refresh(provider);
        let now = state.now();
        match result {
            Ok(_) => {
                self.planner.succeeded(provider, now);
                crate::events::record(
                    app,
                    ActivityKind::Refreshed,
                    Some(provider),
                    "tokens refreshed in the background",
                );
                if let Some(at) = self.flagged.iter().position(|p| p == provider) {
                    self.flagged.swap_remove(at);
                    state.update_activity(provider, |a| a.last_error = None);
                }
                app.state::<AppState>().changed();
            }
            Err(signet_core::Error::Session(SessionError::SignInRequired { reason, .. })) => {
                tracing::warn!(provider, %reason, "the session has ended; sign-in needed");
                let ended = SessionError::SignInRequired {
                    provider: provider.into(),
                    reason: reason.clone(),
                };
                crate::events::failed(app, Some(provider), ended.code(), &ended);
                self.planner.ended(provider, signed_in_at.unwrap_or(now));
                if TokenCache::new(state.paths())
                    .read_session(provider)
                    .is_some()
                {
                    // The IdP failed rather than refused (the session record is kept): show it as an error.
                    let e = SessionError::SignInRequired {
                        provider: provider.into(),
                        reason,
                    };
                    self.flag(
                        &state,
                        provider,
                        ErrorDto {
                            code: e.code().into(),
                            message: e.to_string(),
                        },
                    );
                }
                app.state::<AppState>().changed();
                sign_in_needed(app, provider);
            }
            Err(e) => {
                let retry = self.planner.failed(provider, now);
                tracing::warn!(
                    provider,
                    code = e.code(),
                    error = %e,
                    failures = retry.failures,
                    retry_in_s = (retry.at - now).num_seconds(),
                    "background refresh failed; will retry"
                );
                crate::events::failed(app, Some(provider), e.code(), &e);
                if !e.is_transient() {
                    self.flag(
                        &state,
                        provider,
                        ErrorDto {
                            code: e.code().into(),
                            message: e.to_string(),
                        },
                    );
                    app.state::<AppState>().changed();
                }
                if retry.notify
                    && app
                        .state::<Alerts>()
                        .allow("refresh-failing", provider, now)
                {
                    refresh_failing(app, provider, &e, retry.failures);
                }
            }
        }
    }

    fn flag(&mut self, state: &AppState, provider: &str, error: ErrorDto) {
        if !self.flagged.iter().any(|p| p == provider) {
            self.flagged.push(provider.to_string());
        }
        state.update_activity(provider, |a| a.last_error = Some(error));
    }
}

fn refresh_failing<R: Runtime>(
    app: &AppHandle<R>,
    provider: &str,
    e: &signet_core::Error,
    failures: u32,
) {
    let state = app.state::<AppState>();
    let valid_until = state
        .providers()
        .into_iter()
        .find(|p| p.name == provider)
        .and_then(|p| p.expires_at)
        .filter(|&end| end > state.now())
        .map(|end| format!(" Your current token is valid until {}.", local_time(end)))
        .unwrap_or_default();
    let (summary, body) = if e.is_transient() {
        (
            format!("Refreshing {provider} is failing (network)"),
            format!(
                "Signet could not reach {provider}'s identity provider {failures} times in a row and keeps trying.{valid_until}"
            ),
        )
    } else {
        (
            format!("Refreshing {provider} is failing"),
            format!("{e}.{valid_until}"),
        )
    };
    state.notify(Note::new(summary, body), None);
}

fn warn_expiring<R: Runtime>(app: &AppHandle<R>, provider: &str, ends_at: DateTime<Utc>) {
    let state = app.state::<AppState>();
    if !app
        .state::<Alerts>()
        .allow("expiring", provider, state.now())
    {
        return;
    }
    tracing::info!(provider, %ends_at, "a session that cannot refresh ends soon");
    let clusters = cluster_names(&state, provider);
    let using = if clusters.is_empty() {
        String::new()
    } else {
        format!(" to keep using {clusters}")
    };
    notify_with_sign_in(
        app,
        Note::new(
            format!("Session for {provider} ends soon"),
            format!(
                "{provider} cannot refresh sessions; yours ends at {}. Sign in again{using}.",
                local_time(ends_at)
            ),
        ),
        provider,
    );
    app.state::<AppState>().changed();
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format("%H:%M").to_string()
}

/// Starts the refresh loop on a background thread.
pub fn spawn<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let seed = std::collections::hash_map::RandomState::new().hash_one("signet-refresh");
    let spawned = std::thread::Builder::new()
        .name("refresher".into())
        .spawn(move || run(&app, Refresher::new(seed)));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start background refresh");
    }
}

fn run<R: Runtime>(app: &AppHandle<R>, mut refresher: Refresher) {
    let state = app.state::<AppState>();
    let mut seen = state.changes();
    loop {
        let next = refresher.round(app);
        let now = state.now();
        let wait = next
            .map(|n| (n - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(REPLAN_INTERVAL)
            .min(REPLAN_INTERVAL)
            // Never spin: a task due "now" that the round did not run waits a moment.
            .max(Duration::from_millis(200));
        let planned = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::zero());
        tracing::trace!(?next, wait_s = wait.as_secs(), "refresh planned");
        seen = state.wait_for_change(seen, wait);
        let woke = state.now();
        if woke - planned > LATE {
            tracing::info!(
                late_s = (woke - planned).num_seconds(),
                "woke later than planned (suspend or clock change); re-planning"
            );
        } else if woke < now {
            tracing::info!("the clock went back; re-planning");
        }
    }
}

#[cfg(test)]
mod tests;
