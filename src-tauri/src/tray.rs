//! The tray icon and its menu, rebuilt from the providers' state.
//!
//! The menu is first computed as plain data ([`TrayView`]: the icon state and a list of [`Entry`]s with
//! namespaced ids, see [`Action`]), which unit tests check without a display; then it is turned into
//! a Tauri menu on the main thread. A view equal to the one shown is not applied again, and a view with
//! the same rows as the one shown is applied in place ([`row_changes`]): new labels, check marks and
//! enabled states on the live rows; a provider submenu whose rows came or went gets new rows, and one
//! with a new label is replaced. Only when the top-level rows change is the whole menu built and handed
//! to the tray again, which with a thousand clusters costs libayatana-appindicator 65–110 ms (README
//! "Benchmarks").
//!
//! The publisher ([`spawn_publisher`]) sleeps until something changes — in the app, in a file another
//! process wrote ([`watch`]), or the wall clock — or until the next time the view changes by itself (a
//! token expiring, a session entering its warning window, see [`next_change`]); it never polls.
//!
//! With many clusters the flat menu would not fit on a screen, so past [`FLAT_MENU_ROWS`] rows each
//! provider becomes a submenu (its account line is the submenu's label).
//!
//! Linux notes: the tray is a StatusNotifierItem exported by libayatana-appindicator, its menu a
//! `com.canonical.dbusmenu` object; a click on the icon opens the menu (there is no click event), and
//! tooltips are not shown.

pub mod watch;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, TimeDelta, Utc};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::actions::{Action, ID_AUTOSTART};
use crate::dto::{ErrorDto, ProviderDto, ProviderState, StatusDto, overall_state};
use crate::state::AppState;

/// The tray icon's id. libayatana exports it as `/org/ayatana/NotificationItem/tray_icon_tray_app_signet`.
pub const TRAY_ID: &str = "signet";
/// Emitted with a [`StatusDto`] whenever what the switcher shows changed.
pub const STATUS_EVENT: &str = "signet:status-changed";
/// The most provider rows (accounts, expiry, clusters, sign-in/out) a flat menu has. A panel's menu row
/// is about 30 px high, so 25 rows plus the footer still fit on a 768-pixel-high laptop screen without
/// scrolling; past that, each provider becomes a submenu, and a thousand clusters stay reachable
/// (50 provider rows at the top, each cluster one level down). The small configs most people have keep
/// today's flat menu.
pub const FLAT_MENU_ROWS: usize = 25;
/// How long after a planned change the publisher wakes, so that the change has happened by then.
const PLANNED_MARGIN: Duration = Duration::from_millis(100);
/// Expiry times further away than this are shown with the weekday (see [`clock_time`]).
const SHOW_WEEKDAY_AFTER: TimeDelta = TimeDelta::hours(20);

/// One menu row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Item {
        id: String,
        label: String,
        enabled: bool,
    },
    Check {
        id: String,
        label: String,
        checked: bool,
    },
    Separator,
    /// A provider's section as a submenu (many clusters, see [`FLAT_MENU_ROWS`]).
    Submenu {
        id: String,
        label: String,
        entries: Vec<Entry>,
    },
}

fn info(id: String, label: String) -> Entry {
    Entry::Item {
        id,
        label,
        enabled: false,
    }
}

fn action(action: Action, label: String) -> Entry {
    Entry::Item {
        id: action.id(),
        label,
        enabled: true,
    }
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub state: ProviderState,
    pub entries: Vec<Entry>,
}

/// Computes the tray from the providers. `autostart` is `None` when autostart is not available.
pub fn view(
    providers: &[ProviderDto],
    config_error: Option<&ErrorDto>,
    autostart: Option<bool>,
    now: DateTime<Utc>,
) -> TrayView {
    let mut entries = Vec::new();
    if let Some(e) = config_error {
        entries.push(info(
            "app:config-error".into(),
            format!("Config error: {}", shorten(&e.message)),
        ));
        entries.push(Entry::Separator);
    }
    if providers.is_empty() {
        entries.push(info(
            "app:no-providers".into(),
            "No providers configured".into(),
        ));
        entries.push(info(
            "app:add-provider-hint".into(),
            "Set one up with “Open Signet…” or `kubectl signet add provider`".into(),
        ));
    }
    provider_sections(&mut entries, providers, now);
    entries.push(Entry::Separator);
    entries.push(action(Action::OpenSwitcher, "Open Signet…".into()));
    if let Some(checked) = autostart {
        entries.push(Entry::Check {
            id: ID_AUTOSTART.into(),
            label: "Start at login".into(),
            checked,
        });
    }
    entries.push(action(Action::Quit, "Quit Signet".into()));
    TrayView {
        state: overall_state(providers),
        entries,
    }
}

