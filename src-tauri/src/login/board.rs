//! Who waits on which sign-in: one running sign-in per provider, and tickets that every waiter taken
//! before it ends can wait on for its outcome.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use signet_core::oidc::{DeviceCancel, PendingLogin};

use super::window_label;
use crate::dto::ErrorDto;

/// An embedded sign-in waiting for its redirect.
pub(super) struct Attempt {
    /// The login window's label.
    pub(super) label: String,
    pub(super) pending: PendingLogin,
    /// Keeps the redirect port ours until the sign-in ends. Never accepted on.
    pub(super) _reservation: TcpListener,
}

pub(super) enum Slot {
    /// Discovery is running, or a browser/device sign-in waits, or a code is being redeemed.
    Busy,
    /// A login window is open.
    Window(Box<Attempt>),
    /// A device sign-in polls for approval; cancelling it ends the polling.
    Device(DeviceCancel),
}

/// How a sign-in ended: signed in, or why not (`app.sign_in_cancelled` when its window was closed).
pub type Outcome = Result<(), ErrorDto>;

/// The sign-ins that ended, per provider: how many, and how the last one did.
#[derive(Debug, Default)]
struct Board {
    ended: u64,
    last: Option<Outcome>,
    waiting: usize,
}

/// A place in line for the end of a provider's sign-in (see [`Logins::ticket`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    provider: String,
    seen: u64,
}

/// The sign-ins running, one per provider (managed state).
#[derive(Default)]
pub struct Logins {
    slots: Mutex<HashMap<String, Slot>>,
    windows: std::sync::atomic::AtomicU32,
    boards: Mutex<HashMap<String, Board>>,
    ended: Condvar,
}

impl std::fmt::Debug for Logins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running: Vec<String> = self
            .slots
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("Logins").field("running", &running).finish()
    }
}

impl Logins {
    /// Claims the provider's slot; `false` if a sign-in already runs.
    pub(super) fn claim(&self, provider: &str) -> bool {
        let Ok(mut slots) = self.slots.lock() else {
            return false;
        };
        if slots.contains_key(provider) {
            return false;
        }
        slots.insert(provider.to_string(), Slot::Busy);
        true
    }

    pub(super) fn open_window(&self, provider: &str, attempt: Attempt) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.insert(provider.to_string(), Slot::Window(Box::new(attempt)));
        }
    }

    /// The provider's running sign-in is a device sign-in that `cancel` ends.
    pub(super) fn polling(&self, provider: &str, cancel: DeviceCancel) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.insert(provider.to_string(), Slot::Device(cancel));
        }
    }

    /// Cancels the provider's device sign-in, if one polls; its thread then ends it.
    pub(super) fn cancel_device(&self, provider: &str) -> bool {
        match self
            .slots
            .lock()
            .ok()
            .as_ref()
            .and_then(|s| s.get(provider))
        {
            Some(Slot::Device(cancel)) => {
                cancel.cancel();
                true
            }
            _ => false,
        }
    }

    pub(super) fn next_label(&self, provider: &str) -> String {
        let n = self
            .windows
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        window_label(provider, n)
    }

    /// Takes the attempt waiting in window `label` (leaving the slot busy); `None` if there is none (it
    /// was captured, cancelled, or belongs to another window).
    pub(super) fn take_attempt(&self, provider: &str, label: &str) -> Option<Attempt> {
        let mut slots = self.slots.lock().ok()?;
        match slots.remove(provider)? {
            Slot::Window(attempt) if attempt.label == label => {
                slots.insert(provider.to_string(), Slot::Busy);
                Some(*attempt)
            }
            other => {
                slots.insert(provider.to_string(), other);
                None
            }
        }
    }

    /// Ends the provider's sign-in and hands `outcome` to every ticket taken before now.
    pub(super) fn release(&self, provider: &str, outcome: Outcome) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(provider);
        }
        if let Ok(mut boards) = self.boards.lock() {
            let board = boards.entry(provider.to_string()).or_default();
            board.ended += 1;
            board.last = Some(outcome);
        }
        self.ended.notify_all();
    }

    /// A ticket for the end of the provider's next (or running) sign-in. Take it *before* starting or
    /// joining the sign-in, so an end that comes quickly is not missed.
    pub fn ticket(&self, provider: &str) -> Ticket {
        let seen = self
            .boards
            .lock()
            .map(|b| b.get(provider).map_or(0, |b| b.ended))
            .unwrap_or(0);
        Ticket {
            provider: provider.to_string(),
            seen,
        }
    }

    /// Waits up to `timeout` for the sign-in after `ticket` to end; `None` on timeout.
    pub fn wait(&self, ticket: &Ticket, timeout: Duration) -> Option<Outcome> {
        let deadline = Instant::now() + timeout;
        let mut boards = self.boards.lock().ok()?;
        boards.entry(ticket.provider.clone()).or_default().waiting += 1;
        let outcome = loop {
            let board = boards.entry(ticket.provider.clone()).or_default();
            if board.ended > ticket.seen {
                break board.last.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            boards = match self.ended.wait_timeout(boards, left) {
                Ok((b, _)) => b,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        if let Some(board) = boards.get_mut(&ticket.provider) {
            board.waiting = board.waiting.saturating_sub(1);
        }
        outcome
    }

    /// How many callers wait for the provider's sign-in to end.
    pub fn waiting(&self, provider: &str) -> usize {
        self.boards
            .lock()
            .map(|b| b.get(provider).map_or(0, |b| b.waiting))
            .unwrap_or(0)
    }

    /// The label of the provider's open login window, if one waits for its redirect.
    pub fn window_of(&self, provider: &str) -> Option<String> {
        match self.slots.lock().ok()?.get(provider)? {
            Slot::Window(attempt) => Some(attempt.label.clone()),
            Slot::Busy | Slot::Device(_) => None,
        }
    }
}
