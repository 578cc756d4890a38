use super::*;
use crate::actions::{ID_OPEN, ID_QUIT};
use crate::dto::{AccountDto, ClusterDto};
use signet_core::config::LoginMode;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
        .expect("valid time")
        .with_timezone(&Utc)
}

fn provider(name: &str, signed_in: bool) -> ProviderDto {
    ProviderDto {
        name: name.into(),
        login_mode: LoginMode::Embedded,
        state: if signed_in {
            ProviderState::SignedIn
        } else {
            ProviderState::SignInNeeded
        },
        account: signed_in.then(|| AccountDto {
            subject: "CgVhbGljZQ".into(),
            email: Some("alice@example.com".into()),
            name: None,
            groups: vec!["admins".into()],
            signed_in_at: now(),
            refreshed_at: None,
            refreshable: true,
        }),
        expires_at: signed_in.then(|| now() + chrono::TimeDelta::minutes(30)),
        signing_in: false,
        last_error: None,
        clusters: vec![ClusterDto {
            name: format!("{name}-prod"),
            context: format!("{name}-prod"),
            server: "https://127.0.0.1:6443".into(),
            audience: "kubernetes".into(),
            expires_at: None,
            current: name == "corp",
            namespace: None,
            credentials: Default::default(),
            kubeconfig: "/home/me/.kube/config".into(),
        }],
    }
}

fn labels(view: &TrayView) -> Vec<(String, String)> {
    fn walk(entries: &[Entry], out: &mut Vec<(String, String)>) {
        for e in entries {
            match e {
                Entry::Item { id, label, .. } | Entry::Check { id, label, .. } => {
                    out.push((id.clone(), label.clone()));
                }
                Entry::Submenu { id, label, entries } => {
                    out.push((id.clone(), label.clone()));
                    walk(entries, out);
                }
                Entry::Separator => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&view.entries, &mut out);
    out
}

#[test]
fn menu_ids_round_trip() {
    for action in [
        Action::SignIn("corp".into()),
        Action::CancelSignIn("corp".into()),
        Action::SignOut("dev-eu-1".into()),
        Action::UseBrowser("google".into()),
        Action::UseContext("prod-eu".into()),
        Action::OpenSwitcher,
        Action::ToggleAutostart,
        Action::Quit,
    ] {
        assert_eq!(Action::parse(&action.id()), Some(action.clone()));
    }
    assert_eq!(Action::SignIn("corp".into()).id(), "provider:corp:sign-in");
    for informational in [
        "provider:corp:account",
        "cluster:prod",
        "app:no-providers",
        "provider::sign-in",
    ] {
        assert_eq!(Action::parse(informational), None, "{informational}");
    }
}

/// Issue 12: a running sign-in (a device code waiting for approval has no window to close) can be
/// cancelled from the tray.
#[test]
fn a_running_sign_in_offers_to_cancel_it() {
    let mut corp = provider("corp", false);
    corp.login_mode = LoginMode::Device;
    corp.signing_in = true;
    let rows = labels(&view(&[corp], None, Some(false), now()));
    let at = rows
        .iter()
        .position(|(id, _)| id == "provider:corp:sign-in")
        .expect("the sign-in row");
    assert_eq!(
        rows[at..at + 2],
        [
            (
                "provider:corp:sign-in".into(),
                "Signing in to corp… (show)".into()
            ),
            (
                "provider:corp:cancel-sign-in".into(),
                "Cancel sign-in to corp".into()
            ),
        ],
        "{rows:?}"
    );
    let idle = labels(&view(&[provider("corp", false)], None, Some(false), now()));
    assert!(
        !idle.iter().any(|(id, _)| id.ends_with(":cancel-sign-in")),
        "nothing to cancel when no sign-in runs: {idle:?}"
    );
}

#[test]
fn signed_out_provider_offers_sign_in_and_lists_its_clusters() {
    let v = view(&[provider("corp", false)], None, Some(false), now());
    let rows = labels(&v);
    assert_eq!(
        rows,
        [
            (
                "provider:corp:account".into(),
                "corp — Sign-in needed".into()
            ),
            ("cluster:corp-prod:use".into(), "Cluster corp-prod".into()),
            ("provider:corp:sign-in".into(), "Sign in to corp…".into()),
            (ID_OPEN.into(), "Open Signet…".into()),
            (ID_AUTOSTART.into(), "Start at login".into()),
            (ID_QUIT.into(), "Quit Signet".into()),
        ]
    );
    assert_eq!(v.state, ProviderState::SignInNeeded);
    let checked: Vec<(&str, bool)> = v
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Check { id, checked, .. } => Some((id.as_str(), *checked)),
            _ => None,
        })
        .collect();
    assert_eq!(
        checked,
        [("cluster:corp-prod:use", true), (ID_AUTOSTART, false)],
        "the current context's cluster is checked"
    );
}