/// Each provider's section: flat, separated, while they fit in [`FLAT_MENU_ROWS`] rows; else one
/// submenu per provider.
fn provider_sections(entries: &mut Vec<Entry>, providers: &[ProviderDto], now: DateTime<Utc>) {
    let sections: Vec<Vec<Entry>> = providers
        .iter()
        .map(|p| {
            let mut section = Vec::new();
            provider_section(&mut section, p, now);
            section
        })
        .collect();
    let rows: usize = sections.iter().map(Vec::len).sum();
    if rows <= FLAT_MENU_ROWS {
        for (i, section) in sections.into_iter().enumerate() {
            if i > 0 {
                entries.push(Entry::Separator);
            }
            entries.extend(section);
        }
        return;
    }
    for (p, section) in providers.iter().zip(sections) {
        entries.push(provider_submenu(p, section));
    }
}

/// A provider's section as a submenu: the account line ("corp — alice@example.com") becomes its label,
/// with the current context when it is one of this provider's clusters.
fn provider_submenu(p: &ProviderDto, mut section: Vec<Entry>) -> Entry {
    let account = match section.first() {
        Some(Entry::Item { label, .. }) => label.clone(),
        _ => p.name.clone(),
    };
    if !section.is_empty() {
        section.remove(0);
    }
    let label = match p.clusters.iter().find(|c| c.current) {
        Some(current) => format!("{account} · current: {}", current.name),
        None => account,
    };
    Entry::Submenu {
        id: format!("provider:{}:menu", p.name),
        label,
        entries: section,
    }
}

/// The rows of one provider: its account line first (always an [`Entry::Item`]).
fn provider_section(entries: &mut Vec<Entry>, p: &ProviderDto, now: DateTime<Utc>) {
    let name = &p.name;
    let who = match &p.account {
        Some(a) => a.email.clone().unwrap_or_else(|| a.subject.clone()),
        None => "Sign-in needed".into(),
    };
    entries.push(info(
        format!("provider:{name}:account"),
        format!("{name} — {who}"),
    ));
    if let Some(a) = &p.account {
        let expiry = match (p.expires_at, a.refreshable) {
            (Some(end), true) if end > now => format!("Token valid until {}", clock_time(end, now)),
            (Some(_), true) => "Token is refreshed on next use".into(),
            (Some(end), false) if end > now => format!("Session ends at {}", clock_time(end, now)),
            (Some(_), false) | (None, false) => "Session ended".into(),
            (None, true) => "No token yet; fetched on next use".into(),
        };
        entries.push(info(format!("provider:{name}:expiry"), expiry));
    }
    if let Some(e) = &p.last_error {
        entries.push(info(
            format!("provider:{name}:error"),
            format!("Failed: {}", shorten(&e.message)),
        ));
    }
    // Choosing a cluster makes its context current; the current one is checked.
    for c in &p.clusters {
        entries.push(Entry::Check {
            id: Action::UseContext(c.name.clone()).id(),
            label: format!("Cluster {}", c.name),
            checked: c.current,
        });
    }
    let signed_in = p.account.is_some() && p.state != ProviderState::SignInNeeded;
    if p.signing_in {
        entries.push(action(
            Action::SignIn(name.clone()),
            format!("Signing in to {name}… (show)"),
        ));
        entries.push(action(
            Action::CancelSignIn(name.clone()),
            format!("Cancel sign-in to {name}"),
        ));
    } else if !signed_in {
        entries.push(action(
            Action::SignIn(name.clone()),
            format!("Sign in to {name}…"),
        ));
    }
    if p.account.is_some() {
        entries.push(action(
            Action::SignOut(name.clone()),
            format!("Sign out of {name}"),
        ));
    }
    let refused_embedded = p
        .last_error
        .as_ref()
        .is_some_and(|e| e.message.contains(crate::login::DISALLOWED_USERAGENT));
    if refused_embedded && p.login_mode == signet_core::config::LoginMode::Embedded {
        entries.push(action(
            Action::UseBrowser(name.clone()),
            format!("Use the system browser for {name}"),
        ));
    }
}

