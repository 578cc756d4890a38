//! Agent forwarding end to end (issue 13, DESIGN.md §5.5), with real parts only: the tray app under Xvfb on
//! its own D-Bus session (recording notification server, unlocked gnome-keyring), the Dex stand-in, the
//! API-server stand-in, a real OpenSSH server on loopback ([`signet_tests::sshd`]) and the real kubectl.
//!
//! The "remote host" is this machine reached through sshd, with its own HOME, XDG directories and
//! KUBECONFIG and no Signet config, no keyring and no D-Bus: what it knows comes through the socket that
//! `ssh -R` forwards from the desktop's `$XDG_RUNTIME_DIR/signet/forward.sock`.
//!
//! - `forwarding_serves_a_remote_kubectl_after_the_person_allows_it_and_denies_at_once`:
//!   `kubectl signet remote setup` on the remote asks the desktop, the person presses "Allow for this
//!   session" in the notification, and the remote's kubeconfig gets the clusters; `kubectl auth whoami`
//!   there says alice without asking again; 20 parallel remote kubectl calls with an expired desktop token
//!   cause exactly one refresh at the IdP; a second ssh session is asked anew and "Deny" makes its kubectl
//!   fail at once with one line; every forwarded token is in the Activity log.
//! - `with_forwarding_off_the_remote_gets_one_clear_line`.

mod common;
use common::session::{Session, kubectl_signet, require_tools, spawn_app};

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use signet_core::config::{Config, LoginMode};
use signet_core::token_store::TokenCache;
use signet_tests::apiserver::{ApiServer, ApiServerOptions, versioned_kubectl};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::sshd::{Sshd, remote};
use signet_tests::world::{cluster, provider};

/// The desktop: a signed-in tray app with the API-server stand-in as cluster `prod`.
struct Desktop {
    idp: Idp,
    _api: ApiServer,
    session: Session,
    app: common::session::App,
    forward_sock: PathBuf,
}

fn desktop(root: &Path, allow_forwarding: bool) -> Desktop {
    require_tools(&["ssh", "ssh-keygen"]);
    let idp = Idp::start(IdpOptions::default());
    let api = ApiServer::start(ApiServerOptions::new(idp.issuer(), "kubernetes"));
    let mut corp = provider("corp", idp.issuer(), None);
    corp.login = LoginMode::Embedded;
    let mut prod = cluster("prod", "corp", Some("kubernetes"));
    prod.server = api.url().to_string();
    let ca = root.join("apiserver-ca.pem");
    std::fs::write(&ca, &api.ca().ca_pem).expect("write the API server CA");
    prod.ca_file = Some(ca);
    let mut config = Config {
        providers: vec![corp],
        clusters: vec![prod],
        ..Config::default()
    };
    config.settings.allow_forwarding = allow_forwarding;
    let session = Session::start(root, Some(&config));
    common::session::probe_login(&session, "corp", "alice");
    let app = spawn_app(&session);
    let forward_sock = root.join("runtime/signet/forward.sock");
    session.wait("the forwarding socket", 30, || {
        forward_sock.exists().then_some(())
    });
    Desktop {
        idp,
        _api: api,
        session,
        app,
        forward_sock,
    }
}

/// The remote host's side: its HOME and a PATH with the real kubectl and `kubectl-signet`.
struct Remote {
    home: PathBuf,
    bin: PathBuf,
}

impl Remote {
    fn new(root: &Path) -> Remote {
        let home = root.join("remote-home");
        let bin = root.join("remote-bin");
        for dir in [&home, &bin] {
            std::fs::create_dir_all(dir).expect("create a remote directory");
        }
        std::os::unix::fs::symlink(versioned_kubectl("1.32"), bin.join("kubectl"))
            .expect("link kubectl");
        std::os::unix::fs::symlink(kubectl_signet(), bin.join("kubectl-signet"))
            .expect("link kubectl-signet");
        Remote { home, bin }
    }