#[test]
fn signed_in_provider_shows_account_expiry_and_sign_out() {
    let v = view(
        &[provider("corp", true), provider("dev", false)],
        None,
        None,
        now(),
    );
    let rows = labels(&v);
    let expected_time = (now() + chrono::TimeDelta::minutes(30))
        .with_timezone(&Local)
        .format("%H:%M")
        .to_string();
    assert_eq!(rows[0].1, "corp — alice@example.com");
    assert_eq!(rows[1].1, format!("Token valid until {expected_time}"));
    assert!(
        rows.contains(&("provider:corp:sign-out".into(), "Sign out of corp".into())),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|(id, _)| id == "provider:corp:sign-in"),
        "no sign-in while signed in: {rows:?}"
    );
    assert!(rows.iter().any(|(id, _)| id == "provider:dev:sign-in"));
    assert!(
        !rows.iter().any(|(id, _)| id == ID_AUTOSTART),
        "no autostart row when autostart is unavailable"
    );
    assert_eq!(v.state, ProviderState::SignInNeeded, "dev needs a sign-in");
    assert_eq!(
        v.entries.iter().filter(|e| **e == Entry::Separator).count(),
        2,
        "one separator between providers, one before the app rows"
    );
}

#[test]
fn a_refused_embedded_sign_in_offers_the_system_browser() {
    let mut p = provider("google", false);
    p.state = ProviderState::Error;
    p.last_error = Some(ErrorDto {
        code: "oidc.refused".into(),
        message: "the identity provider said 'disallowed_useragent'".into(),
    });
    let v = view(&[p], None, None, now());
    let rows = labels(&v);
    assert!(rows.contains(&(
        "provider:google:use-browser".into(),
        "Use the system browser for google".into()
    )));
    assert!(rows.contains(&(
        "provider:google:error".into(),
        "Failed: the identity provider said 'disallowed_useragent'".into()
    )));
    assert_eq!(v.state, ProviderState::Error);
}

#[test]
fn no_providers_says_how_to_add_one() {
    let v = view(&[], None, None, now());
    assert_eq!(labels(&v)[0].1, "No providers configured");
    assert_eq!(v.state, ProviderState::SignInNeeded);
}

#[test]
fn long_messages_are_shortened_and_ampersands_kept_literal() {
    let long = "x".repeat(200);
    assert_eq!(shorten(&long).chars().count(), 70);
    assert_eq!(escape("R&D"), "R&&D");
}

/// `count` providers with `per` clusters each, signed out; `team-01-cluster-02` is the current context.
fn many(count: usize, per: usize) -> Vec<ProviderDto> {
    (0..count)
        .map(|p| {
            let mut provider = provider(&format!("team-{p:02}"), false);
            let template = provider.clusters[0].clone();
            provider.clusters = (0..per)
                .map(|c| ClusterDto {
                    name: format!("team-{p:02}-cluster-{c:02}"),
                    context: format!("team-{p:02}-cluster-{c:02}"),
                    current: p == 1 && c == 2,
                    ..template.clone()
                })
                .collect();
            provider
        })
        .collect()
}