/// `14:32`, or `Tue 14:32` when more than a day away, in local time.
fn clock_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&Local);
    if at - now > SHOW_WEEKDAY_AFTER {
        local.format("%a %H:%M").to_string()
    } else {
        local.format("%H:%M").to_string()
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 70;
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        let cut: String = line.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// muda reads `&` as a mnemonic marker; `&&` is a literal ampersand.
fn escape(label: &str) -> String {
    label.replace('&', "&&")
}

/// The icon for a state.
pub fn icon(state: ProviderState) -> Image<'static> {
    match state {
        ProviderState::SignedIn => tauri::include_image!("../icons/tray-signed-in.png"),
        ProviderState::Expiring => tauri::include_image!("../icons/tray-expiring.png"),
        ProviderState::SignInNeeded => tauri::include_image!("../icons/tray-sign-in.png"),
        ProviderState::Error => tauri::include_image!("../icons/tray-error.png"),
    }
}

fn tooltip(state: ProviderState) -> &'static str {
    match state {
        ProviderState::SignedIn => "Signet — signed in",
        ProviderState::Expiring => "Signet — a session ends soon",
        ProviderState::SignInNeeded => "Signet — sign-in needed",
        ProviderState::Error => "Signet — a sign-in or refresh failed",
    }
}

/// A row of the shown menu that can change in place, by its id.
enum Live<R: Runtime> {
    Item(MenuItem<R>),
    Check(CheckMenuItem<R>),
    Submenu(Submenu<R>),
}

type LiveRows<R> = HashMap<String, Live<R>>;

/// The Tauri menu of `entries` and its live rows; logs how long it took (debug level, `tray menu
/// built`, read by `signet-switcher-bench`).
fn build_menu<R: Runtime>(
    app: &AppHandle<R>,
    entries: &[Entry],
) -> tauri::Result<(Menu<R>, LiveRows<R>)> {
    let started = Instant::now();
    let mut live = HashMap::new();
    let items = menu_items(app, entries, &mut live)?;
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|i| i.as_ref()).collect();
    let menu = Menu::with_items(app, &refs)?;
    tracing::debug!(
        rows = count_rows(entries),
        build_us = micros(started),
        "tray menu built"
    );
    Ok((menu, live))
}

fn menu_items<R: Runtime>(
    app: &AppHandle<R>,
    entries: &[Entry],
    live: &mut LiveRows<R>,
) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
    let mut items: Vec<Box<dyn IsMenuItem<R>>> = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Entry::Item { id, label, enabled } => {
                let item =
                    MenuItem::with_id(app, id.as_str(), escape(label), *enabled, None::<&str>)?;
                live.insert(id.clone(), Live::Item(item.clone()));
                items.push(Box::new(item));
            }
            Entry::Check { id, label, checked } => {
                let item = CheckMenuItem::with_id(
                    app,
                    id.as_str(),
                    escape(label),
                    true,
                    *checked,
                    None::<&str>,
                )?;
                live.insert(id.clone(), Live::Check(item.clone()));
                items.push(Box::new(item));
            }
            Entry::Separator => items.push(Box::new(PredefinedMenuItem::separator(app)?)),
            Entry::Submenu { id, label, entries } => {
                let children = menu_items(app, entries, live)?;
                let refs: Vec<&dyn IsMenuItem<R>> = children.iter().map(|i| i.as_ref()).collect();
                let submenu =
                    Submenu::with_id_and_items(app, id.as_str(), escape(label), true, &refs)?;
                live.insert(id.clone(), Live::Submenu(submenu.clone()));
                items.push(Box::new(submenu));
            }
        }
    }
    Ok(items)
}

/// One change to the shown menu that needs no new menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange<'a> {
    Label(&'a str, &'a str),
    Enabled(&'a str, bool),
    Checked(&'a str, bool),
    /// A submenu whose rows came, went or moved: it gets these rows.
    Rows(&'a str, &'a [Entry]),
    /// A top-level submenu with a new label: it is replaced by a new one. (muda cannot relabel a
    /// submenu on Linux: its row holds a box, not a label, and GTK's `set_label` needs a label.)
    Submenu(&'a str, &'a Entry),
}

/// The changes that turn the shown `entries` into `next` in place, or `None` when the top-level rows
/// came, went or moved (the menu is built anew). Rows are matched by position, kind and id.
pub fn row_changes<'a>(shown: &[Entry], next: &'a [Entry]) -> Option<Vec<RowChange<'a>>> {
    let mut changes = Vec::new();
    same_rows(shown, next, true, &mut changes).then_some(changes)
}

