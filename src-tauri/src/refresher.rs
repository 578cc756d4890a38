//! Background refresh (DESIGN.md §5.3) and the notifications about sessions: sign-in needed, refresh
//! failing for a network reason, a session that cannot refresh ending soon.
//!
//! The [`RefreshPlanner`] (in `signet_core::schedule`) is pure: given each provider's session as the cache
//! describes it (times only, never a token) and "now", it says which refreshes and warnings are due and
//! when to look again. The loop ([`spawn`]) runs it on a background thread against the app's clock:
//!
//! - each refreshable session is refreshed at [`next_refresh_at`](signet_core::schedule::next_refresh_at) of its earliest token (~80% of the
//!   lifetime, at least 2 minutes before `exp`, minus a random jitter of up to [`MAX_JITTER`](signet_core::schedule::MAX_JITTER)), but never
//!   again within [`MIN_SPACING`](signet_core::schedule::MIN_SPACING) (or half a lifetime) of the last refresh, so a short-lived token or a
//!   skewed clock cannot cause a refresh storm;
//! - network failures are retried after [`backoff`](signet_core::schedule::backoff); after [`FAILURES_BEFORE_NOTICE`](signet_core::schedule::FAILURES_BEFORE_NOTICE) in a row the
//!   person is told once;
//! - a session the IdP ended (`session.sign_in_required`) is not tried again; the tray is rebuilt and one
//!   "Sign-in needed" notification with a "Sign in" button appears;
//! - the loop sleeps until the next task is due, and re-plans from the wall clock at once when the config
//!   or a provider's state changes — also when another process changed a file, or the wall clock was set
//!   or the machine resumed from suspend (when monotonic sleeps stand still): the tray's watchers signal
//!   those (`tray::watch`). It never wakes on a timer of its own.
//!
//! Every notification goes through one [`RateLimiter`] keyed by kind and provider ([`Alerts`]); a missing
//! notification daemon is the notifier's business (logged, never fatal).

use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Local, TimeDelta, Utc};
use signet_core::schedule::{RefreshPlanner, Task, sessions};
use signet_core::session::SessionError;
use signet_core::token_store::TokenCache;
use tauri::{AppHandle, Manager, Runtime};

use crate::actions::Action;
use crate::dto::{ActivityKind, ErrorDto};
use crate::notify::{Note, RateLimiter};
use crate::state::AppState;

/// At most one notification of a kind per provider this often.
pub const NOTICE_WINDOW: TimeDelta = TimeDelta::minutes(5);
/// The key of the "Sign in" button on notifications.
pub const ACTION_SIGN_IN: &str = "sign-in";
/// A wake-up this much later than planned is logged as a suspend or clock change.
const LATE: TimeDelta = TimeDelta::seconds(10);

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
                crate::actions::perform(&action_app, Action::SignIn(action_provider.clone()));
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

/// The refresh loop's state between rounds.
#[derive(Debug)]
pub struct Refresher {
    planner: RefreshPlanner,
    /// Providers whose `last_error` this loop set (and so clears after a good refresh).
    flagged: Vec<String>,
}

impl Refresher {
    pub fn new(seed: u64) -> Refresher {
        Refresher {
            planner: RefreshPlanner::new(seed),
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
            let sessions = sessions(&state.signet());
            self.planner.retain(&sessions);
            let plan = self.planner.plan(&sessions, now);
            // A sign-in running in the app brings fresh tokens itself (and may be half-written): its end
            // signals a change, and the loop plans again then.
            let due: Vec<Task> = plan
                .due
                .into_iter()
                .filter(|t| !matches!(t, Task::Refresh { provider } if state.signing_in(provider)))
                .collect();
            if due.is_empty() {
                return plan.next;
            }
            for task in due {
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
        let wait = next.map(|n| {
            (n - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                // Never spin: a task due "now" that the round did not run waits a moment.
                .max(Duration::from_millis(200))
        });
        tracing::trace!(?next, wait_s = wait.map(|w| w.as_secs()), "refresh planned");
        seen = state.wait_for_change(seen, wait);
        let woke = state.now();
        let planned = wait.map(|w| now + TimeDelta::from_std(w).unwrap_or(TimeDelta::zero()));
        if let Some(planned) = planned
            && woke - planned > LATE
        {
            tracing::info!(
                late_s = (woke - planned).num_seconds(),
                "woke later than planned (suspend or clock change); re-planning"
            );
        } else if woke < now {
            tracing::info!("the clock went back; re-planning");
        }
    }
}
