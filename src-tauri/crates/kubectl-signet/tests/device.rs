//! `kubectl signet login --device` as a person runs it: the real CLI, the Dex stand-in's device grant, the
//! real keyring on a private D-Bus session, and — for the QR code — a pseudo-terminal (`script`). Each
//! way the identity provider can end the device sign-in (`access_denied`, `expired_token`) ends it with
//! one line and leaves nothing behind.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use signet_tests::browser::FormBrowser;
use signet_tests::cli::{CliWorld, text};
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::world::World;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");
/// How long the CLI may take to show the code, and to end after the IdP's answer (the interval is 1 s).
const WAIT: Duration = Duration::from_secs(30);

struct Env {
    cli: CliWorld,
    kubeconfig: PathBuf,
}

impl std::ops::Deref for Env {
    type Target = CliWorld;

    fn deref(&self) -> &CliWorld {
        &self.cli
    }
}

impl Env {
    /// Provider `corp` and cluster `prod` with their kubeconfig entries written; nobody signed in. The
    /// stand-in's device interval is 1 s (Dex says 5) to keep the tests short.
    fn new() -> Env {
        let world = World::new(Idp::start(IdpOptions {
            device_interval: Some(1),
            ..IdpOptions::default()
        }));
        world.write_config(&world.config());
        let kubeconfig = world.root.path().join("kubeconfig");
        let env = Env {
            cli: CliWorld::new(PLUGIN, world),
            kubeconfig,
        };
        let out = env.plugin(&["sync"]);
        assert!(out.status.success(), "sync: {}", text(&out.stderr));
        assert!(env.kubeconfig.exists(), "sync wrote the kubeconfig");
        env
    }