fn same_rows<'a>(
    shown: &[Entry],
    next: &'a [Entry],
    top: bool,
    changes: &mut Vec<RowChange<'a>>,
) -> bool {
    if shown.len() != next.len() {
        return false;
    }
    let label = |changes: &mut Vec<RowChange<'a>>, id: &'a str, old: &str, new: &'a str| {
        if old != new {
            changes.push(RowChange::Label(id, new));
        }
    };
    for (old, new) in shown.iter().zip(next) {
        match (old, new) {
            (Entry::Separator, Entry::Separator) => {}
            (
                Entry::Item {
                    id: a,
                    label: la,
                    enabled: ea,
                },
                Entry::Item {
                    id: b,
                    label: lb,
                    enabled: eb,
                },
            ) if a == b => {
                label(changes, b, la, lb);
                if ea != eb {
                    changes.push(RowChange::Enabled(b, *eb));
                }
            }
            (
                Entry::Check {
                    id: a,
                    label: la,
                    checked: ca,
                },
                Entry::Check {
                    id: b,
                    label: lb,
                    checked: cb,
                },
            ) if a == b => {
                label(changes, b, la, lb);
                if ca != cb {
                    changes.push(RowChange::Checked(b, *cb));
                }
            }
            (
                Entry::Submenu {
                    id: a, label: la, ..
                },
                Entry::Submenu {
                    id: b, label: lb, ..
                },
            ) if a == b && la != lb => {
                if !top {
                    return false;
                }
                changes.push(RowChange::Submenu(b, new));
            }
            (
                Entry::Submenu {
                    id: a, entries: ra, ..
                },
                Entry::Submenu {
                    id: b, entries: rb, ..
                },
            ) if a == b => {
                let mut inner = Vec::new();
                if same_rows(ra, rb, false, &mut inner) {
                    changes.extend(inner);
                } else {
                    changes.push(RowChange::Rows(b, rb));
                }
            }
            _ => return false,
        }
    }
    true
}

/// Applies `changes` to the live rows; `Err` when a row is missing or a call fails (the caller then
/// builds the menu anew).
fn change_rows<R: Runtime>(
    app: &AppHandle<R>,
    shown: &mut ShownMenu<R>,
    changes: &[RowChange<'_>],
) -> tauri::Result<()> {
    let live = &mut shown.rows;
    for change in changes {
        match (change, live.get(change_id(change))) {
            (RowChange::Label(_, text), Some(Live::Item(i))) => i.set_text(escape(text))?,
            (RowChange::Label(_, text), Some(Live::Check(i))) => i.set_text(escape(text))?,
            (RowChange::Enabled(_, on), Some(Live::Item(i))) => i.set_enabled(*on)?,
            (RowChange::Checked(_, on), Some(Live::Check(i))) => i.set_checked(*on)?,
            (RowChange::Rows(_, rows), Some(Live::Submenu(submenu))) => {
                let submenu = submenu.clone();
                forget_rows(live, &submenu)?;
                for old in submenu.items()? {
                    submenu.remove(&old)?;
                }
                let items = menu_items(app, rows, live)?;
                let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|i| i.as_ref()).collect();
                submenu.append_items(&refs)?;
            }
            (RowChange::Submenu(id, entry), Some(Live::Submenu(old))) => {
                let old = old.clone();
                let at = shown.menu.items()?.iter().position(|i| i.id() == id);
                let Some(at) = at else {
                    return Err(
                        std::io::Error::other(format!("no submenu {id} in the menu")).into(),
                    );
                };
                forget_rows(live, &old)?;
                shown.menu.remove(&old)?;
                let item = menu_items(app, std::slice::from_ref(*entry), live)?;
                for (offset, item) in item.iter().enumerate() {
                    shown.menu.insert(item.as_ref(), at + offset)?;
                }
            }
            _ => {
                let id = change_id(change);
                return Err(std::io::Error::other(format!("no row {id} in the shown menu")).into());
            }
        }
    }
    Ok(())
}

fn change_id<'a>(change: &RowChange<'a>) -> &'a str {
    match change {
        RowChange::Label(id, _)
        | RowChange::Enabled(id, _)
        | RowChange::Checked(id, _)
        | RowChange::Rows(id, _)
        | RowChange::Submenu(id, _) => id,
    }
}