#[test]
fn a_config_that_fits_on_a_screen_keeps_the_flat_menu() {
    // 3 providers × 6 clusters: 3 × (account + 6 clusters + sign in) = 24 rows.
    let view = view(&many(3, 6), None, Some(false), now());
    assert!(
        !view
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Submenu { .. })),
        "24 provider rows stay flat: {:?}",
        labels(&view)
    );
    assert!(
        labels(&view).contains(&(
            Action::UseContext("team-02-cluster-05".into()).id(),
            "Cluster team-02-cluster-05".into()
        )),
        "every cluster is a top-level row: {:?}",
        labels(&view)
    );
}

#[test]
fn many_clusters_are_grouped_by_provider_into_submenus() {
    let view = view(&many(50, 20), None, Some(false), now());
    let submenus: Vec<&Entry> = view
        .entries
        .iter()
        .filter(|e| matches!(e, Entry::Submenu { .. }))
        .collect();
    assert_eq!(submenus.len(), 50, "one submenu per provider");
    assert_eq!(
        view.entries.len(),
        50 + 4,
        "the top level holds the 50 submenus, a separator, Open, Start at login and Quit: {:?}",
        view.entries.iter().skip(50).collect::<Vec<_>>()
    );
    let Some(Entry::Submenu { id, label, entries }) = submenus.get(1).copied() else {
        panic!("the second entry is team-01's submenu");
    };
    assert_eq!(id, "provider:team-01:menu");
    assert_eq!(
        label, "team-01 — Sign-in needed · current: team-01-cluster-02",
        "the submenu's label is the account line, with the current context"
    );
    let checks: Vec<(&str, bool)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Check { label, checked, .. } => Some((label.as_str(), *checked)),
            _ => None,
        })
        .collect();
    assert_eq!(checks.len(), 20, "all 20 clusters are in the submenu");
    assert!(
        checks.contains(&("Cluster team-01-cluster-02", true)),
        "the current context is checked in its submenu: {checks:?}"
    );
    assert!(
        entries.iter().any(
            |e| matches!(e, Entry::Item { id, .. } if *id == Action::SignIn("team-01".into()).id())
        ),
        "the provider's sign-in is in its submenu"
    );
    let Some(Entry::Submenu { label, .. }) = submenus.first().copied() else {
        panic!("the first entry is team-00's submenu");
    };
    assert_eq!(
        label, "team-00 — Sign-in needed",
        "no current context there"
    );
}

#[test]
fn a_switched_context_or_toggled_autostart_changes_the_shown_rows_in_place() {
    let mut providers = many(50, 20);
    let shown = view(&providers, None, Some(false), now());
    // `kubectl signet use team-07-cluster-03`, then "Start at login" on.
    providers[1].clusters[2].current = false;
    providers[7].clusters[3].current = true;
    let next = view(&providers, None, Some(true), now());
    let changes = row_changes(&shown.entries, &next.entries).expect("the same rows");
    let submenu = |at: usize| match &next.entries[at] {
        Entry::Submenu { id, .. } => RowChange::Submenu(id, &next.entries[at]),
        other => panic!("entry {at} is a submenu: {other:?}"),
    };
    assert_eq!(
        changes,
        vec![
            submenu(1),
            submenu(7),
            RowChange::Checked(ID_AUTOSTART, true)
        ],
        "the two relabelled submenus are replaced and one check mark set; the other 48 submenus and \
         their 960 rows are left alone"
    );
    let Entry::Submenu { label, .. } = &next.entries[7] else {
        unreachable!("checked above")
    };
    assert_eq!(
        label,
        "team-07 — Sign-in needed · current: team-07-cluster-03"
    );
    // Within a submenu whose label stays, rows change in place.
    let mut errored = providers.clone();
    errored[9].last_error = Some(ErrorDto {
        code: "idp.down".into(),
        message: "the IdP did not answer".into(),
    });
    let failed = view(&errored, None, Some(true), now());
    let Entry::Submenu { entries: rows, .. } = &failed.entries[9] else {
        panic!("team-09 is a submenu")
    };
    assert_eq!(
        row_changes(&next.entries, &failed.entries),
        Some(vec![RowChange::Rows("provider:team-09:menu", rows)]),
        "an error row in team-09's submenu gives it new rows"
    );
    assert_eq!(row_changes(&next.entries, &next.entries), Some(Vec::new()));
}

