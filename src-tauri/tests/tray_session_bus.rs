//! The real `signet` binary under Xvfb on its own D-Bus session (DESIGN.md §7): the tray's
//! StatusNotifierItem is exported, its dbusmenu lists the provider section, "Sign in" clicked through
//! dbusmenu `Event` opens the login window (the menu then says the sign-in runs), a second launch
//! leaves the first instance in charge (single-instance plugin), which opens its switcher window, and
//! sign-out is confirmed through the recording notification server on the same bus.
//!
//! Needs Xvfb, dbus-run-session, busctl and gnome-keyring (the shared session in `common::session`):
//! `scripts/setup.sh` installs them. Never skipped.

mod common;
use common::Received;
use common::session::{self, APP, Session};

use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

use signet_core::config::{Config, LoginMode};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::{ClosedPort, cluster, provider, seed_session};

#[test]
fn tray_menu_is_on_the_session_bus_and_sign_in_opens_the_login_window() {
    let idp = Idp::start(IdpOptions::default());
    let root = tempfile::tempdir().expect("create the test root");
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Embedded;
    let config = Config {
        providers: vec![corp],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    };
    let session = Session::start(root.path(), Some(&config));
    let started = Instant::now();
    let app = session::spawn_app(&session);
    let tray = session.tray(app.pid());
    eprintln!(
        "tray exported {:?} after launch (display {})",
        started.elapsed(),
        session.display
    );
    let shown = session.labels(&tray);
    for expected in [
        "corp — Sign-in needed",
        "Cluster prod",
        "Sign in to corp…",
        "Quit Signet",
    ] {
        assert!(
            shown.iter().any(|l| l == expected),
            "the tray menu lists {expected:?}; it shows {shown:?}"
        );
    }
    assert!(
        shown.iter().any(|l| l == "Start at login"),
        "the autostart toggle is there: {shown:?}"
    );
    assert_eq!(
        session.log_count("switcher window opened"),
        0,
        "with a provider configured and no WebDriver, the app starts in the tray only:\n{}",
        session.app_log()
    );

    // A second launch hands over to the first and exits; the first brings its window forward.
    let mut second = session
        .command(APP)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a second signet");
    let exited = session.wait("the second instance to exit", 30, || {
        second.try_wait().expect("poll the second instance")
    });
    assert!(
        exited.success(),
        "the second instance exits cleanly: {exited}"
    );
    assert_eq!(
        session.tray(app.pid()),
        tray,
        "the first instance keeps running and keeps its tray"
    );
    session.wait(
        "the first instance to open its switcher window for the second launch",
        30,
        || (session.log_count("switcher window opened") == 1).then_some(()),
    );
    assert_eq!(
        session.log_count("a second instance was started; this one stays"),
        1,
        "the first instance saw the second launch once:\n{}",
        session.app_log()
    );
    assert!(
        session.recorder.received().is_empty(),
        "a window opened, so no \"already running\" notification: {:?}",
        session.recorder.received()
    );

    // "Sign in" through dbusmenu, as a click in the panel would.
    session.click(&tray, "Sign in to corp…");
    session.wait("the login window", 30, || {
        session
            .app_log()
            .contains("login window opened")
            .then_some(())
    });
    let shown = session.wait("the menu to say the sign-in runs", 30, || {
        let shown = session.labels(&tray);
        shown
            .iter()
            .any(|l| l == "Signing in to corp… (show)")
            .then_some(shown)
    });
    assert!(
        !shown.iter().any(|l| l == "Sign in to corp…"),
        "no second sign-in row while one runs: {shown:?}"
    );
    let log = session.app_log();
    assert!(
        !log.contains("code=") && !log.contains("code_verifier"),
        "the app log never holds a code:\n{log}"
    );

    // Keep a copy of the log with the test output.
    let _ = std::io::stderr().write_all(format!("app log:\n{log}\n").as_bytes());
}

