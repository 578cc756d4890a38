//! Sign-in from the tray (DESIGN.md §5.1).
//!
//! **embedded** (the default): a `login-<provider>` webview window loads the authorization URL. The redirect
//! URI is `http://127.0.0.1:<port>/callback`, where `<port>` is reserved by binding a listener that is never
//! served: the navigation to it is caught in `on_navigation` and cancelled, so the authorization code
//! never goes over the network, and the URL is handed to
//! [`Signet::finish_login`](signet_core::Signet::finish_login) on a background thread (it redeems the
//! code with the PKCE verifier and checks `state` and `nonce`). The window has no Tauri
//! capability (only the `main` window has one), cannot open popups or download files, and closing it
//! cancels the sign-in. An IdP that refuses embedded browsers (Google's `disallowed_useragent`) ends
//! the sign-in with an offer to switch that provider to `browser` mode.
//!
//! **browser** and **device** run the engine's own flows ([`LoginMethod`]) on a background thread. A
//! device sign-in has no window to close: [`cancel`] (the tray's "Cancel sign-in" row) or signing out
//! ends it, and its polling stops before the next request.
//!
//! One sign-in per provider runs at a time; asking again focuses the running one. Whoever needs the
//! outcome (the agent's `login` requests from `kubectl-signet`) takes a [`Ticket`] and waits on it: every
//! ticket taken before a sign-in ends gets that sign-in's result. Nothing here logs a URL's query: it may
//! carry the code.

use crate::dto::{ActivityKind, ErrorDto, SignInStarted, SignedOut};
use crate::error::AppError;
use crate::notify::Note;
use crate::state::AppState;
use signet_core::config::LoginMode;
use signet_core::oidc::opener::UrlOpener;
use signet_core::oidc::{DeviceCancel, DeviceCode, OidcError};
use signet_core::session::{LoginMethod, Revocation};
use signet_core::token_store::SessionRecord;
use signet_core::usecase;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;
use tauri::webview::{NewWindowResponse, WebviewWindowBuilder};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WindowEvent};
use url::Url;

mod board;
mod navigation;

use board::Attempt;
pub use board::{Logins, Outcome, Ticket};
pub use navigation::{
    Navigation, decide, refuses_embedded, title_refuses_embedded, window_label, window_title,
    without_query,
};

/// The path of the redirect URI.
pub const REDIRECT_PATH: &str = "/callback";

/// How long a `browser` sign-in waits for the redirect.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// The `error` an IdP answers when it refuses embedded browsers (Google, also behind Dex).
pub const DISALLOWED_USERAGENT: &str = "disallowed_useragent";

/// The notification action that switches a provider to `browser` sign-in.
pub const ACTION_USE_BROWSER: &str = "use-browser";

/// Starts a sign-in to `provider` in its configured mode and returns once it is under way (the login
/// window is open, or the browser/device flow started). Blocks on discovery: call it off the main thread.
pub fn start<R: Runtime>(app: &AppHandle<R>, provider: &str) -> Result<SignInStarted, AppError> {
    let state = app.state::<AppState>();
    let signet = state.signet();
    let mode = signet.provider_config(provider)?.login;
    let logins = app.state::<Logins>();
    if !logins.claim(provider) {
        focus_window(app, provider);
        return Ok(SignInStarted {
            provider: provider.into(),
            mode,
            already_running: true,
        });
    }
    state.update_activity(provider, |a| {
        a.signing_in = true;
        a.last_error = None;
    });
    app.state::<AppState>().changed();
    let started = match mode {
        LoginMode::Embedded => open_window(app, provider),
        LoginMode::Browser | LoginMode::Device => spawn_external(app, provider, mode),
    };
    if let Err(e) = &started {
        tracing::warn!(provider, error = %e, "sign-in could not start");
        logins.release(provider, Err(error_dto(e)));
        state.update_activity(provider, |a| {
            a.signing_in = false;
            a.last_error = Some(error_dto(e));
        });
        app.state::<AppState>().changed();
    }
    started.map(|()| SignInStarted {
        provider: provider.into(),
        mode,
        already_running: false,
    })
}

