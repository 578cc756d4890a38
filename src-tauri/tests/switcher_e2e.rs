//! The switcher window as a person uses it (DESIGN.md §1 J1, J2, J5, J7; §7): the real app in the real
//! webview, driven through WebDriver (`tauri-driver` + WebKitWebDriver under Xvfb, on a private D-Bus
//! session with an unlocked keyring — the harness in `common::session`), the Dex stand-in for signing
//! in, the API-server stand-in for the TLS check and the namespace list, and the real `kubectl` to read
//! what the app wrote.
//!
//! - A newcomer sets Signet up from nothing through the window (provider with discovery, clusters with
//!   a connection check), signs in through the login window, switches context with the keyboard, picks
//!   a namespace and signs out; then, at the window's minimum size (640×420), every view fits its width.
//! - Someone with a kubelogin kubeconfig previews the import (nothing changes), then applies it.
//!
//! Both journeys run once in the light theme and once in the dark one (the app started with
//! `GTK_THEME=Adwaita:dark`, which is what makes WebKitGTK report `prefers-color-scheme: dark`), and
//! screenshot every view into `tests/output/switcher_e2e/<view>-<light|dark>.png` (git-ignored; a
//! failure adds `failure-<theme>.png` and keeps the logs under `logs/<test>/`).
//!
//! Needs tauri-driver, WebKitWebDriver, Xvfb, dbus-run-session, busctl, gnome-keyring-daemon and kubectl
//! (`scripts/setup.sh` installs them). Never skipped: a missing tool fails the test saying what to install.

mod common;
use common::session::{APP, Session, kubectl_signet, require_tools};

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use signet_core::config::{Config, LoginMode};
use signet_core::token_store::TokenCache;
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::webdriver::{Driver, Element, WebDriver, wait_until};

/// One world at a time: WebKit, the app, the stand-ins and kubectl on two cores would otherwise decide
/// each other's timing.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// WebDriver key codes (W3C WebDriver §17.4.2).
const ARROW_DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

/// How long the window may take to show the outcome of one action.
const UI: Duration = Duration::from_secs(20);

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the screenshots go.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/output/switcher_e2e");
    std::fs::create_dir_all(&dir).expect("create tests/output/switcher_e2e");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The colour scheme the app's webview runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// WebKitGTK answers `prefers-color-scheme` from the GTK settings and `GTK_THEME` (a `:dark`
    /// variant means dark); naming the light theme too keeps the host's settings out of the test.
    fn gtk_theme(self) -> &'static str {
        match self {
            Theme::Light => "Adwaita",
            Theme::Dark => "Adwaita:dark",
        }
    }
}

/// One test's world. Fields drop in order: the WebDriver session, tauri-driver with the app, the
/// desktop session, the servers, and last the root directory.
struct World {
    webdriver: WebDriver,
    driver: Driver,
    session: Session,
    api: ApiServer,
    idp: Idp,
    /// The switcher window's handle (the one the session attached to).
    main: String,
    theme: Theme,
    root: tempfile::TempDir,
}

impl World {
    /// The Dex stand-in, the API-server stand-in (trusting tokens for `audience`), an empty Signet
    /// config, the kubeconfig `kubeconfig` returns (none when `None`), and the app under WebDriver in
    /// `theme`, with its first status shown.
    fn start(
        theme: Theme,
        audience: &str,
        kubeconfig: impl FnOnce(&Idp, &ApiServer) -> Option<String>,
    ) -> World {
        require_tools(&["kubectl"]);
        // Before anything starts: a missing driver fails here, saying what to install.
        signet_tests::webdriver::tauri_driver();
        signet_tests::webdriver::webkit_webdriver();
        // The exec entries the app writes name the kubectl-signet next to it.
        kubectl_signet();
        let root = tempfile::tempdir().expect("create the test root");
        let idp = Idp::start(IdpOptions::default());
        let api = ApiServer::start(ApiServerOptions::new(idp.issuer(), audience));
        let session = Session::start(root.path(), None);
        if let Some(content) = kubeconfig(&idp, &api) {
            std::fs::write(root.path().join("kubeconfig"), content).expect("write the kubeconfig");
        }
        let driver = Driver::start(&root.path().join("driver.log"), |cmd| {
            session.env(cmd);
            cmd.env("GTK_THEME", theme.gtk_theme());
        });
        let started = Instant::now();
        let webdriver = driver.session(Path::new(APP), &[]).unwrap_or_else(|e| {
            panic!(
                "a WebDriver session starts the app: {e}\ndriver log:\n{}",
                driver.log_text()
            )
        });
        let main = webdriver
            .window_handle()
            .expect("the session is attached to the switcher window");
        let world = World {
            webdriver,
            driver,
            session,
            api,
            idp,
            main,
            theme,
            root,
        };
        world.wait_for(
            "main[data-ready=true]",
            "the switcher to show its first status (main[data-ready=true])",
        );
        eprintln!("app ready after {:?} ({})", started.elapsed(), theme.name());
        world.assert_theme();
        world
    }