    /// `kubectl signet login corp --device` with stdout and stderr on pipes (no terminal: no QR code).
    fn device_login_on_pipes(&self) -> Running {
        let mut child = self
            .command(PLUGIN)
            .args(["login", "corp", "--device"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl-signet login --device");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        Running::new(child, stderr, Some(stdout))
    }

    /// The same on a pseudo-terminal: `script` runs it with stdin, stdout and stderr on a new pty and
    /// copies what the terminal shows to its own stdout.
    fn device_login_on_a_terminal(&self) -> Running {
        assert!(
            Command::new("script")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "`script` (util-linux) is missing: install util-linux (bsdutils) — this test never skips"
        );
        let line = format!("exec '{PLUGIN}' login corp --device");
        let mut child = self
            .command("script")
            .args([
                "--quiet",
                "--return",
                "--flush",
                "--command",
                &line,
                "/dev/null",
            ])
            .env("SHELL", "/bin/sh")
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start script");
        let terminal = child.stdout.take().expect("piped stdout");
        Running::new(child, terminal, None::<std::process::ChildStdout>)
    }

    /// Nothing of a session anywhere: no keyring entry, no cached token, and `status` says signed out.
    fn assert_nothing_kept(&self, why: &str) {
        assert_eq!(
            self.keyring.lookup("signet", "corp"),
            None,
            "{why}: no refresh token in the keyring"
        );
        let cached = files_under(&self.world.paths.tokens_dir());
        assert!(
            cached.is_empty(),
            "{why}: no cached token, found {cached:?}"
        );
        let out = self.plugin(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", text(&out.stderr));
        let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        assert_eq!(
            status["providers"][0]["signed_in"],
            Value::Bool(false),
            "{why}: status says signed out: {status}"
        );
    }
}

/// A device sign-in in progress: what it printed so far, line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

/// What the CLI shows before it waits: where to go and which code to type.
struct Prompt {
    verification_uri: String,
    user_code: String,
    verification_uri_complete: Option<String>,
}

impl Running {
    fn new(
        child: Child,
        lines_from: impl Read + Send + 'static,
        stdout: Option<impl Read + Send + 'static>,
    ) -> Running {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(lines_from);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                if tx.send(text).is_err() {
                    break;
                }
                line.clear();
            }
        });
        let stdout = stdout.map(|mut out| {
            std::thread::spawn(move || {
                let mut all = String::new();
                let _ = out.read_to_string(&mut all);
                all
            })
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
            stdout,
        }
    }

    /// Waits (≤ [`WAIT`]) for "Waiting for approval…" and returns what was shown before it.
    fn prompt(&mut self) -> Prompt {
        let deadline = Instant::now() + WAIT;
        while !self.seen.iter().any(|l| l.contains("Waiting for approval")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no device prompt within {WAIT:?}; shown so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
        let shown = self.seen.join("\n");
        let line = self
            .seen
            .iter()
            .find(|l| l.starts_with("To sign in to corp, open "))
            .unwrap_or_else(|| panic!("a 'To sign in to corp, open …' line in:\n{shown}"));
        let rest = line.trim_start_matches("To sign in to corp, open ");
        let (uri, code) = rest
            .split_once(" and enter the code ")
            .unwrap_or_else(|| panic!("'… and enter the code …' in {line:?}"));
        let complete = self
            .seen
            .iter()
            .find_map(|l| l.trim().strip_prefix("(or open "))
            .map(|l| l.trim_end_matches(')').to_string());
        Prompt {
            verification_uri: uri.to_string(),
            user_code: code.trim().to_string(),
            verification_uri_complete: complete,
        }
    }

    /// Waits (≤ `within`) for the CLI to exit; returns its status, every line shown after the prompt and
    /// its stdout (empty on a terminal, where it is part of the lines).
    fn finish(mut self, within: Duration) -> (ExitStatus, Vec<String>, String) {
        let started = self.seen.len();
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for kubectl-signet") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.seen.extend(self.lines.try_iter());
                panic!(
                    "the device sign-in did not end within {within:?}; shown:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader ends at EOF, once every writer of the pipe is gone.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().expect("stdout reader"))
            .unwrap_or_default();
        (status, self.seen.split_off(started), stdout)
    }
}

/// Every regular file under `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Waits (≤ [`WAIT`]) until the CLI has polled the token endpoint `polls` times.
fn wait_for_polls(idp: &Idp, polls: u64) {
    let deadline = Instant::now() + WAIT;
    while idp.stats().token_requests.device_code < polls {
        assert!(
            Instant::now() < deadline,
            "fewer than {polls} device polls within {WAIT:?}: {:?}",
            idp.stats()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one line a failed device sign-in ends with (after "Waiting for approval…"), checked to be the
/// only one: `signet: …`, exit 1, nothing on stdout.
fn the_one_failure_line(status: ExitStatus, after: &[String], stdout: &str) -> String {
    assert_eq!(
        status.code(),
        Some(1),
        "a failed sign-in exits 1: {after:?}"
    );
    assert!(stdout.trim().is_empty(), "nothing on stdout: {stdout:?}");
    let lines: Vec<&String> = after.iter().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line after the prompt, got {lines:?}");
    assert!(lines[0].starts_with("signet: "), "{:?}", lines[0]);
    lines[0].clone()
}

#[test]
fn a_device_sign_in_denied_at_the_idp_ends_with_one_line_and_keeps_nothing() {
    let env = Env::new();
    let kubeconfig_before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");
    let mut login = env.device_login_on_pipes();
    let prompt = login.prompt();
    assert!(
        !login
            .seen
            .iter()
            .any(|l| l.contains('█') || l.contains('▀')),
        "no QR code when stderr is not a terminal: {:?}",
        login.seen
    );
    wait_for_polls(&env.world.idp, 1);

    // The person presses "Cancel" on the IdP's confirmation page: the next poll answers access_denied.
    FormBrowser::new(env.world.idp.ca())
        .deny_device(&prompt.verification_uri, &prompt.user_code)
        .expect("the sign-in is cancelled at the IdP");
    let (status, after, stdout) = login.finish(WAIT);
    let line = the_one_failure_line(status, &after, &stdout);
    assert_eq!(
        line, "signet: the sign-in was denied at the identity provider",
        "the message names what happened"
    );

    env.assert_nothing_kept("after a denied device sign-in");
    assert_eq!(
        std::fs::read(&env.kubeconfig).expect("read kubeconfig"),
        kubeconfig_before,
        "the kubeconfig is unchanged"
    );
}

#[test]
fn a_device_code_the_idp_calls_expired_ends_the_sign_in_with_one_line_and_keeps_nothing() {
    let env = Env::new();
    let kubeconfig_before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");
    let mut login = env.device_login_on_pipes();
    login.prompt();
    wait_for_polls(&env.world.idp, 1);

    // The code's expires_in (300 s) is far off: only the IdP's `expired_token` can end the sign-in now.
    env.world.idp.expire_device_codes();
    let started = Instant::now();
    let (status, after, stdout) = login.finish(WAIT);
    let line = the_one_failure_line(status, &after, &stdout);
    assert_eq!(
        line,
        "signet: the device code expired before the sign-in was approved; run the sign-in again",
        "the message says what happened and what to do"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the next poll (1 s interval) ends it: took {:?}",
        started.elapsed()
    );

    env.assert_nothing_kept("after an expired device code");
    assert_eq!(
        std::fs::read(&env.kubeconfig).expect("read kubeconfig"),
        kubeconfig_before,
        "the kubeconfig is unchanged"
    );
}

#[test]
fn device_sign_in_on_a_terminal_shows_the_url_the_code_and_a_qr_code_and_completes_once_approved() {
    let env = Env::new();
    let mut login = env.device_login_on_a_terminal();
    let prompt = login.prompt();
    let shown = login.seen.join("\n");
    assert!(
        prompt.verification_uri.ends_with("/dex/device") && !prompt.user_code.is_empty(),
        "the verification URL and the user code are shown:\n{shown}"
    );
    let complete = prompt
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| panic!("the URL with the code in it is shown:\n{shown}"));
    // The QR code is the one of that URL (so a phone opens it with the code filled in), drawn with block
    // characters, light on dark as the CLI draws it.
    use qrcode::render::unicode::Dense1x2;
    let qr = qrcode::QrCode::new(complete.as_bytes())
        .expect("encode the URL")
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build();
    assert!(
        qr.lines().count() >= 10 && qr.contains('█') && qr.contains('▀'),
        "the expected QR block is block characters:\n{qr}"
    );
    assert!(
        shown.contains(&qr),
        "the terminal shows the QR code of {complete}:\n{shown}"
    );

    FormBrowser::new(env.world.idp.ca())
        .approve_device(
            &prompt.verification_uri,
            Some(&prompt.user_code),
            "bob",
            PASSWORD,
        )
        .expect("bob approves the device code");
    let (status, after, _) = login.finish(WAIT);
    assert!(
        status.success(),
        "the device sign-in succeeds: {status:?}\n{}",
        after.join("\n")
    );
    assert!(
        after
            .iter()
            .any(|l| l == "Signed in to corp as bob@example.com (groups: viewers)."),
        "{}",
        after.join("\n")
    );
    assert!(
        env.keyring.lookup("signet", "corp").is_some(),
        "the refresh token is in the keyring"
    );
}