#[test]
fn a_sign_in_and_a_config_edit_by_another_process_show_in_the_tray() {
    let root = tempfile::tempdir().expect("create the test root");
    let idp_down = ClosedPort::new();
    let mut config = Config {
        providers: vec![provider("corp", &idp_down.url("/dex"), None)],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    };
    let paths = session::app_paths(root.path());
    let session = Session::start(root.path(), Some(&config));
    let app = session::spawn_app(&session);
    let tray = session.tray(app.pid());
    session.wait("the menu to show the signed-out provider", 30, || {
        session
            .labels(&tray)
            .iter()
            .any(|l| l == "corp — Sign-in needed")
            .then_some(())
    });

    // What `kubectl signet login corp` leaves behind, written by this (another) process.
    seed_session(&paths, "corp");
    session.wait("the menu to show the sign-in", 30, || {
        session
            .labels(&tray)
            .iter()
            .any(|l| l == "corp — alice@example.com")
            .then_some(())
    });

    // `kubectl signet add cluster staging`: the config replaced atomically by another process.
    config
        .clusters
        .push(cluster("staging", "corp", Some("kubernetes")));
    config
        .save(&paths.config_file)
        .expect("save the config with a second cluster");
    let shown = session.wait("the menu to list the new cluster", 30, || {
        let shown = session.labels(&tray);
        shown
            .iter()
            .any(|l| l == "Cluster staging")
            .then_some(shown)
    });
    assert!(
        shown.iter().any(|l| l == "corp — alice@example.com"),
        "still signed in after the config was reloaded: {shown:?}"
    );
}

#[test]
fn a_signed_in_session_shows_in_the_tray_and_sign_out_forgets_it() {
    let root = tempfile::tempdir().expect("create the test root");
    // The IdP is never contacted: the session comes from the cache, and sign-out finds no refresh token.
    let idp_down = ClosedPort::new();
    let config = Config {
        providers: vec![provider("corp", &idp_down.url("/dex"), None)],
        clusters: vec![cluster("prod", "corp", Some("kubernetes"))],
        ..Config::default()
    };
    let paths = session::app_paths(root.path());
    seed_session(&paths, "corp");
    let session = Session::start(root.path(), Some(&config));
    let app = session::spawn_app(&session);
    let tray = session.tray(app.pid());
    let shown = session.labels(&tray);
    for expected in [
        "corp — alice@example.com",
        "Cluster prod",
        "Sign out of corp",
    ] {
        assert!(
            shown.iter().any(|l| l == expected),
            "the tray menu lists {expected:?}; it shows {shown:?}"
        );
    }
    assert!(
        shown.iter().any(|l| l.starts_with("Token valid until ")),
        "the expiry is shown: {shown:?}"
    );
    assert!(
        !shown.iter().any(|l| l == "Sign in to corp…"),
        "no sign-in row while signed in: {shown:?}"
    );

    session.click(&tray, "Sign out of corp");
    let shown = session.wait("the menu to show the sign-out", 30, || {
        let shown = session.labels(&tray);
        shown
            .iter()
            .any(|l| l == "corp — Sign-in needed")
            .then_some(shown)
    });
    assert!(
        shown.iter().any(|l| l == "Sign in to corp…"),
        "signed out, the menu offers to sign in: {shown:?}"
    );
    let note = session.wait("the signed-out notification", 30, || {
        session.recorder.received().into_iter().next()
    });
    assert_eq!(
        note,
        Received {
            app_name: "Signet".into(),
            summary: "Signed out of corp".into(),
            body: "Its tokens are forgotten on this computer.".into(),
            actions: vec![],
        },
        "the sign-out is confirmed"
    );
    assert!(
        !paths.tokens_dir().join("corp").exists(),
        "the cached tokens are gone"
    );

    // "Start at login" writes an XDG autostart entry under this test's HOME.
    session.click(&tray, "Start at login");
    let autostart_dir = root.path().join("home/.config/autostart");
    // The autostart crate creates the file, then writes it: wait for the written entry, not the empty file.
    let entry = session.wait("the autostart entry", 30, || {
        std::fs::read_dir(&autostart_dir)
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "desktop"))
            .map(|e| std::fs::read_to_string(e.path()).expect("read the autostart entry"))
            .filter(|text| text.contains("[Desktop Entry]") && text.contains("Exec="))
    });
    assert!(
        entry.contains("signet"),
        "the autostart entry starts signet:\n{entry}"
    );

    // SIGTERM (a session logout) ends the app as "Quit" does: its agent socket goes with it.
    let socket = paths
        .runtime_dir
        .as_ref()
        .expect("XDG_RUNTIME_DIR is set")
        .join("agent.sock");
    assert!(socket.exists(), "the agent listens while the app runs");
    drop(app); // SIGTERM, then waits for the exit
    assert!(
        !socket.exists(),
        "the exit handler removed {} after SIGTERM",
        socket.display()
    );
}