    /// `script` on the remote host through `sshd`, with only this host's environment and `socket`.
    fn run(&self, sshd: &Sshd, socket: &Path, script: &str) -> Child {
        let h = |p: &str| self.home.join(p).display().to_string();
        let path = format!("{}:/usr/bin:/bin", self.bin.display());
        let vars = [
            ("HOME", h("")),
            ("PATH", path),
            ("XDG_CONFIG_HOME", h(".config")),
            ("XDG_CACHE_HOME", h(".cache")),
            ("XDG_STATE_HOME", h(".local/state")),
            ("XDG_DATA_HOME", h(".local/share")),
            ("KUBECONFIG", h(".kube/config")),
            ("SIGNET_AGENT_SOCK", socket.display().to_string()),
        ];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sshd.ssh()
            .arg(remote(&vars, script))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh")
    }

    fn kubeconfig(&self) -> String {
        std::fs::read_to_string(self.home.join(".kube/config")).unwrap_or_default()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits for `child` to end, pressing `key` on notification `index` until it does (the app may start
/// listening for the press a moment after the notification appears; later presses are ignored).
fn answer_until_done(
    session: &Session,
    index: usize,
    key: &str,
    child: Child,
    within: Duration,
) -> (Output, Duration) {
    session.wait("the forwarding question", 30, || {
        (session.recorder.received().len() > index).then_some(())
    });
    let pressed = Instant::now();
    let mut child = child;
    loop {
        session.press(index, key);
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        assert!(
            pressed.elapsed() < within,
            "the remote command did not end within {within:?} of the answer"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let elapsed = pressed.elapsed();
    (child.wait_with_output().expect("collect ssh"), elapsed)
}

#[test]
fn forwarding_serves_a_remote_kubectl_after_the_person_allows_it_and_denies_at_once() {
    let root = tempfile::tempdir().expect("create the test root");
    let desk = desktop(root.path(), true);
    let session = &desk.session;
    let sshd = Sshd::start(&root.path().join("sshd"));
    let remote_host = Remote::new(root.path());
    let socket = remote_host.home.join(".signet.sock");
    let mut forward = sshd.forward(&socket, &desk.forward_sock);

    // 1. `remote setup` asks the desktop for its clusters; the person allows this session.
    let setup = remote_host.run(&sshd, &socket, "kubectl signet remote setup");
    let (out, _) = answer_until_done(session, 0, "allow-session", setup, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "remote setup: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let note = &session.recorder.received()[0];
    assert!(
        note.summary.starts_with("kubectl on ")
            && note.summary.ends_with(" wants the list of your clusters"),
        "{note:?}"
    );
    assert!(
        note.body.contains("ssh (pid "),
        "names the ssh session: {note:?}"
    );
    assert_eq!(
        note.actions,
        [
            "allow-once",
            "Allow once",
            "allow-session",
            "Allow for this session",
            "deny",
            "Deny"
        ]
    );
    assert!(
        text(&out.stdout).contains("context prod (cluster prod)"),
        "{}",
        text(&out.stdout)
    );
    let kubeconfig = remote_host.kubeconfig();
    assert!(
        kubeconfig.contains("SIGNET_AGENT_SOCK")
            && kubeconfig.contains(&socket.display().to_string()),
        "the remote's entries name the forwarded socket: {kubeconfig}"
    );
    assert!(
        kubeconfig.contains("certificate-authority-data"),
        "the CA travels as data: {kubeconfig}"
    );

    // 2. kubectl on the remote host: the API server says alice; the session is not asked again.
    let whoami = remote_host.run(
        &sshd,
        &socket,
        "kubectl auth whoami -o jsonpath='{.status.userInfo.username}'",
    );
    let out = whoami.wait_with_output().expect("ssh");
    assert!(
        out.status.success(),
        "kubectl auth whoami: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "alice@example.com");
    assert_eq!(
        session.recorder.received().len(),
        1,
        "an allowed session is not asked again"
    );

    // 3. Twenty kubectl at once while the desktop's token has expired: exactly one refresh at the IdP.
    let cache = TokenCache::new(&session.paths());
    let mut cached = cache
        .read("corp", "kubernetes")
        .expect("the desktop's cached token");
    cached.expires_at = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    cache.write(&cached).expect("expire the cached token");
    let refreshes = desk.idp.stats().token_requests.refresh_token;
    let parallel = remote_host.run(
        &sshd,
        &socket,
        "for i in $(seq 20); do kubectl auth whoami -o jsonpath='{.status.userInfo.username}' > \"$HOME/out.$i\" 2>&1 & done; wait; cat \"$HOME\"/out.*",
    );
    let out = parallel.wait_with_output().expect("ssh");
    let answers = text(&out.stdout);
    assert_eq!(
        answers.matches("alice@example.com").count(),
        20,
        "every remote kubectl got through: {answers}"
    );
    assert_eq!(
        desk.idp.stats().token_requests.refresh_token - refreshes,
        1,
        "one refresh for 20 remote callers"
    );
    assert_eq!(
        session.recorder.received().len(),
        1,
        "still no second question"
    );

    // 4. A new ssh session is asked anew; "Deny" makes its kubectl fail at once, with one line.
    let socket2 = remote_host.home.join(".signet-2.sock");
    let mut forward2 = sshd.forward(&socket2, &desk.forward_sock);
    let denied = remote_host.run(&sshd, &socket2, "kubectl-signet token --cluster prod");
    let (out, after_press) = answer_until_done(session, 1, "deny", denied, Duration::from_secs(10));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("signet: ") && err.contains("denied"),
        "says the desktop denied it: {err}"
    );
    assert!(
        after_press < Duration::from_secs(3),
        "fails at once: {after_press:?}"
    );
    assert!(
        session.recorder.received()[1]
            .summary
            .ends_with(" wants a token for prod"),
        "{:?}",
        session.recorder.received()[1]
    );

    // 5. The refresh token never crossed: nothing on the remote host holds it; the Activity log has every
    //    forwarded token (1 + 20).
    let out = session
        .command("secret-tool")
        .args(["lookup", "service", "signet", "username", "corp"])
        .output()
        .expect("run secret-tool");
    let refresh = text(&out.stdout);
    assert!(
        out.status.success() && !refresh.is_empty(),
        "the desktop keeps the refresh token"
    );
    for entry in walk(&remote_host.home) {
        let content = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&content).contains(&refresh),
            "{} holds the refresh token",
            entry.display()
        );
    }
    let kept: Vec<PathBuf> = walk(&remote_host.home)
        .into_iter()
        .filter(|f| {
            f.starts_with(remote_host.home.join(".cache"))
                || f.starts_with(remote_host.home.join(".local"))
        })
        .collect();
    assert!(
        kept.is_empty(),
        "the remote host keeps no token cache: {kept:?}"
    );
    let forwarded = session
        .app_log()
        .matches("token for prod forwarded to kubectl on")
        .count();
    assert_eq!(
        forwarded, 21,
        "every forwarded token is in the Activity log"
    );

    let _ = forward.kill();
    let _ = forward2.kill();
    let _ = forward.wait();
    let _ = forward2.wait();
    drop(desk.app);
}

#[test]
fn with_forwarding_off_the_remote_gets_one_clear_line() {
    let root = tempfile::tempdir().expect("create the test root");
    let desk = desktop(root.path(), false);
    let sshd = Sshd::start(&root.path().join("sshd"));
    let remote_host = Remote::new(root.path());
    let socket = remote_host.home.join(".signet.sock");
    let mut forward = sshd.forward(&socket, &desk.forward_sock);

    let out = remote_host
        .run(&sshd, &socket, "kubectl-signet token --cluster prod")
        .wait_with_output()
        .expect("ssh");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("forwarding is off") && err.contains("Allow kubectl on other hosts"),
        "says what to turn on: {err}"
    );
    assert!(text(&out.stdout).is_empty(), "no credential");
    assert!(
        desk.session.recorder.received().is_empty(),
        "nobody is asked"
    );

    // And with no desktop at the other end of the forward (the tray has quit): one line saying so.
    drop(desk.app);
    let out = remote_host
        .run(&sshd, &socket, "kubectl-signet token --cluster prod")
        .wait_with_output()
        .expect("ssh");
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("is Signet running on the desktop"), "{err}");
    let _ = forward.kill();
    let _ = forward.wait();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}
