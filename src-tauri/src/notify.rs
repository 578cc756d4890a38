//! Desktop notifications behind a small port: the real one talks to `org.freedesktop.Notifications`
//! through notify-rust; the recording one lets tests read what the person would have seen.
//!
//! A missing notification daemon is normal on servers and in CI: showing a notification never fails the
//! caller, it only logs. Notification text is written for a person and never holds a token or a code.
//!
//! Notification text often carries text from outside (an IdP's `error_description`, a catalog's names):
//! [`Note`] escapes control and bidi characters when it is made, and the desktop notifier escapes markup
//! in the body, which the freedesktop spec lets servers interpret (`<b>`, `<a href>`, `&entities;`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use chrono::{DateTime, TimeDelta, Utc};
use signet_core::text::{printable, printable_multiline};

/// Something to tell the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    pub body: String,
    /// Buttons, as `(key, label)`; the key of the one pressed is passed to the `on_action` callback.
    pub actions: Vec<(String, String)>,
}

impl Note {
    /// A note with control characters escaped (the summary is one line; the body keeps line breaks).
    pub fn new(summary: impl Into<String>, body: impl Into<String>) -> Note {
        Note {
            summary: printable(&summary.into()).into_owned(),
            body: printable_multiline(&body.into()).into_owned(),
            actions: Vec::new(),
        }
    }

    /// Adds a button.
    pub fn with_action(mut self, key: &str, label: &str) -> Note {
        self.actions
            .push((printable(key).into_owned(), printable(label).into_owned()));
        self
    }
}

/// What `on_action` is called with when the note was closed without a button being pressed.
pub const CLOSED: &str = "__closed";

/// What `on_action` is called with when the note could not be shown (no notification server).
pub const UNSHOWN: &str = "__unshown";

/// Called with the action key the person pressed (`default` for a click on the note itself), [`CLOSED`],
/// or [`UNSHOWN`].
pub type OnAction = Box<dyn FnOnce(&str) + Send + 'static>;

/// Shows notifications. Implementations must not block the caller for long and must not fail it.
pub trait Notifier: Send + Sync {
    fn notify(&self, note: Note, on_action: Option<OnAction>);
}

/// The desktop's notification server (notify-rust over D-Bus). One background thread shows the notes one
/// after another, in the order they were given (a note with a button then waits for the press on a thread
/// of its own): callers never block, and what the person sees keeps the order of events.
#[derive(Debug, Default)]
pub struct DesktopNotifier {
    queue: Mutex<Option<mpsc::Sender<Queued>>>,
}

/// A note waiting to be shown, with what its button does.
type Queued = (Note, Option<OnAction>);