/// Drops the live rows of `submenu`'s rows (they are about to be removed).
fn forget_rows<R: Runtime>(live: &mut LiveRows<R>, submenu: &Submenu<R>) -> tauri::Result<()> {
    for row in submenu.items()? {
        live.remove(row.id().as_ref());
    }
    Ok(())
}

fn count_rows(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|e| match e {
            Entry::Submenu { entries, .. } => 1 + count_rows(entries),
            _ => 1,
        })
        .sum()
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Hands `menu` to the tray icon (libayatana-appindicator builds its GTK menu and exports it over
/// dbusmenu); logs how long that took (debug level, `tray menu set`).
fn set_menu<R: Runtime>(tray: &TrayIcon<R>, menu: Menu<R>) -> tauri::Result<()> {
    let started = Instant::now();
    tray.set_menu(Some(menu))?;
    tracing::debug!(set_us = micros(started), "tray menu set");
    Ok(())
}

/// The last status sent to the windows as [`STATUS_EVENT`] (sent again only when it changed).
#[derive(Debug, Default)]
pub struct Emitted(Mutex<Option<StatusDto>>);

/// What the tray shows now: the view applied last and its live rows (touched on the main thread only).
pub struct Shown<R: Runtime>(Mutex<Option<ShownMenu<R>>>);

struct ShownMenu<R: Runtime> {
    view: TrayView,
    menu: Menu<R>,
    rows: LiveRows<R>,
}

impl<R: Runtime> std::fmt::Debug for Shown<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let view = self
            .0
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.view.clone()));
        f.debug_tuple("Shown").field(&view).finish()
    }
}

impl<R: Runtime> Default for Shown<R> {
    fn default() -> Self {
        Shown(Mutex::new(None))
    }
}

/// The tray's view of `status` (the same status the windows are sent).
fn view_of<R: Runtime>(app: &AppHandle<R>, status: &StatusDto) -> TrayView {
    view(
        &status.providers,
        status.config_error.as_ref(),
        autostart_enabled(app),
        app.state::<AppState>().now(),
    )
}

/// Creates the tray icon (desktop only; call from `setup`, on the main thread).
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let view = view_of(app, &app.state::<AppState>().status());
    let (menu, rows) = build_menu(app, &view.entries)?;
    let started = Instant::now();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(view.state))
        .tooltip(tooltip(view.state))
        .menu(&menu)
        .on_menu_event(|app, event| on_menu_event(app, event.id().as_ref()))
        .build(app)?;
    tracing::debug!(set_us = micros(started), "tray menu set");
    if let Ok(mut shown) = app.state::<Shown<R>>().0.lock() {
        *shown = Some(ShownMenu { view, menu, rows });
    }
    tracing::info!(tray = TRAY_ID, "tray icon created");
    Ok(())
}

/// [`redraw`], setting every check mark even where the view did not change: a check item the person
/// clicked has toggled itself and must show the real state again.
pub fn redraw_forced<R: Runtime>(app: &AppHandle<R>) {
    redraw(app, true);
}

/// The next time, after `now`, at which the providers' view changes with no other change: a token
/// expiring, a session that cannot refresh entering its warning window (`warning`), an expiry coming
/// close enough to be shown without its weekday. `None`: nothing changes by itself.
pub fn next_change(
    providers: &[ProviderDto],
    warning: TimeDelta,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    providers
        .iter()
        .filter_map(|p| Some((p.expires_at?, p)))
        .flat_map(|(end, p)| {
            let refreshable = p.account.as_ref().is_some_and(|a| a.refreshable);
            let warn = (!refreshable).then(|| end - warning);
            [Some(end), warn, Some(end - SHOW_WEEKDAY_AFTER)]
        })
        .flatten()
        .filter(|&at| at > now)
        .min()
}

/// Recomputes the view and applies it if it changed; tells the app's windows. Any thread; called by
/// the publisher (see [`spawn_publisher`]). Returns the status it published.
fn redraw<R: Runtime>(app: &AppHandle<R>, recheck: bool) -> StatusDto {
    let state = app.state::<AppState>();
    let status = state.status();
    let changed = app
        .state::<Emitted>()
        .0
        .lock()
        .map(|mut last| {
            let changed = last.as_ref() != Some(&status);
            if changed {
                *last = Some(status.clone());
            }
            changed
        })
        .unwrap_or(true);
    if changed && let Err(e) = app.emit(STATUS_EVENT, &status) {
        tracing::debug!(error = %e, "could not emit the status event");
    }
    if app.tray_by_id(TRAY_ID).is_none() {
        return status;
    }
    let view = view_of(app, &status);
    let handle = app.clone();
    let applied = app.run_on_main_thread(move || apply(&handle, view, recheck));
    if let Err(e) = applied {
        tracing::warn!(error = %e, "could not update the tray");
    }
    status
}