#[test]
fn a_sign_in_gives_only_its_providers_submenu_new_rows_and_a_new_provider_rebuilds_the_menu() {
    let mut providers = many(50, 20);
    let shown = view(&providers, None, Some(false), now());
    let signed_in = provider("team-04", true);
    providers[4].state = signed_in.state;
    providers[4].account = signed_in.account;
    providers[4].expires_at = signed_in.expires_at;
    let next = view(&providers, None, Some(false), now());
    let changes = row_changes(&shown.entries, &next.entries).expect("the same top-level rows");
    let [RowChange::Submenu("provider:team-04:menu", entry)] = changes.as_slice() else {
        panic!("only team-04's submenu changes: {changes:?}");
    };
    let Entry::Submenu {
        label,
        entries: rows,
        ..
    } = entry
    else {
        panic!("a submenu: {entry:?}");
    };
    assert_eq!(label, "team-04 — alice@example.com");
    assert!(
        rows.iter().any(
            |e| matches!(e, Entry::Item { id, .. } if *id == Action::SignOut("team-04".into()).id())
        ),
        "the new rows offer to sign out: {rows:?}"
    );
    assert_eq!(rows.len(), 20 + 2, "expiry, 20 clusters and sign-out");

    providers.push(provider("team-50", false));
    let grown = view(&providers, None, Some(false), now());
    assert_eq!(
        row_changes(&next.entries, &grown.entries),
        None,
        "a new provider is a new top-level row: the menu is built anew"
    );
    let flat = view(&many(2, 3), None, Some(false), now());
    let mut signed = many(2, 3);
    signed[0].account = provider("team-00", true).account;
    signed[0].state = ProviderState::SignedIn;
    assert_eq!(
        row_changes(
            &flat.entries,
            &view(&signed, None, Some(false), now()).entries
        ),
        None,
        "in a flat menu a sign-in adds top-level rows"
    );
}

#[test]
fn the_publisher_plans_its_next_wake_up_at_the_next_expiry_or_warning_and_never_without_one() {
    let warning = chrono::TimeDelta::minutes(10);
    let signed_out = provider("dev", false);
    assert_eq!(
        next_change(std::slice::from_ref(&signed_out), warning, now()),
        None,
        "nothing changes by itself without a session"
    );
    // Refreshable, expiring in 30 min: the expiry (no warning window for a session that refreshes).
    let corp = provider("corp", true);
    assert_eq!(
        next_change(&[signed_out.clone(), corp.clone()], warning, now()),
        Some(now() + chrono::TimeDelta::minutes(30))
    );
    // Cannot refresh: the warning window starts first.
    let mut ending = corp.clone();
    if let Some(a) = ending.account.as_mut() {
        a.refreshable = false;
    }
    assert_eq!(
        next_change(std::slice::from_ref(&ending), warning, now()),
        Some(now() + chrono::TimeDelta::minutes(20))
    );
    // Two days away: the label loses its weekday 20 hours before the end.
    let mut far = corp.clone();
    far.expires_at = Some(now() + chrono::TimeDelta::days(2));
    assert_eq!(
        next_change(std::slice::from_ref(&far), warning, now()),
        Some(now() + chrono::TimeDelta::hours(28))
    );
    // Already expired: nothing left to wait for.
    let mut over = corp;
    over.expires_at = Some(now() - chrono::TimeDelta::minutes(1));
    assert_eq!(next_change(&[over], warning, now()), None);
}