/// [`start`] on a background thread; a failure is shown as a notification.
pub fn spawn_start<R: Runtime>(app: &AppHandle<R>, provider: &str) {
    let (app, provider) = (app.clone(), provider.to_string());
    let spawned = std::thread::Builder::new()
        .name(format!("sign-in-{provider}"))
        .spawn(move || {
            if let Err(e) = start(&app, &provider) {
                app.state::<AppState>().notify(
                    Note::new(format!("Could not sign in to {provider}"), e.to_string()),
                    None,
                );
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the sign-in thread");
    }
}

fn open_window<R: Runtime>(app: &AppHandle<R>, provider: &str) -> Result<(), AppError> {
    let state = app.state::<AppState>();
    let logins = app.state::<Logins>();
    let reservation = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(AppError::Reserve)?;
    let port = reservation.local_addr().map_err(AppError::Reserve)?.port();
    let redirect = Url::parse(&format!("http://127.0.0.1:{port}{REDIRECT_PATH}"))
        .map_err(|e| AppError::Internal(format!("redirect URI: {e}")))?;
    let pending = state.signet().begin_login(provider, &redirect)?;
    let url = pending.url.clone();
    let label = logins.next_label(provider);
    logins.open_window(
        provider,
        Attempt {
            label: label.clone(),
            pending,
            _reservation: reservation,
        },
    );

    let (nav_app, nav_provider, nav_label) = (app.clone(), provider.to_string(), label.clone());
    let (title_app, title_provider, title_label) =
        (app.clone(), provider.to_string(), label.clone());
    // WebDriver can only see windows in the first web context, so under automation the login window
    // shares it; otherwise it gets an ephemeral one: no IdP cookie outlives the sign-in, so "Sign out"
    // really signs out and another account can be used.
    let automation = crate::switcher::under_automation();
    let title = window_title(provider, &url);
    let window = WebviewWindowBuilder::new(app, &label, WebviewUrl::External(url))
        .title(title)
        .inner_size(480.0, 720.0)
        .center()
        .focused(true)
        .incognito(!automation)
        .on_navigation(move |url| match decide(url, &redirect) {
            Navigation::Allow => true,
            Navigation::Capture => {
                captured(&nav_app, &nav_provider, &nav_label, url.clone());
                false
            }
            Navigation::Block => {
                tracing::warn!(provider = %nav_provider, url = %without_query(url), "blocked a navigation from the sign-in page");
                false
            }
            Navigation::EmbeddedRefused => {
                refused_embedded(&nav_app, &nav_provider, &nav_label);
                false
            }
        })
        .on_document_title_changed(move |_, title| {
            if title_refuses_embedded(&title) {
                refused_embedded(&title_app, &title_provider, &title_label);
            }
        })
        .on_new_window(|url, _| {
            tracing::warn!(url = %without_query(&url), "blocked a popup from the sign-in page");
            NewWindowResponse::Deny
        })
        .on_download(|_, event| {
            if let tauri::webview::DownloadEvent::Requested { url, .. } = event {
                tracing::warn!(url = %without_query(&url), "blocked a download from the sign-in page");
            }
            false
        })
        .build()
        .map_err(AppError::Window)?;
    let (close_app, close_provider, close_label) = (app.clone(), provider.to_string(), label);
    window.on_window_event(move |event| {
        if let WindowEvent::Destroyed = event {
            cancelled(&close_app, &close_provider, &close_label);
        }
    });
    tracing::info!(provider, window = window.label(), "login window opened");
    Ok(())
}

/// The login window `label` caught the redirect: finish the sign-in off the main thread.
pub fn captured<R: Runtime>(app: &AppHandle<R>, provider: &str, label: &str, redirected_to: Url) {
    let Some(attempt) = app.state::<Logins>().take_attempt(provider, label) else {
        tracing::debug!(provider, "ignored a redirect for a finished sign-in");
        return;
    };
    tracing::info!(provider, "caught the sign-in redirect");
    let (handle, owned) = (app.clone(), provider.to_string());
    let spawned = std::thread::Builder::new()
        .name(format!("finish-sign-in-{provider}"))
        .spawn(move || {
            let (app, provider) = (handle, owned);
            let Attempt {
                label,
                pending,
                _reservation,
            } = attempt;
            close_window(&app, &label);
            let result = app
                .state::<AppState>()
                .signet()
                .finish_login(&provider, pending, &redirected_to)
                .map_err(AppError::from);
            drop(_reservation);
            finished(&app, &provider, result);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the sign-in thread");
        let failure = AppError::Internal(format!("could not start the sign-in thread: {e}"));
        app_release(app, provider, Err(error_dto(&failure)));
    }
}

fn refused_embedded<R: Runtime>(app: &AppHandle<R>, provider: &str, label: &str) {
    let Some(attempt) = app.state::<Logins>().take_attempt(provider, label) else {
        return;
    };
    tracing::warn!(provider, "the identity provider refuses embedded browsers");
    let (app, provider) = (app.clone(), provider.to_string());
    std::thread::spawn(move || {
        close_window(&app, &attempt.label);
        let refused = OidcError::Refused {
            error: DISALLOWED_USERAGENT.into(),
            description: Some(
                "the identity provider does not allow sign-in from an embedded browser".into(),
            ),
        };
        finished(&app, &provider, Err(AppError::Core(refused.into())));
    });
}

/// The login window `label` was closed before the redirect: that sign-in is cancelled.
pub fn cancelled<R: Runtime>(app: &AppHandle<R>, provider: &str, label: &str) {
    if app
        .state::<Logins>()
        .take_attempt(provider, label)
        .is_none()
    {
        return;
    }
    tracing::info!(provider, "sign-in cancelled: the login window was closed");
    let why = cancelled_error(provider, "the login window was closed");
    app_release(app, provider, Err(error_dto(&why)));
}

/// Cancels the provider's running sign-in from outside its window (the tray's "Cancel sign-in" row): a
/// device sign-in stops polling and ends as cancelled; an open login window closes. Returns whether a
/// sign-in was running to cancel.
pub fn cancel<R: Runtime>(app: &AppHandle<R>, provider: &str) -> bool {
    let logins = app.state::<Logins>();
    if logins.cancel_device(provider) {
        tracing::info!(provider, "cancelling the device sign-in");
        return true;
    }
    let Some(label) = logins.window_of(provider) else {
        return false;
    };
    close_window(app, &label);
    // What the window's `Destroyed` event runs; a no-op if that already ran.
    cancelled(app, provider, &label);
    true
}

fn cancelled_error(provider: &str, reason: &str) -> AppError {
    AppError::SignInCancelled {
        provider: provider.into(),
        reason: reason.into(),
    }
}

fn app_release<R: Runtime>(app: &AppHandle<R>, provider: &str, outcome: Outcome) {
    app.state::<Logins>().release(provider, outcome);
    app.state::<AppState>()
        .update_activity(provider, |a| a.signing_in = false);
    app.state::<AppState>().changed();
}

fn close_window<R: Runtime>(app: &AppHandle<R>, label: &str) {
    if let Some(window) = app.get_webview_window(label)
        && let Err(e) = window.destroy()
    {
        tracing::warn!(window = label, error = %e, "could not close the login window");
    }
}

fn focus_window<R: Runtime>(app: &AppHandle<R>, provider: &str) {
    let Some(label) = app.state::<Logins>().window_of(provider) else {
        return;
    };
    if let Some(window) = app.get_webview_window(&label) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn spawn_external<R: Runtime>(
    app: &AppHandle<R>,
    provider: &str,
    mode: LoginMode,
) -> Result<(), AppError> {
    let (app, provider) = (app.clone(), provider.to_string());
    std::thread::Builder::new()
        .name(format!("sign-in-{provider}"))
        .spawn(move || {
            let state = app.state::<AppState>();
            let signet = state.signet();
            let opener = state.opener.clone();
            let cancel = DeviceCancel::default();
            let result = match mode {
                LoginMode::Device => {
                    app.state::<Logins>().polling(&provider, cancel.clone());
                    let show = |code: &DeviceCode| {
                        state.notify(
                            Note::new(
                                format!("Sign in to {provider}"),
                                format!(
                                    "Open {} and enter the code {}",
                                    code.verification_uri, code.user_code
                                ),
                            ),
                            None,
                        );
                        let target = code
                            .verification_uri_complete
                            .as_deref()
                            .unwrap_or(&code.verification_uri);
                        if let Ok(url) = Url::parse(target)
                            && let Err(e) = opener.open(&url)
                        {
                            tracing::warn!(error = %e, "could not open the verification page");
                        }
                    };
                    signet.login(
                        &provider,
                        LoginMethod::Device {
                            show: &show,
                            cancel: Some(&cancel),
                        },
                    )
                }
                _ => signet.login(
                    &provider,
                    LoginMethod::Browser {
                        opener: &*opener as &dyn UrlOpener,
                        timeout: BROWSER_TIMEOUT,
                    },
                ),
            };
            if result.is_err() && cancel.is_cancelled() {
                tracing::info!(provider, "device sign-in cancelled");
                let why = cancelled_error(&provider, "it was cancelled before it was approved");
                app_release(&app, &provider, Err(error_dto(&why)));
            } else {
                finished(&app, &provider, result.map_err(AppError::from));
            }
        })
        .map(|_| ())
        .map_err(|e| AppError::Internal(format!("could not start the sign-in thread: {e}")))
}

/// Records the outcome of a sign-in, tells the person, and updates the tray.
fn finished<R: Runtime>(
    app: &AppHandle<R>,
    provider: &str,
    result: Result<SessionRecord, AppError>,
) {
    let state = app.state::<AppState>();
    let logins = app.state::<Logins>();
    // Order: kubeconfig, then whoever waits on this sign-in (the agent's `login` requests), then the
    // notification (whose button may start the next sign-in, so the slot is free by then), and last the
    // state the UI shows — so a status that says the sign-in ended implies all of the above happened.
    match result {
        Ok(record) => {
            // Write (or repair) the kubeconfig entries of the provider's clusters (DESIGN.md J2).
            let signed_in =
                usecase::login::signed_in(&state.signet(), record, &state.kubectl_plugin);
            if let Err(e) = &signed_in.synced {
                state.notify(
                    Note::new(
                        format!("Signed in to {provider}, but kubeconfig was not written"),
                        e.to_string(),
                    ),
                    None,
                );
            }
            let clusters = signed_in.clusters();
            logins.release(provider, Ok(()));
            crate::events::record(
                app,
                ActivityKind::SignedIn,
                Some(provider),
                format!(
                    "signed in as {}; contexts written: {}",
                    signed_in.who(),
                    clusters.len()
                ),
            );
            state.notify(signed_in_note(provider, &signed_in.record, &clusters), None);
            state.update_activity(provider, |a| {
                a.signing_in = false;
                a.last_error = None;
            });
        }
        Err(e) => {
            tracing::warn!(provider, code = e.code(), error = %e, "sign-in failed");
            logins.release(provider, Err(error_dto(&e)));
            crate::events::failed(app, Some(provider), e.code(), &e);
            if is_disallowed_useragent(&e) {
                let (action_app, action_provider) = (app.clone(), provider.to_string());
                state.notify(
                    Note::new(
                        format!("{provider} does not allow sign-in in Signet's window"),
                        "Sign in with your system browser instead.",
                    )
                    .with_action(ACTION_USE_BROWSER, "Use the system browser"),
                    Some(Box::new(move |key: &str| {
                        if key == ACTION_USE_BROWSER {
                            crate::actions::perform(
                                &action_app,
                                crate::actions::Action::UseBrowser(action_provider.clone()),
                            );
                        }
                    })),
                );
            } else {
                state.notify(
                    Note::new(format!("Sign-in to {provider} failed"), e.to_string()),
                    None,
                );
            }
            state.update_activity(provider, |a| {
                a.signing_in = false;
                a.last_error = Some(error_dto(&e));
            });
        }
    }
    app.state::<AppState>().changed();
}

/// The "Signed in" notification: who, which groups, which clusters are ready in kubeconfig.
pub fn signed_in_note(provider: &str, record: &SessionRecord, clusters: &[String]) -> Note {
    let who = usecase::login::who(&record.identity);
    let groups = if record.identity.groups.is_empty() {
        "no groups".to_string()
    } else {
        format!("groups {}", record.identity.groups.join(", "))
    };
    let body = if clusters.is_empty() {
        format!("Signed in as {who} ({groups}).")
    } else {
        format!(
            "Signed in as {who} ({groups}). Clusters ready: {}.",
            clusters.join(", ")
        )
    };
    Note::new(format!("Signed in to {provider} as {who}"), body)
}

/// Whether a sign-in failed because the IdP refuses embedded browsers.
pub fn is_disallowed_useragent(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Core(signet_core::Error::Oidc(OidcError::Refused { error, .. }))
            if error == DISALLOWED_USERAGENT
    )
}

/// Switches `provider` to `browser` sign-in (saving the config) and starts a sign-in that way.
pub fn switch_to_browser<R: Runtime>(app: &AppHandle<R>, provider: &str) {
    let state = app.state::<AppState>();
    match state.set_login_mode(provider, LoginMode::Browser) {
        Ok(()) => {
            state.update_activity(provider, |a| a.last_error = None);
            spawn_start(app, provider);
        }
        Err(e) => state.notify(
            Note::new(
                format!("Could not switch {provider} to the system browser"),
                e.to_string(),
            ),
            None,
        ),
    }
}

/// Signs out of `provider` (DESIGN.md J7): revokes where the IdP allows, forgets the tokens, closes a
/// login window still open. Blocks on the network: call it off the main thread.
pub fn sign_out<R: Runtime>(app: &AppHandle<R>, provider: &str) -> Result<SignedOut, AppError> {
    let revocation = app.state::<AppState>().signet().logout(provider)?;
    Ok(signed_out(app, provider, revocation))
}

/// What the app does once a provider's tokens are forgotten: a login window still open closes, the
/// activity and the tray say so.
pub fn signed_out<R: Runtime>(
    app: &AppHandle<R>,
    provider: &str,
    revocation: Revocation,
) -> SignedOut {
    let logins = app.state::<Logins>();
    // A device sign-in's thread ends it as cancelled once its polling stops.
    logins.cancel_device(provider);
    if let Some(label) = logins.window_of(provider)
        && let Some(attempt) = logins.take_attempt(provider, &label)
    {
        close_window(app, &attempt.label);
        let why = cancelled_error(provider, "signed out while the sign-in ran");
        logins.release(provider, Err(error_dto(&why)));
    }
    app.state::<AppState>().update_activity(provider, |a| {
        a.signing_in = false;
        a.last_error = None;
    });
    let signed_out = SignedOut::new(provider, revocation);
    crate::events::record(
        app,
        ActivityKind::SignedOut,
        Some(provider),
        format!("signed out (revocation: {})", signed_out.revocation),
    );
    app.state::<AppState>().changed();
    signed_out
}

/// Starts a sign-in (or joins the running one) and waits up to `timeout` for its outcome. Blocks: call
/// it off the main thread.
pub fn sign_in_and_wait<R: Runtime>(
    app: &AppHandle<R>,
    provider: &str,
    timeout: Duration,
) -> Result<(), AppError> {
    let logins = app.state::<Logins>();
    // The ticket comes first: a sign-in that ends right after it started is not missed.
    let ticket = logins.ticket(provider);
    let started = start(app, provider)?;
    if started.already_running {
        tracing::info!(provider, "joined the running sign-in");
    }
    match logins.wait(&ticket, timeout) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(AppError::SignInFailed {
            code: e.code,
            message: e.message,
        }),
        None => Err(AppError::SignInTimeout {
            provider: provider.into(),
            minutes: timeout.as_secs().div_ceil(60),
        }),
    }
}

/// [`sign_out`] on a background thread, with a notification either way.
pub fn spawn_sign_out<R: Runtime>(app: &AppHandle<R>, provider: &str) {
    let (app, provider) = (app.clone(), provider.to_string());
    std::thread::spawn(move || {
        let note = match sign_out(&app, &provider) {
            Ok(_) => Note::new(
                format!("Signed out of {provider}"),
                "Its tokens are forgotten on this computer.",
            ),
            Err(e) => Note::new(format!("Could not sign out of {provider}"), e.to_string()),
        };
        app.state::<AppState>().notify(note, None);
    });
}

fn error_dto(e: &AppError) -> ErrorDto {
    ErrorDto {
        code: e.code().to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