    /// Everything a failure message needs: the app's log and what tauri-driver/WebKit printed. Also
    /// saves what the window shows as `failure-<theme>.png`.
    fn logs(&self) -> String {
        let shot = output_dir().join(format!("failure-{}.png", self.theme.name()));
        let saved = self.webdriver.save_screenshot(&shot).is_ok();
        format!(
            "{}\n{}",
            if saved {
                format!("the window at the failure: {}", shot.display())
            } else {
                String::new()
            },
            self.log_tails()
        )
    }

    fn log_tails(&self) -> String {
        format!(
            "app log (tail):\n{}\ndriver log (tail):\n{}",
            tail(&self.session.app_log(), 40),
            tail(&self.driver.log_text(), 30)
        )
    }

    /// The first element matching `css` (it must be there now).
    fn el(&self, css: &str) -> Element<'_> {
        self.webdriver
            .find(css)
            .unwrap_or_else(|e| panic!("the window has {css}: {e}\n{}", self.logs()))
    }

    /// Waits for an element matching `css`; `what` says what it means.
    fn wait_for(&self, css: &str, what: &str) -> Element<'_> {
        self.webdriver
            .wait_for(css, UI)
            .unwrap_or_else(|e| panic!("expected {what}: {e}\n{}", self.logs()))
    }

    /// Waits until no element matches `css`.
    fn wait_gone(&self, css: &str, what: &str) {
        wait_until(what, UI, || {
            Ok(self.webdriver.find_all(css)?.is_empty().then_some(()))
        })
        .unwrap_or_else(|e| panic!("expected {what}: {e}\n{}", self.logs()));
    }

    /// Waits until the text of the first element matching `css` contains `needle`; returns the text.
    fn wait_text(&self, css: &str, needle: &str) -> String {
        let mut last = None;
        wait_until(&format!("{css} to show {needle:?}"), UI, || {
            let Some(el) = self.webdriver.find_all(css)?.into_iter().next() else {
                return Ok(None);
            };
            let shown = el.text()?;
            let found = shown.contains(needle).then(|| shown.clone());
            last = Some(shown);
            Ok(found)
        })
        .unwrap_or_else(|e| {
            panic!(
                "expected {css} to show {needle:?}: {e}; it last showed {last:?}\n{}",
                self.logs()
            )
        })
    }

    /// Waits until the status line at the bottom says `needle`. Read from the DOM: WebKitWebDriver's
    /// visible-text atom leaves out the feedback span (`overflow: hidden` with an ellipsis) although
    /// the window shows it (see the screenshots).
    fn wait_status_line(&self, needle: &str) -> String {
        let mut last = None;
        wait_until(&format!("the status line to say {needle:?}"), UI, || {
            let shown = self.webdriver.execute(
                "return document.getElementById('status-line').textContent;",
                &[],
            )?;
            let shown = shown.as_str().unwrap_or_default().trim().to_string();
            let found = shown.contains(needle).then(|| shown.clone());
            last = Some(shown);
            Ok(found)
        })
        .unwrap_or_else(|e| {
            panic!(
                "expected the status line to say {needle:?}: {e}; it last said {last:?}\n{}",
                self.logs()
            )
        })
    }

    fn click(&self, css: &str) {
        self.el(css)
            .click()
            .unwrap_or_else(|e| panic!("click {css}: {e}\n{}", self.logs()));
    }

    fn type_into(&self, css: &str, keys: &str) {
        self.el(css)
            .send_keys(keys)
            .unwrap_or_else(|e| panic!("type into {css}: {e}\n{}", self.logs()));
    }

    /// Goes to a section through the sidebar and checks the sidebar marks it as the current page.
    fn navigate(&self, section: &str) {
        let nav = format!("#nav-{section}");
        self.click(&nav);
        self.wait_for(
            &format!("{nav}[aria-current=page]"),
            &format!("the sidebar to mark {section} as the current page"),
        );
    }

    /// The page really is in this world's theme: the media query WebKit answers, and the colour the
    /// window's background is painted in.
    fn assert_theme(&self) {
        let answer = self
            .webdriver
            .execute(
                "return [matchMedia('(prefers-color-scheme: dark)').matches, \
                 getComputedStyle(document.body).backgroundColor];",
                &[],
            )
            .expect("read the colour scheme");
        let dark = answer[0].as_bool().expect("matchMedia answers a boolean");
        let background = answer[1].as_str().unwrap_or_default().to_string();
        assert_eq!(
            dark,
            self.theme == Theme::Dark,
            "with GTK_THEME={} WebKit reports prefers-color-scheme: {} (body background {background})",
            self.theme.gtk_theme(),
            self.theme.name()
        );
        let channels: Vec<u32> = background
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        assert_eq!(
            channels.len(),
            3,
            "the body has an rgb background: {background}"
        );
        let light = channels.iter().sum::<u32>() / 3;
        match self.theme {
            Theme::Dark => assert!(
                light < 64,
                "in the dark theme the window's background is dark: {background}"
            ),
            Theme::Light => assert!(
                light > 192,
                "in the light theme the window's background is light: {background}"
            ),
        }
    }

    /// Saves the window as `tests/output/switcher_e2e/<view>-<theme>.png`.
    fn shoot(&self, view: &str) -> PathBuf {
        let path = output_dir().join(format!("{view}-{}.png", self.theme.name()));
        let png = self
            .webdriver
            .save_screenshot(&path)
            .unwrap_or_else(|e| panic!("screenshot {view}: {e}\n{}", self.logs()));
        assert!(
            png.len() > 1_000,
            "the screenshot of {view} holds a picture ({} bytes)",
            png.len()
        );
        path
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.session
            .command("kubectl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// What `kubectl <args>` prints (it must succeed).
    fn kubectl_out(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} succeeds with the session's KUBECONFIG: {}",
            args.join(" "),
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    }

    fn current_context(&self) -> String {
        self.kubectl_out(&["config", "current-context"])
    }

    fn kubeconfig_path(&self) -> PathBuf {
        self.root.path().join("kubeconfig")
    }

    /// Waits for the one login window next to the switcher, switches to it once it shows the IdP's
    /// form, fills it as `user` and submits; returns once the app closed it and WebDriver is back on
    /// the switcher.
    fn sign_in_in_the_login_window(&self, user: &str) {
        self.webdriver
            .switch_to_the_other_window(&self.main, "#login", Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!(
                    "one login window next to the switcher, showing the IdP's form: {e} (url {:?})\n{}",
                    self.webdriver.current_url(),
                    self.logs()
                )
            });
        let url = self
            .webdriver
            .current_url()
            .expect("the login window's URL");
        assert!(
            url.starts_with(self.idp.issuer()),
            "the login window shows the IdP's page ({}), got {url}",
            self.idp.issuer()
        );
        self.type_into("#login", user);
        self.type_into("#password", PASSWORD);
        self.webdriver
            .submit_and_wait_for_close("#submit-login", &self.main, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("the app closes the login window: {e}\n{}", self.logs()));
    }

    /// The one row carrying `.current-mark`.
    fn current_row(&self) -> String {
        let marked = self
            .webdriver
            .find_all("[data-cluster]:has(.current-mark)")
            .expect("find the rows with a current mark");
        assert_eq!(
            marked.len(),
            1,
            "exactly one cluster row carries the current mark"
        );
        marked[0]
            .attribute("data-cluster")
            .expect("read data-cluster")
            .expect("the marked row names its cluster")
    }

    /// Waits until `cluster`'s row carries the current mark and kubectl's current context is
    /// `cluster` (its context has the cluster's name).
    fn wait_current(&self, cluster: &str) {
        self.wait_for(
            &format!("[data-cluster={cluster}] .current-mark"),
            &format!("the current mark on {cluster}'s row"),
        );
        assert_eq!(
            self.current_row(),
            cluster,
            "only {cluster}'s row is marked current"
        );
        assert_eq!(
            self.current_context(),
            cluster,
            "kubectl config current-context prints the context the window switched to"
        );
        self.wait_status_line(&format!("Current context: {cluster}"));
    }
}