impl Notifier for DesktopNotifier {
    fn notify(&self, note: Note, on_action: Option<OnAction>) {
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
        if queue.is_none() {
            let (send, receive) = mpsc::channel::<Queued>();
            let spawned = std::thread::Builder::new()
                .name("notify".into())
                .spawn(move || {
                    for (note, on_action) in receive {
                        show_desktop(note, on_action);
                    }
                });
            match spawned {
                Ok(_) => *queue = Some(send),
                Err(e) => {
                    tracing::warn!(error = %e, "could not start the notification thread");
                    return;
                }
            }
        }
        if let Some(send) = queue.as_ref()
            && send.send((note, on_action)).is_err()
        {
            tracing::warn!("the notification thread has ended; the note is dropped");
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn show_desktop(note: Note, on_action: Option<OnAction>) {
    let mut n = notify_rust::Notification::new();
    n.appname("Signet")
        .summary(&note.summary)
        .body(&desktop_body(&note.body));
    for (key, label) in &note.actions {
        n.action(key, label);
    }
    match n.show() {
        Ok(handle) => {
            tracing::debug!(summary = %note.summary, "notification shown");
            if let Some(on_action) = on_action {
                let waiting = std::thread::Builder::new()
                    .name("notify-action".into())
                    .spawn(move || {
                        handle.wait_for_action(move |key| on_action(key));
                    });
                if let Err(e) = waiting {
                    tracing::warn!(error = %e, "could not wait for the notification's button");
                }
            }
        }
        Err(e) => {
            tracing::info!(
                summary = %note.summary,
                body = %note.body,
                error = %e,
                "no notification server; the message is only logged"
            );
            if let Some(on_action) = on_action {
                on_action(UNSHOWN);
            }
        }
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show_desktop(note: Note, _on_action: Option<OnAction>) {
    match notify_rust::Notification::new()
        .appname("Signet")
        .summary(&note.summary)
        .body(&desktop_body(&note.body))
        .show()
    {
        Ok(_) => tracing::debug!(summary = %note.summary, "notification shown"),
        Err(e) => {
            tracing::info!(summary = %note.summary, body = %note.body, error = %e, "notification failed; the message is only logged")
        }
    }
}

/// The body as the notification server gets it: markup characters escaped, so text from an IdP or a
/// catalog shows as written and cannot add links or formatting (the freedesktop body is a markup subset).
fn desktop_body(body: &str) -> String {
    body.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most one notification per key (kind and provider) per `window`, by the app's clock.
///
/// A clock that jumped back before the last notification does not silence the key until it catches up:
/// a time earlier than the last one shown counts as a new window.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    window: TimeDelta,
    last: HashMap<String, DateTime<Utc>>,
}

impl RateLimiter {
    pub fn new(window: TimeDelta) -> RateLimiter {
        RateLimiter {
            window,
            last: HashMap::new(),
        }
    }

    /// Whether a notification for `key` may be shown at `now`; if so, it counts as shown.
    pub fn allow(&mut self, key: &str, now: DateTime<Utc>) -> bool {
        let allowed = self
            .last
            .get(key)
            .is_none_or(|&last| now < last || now - last >= self.window);
        if allowed {
            self.last.insert(key.to_string(), now);
        }
        allowed
    }
}

/// Records notifications instead of showing them (tests); can press a notification's button.
#[derive(Default)]
pub struct RecordingNotifier {
    shown: Mutex<Vec<Note>>,
    actions: Mutex<Vec<(usize, OnAction)>>,
}

impl std::fmt::Debug for RecordingNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingNotifier")
            .field("shown", &self.shown())
            .finish_non_exhaustive()
    }
}

impl RecordingNotifier {
    pub fn new() -> Arc<RecordingNotifier> {
        Arc::default()
    }

    /// Every notification so far, oldest first.
    pub fn shown(&self) -> Vec<Note> {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Presses the button of the `index`-th notification; `false` if it had none (or it was pressed).
    pub fn press(&self, index: usize, key: &str) -> bool {
        let callback = self.actions.lock().ok().and_then(|mut actions| {
            let at = actions.iter().position(|(i, _)| *i == index)?;
            Some(actions.remove(at).1)
        });
        match callback {
            Some(callback) => {
                callback(key);
                true
            }
            None => false,
        }
    }
}

impl Notifier for RecordingNotifier {
    fn notify(&self, note: Note, on_action: Option<OnAction>) {
        let Ok(mut shown) = self.shown.lock() else {
            return;
        };
        let index = shown.len();
        shown.push(note);
        if let (Some(callback), Ok(mut actions)) = (on_action, self.actions.lock()) {
            actions.push((index, callback));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
    }

    /// Issue 12: an IdP's `error_description` or a catalog's names reach notifications; a control
    /// character must not, and the body's markup must not be interpreted by the notification server.
    #[test]
    fn notes_escape_control_characters_and_the_desktop_body_escapes_markup() {
        let note = Note::new(
            "Sign-in to corp\u{1b}[2J failed",
            "the identity provider said 'x': <b>click</b> & go\u{7}\nline two\r",
        )
        .with_action("open\u{1b}", "Open\u{202e}");
        assert_eq!(note.summary, "Sign-in to corp\\u{1b}[2J failed");
        assert_eq!(
            note.body,
            "the identity provider said 'x': <b>click</b> & go\\u{7}\nline two\\u{d}"
        );
        assert_eq!(
            note.actions,
            vec![("open\\u{1b}".to_string(), "Open\\u{202e}".to_string())]
        );
        assert_eq!(
            desktop_body(&note.body),
            "the identity provider said 'x': &lt;b&gt;click&lt;/b&gt; &amp; go\\u{7}\nline two\\u{d}"
        );
    }

    #[test]
    fn rate_limiter_allows_one_per_key_per_window() {
        let mut limiter = RateLimiter::new(TimeDelta::minutes(5));
        assert!(
            limiter.allow("sign-in-needed:corp", at(0)),
            "the first one is shown"
        );
        assert!(
            !limiter.allow("sign-in-needed:corp", at(10)),
            "a second within the window is not"
        );
        assert!(
            limiter.allow("sign-in-needed:dev", at(10)),
            "another provider has its own window"
        );
        assert!(
            limiter.allow("refresh-failing:corp", at(10)),
            "another kind has its own window"
        );
        assert!(
            !limiter.allow("sign-in-needed:corp", at(299)),
            "still within five minutes"
        );
        assert!(
            limiter.allow("sign-in-needed:corp", at(300)),
            "five minutes later it may be shown again"
        );
        assert!(
            !limiter.allow("sign-in-needed:corp", at(301)),
            "and the window starts over"
        );
    }

    #[test]
    fn rate_limiter_is_not_silenced_by_a_clock_that_jumped_back() {
        let mut limiter = RateLimiter::new(TimeDelta::minutes(5));
        assert!(limiter.allow("k", at(1_000)));
        assert!(
            limiter.allow("k", at(0)),
            "a time before the last notification is a new window, not a 17-minute silence"
        );
        assert!(!limiter.allow("k", at(60)));
    }
}