/// Shows `view` on the tray: in place when it has the shown rows, else as a new menu. With `recheck`,
/// every check mark is set (see [`redraw_forced`]).
fn apply<R: Runtime>(app: &AppHandle<R>, view: TrayView, recheck: bool) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let shown = app.state::<Shown<R>>();
    let Ok(mut shown) = shown.0.lock() else {
        return;
    };
    if !recheck && shown.as_ref().is_some_and(|s| s.view == view) {
        return;
    }
    let state_changed = shown.as_ref().is_none_or(|s| s.view.state != view.state);
    let in_place = shown
        .as_mut()
        .is_some_and(|s| update_in_place(app, s, &view, recheck));
    let result = if in_place {
        Ok(())
    } else {
        build_menu(app, &view.entries).and_then(|(menu, rows)| {
            set_menu(&tray, menu.clone())?;
            *shown = Some(ShownMenu {
                view: view.clone(),
                menu,
                rows,
            });
            Ok(())
        })
    };
    let result = result.and_then(|()| {
        if state_changed {
            tray.set_icon(Some(icon(view.state)))?;
            tray.set_tooltip(Some(tooltip(view.state)))?;
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            tracing::debug!(state = ?view.state, "tray updated");
            if let Some(shown) = shown.as_mut() {
                shown.view = view;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not update the tray menu");
            // What the tray shows is not known now: the next view is built anew.
            *shown = None;
        }
    }
}

/// Changes the shown rows into `view`'s; `false` when that takes a new menu (rows came, went or moved
/// at the top level, or a live row could not be changed).
fn update_in_place<R: Runtime>(
    app: &AppHandle<R>,
    shown: &mut ShownMenu<R>,
    view: &TrayView,
    recheck: bool,
) -> bool {
    let started = Instant::now();
    let Some(mut changes) = row_changes(&shown.view.entries, &view.entries) else {
        return false;
    };
    if recheck {
        changes.extend(check_marks(&view.entries));
    }
    match change_rows(app, shown, &changes) {
        Ok(()) => {
            tracing::debug!(
                changes = changes.len(),
                update_us = micros(started),
                "tray menu updated"
            );
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "tray menu not updated in place; building it anew");
            false
        }
    }
}

/// A [`RowChange::Checked`] for every check row of `entries`, submenus included.
fn check_marks(entries: &[Entry]) -> Vec<RowChange<'_>> {
    entries
        .iter()
        .flat_map(|e| match e {
            Entry::Check { id, checked, .. } => vec![RowChange::Checked(id, *checked)],
            Entry::Submenu { entries, .. } => check_marks(entries),
            _ => Vec::new(),
        })
        .collect()
}

/// The one place that publishes the app's state: whenever [`AppState::changed`] is signalled it
/// redraws the tray and tells the windows (the `status` event). Other processes change the config, the
/// token cache and kubeconfig too (`kubectl signet add`, a sign-in or refresh by kubectl): the
/// [`watch`]ers signal those. Between changes it sleeps until the view's [`next_change`].
pub fn spawn_publisher<R: Runtime>(app: &AppHandle<R>) {
    watch::spawn(app);
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("publish".into())
        .spawn(move || {
            let state = app.state::<AppState>();
            let mut seen = state.changes();
            loop {
                let status = redraw(&app, false);
                let warning =
                    TimeDelta::minutes(state.signet().config().settings.warning_minutes.into());
                let now = state.now();
                let wait = next_change(&status.providers, warning, now)
                    .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO) + PLANNED_MARGIN);
                seen = state.wait_for_change(seen, wait);
                state.reload_if_changed();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the publisher");
    }
}

fn autostart_enabled<R: Runtime>(app: &AppHandle<R>) -> Option<bool> {
    let manager = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()?;
    match manager.is_enabled() {
        Ok(enabled) => Some(enabled),
        Err(e) => {
            tracing::debug!(error = %e, "autostart state unknown");
            None
        }
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(action) = Action::parse(id) else {
        tracing::debug!(id, "menu row without an action");
        return;
    };
    tracing::info!(id, "menu action");
    crate::actions::perform(app, action);
}

#[cfg(test)]
mod tests;