impl Drop for World {
    /// Keeps the logs next to the screenshots, for a look after a failure.
    fn drop(&mut self) {
        let Some(name) = std::thread::current().name().map(String::from) else {
            return;
        };
        let dir = output_dir().join("logs").join(name);
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        for (from, to) in [
            ("state/signet/signet.log", "signet.log"),
            ("driver.log", "driver.log"),
            ("session.log", "session.log"),
        ] {
            let _ = std::fs::copy(self.root.path().join(from), dir.join(to));
        }
    }
}

/// J1 → J2 → J5 → J7 in the window, screenshotting every view it passes.
fn newcomer(theme: Theme) {
    let started = Instant::now();
    let world = World::start(theme, "kubernetes", |_, _| None);
    let api_ca = world.api.ca().clone();

    // J1: nothing configured → the welcome with its three ways in.
    let welcome = world.wait_for("#welcome", "the onboarding (#welcome) on an empty config");
    let shown = welcome.text().expect("read the welcome");
    for way in [
        "Import a team catalog",
        "Import an existing kubeconfig",
        "Set up by hand",
    ] {
        assert!(shown.contains(way), "the welcome offers {way:?}: {shown}");
    }
    world.shoot("welcome");

    // The provider, by hand: discovery runs as the issuer is typed.
    world.click("#welcome-manual");
    world.wait_for(
        "#nav-providers[aria-current=page]",
        "“Set up by hand” to open Providers",
    );
    world.wait_for(
        "#provider-issuer",
        "the provider form opened by “Set up by hand”",
    );
    world.type_into("#provider-name", "corp");
    world.type_into("#provider-issuer", world.idp.issuer());
    let discovery = world.wait_for(
        "#discovery[data-status=ok]",
        "discovery of the Dex stand-in's issuer to succeed (#discovery[data-status=ok])",
    );
    let document: Value = serde_json::from_str(
        &world
            .idp
            .http()
            .get(world.idp.discovery_url())
            .send()
            .and_then(|r| r.text())
            .expect("fetch the IdP's discovery document"),
    )
    .expect("the discovery document is JSON");
    let panel = discovery.text().expect("read the discovery panel");
    for key in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "device_authorization_endpoint",
    ] {
        let endpoint = document[key].as_str().expect("the IdP names the endpoint");
        assert!(
            panel.contains(endpoint),
            "the discovery panel shows the IdP's {key} {endpoint}: {panel}"
        );
    }
    assert!(
        panel.contains("Looks like Dex"),
        "the stand-in is recognised as Dex: {panel}"
    );
    world.type_into("#provider-client-id", "signet");
    let scopes = world.el("#provider-scopes");
    scopes.clear().expect("clear the scopes");
    scopes.send_keys("groups").expect("type the scopes");
    world.click("input[name=login-mode][value=embedded]");
    assert_eq!(
        world
            .el("input[name=login-mode][value=embedded]")
            .property("checked")
            .expect("read the login mode"),
        Value::Bool(true),
        "the embedded login mode is chosen"
    );
    world
        .webdriver
        .execute(
            "document.getElementById('provider-issuer').closest('.field').scrollIntoView({block: 'start'});",
            &[],
        )
        .expect("scroll the discovery panel into view");
    world.shoot("providers-discovery");
    world.wait_for(
        "#provider-save:not([disabled])",
        "Save to be offered once discovery succeeded",
    );
    world.click("#provider-save");
    world.wait_text(".providers [role=status]", "Saved provider corp.");
    let card = world.wait_text("[data-provider=corp]", world.idp.issuer());
    assert!(
        card.contains("client signet") && card.contains("embedded"),
        "the provider card shows the client id and the login mode: {card}"
    );

    // Two clusters on the API-server stand-in: prod with pasted PEM, staging with a CA file.
    world.navigate("add-cluster");
    for (name, paste_pem) in [("prod", true), ("staging", false)] {
        if name != "prod" {
            // After a save the form keeps what was saved; "Add another" empties it.
            world.click(".add-cluster .form-actions button.link");
            wait_until("“Add another” to empty the form", UI, || {
                let name = world.el("#cluster-name").property("value")?;
                Ok((name.as_str() == Some("")).then_some(()))
            })
            .unwrap_or_else(|e| panic!("{e}\n{}", world.logs()));
        }
        world.wait_for("#cluster-name", "the Add cluster form");
        world.type_into("#cluster-name", name);
        world.type_into("#cluster-server", world.api.url());
        if paste_pem {
            // WebDriver types "\n" as nothing in a textarea; a line break is the Enter key.
            world.type_into("#cluster-ca-pem", &api_ca.ca_pem.replace('\n', ENTER));
        } else {
            world.type_into("#cluster-ca-file", &api_ca.ca_file.display().to_string());
        }
        world.type_into("#cluster-audience", "kubernetes");
        world.click("#cluster-probe");
        let probe = world.wait_text("#cluster-probe-result", "TLS OK");
        assert!(
            probe.contains("the server asks for authentication"),
            "the connection check reports TLS OK and that the server wants a token: {probe}"
        );
        if name == "prod" {
            world
                .webdriver
                .execute("document.querySelector('.content').scrollTop = 0;", &[])
                .expect("scroll the form to its top");
            world.shoot("add-cluster");
        }
        world.click("#cluster-save");
        world.wait_text("#cluster-test-help", &format!("Saved {name}."));
    }

    // What the window saved is what was typed.
    let paths = world.session.paths();
    let config = Config::load(&paths.config_file, &paths.home).expect("the saved config loads");
    let corp = &config.providers[0];
    assert_eq!(
        (
            config.providers.len(),
            corp.name.as_str(),
            corp.issuer.as_str(),
            corp.client_id.as_str(),
            corp.scopes.as_slice(),
            corp.login,
        ),
        (
            1,
            "corp",
            world.idp.issuer(),
            "signet",
            ["groups".to_string()].as_slice(),
            LoginMode::Embedded,
        ),
        "the config holds the provider as typed"
    );
    let names: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prod", "staging"], "the config holds both clusters");
    for c in &config.clusters {
        assert_eq!(
            (
                c.provider.as_str(),
                c.server.as_str(),
                c.audience.as_deref()
            ),
            ("corp", world.api.url(), Some("kubernetes")),
            "cluster {} is on the API server, through corp, for audience kubernetes",
            c.name
        );
    }
    let pasted = config.clusters[0]
        .ca_data
        .as_deref()
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64))
        .expect("prod's pasted PEM is saved as ca_data")
        .expect("ca_data is base64");
    assert_eq!(
        String::from_utf8_lossy(&pasted).trim(),
        api_ca.ca_pem.trim(),
        "prod's ca_data is the pasted PEM"
    );
    assert_eq!(
        config.clusters[1].ca_file.as_deref(),
        Some(api_ca.ca_file.as_path()),
        "staging's CA is the file given"
    );

    // J2: sign in from the Clusters view.
    world.navigate("clusters");
    for name in ["prod", "staging"] {
        world.wait_for(
            &format!("[data-cluster={name}][data-state=sign_in_needed]"),
            &format!("{name}'s row saying sign-in is needed"),
        );
    }
    let state = world
        .el("[data-cluster=prod] .cluster-state")
        .text()
        .expect("read the state");
    assert_eq!(state, "Sign-in needed", "prod's row says sign-in is needed");
    world.click("[data-provider=corp] .sign-in");
    world.sign_in_in_the_login_window("alice");
    for name in ["prod", "staging"] {
        world.wait_for(
            &format!("[data-cluster={name}][data-state=signed_in]"),
            &format!("{name}'s row signed in after the login window closed"),
        );
    }
    let header = world.wait_text(
        "[data-provider=corp] .provider-state",
        "Signed in as alice@",
    );
    assert!(
        header.starts_with("Signed in as alice@example.com"),
        "the provider header names alice: {header}"
    );
    assert!(
        world
            .webdriver
            .find_all("[data-provider=corp] .sign-out")
            .expect("find")
            .len()
            == 1,
        "signed in, the provider offers to sign out"
    );
    world.wait_status_line("Signed in to corp as alice@example.com.");
    // The first cluster became current in a kubeconfig that had no current context.
    world.wait_current("prod");
    world.shoot("clusters-signed-in");

    // J5: ↓ and Enter in the filter box make staging current…
    world.type_into("#filter", ARROW_DOWN);
    world.wait_for(
        "[data-cluster=staging][aria-selected=true]",
        "↓ to select staging's row",
    );
    world.type_into("#filter", ENTER);
    world.wait_current("staging");
    // …and typing filters the rows; Enter takes the one left.
    world.type_into("#filter", "prod");
    world.wait_gone(
        "[data-cluster=staging]",
        "the filter “prod” to hide staging's row",
    );
    world.type_into("#filter", ENTER);
    world.wait_current("prod");
    world.type_into("#filter", ESCAPE);
    world.wait_for(
        "[data-cluster=staging]",
        "Esc to clear the filter and show staging again",
    );

    // The namespace picker lists what the API server lets alice see.
    world.click("[data-cluster=prod] .namespace-button");
    world.wait_for(
        ".namespace-option[data-namespace=team-a]",
        "the namespace picker to list team-a from the API server",
    );
    let listed: Vec<String> = world
        .webdriver
        .find_all(".namespace-option")
        .expect("find the namespace options")
        .iter()
        .map(|o| {
            o.attribute("data-namespace")
                .ok()
                .flatten()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        listed,
        ["default", "kube-system", "team-a"],
        "the picker lists the API server's namespaces"
    );
    world.shoot("clusters-namespace-picker");
    world.click(".namespace-option[data-namespace=team-a]");
    world.wait_gone(".ns-picker", "the picker to close after choosing");
    world.wait_text("[data-cluster=prod] .namespace", "team-a");
    assert_eq!(
        world.kubectl_out(&["config", "view", "--minify", "-o", "jsonpath={..namespace}"]),
        "team-a",
        "the current context (prod) has namespace team-a in kubeconfig"
    );
    assert_eq!(
        world.current_context(),
        "prod",
        "choosing a namespace keeps prod current"
    );
    // kubectl runs the exec entry, and the API server sees alice.
    let whoami = world.kubectl_out(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(
        whoami, "alice@example.com",
        "kubectl works as alice through the exec entry"
    );

    // J7: sign out.
    world.click("[data-provider=corp] .sign-out");
    for name in ["prod", "staging"] {
        world.wait_for(
            &format!("[data-cluster={name}][data-state=sign_in_needed]"),
            &format!("{name}'s row back to sign-in needed after signing out"),
        );
    }
    world.wait_for(
        "[data-provider=corp] .sign-in",
        "the provider to offer Sign in again",
    );
    // Dex (and the stand-in by default) has no revocation endpoint: the tokens are forgotten here.
    world.wait_status_line(
        "Signed out of corp; tokens forgotten on this machine (the provider offers no revocation).",
    );
    assert!(
        world
            .webdriver
            .find_all("[data-provider=corp] .sign-out")
            .expect("find")
            .is_empty(),
        "signed out, nothing to sign out of"
    );
    let cache = TokenCache::new(&world.session.paths());
    assert!(
        cache.read("corp", "kubernetes").is_none(),
        "signing out forgot the cached token"
    );

    world.navigate("activity");
    world.wait_for(".activity-entry", "the activity to list what happened");
    world.shoot("activity");
    world.navigate("settings");
    world.wait_for("#settings-warning-minutes", "the settings form");
    world.shoot("settings");

    // At the window's minimum size every view still fits its width.
    world
        .webdriver
        .set_window_size(640, 420)
        .expect("resize the switcher to its minimum size");
    for view in [
        "clusters",
        "providers",
        "add-cluster",
        "import",
        "activity",
        "settings",
    ] {
        world.navigate(view);
        wait_until("the narrow layout to settle", UI, || {
            let width = world
                .webdriver
                .execute("return innerWidth;", &[])?
                .as_u64()
                .unwrap_or_default();
            Ok((width <= 640).then_some(()))
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", world.logs()));
        let sizes = world
            .webdriver
            .execute(
                "const c = document.querySelector('.content'); \
                 return [document.documentElement.scrollWidth, innerWidth, c.scrollWidth, c.clientWidth];",
                &[],
            )
            .expect("measure the content");
        assert!(
            sizes[0].as_u64() <= sizes[1].as_u64() && sizes[2].as_u64() <= sizes[3].as_u64(),
            "at 640×420 neither the window nor the {view} view needs horizontal scrolling \
             (window scroll width, window width, view scroll width, view width: {sizes})"
        );
        world.shoot(&format!("{view}-narrow"));
    }
    eprintln!("newcomer ({}) took {:?}", theme.name(), started.elapsed());
}

/// The kubelogin fixture, filled in with the stand-ins' issuer, API server and CA.
fn kubelogin_fixture(idp: &Idp, api: &ApiServer) -> String {
    include_str!("../crates/kubectl-signet/tests/fixtures/kubelogin-kubeconfig.yaml")
        .replace("@ISSUER@", idp.issuer())
        .replace("@SERVER@", api.url())
        .replace("@CA@", &api.ca().ca_file.display().to_string())
}

/// J1 through the import: preview changes nothing, apply adopts with a backup.
fn import(theme: Theme) {
    let started = Instant::now();
    let world = World::start(theme, "signet", |idp, api| {
        Some(kubelogin_fixture(idp, api))
    });
    let file = world.kubeconfig_path();
    let before = std::fs::read(&file).expect("read the kubeconfig");

    world.wait_for("#welcome", "the onboarding on an empty Signet config");
    world.click("#welcome-kubeconfig");
    world.wait_for(
        "#nav-import[aria-current=page]",
        "“Import an existing kubeconfig” to open Import",
    );
    world.wait_for(
        "input[name=import-kind][value=kubeconfig]:checked",
        "the kubeconfig source chosen",
    );
    assert_eq!(
        world
            .el("#import-path")
            .property("value")
            .expect("read the path"),
        Value::from(""),
        "the path is left empty: kubectl's default chain (KUBECONFIG)"
    );
    world.click("#import-preview");
    world.wait_for("#import-plan", "the import plan after Preview");
    let adopted: Vec<String> = world
        .webdriver
        .find_all("#import-plan [data-section=adoptions] li")
        .expect("find the adoptions")
        .iter()
        .map(|li| li.text().expect("read an adoption"))
        .collect();
    assert_eq!(
        adopted.len(),
        2,
        "the plan adopts the kubelogin and the legacy auth-provider contexts: {adopted:?}"
    );
    // `<context> in <file>: <old auth> (user <old user>) → Signet cluster <cluster> via <provider>`
    let file_text = file.display().to_string();
    let mut clusters = Vec::new();
    for (line, context, auth) in [
        (&adopted[0], "prod", "kubelogin exec (user oidc)"),
        (
            &adopted[1],
            "staging",
            "legacy auth-provider oidc (user legacy)",
        ),
    ] {
        let (head, cluster) = line
            .split_once(" → Signet cluster ")
            .unwrap_or_else(|| panic!("the adoption names the Signet cluster: {line}"));
        assert_eq!(
            head,
            format!("{context} in {file_text}: {auth}"),
            "the plan names the adopted context, its file and its old authentication"
        );
        let (cluster, provider) = cluster
            .split_once(" via ")
            .unwrap_or_else(|| panic!("the adoption names the provider: {line}"));
        assert!(
            !provider.is_empty(),
            "the adoption names the provider: {line}"
        );
        clusters.push((context, cluster.to_string()));
    }
    assert_eq!(
        world
            .el("#import-plan .lead")
            .text()
            .expect("read the plan's headline"),
        "Will add 1 provider, 2 clusters, 2 contexts adopted.",
        "the plan's headline sums it up: the issuer's provider, a cluster per adopted context"
    );
    assert_eq!(
        std::fs::read(&file).expect("read the kubeconfig"),
        before,
        "a preview leaves the kubeconfig byte-identical"
    );
    world
        .webdriver
        .execute(
            "document.getElementById('import-plan').scrollIntoView({block: 'start'});",
            &[],
        )
        .expect("scroll the plan into view");
    world.shoot("import-preview");

    world.click("#import-apply");
    world.wait_for("#import-result", "the import result after Apply");
    world.wait_status_line("Import applied.");
    let backups: Vec<String> = world
        .webdriver
        .find_all("#import-result [data-section=backups] li")
        .expect("find the backups")
        .iter()
        .map(|li| li.text().expect("read a backup"))
        .collect();
    assert_eq!(
        backups.len(),
        1,
        "the result names one kubeconfig backup: {backups:?}"
    );
    assert_eq!(
        std::fs::read(&backups[0])
            .unwrap_or_else(|e| panic!("read the backup {}: {e}", backups[0])),
        before,
        "the backup holds the kubeconfig as it was before the import"
    );
    let result = world.el("#import-result").text().expect("read the result");
    assert!(
        result.contains("Sign in to finish"),
        "the result offers to sign in to the imported provider: {result}"
    );
    world.shoot("import-result");
    for (context, cluster) in &clusters {
        let user = world.kubectl_out(&[
            "config",
            "view",
            "-o",
            &format!("jsonpath={{.contexts[?(@.name==\"{context}\")].context.user}}"),
        ]);
        assert_eq!(
            user,
            format!("signet-{cluster}"),
            "the adopted context {context} now uses Signet's user for cluster {cluster}"
        );
    }
    assert_eq!(
        world.current_context(),
        "prod-admin",
        "the import keeps the current context"
    );
    assert_eq!(
        world.kubectl_out(&[
            "config",
            "view",
            "-o",
            "jsonpath={.contexts[?(@.name==\"ci\")].context.user}",
        ]),
        "ci-token",
        "contexts that are not OIDC are left alone"
    );

    world.navigate("clusters");
    for (_, name) in &clusters {
        world.wait_for(
            &format!("[data-cluster=\"{name}\"][data-state=sign_in_needed]"),
            &format!("the adopted cluster {name} in Clusters, waiting for a sign-in"),
        );
    }
    let rows = world
        .webdriver
        .find_all("[data-cluster]")
        .expect("find the rows");
    assert_eq!(
        rows.len(),
        2,
        "Clusters lists exactly the two adopted clusters"
    );
    world.shoot("clusters-imported");
    eprintln!("import ({}) took {:?}", theme.name(), started.elapsed());
}

#[test]
fn a_newcomer_sets_signet_up_from_nothing_and_switches_cluster_and_namespace_in_the_window() {
    let _alone = one_at_a_time();
    newcomer(Theme::Light);
}

#[test]
fn importing_a_kubelogin_kubeconfig_through_the_window_previews_then_applies() {
    let _alone = one_at_a_time();
    import(Theme::Light);
}

#[test]
fn the_newcomer_journey_works_and_reads_well_in_the_dark_theme() {
    let _alone = one_at_a_time();
    newcomer(Theme::Dark);
}

#[test]
fn the_import_journey_works_and_reads_well_in_the_dark_theme() {
    let _alone = one_at_a_time();
    import(Theme::Dark);
}
