//! The one handler for what a person asks of the app outside its window: a tray menu row or a
//! notification button names an [`Action`], and [`perform`] does it (long work on its own thread).

use tauri::{AppHandle, Manager, Runtime};

use crate::notify::Note;
use crate::state::AppState;
use crate::{login, manage, switcher, tray};

/// Something the person asked for outside the window. Its [`Action::id`] is the tray menu row's id;
/// informational rows use `provider:<name>:account|expiry|error`, `cluster:<name>` and `app:*` ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SignIn(String),
    /// End the provider's running sign-in (a device sign-in polling, or an open login window).
    CancelSignIn(String),
    SignOut(String),
    /// Switch the provider to `browser` sign-in (offered after `disallowed_useragent`).
    UseBrowser(String),
    /// Make the cluster's context kubectl's current context.
    UseContext(String),
    OpenSwitcher,
    ToggleAutostart,
    Quit,
}

pub const ID_AUTOSTART: &str = "app:autostart";
pub const ID_OPEN: &str = "app:open";
pub const ID_QUIT: &str = "app:quit";

impl Action {
    pub fn id(&self) -> String {
        match self {
            Action::SignIn(p) => format!("provider:{p}:sign-in"),
            Action::CancelSignIn(p) => format!("provider:{p}:cancel-sign-in"),
            Action::SignOut(p) => format!("provider:{p}:sign-out"),
            Action::UseBrowser(p) => format!("provider:{p}:use-browser"),
            Action::UseContext(c) => format!("cluster:{c}:use"),
            Action::OpenSwitcher => ID_OPEN.into(),
            Action::ToggleAutostart => ID_AUTOSTART.into(),
            Action::Quit => ID_QUIT.into(),
        }
    }

    pub fn parse(id: &str) -> Option<Action> {
        match id {
            ID_AUTOSTART => return Some(Action::ToggleAutostart),
            ID_OPEN => return Some(Action::OpenSwitcher),
            ID_QUIT => return Some(Action::Quit),
            _ => {}
        }
        if let Some(cluster) = id
            .strip_prefix("cluster:")
            .and_then(|rest| rest.strip_suffix(":use"))
            .filter(|c| !c.is_empty())
        {
            return Some(Action::UseContext(cluster.to_string()));
        }
        let rest = id.strip_prefix("provider:")?;
        let (provider, verb) = rest.rsplit_once(':')?;
        if provider.is_empty() {
            return None;
        }
        let provider = provider.to_string();
        match verb {
            "sign-in" => Some(Action::SignIn(provider)),
            "cancel-sign-in" => Some(Action::CancelSignIn(provider)),
            "sign-out" => Some(Action::SignOut(provider)),
            "use-browser" => Some(Action::UseBrowser(provider)),
            _ => None,
        }
    }
}

/// Does `action`. Any thread; sign-in, sign-out and context switches run on threads of their own.
pub fn perform<R: Runtime>(app: &AppHandle<R>, action: Action) {
    match action {
        Action::SignIn(provider) => login::spawn_start(app, &provider),
        Action::CancelSignIn(provider) => {
            login::cancel(app, &provider);
        }
        Action::SignOut(provider) => login::spawn_sign_out(app, &provider),
        Action::UseBrowser(provider) => {
            let (app, provider) = (app.clone(), provider.clone());
            std::thread::spawn(move || login::switch_to_browser(&app, &provider));
        }
        Action::UseContext(cluster) => {
            let app = app.clone();
            std::thread::spawn(move || {
                if let Err(e) = manage::use_context(&app, &cluster, None) {
                    tracing::warn!(cluster, error = %e, "could not switch context");
                    app.state::<AppState>().notify(
                        Note::new(format!("Could not switch to {cluster}"), e.to_string()),
                        None,
                    );
                }
                // The check mark muda toggled on click must follow the kubeconfig, not the click.
                tray::redraw_forced(&app);
            });
        }
        Action::OpenSwitcher => {
            if let Err(e) = switcher::open(app) {
                tracing::warn!(error = %e, "could not open the switcher window");
            }
        }
        Action::ToggleAutostart => {
            if let Some(manager) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() {
                let result = match manager.is_enabled() {
                    Ok(true) => manager.disable(),
                    _ => manager.enable(),
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not change autostart");
                }
            }
            app.state::<AppState>().changed();
        }
        Action::Quit => app.exit(0),
    }
}
