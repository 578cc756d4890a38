//! `kubectl signet doctor`'s warn and fail branches that need a hostile world: an identity provider whose
//! clock is off (the Dex stand-in sending a skewed HTTP `Date`), and no keyring to talk to (the session bus
//! address pointing at nothing, or a private bus on which no Secret Service answers). The real CLI, the
//! Dex stand-in, the real keyring on a private D-Bus session for the healthy baseline.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};

use signet_core::config::SecretStoreChoice;
use signet_tests::cli::{CliWorld, text};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::World;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");

struct Env {
    cli: CliWorld,
}

impl std::ops::Deref for Env {
    type Target = CliWorld;

    fn deref(&self) -> &CliWorld {
        &self.cli
    }
}

impl Env {
    /// Provider `corp` and cluster `prod` with their kubeconfig entries written, the private keyring
    /// running; nobody signed in.
    fn new(store: SecretStoreChoice) -> Env {
        let world = World::new(Idp::start(IdpOptions::default()));
        let mut config = world.config();
        config.settings.secret_store = store;
        world.write_config(&config);
        let env = Env {
            cli: CliWorld::new(PLUGIN, world),
        };
        let out = env.plugin(&["sync"]);
        assert!(out.status.success(), "sync: {}", text(&out.stderr));
        env
    }

    /// `kubectl signet doctor`, after `adjust` has had its say on the command's environment.
    fn doctor_with(&self, adjust: impl FnOnce(&mut Command)) -> Output {
        let mut cmd = self.command(PLUGIN);
        cmd.arg("doctor");
        adjust(&mut cmd);
        cmd.output().expect("run kubectl-signet doctor")
    }

    fn doctor(&self) -> Output {
        self.doctor_with(|_| {})
    }
}

/// The one doctor line that starts with `prefix` (level and check, e.g. `"fail  keyring:"`).
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one line starting with {prefix:?} in:\n{stdout}"
    );
    lines[0]
}

/// The `N` of "this clock is Ns off the identity provider's".
fn skew_seconds(line: &str) -> i64 {
    line.split("this clock is ")
        .nth(1)
        .and_then(|rest| rest.split("s off").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("'this clock is Ns off' in {line:?}"))
}

#[test]
fn doctor_fails_when_this_clock_is_ten_minutes_off_the_idps_and_warns_at_one_minute() {
    let env = Env::new(SecretStoreChoice::SecretService);
    let idp = &env.world.idp;

    let out = env.doctor();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the healthy baseline passes:\n{stdout}{}",
        text(&out.stderr)
    );
    line(&stdout, "ok    provider corp: clock within");

    // The IdP's clock is 10 minutes ahead, then 10 minutes behind: either way fresh tokens look expired or
    // not yet valid here, so doctor fails, says by how much, and how to fix it.
    for skew in [600, -600] {
        idp.set_clock_skew(skew);
        let out = env.doctor();
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "a {skew}s skew fails doctor:\n{stdout}"
        );
        let clock = line(&stdout, "fail  provider corp: this clock is ");
        let seconds = skew_seconds(clock);
        assert!(
            (598..=602).contains(&seconds),
            "the skew is reported as about 600s (IdP {skew:+}s): {clock}"
        );
        assert!(
            clock.ends_with(
                "off the identity provider's — fix: synchronise the clock (timedatectl set-ntp true, or your OS's time settings)"
            ),
            "{clock}"
        );
        assert!(
            text(&out.stderr).contains("signet: 1 check failed; see the fixes above"),
            "{}",
            text(&out.stderr)
        );
        line(&stdout, "ok    provider corp: discovery at");
    }

    // One minute off still signs in (tokens outlive it) but is worth a warning: doctor passes.
    idp.set_clock_skew(60);
    let out = env.doctor();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not fail doctor:\n{stdout}"
    );
    let clock = line(&stdout, "warn  provider corp: this clock is ");
    let seconds = skew_seconds(clock);
    assert!(
        (58..=62).contains(&seconds),
        "the skew is reported as about 60s: {clock}"
    );
    assert!(clock.contains("— fix: synchronise the clock"), "{clock}");
}

/// A private session bus on which nothing but the bus itself answers, until dropped. Its config lists no
/// service directories: a standard session bus would start gnome-keyring on the first call to
/// `org.freedesktop.secrets` (D-Bus activation), and so would have a Secret Service after all.
struct BareBus {
    child: Child,
    address: String,
}

