//! The installed Debian package, used as a person would: `scripts/test-install.sh` builds the packages
//! (`scripts/package.sh`), installs the `.deb` with `apt-get`, runs this suite, which ends by removing
//! the package again. Every Signet program here comes from `/usr/bin` with a `PATH` that a desktop
//! session gives an app started from its menu (no build tree); the build tree provides only the test world:
//! the Dex and API-server stand-ins, the browser stand-in and the private desktop (`common::session`).
//!
//! Not part of `cargo test --workspace` (`test = false` in Cargo.toml): it needs root and changes the
//! machine's packages. CI runs it (`.ci/run`); never skipped there.

mod common;
use common::session::{self, Session};

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::idp::{Idp, IdpOptions};

/// The `PATH` of a program started from the desktop menu (an IDE, Lens, k9s): system directories only.
const DESKTOP_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
const PLUGIN: &str = "/usr/bin/kubectl-signet";
const APP: &str = "/usr/bin/signet";
const DESKTOP_ENTRY: &str = "/usr/share/applications/dev.signet.Signet.desktop";
const INSTALLED: &[&str] = &[
    "/usr/bin/signet",
    "/usr/bin/kubectl-signet",
    "/usr/lib/signet/signet-cli",
    "/usr/bin/kubectl_complete-signet",
    "/usr/share/applications/dev.signet.Signet.desktop",
    "/usr/share/metainfo/dev.signet.Signet.metainfo.xml",
    "/usr/share/icons/hicolor/16x16/apps/dev.signet.Signet.png",
    "/usr/share/icons/hicolor/48x48/apps/dev.signet.Signet.png",
    "/usr/share/icons/hicolor/512x512/apps/dev.signet.Signet.png",
    "/usr/share/man/man1/kubectl-signet.1.gz",
    "/usr/share/man/man1/kubectl-signet-login.1.gz",
    "/usr/share/man/man1/signet.1.gz",
    "/usr/share/bash-completion/completions/kubectl-signet",
    "/usr/share/zsh/vendor-completions/_kubectl-signet",
    "/usr/share/fish/vendor_completions.d/kubectl-signet.fish",
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The test world's browser: `signet-probe browse alice` fills the stand-in's login form.
fn browser() -> String {
    let probe = session::workspace_bin("signet-probe", "signet-tests", &["tests/src"]);
    format!("{} browse alice", probe.display())
}

struct Installed {
    session: Session,
    browser: String,
}

impl Installed {
    /// `program` in the private desktop with the desktop's short `PATH`.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.session.command(program);
        cmd.env("PATH", DESKTOP_PATH)
            .env("BROWSER", &self.browser)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    fn exec_commands(&self) -> Vec<String> {
        let out = self.run(
            "kubectl",
            &[
                "config",
                "view",
                "-o",
                "jsonpath={.users[*].user.exec.command}",
            ],
        );
        ok("kubectl config view", &out)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    fn keyring_has(&self, provider: &str) -> bool {
        let out = self.run(
            "secret-tool",
            &["lookup", "service", "signet", "username", provider],
        );
        out.status.success() && !out.stdout.is_empty()
    }
}

#[test]
fn the_installed_package_works_end_to_end_and_its_removal_leaves_the_persons_files() {
    for file in INSTALLED {
        assert!(
            Path::new(file).exists(),
            "{file} is not installed: run scripts/test-install.sh (it builds and installs the package)"
        );
    }
    let owner = Command::new("dpkg")
        .args(["-S", PLUGIN])
        .output()
        .expect("run dpkg -S");
    assert!(
        text(&owner.stdout).starts_with("signet: "),
        "{PLUGIN} comes from the signet package: {}",
        text(&owner.stdout)
    );

    let idp = Idp::start(IdpOptions::default());
    let api = ApiServer::start(ApiServerOptions::new(idp.issuer(), "kubernetes"));
    let root = tempfile::tempdir().expect("create the test root");
    let ca = root.path().join("apiserver-ca.pem");
    std::fs::write(&ca, &api.ca().ca_pem).expect("write the API server CA");
    let world = Installed {
        session: Session::start(root.path(), None),
        browser: browser(),
    };
    let paths = world.session.paths();

    // Versions are the package's.
    let version = env!("CARGO_PKG_VERSION");
    let out = ok(
        "kubectl-signet --version",
        &world.run("kubectl-signet", &["--version"]),
    );
    assert_eq!(out.trim(), format!("kubectl-signet {version}"));
    let out = ok("signet --version", &world.run("signet", &["--version"]));
    assert_eq!(out.trim(), format!("signet {version}"));

    // Set up and sign in through the installed CLI, as the README's "Install" section says.
    ok(
        "add provider",
        &world.run(
            "kubectl-signet",
            &["add", "provider", "corp", "--issuer", idp.issuer()],
        ),
    );
    let ca_arg = ca.display().to_string();
    ok(
        "add cluster",
        &world.run(
            "kubectl-signet",
            &[
                "add",
                "cluster",
                "prod",
                "--provider",
                "corp",
                "--server",
                api.url(),
                "--ca-file",
                &ca_arg,
                "--audience",
                "kubernetes",
            ],
        ),
    );
    let out = ok(
        "login --browser",
        &world.run("kubectl-signet", &["login", "corp", "--browser"]),
    );
    assert!(
        out.contains("Signed in to corp as alice@example.com"),
        "{out}"
    );
    ok("use prod", &world.run("kubectl-signet", &["use", "prod"]));
    assert_eq!(
        world.exec_commands(),
        vec!["kubectl-signet"],
        "the installed plugin is run by name: /usr/bin is on every PATH (DESIGN.md §3)"
    );

    // kubectl through the exec entry, and a second client library (the official Python client).
    let out = ok(
        "kubectl auth whoami",
        &world.run("kubectl", &["auth", "whoami"]),
    );
    assert!(out.contains("alice@example.com"), "{out}");
    let python = std::env::var("SIGNET_TEST_PYTHON").expect(
        "SIGNET_TEST_PYTHON names a Python with the `kubernetes` package (scripts/test-install.sh makes one)",
    );
    let out = ok(
        "the Python kubernetes client",
        &world.run(
            &python,
            &[
                "-c",
                "from kubernetes import client, config\n\
                 config.load_kube_config()\n\
                 print(' '.join(n.metadata.name for n in client.CoreV1Api().list_namespace().items))",
            ],
        ),
    );
    assert_eq!(
        out.trim(),
        "default kube-system team-a",
        "namespaces listed as alice"
    );

    // kubectl's plugin lookup, its plugin completion hook (kubectl >= 1.26), bash completion, man page.
    let out = ok(
        "kubectl signet --help",
        &world.run("kubectl", &["signet", "--help"]),
    );
    assert!(out.contains("Usage: kubectl signet"), "{out}");
    let out = ok(
        "kubectl __complete signet use ''",
        &world.run("kubectl", &["__complete", "signet", "use", ""]),
    );
    assert!(
        out.lines().any(|l| l == "prod") && out.lines().last() == Some(":4"),
        "kubectl completes the cluster through kubectl_complete-signet:\n{out}"
    );
    let out = ok(
        "bash completion",
        &world.run(
            "bash",
            &[
                "-c",
                "source /usr/share/bash-completion/completions/kubectl-signet && complete -p kubectl-signet",
            ],
        ),
    );
    assert!(out.contains("kubectl-signet"), "{out}");
    let mut man = world.command("man");
    man.args(["-P", "cat", "-l", "/usr/share/man/man1/kubectl-signet.1.gz"])
        .env("MANWIDTH", "80");
    let out = ok("man -l", &man.output().expect("run man"));
    assert!(
        out.contains("kubectl-signet") && out.contains("kubectl-signet-login(1)"),
        "the man page renders:\n{out}"
    );

    // Entries written by a build-tree binary: doctor fails with the fix when that binary is gone, and
    // the installed `kubectl signet sync` repairs them.
    let build_tree = root.path().join("build-tree");
    std::fs::create_dir_all(&build_tree).expect("create build-tree dir");
    let stray = build_tree.join("kubectl-signet");
    let built = session::kubectl_signet();
    std::fs::copy(&built, &stray).expect("copy a build-tree kubectl-signet");
    std::fs::copy(
        built.with_file_name("signet-cli"),
        build_tree.join("signet-cli"),
    )
    .expect("copy the build tree's signet-cli beside it");
    ok(
        "build-tree sync",
        &world.run(&stray.display().to_string(), &["sync"]),
    );
    assert_eq!(world.exec_commands(), vec![stray.display().to_string()]);
    std::fs::remove_file(&stray).expect("remove the build tree");
    let out = world.run("kubectl-signet", &["doctor"]);
    let report = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "doctor fails:\n{report}");
    assert!(
        report
            .lines()
            .any(|l| l.contains("fail") && l.contains(&stray.display().to_string())),
        "doctor names the missing command:\n{report}"
    );
    assert!(
        report.contains("kubectl signet sync"),
        "and the fix:\n{report}"
    );
    ok("installed sync", &world.run("kubectl-signet", &["sync"]));
    assert_eq!(world.exec_commands(), vec!["kubectl-signet"], "repaired");
    let out = ok(
        "kubectl after repair",
        &world.run("kubectl", &["auth", "whoami"]),
    );
    assert!(out.contains("alice@example.com"), "{out}");

    // The tray app, started the way the desktop entry says, with the desktop's PATH.
    let entry = std::fs::read_to_string(DESKTOP_ENTRY).expect("read the desktop entry");
    let exec = entry
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("the desktop entry has Exec=");
    let mut words = exec.split_whitespace();
    let program = words.next().expect("Exec names a program");
    let mut launch = world.command(program);
    launch.args(words);
    let app = world.session.spawn(launch);
    let tray = world.session.tray(app.pid());
    let labels = world.session.labels(&tray);
    assert!(
        labels.iter().any(|l| l.contains("alice@example.com"))
            && labels.iter().any(|l| l == "Quit Signet"),
        "the tray menu shows the session: {labels:?}"
    );
    // A second launch hands over to the first (single instance) and exits.
    let mut second = world.command(program);
    let started = Instant::now();
    let status = second.status().expect("launch signet again");
    assert!(
        status.success(),
        "the second launch exits cleanly: {status}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        Path::new(&format!("/proc/{}", app.pid())).exists(),
        "the first instance keeps running"
    );
    // Start at login writes an autostart entry that runs the installed binary.
    world.session.click(&tray, "Start at login");
    let home = paths.home.clone();
    let autostart = world.session.wait("the autostart entry", 15, || {
        [
            home.join(".config/autostart"),
            root.path().join("config/autostart"),
        ]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "desktop"))
    });
    let autostart_entry = std::fs::read_to_string(&autostart).expect("read the autostart entry");
    assert!(
        autostart_entry
            .lines()
            .any(|l| l.starts_with("Exec=") && l.contains(APP)),
        "{} runs {APP}:\n{autostart_entry}",
        autostart.display()
    );
    drop(app);

    // Removal takes the programs and leaves the person's config, kubeconfig, session and keyring entry.
    assert!(
        world.keyring_has("corp"),
        "the refresh token is in the keyring"
    );
    let config_before = std::fs::read(&paths.config_file).expect("read config");
    let kubeconfig = root.path().join("kubeconfig");
    let kubeconfig_before = std::fs::read(&kubeconfig).expect("read kubeconfig");
    let mut remove = if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "apt-get"]);
        sudo
    };
    let out = remove
        .args(["remove", "-y", "-qq", "signet"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("run apt-get remove");
    ok("apt-get remove signet", &out);
    for file in INSTALLED {
        assert!(
            !Path::new(file).exists(),
            "{file} is removed with the package"
        );
    }
    assert_eq!(
        std::fs::read(&paths.config_file).expect("config kept"),
        config_before
    );
    assert_eq!(
        std::fs::read(&kubeconfig).expect("kubeconfig kept"),
        kubeconfig_before
    );
    assert!(
        world.keyring_has("corp"),
        "the keyring entry is the person's: kept"
    );
    assert!(
        root.path()
            .join("cache/signet/tokens/corp/session.json")
            .exists(),
        "the session record is kept"
    );
}

/// Whether this test runs as root (CI does; otherwise `sudo -n` must work).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}