/// The children of the dbusmenu layout's top level: `(label, labels of its submenu rows)`.
fn top_level(layout: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let children = layout["data"][1][2].as_array().cloned().unwrap_or_default();
    children
        .iter()
        .map(|child| {
            let node = &child["data"];
            let label = node[1]["label"]["data"]
                .as_str()
                .unwrap_or("")
                .replace("__", "_");
            let rows = node[2]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r["data"][1]["label"]["data"].as_str())
                        .map(|l| l.replace("__", "_"))
                        .collect()
                })
                .unwrap_or_default();
            (label, rows)
        })
        .collect()
}

#[test]
fn many_clusters_are_grouped_by_provider_into_submenus_whose_rows_still_act() {
    // 3 providers × 12 clusters: 42 provider rows, more than fit on a screen.
    let root = tempfile::tempdir().expect("create the test root");
    let mut config = Config::default();
    for p in 0..3 {
        let name = format!("team-{p}");
        config.providers.push(provider(
            &name,
            &format!("https://dex-{p}.example.com"),
            None,
        ));
        for c in 0..12 {
            config.clusters.push(cluster(
                &format!("{name}-c{c:02}"),
                &name,
                Some("kubernetes"),
            ));
        }
    }
    let session = Session::start(root.path(), Some(&config));
    let app = session::spawn_app(&session);
    let tray = session.tray(app.pid());
    let top = session.wait("the providers' submenus in the tray menu", 30, || {
        let top = top_level(&session.layout(&tray));
        top.iter()
            .any(|(label, _)| label == "team-2 — Sign-in needed")
            .then_some(top)
    });
    let labels: Vec<&str> = top.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels[..3],
        [
            "team-0 — Sign-in needed",
            "team-1 — Sign-in needed",
            "team-2 — Sign-in needed"
        ],
        "one top-level row per provider: {top:?}"
    );
    assert!(
        labels.contains(&"Open Signet…") && labels.contains(&"Quit Signet"),
        "the footer stays at the top level: {labels:?}"
    );
    let (_, team1) = &top[1];
    assert_eq!(
        team1.len(),
        13,
        "team-1's submenu holds its 12 clusters and its sign-in: {team1:?}"
    );
    assert!(
        team1.contains(&"Cluster team-1-c05".to_string())
            && team1.contains(&"Sign in to team-1…".to_string()),
        "team-1's rows are in its submenu: {team1:?}"
    );

    // A row inside a submenu acts as a top-level one did.
    session.click(&tray, "Cluster team-1-c05");
    session.wait("the app to act on the submenu row", 30, || {
        session
            .app_log()
            .contains("id=\"cluster:team-1-c05:use\"")
            .then_some(())
    });

    // `kubectl signet login team-1` in another process: team-1's submenu gets its new rows in place,
    // on the menu the tray already exports (no new menu is handed to libayatana-appindicator).
    let menus_set = session.log_count("tray menu set");
    seed_session(&session::app_paths(root.path()), "team-1");
    let team1 = session.wait("team-1's submenu to show the sign-in", 30, || {
        let top = top_level(&session.layout(&tray));
        top.into_iter()
            .find(|(label, rows)| {
                label.starts_with("team-1 — alice@example.com")
                    && rows.contains(&"Sign out of team-1".to_string())
            })
            .map(|(_, rows)| rows)
    });
    assert!(
        !team1.contains(&"Sign in to team-1…".to_string()) && team1.len() == 14,
        "team-1's submenu holds its expiry, 12 clusters and sign-out: {team1:?}"
    );
    assert!(
        session.log_count("tray menu updated") >= 1
            && session.log_count("tray menu set") == menus_set,
        "the menu was changed in place, not built and set again:\n{}",
        session.app_log()
    );
    session.click(&tray, "Sign out of team-1");
    session.wait("team-1 signed out again, in place", 30, || {
        let top = top_level(&session.layout(&tray));
        top.iter()
            .any(|(label, rows)| {
                label == "team-1 — Sign-in needed"
                    && rows.contains(&"Sign in to team-1…".to_string())
            })
            .then_some(())
    });
}