impl BareBus {
    fn start(world: &World) -> BareBus {
        let runtime_dir = world.root.path().join("bare-bus-runtime");
        std::fs::create_dir_all(&runtime_dir).expect("create the bare bus's runtime dir");
        let config = world.root.path().join("bare-bus.conf");
        std::fs::write(&config, BARE_BUS_CONFIG).expect("write the bare bus's config");
        let mut child = world
            .command("dbus-run-session")
            .arg(format!("--config-file={}", config.display()))
            .args([
                "--",
                "sh",
                "-c",
                "echo \"BUS $DBUS_SESSION_BUS_ADDRESS\"; cat >/dev/null",
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dbus-run-session (install dbus: scripts/test.sh does)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first)
            .expect("read the bus address");
        let address = match first.trim().strip_prefix("BUS ") {
            Some(address) if !address.is_empty() => address.to_string(),
            _ => panic!("the bare bus did not start: {first:?}"),
        };
        BareBus { child, address }
    }
}

/// A session bus without `<standard_session_servicedirs/>` or any `<servicedir>`: nothing is activatable.
const BARE_BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

impl Drop for BareBus {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[test]
fn doctor_fails_the_keyring_check_with_what_to_do_when_no_secret_service_answers() {
    // `secret_store = "secret-service"`: no fallback to the kernel keyring, so a missing Secret Service is
    // doctor's to report (and the test never reads the real user's kernel keyring).
    let env = Env::new(SecretStoreChoice::SecretService);

    let out = env.doctor();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "baseline:\n{stdout}");
    line(&stdout, "ok    keyring: usable: the Secret Service");

    // The session bus address points at a socket nobody listens on.
    let nowhere = env.world.root.path().join("no-bus-here");
    let out = env.doctor_with(|cmd| {
        cmd.env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", nowhere.display()),
        );
    });
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "no bus fails doctor:\n{stdout}");
    let keyring = line(&stdout, "fail  keyring: ");
    for part in [
        "no keyring is reachable",
        "start a Secret Service provider (gnome-keyring-daemon, KeePassXC)",
        "DBUS_SESSION_BUS_ADDRESS",
        "— fix: start or unlock the Secret Service",
    ] {
        assert!(keyring.contains(part), "expected {part:?} in: {keyring}");
    }
    // The cause once: zbus repeats it down its source chain.
    assert_eq!(
        keyring.matches("Failed to connect to address").count(),
        1,
        "the cause is said once: {keyring}"
    );
    assert!(
        text(&out.stderr).contains("signet: 1 check failed"),
        "{}",
        text(&out.stderr)
    );

    // A bus that answers, but no Secret Service on it.
    let bare = BareBus::start(&env.world);
    let out = env.doctor_with(|cmd| {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &bare.address);
    });
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bus without a Secret Service fails doctor:\n{stdout}"
    );
    let keyring = line(&stdout, "fail  keyring: ");
    for part in ["no keyring is reachable", "start a Secret Service provider"] {
        assert!(keyring.contains(part), "expected {part:?} in: {keyring}");
    }
    assert!(keyring.contains("— fix: "), "a fix is given: {keyring}");
}

/// On a remote host served through a forwarded socket (no config, no keyring here), doctor checks the
/// socket without sending anything through it (a request would ask the person at the desktop), and says
/// what to run when it is missing. On the desktop it says whether forwarding is on.
#[test]
fn doctor_checks_a_forwarded_socket_without_asking_the_desktop_and_reports_forwarding() {
    let world = World::new(Idp::start(IdpOptions::default()));
    let remote = CliWorld::new(PLUGIN, world);
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("signet.sock");
    let listener =
        std::os::unix::net::UnixListener::bind(&socket).expect("bind the forwarded socket");
    listener.set_nonblocking(true).expect("nonblocking");

    let out = remote
        .command(PLUGIN)
        .arg("doctor")
        .env("SIGNET_AGENT_SOCK", &socket)
        .output()
        .expect("run doctor");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "a served remote host is healthy: {stdout}{}",
        text(&out.stderr)
    );
    assert!(
        line(&stdout, "ok    config:").contains("come from your desktop"),
        "{stdout}"
    );
    assert!(
        line(&stdout, "ok    forwarded agent:").contains("is your socket"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("keyring:"),
        "no keyring is needed here: {stdout}"
    );
    assert!(
        listener.accept().is_err(),
        "nothing was sent through the socket"
    );

    let missing = dir.path().join("gone.sock");
    let out = remote
        .command(PLUGIN)
        .arg("doctor")
        .env("SIGNET_AGENT_SOCK", &missing)
        .output()
        .expect("run doctor");
    let stdout = text(&out.stdout);
    assert!(!out.status.success());
    let fail = line(&stdout, "fail  forwarded agent:");
    assert!(
        fail.contains("ssh -R") && fail.contains("gone.sock"),
        "{fail}"
    );

    let desktop = Env::new(SecretStoreChoice::Auto);
    let stdout = text(&desktop.doctor().stdout);
    assert!(
        line(&stdout, "ok    forwarding:").contains("off"),
        "{stdout}"
    );
    let mut config = desktop.world.config();
    config.settings.allow_forwarding = true;
    config.settings.forward_without_asking = true;
    desktop.world.write_config(&config);
    let stdout = text(&desktop.doctor().stdout);
    assert!(
        line(&stdout, "warn  forwarding:").contains("without asking"),
        "{stdout}"
    );
}
