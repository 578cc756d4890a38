//! A real OpenSSH server on loopback (Debian `openssh-server`), for the agent-forwarding tests: started on a
//! free port with its own host key, its own authorized key and its own config, logging in as the account
//! the tests run as. The "remote host" is this machine reached through sshd; its commands get a HOME, XDG
//! directories and KUBECONFIG of their own ([`Sshd::remote`]), so nothing touches the real user's files.
//!
//! Under root, sshd needs its privilege-separation directory `/run/sshd` (the package's service makes it);
//! it is created when missing.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary.
pub const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; stopped when dropped.
#[derive(Debug)]
pub struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// Starts sshd with its keys and config under `dir` (created); waits until it accepts connections.
    pub fn start(dir: &Path) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install Debian's openssh-server (scripts/setup.sh does)"
        );
        std::fs::create_dir_all(dir).expect("create the sshd directory");
        keygen(&dir.join("host_ed25519"));
        keygen(&dir.join("client_ed25519"));
        std::fs::copy(dir.join("client_ed25519.pub"), dir.join("authorized_keys"))
            .expect("authorize the client key");
        if rustix::process::geteuid().is_root() {
            std::fs::create_dir_all("/run/sshd")
                .expect("create sshd's privilege separation directory");
        }
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_ed25519\nAuthorizedKeysFile {dir}/authorized_keys\n\
             PidFile none\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\n\
             StreamLocalBindUnlink yes\nAllowTcpForwarding remote\nX11Forwarding no\nPermitUserEnvironment no\n\
             MaxSessions 50\nMaxStartups 50\nLogLevel VERBOSE\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).expect("write sshd_config");
        let log = std::fs::File::create(dir.join("sshd.log")).expect("create sshd.log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let user = current_user();
        let mut sshd = Sshd {
            child,
            port,
            dir: dir.to_path_buf(),
            user,
        };
        sshd.wait_until_up();
        sshd
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sshd exited ({status}): {}", self.log());
            }
            let out = self.ssh().arg("true").output().expect("run ssh");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not let us in: {}\nsshd: {}",
                String::from_utf8_lossy(&out.stderr),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("sshd.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// `ssh` to this server with the test's key, no user or system ssh config, no agent, and a known-hosts
    /// file of its own; add the remote command (or `-N` and forwards).
    pub fn ssh(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(self.dir.join("client_ed25519"))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.dir.join("known_hosts").display()
            ))
            .args([
                "-o",
                "StrictHostKeyChecking=accept-new",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
                "-p",
            ])
            .arg(self.port.to_string())
            .arg(format!("{}@127.0.0.1", self.user))
            .stdin(Stdio::null());
        cmd
    }

    /// `ssh -N -R remote:local`: the person's session that carries the desktop's socket to the remote
    /// host. Returns once the remote socket exists (it lives as long as the returned process).
    pub fn forward(&self, remote: &Path, local: &Path) -> Child {
        let mut cmd = self.ssh();
        cmd.args(["-N", "-o", "ExitOnForwardFailure=yes", "-R"])
            .arg(format!("{}:{}", remote.display(), local.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start ssh -R");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !remote.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("ssh -R exited ({status}): {err}\nsshd: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the forwarded socket {} did not appear",
                remote.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }
}

/// A remote command line: `env -i` with exactly `vars`, then `script` run by `sh -c`; every value is
/// single-quoted for the remote shell.
pub fn remote(vars: &[(&str, &str)], script: &str) -> String {
    let mut line = String::from("exec env -i");
    for (name, value) in vars {
        line.push(' ');
        line.push_str(name);
        line.push('=');
        line.push_str(&quote(value));
    }
    line.push_str(" sh -c ");
    line.push_str(&quote(script));
    line
}

/// Single-quotes `s` for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn keygen(path: &Path) {
    if path.exists() {
        return;
    }
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "signet-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
