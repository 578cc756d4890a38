//! Sharing kubeconfig with the real kubectl (DESIGN.md §5.4, reference D): kubectl and Signet writing the
//! same file at once, a Signet write killed at random points, a `.lock` someone else holds, `KUBECONFIG`
//! chains, and symlinked files with their modes.
//!
//! No IdP and no keyring here: `sync` (exec entries) and `use` only read Signet's config and edit
//! kubeconfig. Every test has its own temporary `HOME`, XDG directories, Signet config and `KUBECONFIG`;
//! `kubectl` is the one on `PATH`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use signet_core::config::Config;
use signet_core::kubeconfig::{BACKUP_SUFFIX, DEFAULT_LOCK_TIMEOUT, lock_path};
use signet_tests::cli::text;
use signet_tests::world::{cluster, generated_kubeconfig, provider};

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");

/// One test's private world: `HOME`, XDG directories, Signet config with provider `corp` and the given
/// clusters, and a `KUBECONFIG` of one or more files.
struct Sandbox {
    root: tempfile::TempDir,
    config_file: PathBuf,
    kubeconfig: Vec<PathBuf>,
}

impl Sandbox {
    /// Clusters named `names` (servers `https://<name>.example:6443`); `KUBECONFIG` is `<root>/kube/config`.
    fn new(names: &[&str]) -> Sandbox {
        let root = tempfile::tempdir().expect("create the test root");
        let config_file = root.path().join("config/signet/config.toml");
        fs::create_dir_all(root.path().join("home")).expect("create HOME");
        let kubeconfig = vec![root.path().join("kube/config")];
        let sandbox = Sandbox {
            root,
            config_file,
            kubeconfig,
        };
        let servers: Vec<(&str, String)> = names
            .iter()
            .map(|n| (*n, format!("https://{n}.example:6443")))
            .collect();
        sandbox.write_config(&servers);
        sandbox
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    /// The single kubeconfig file (tests with one file in `KUBECONFIG`).
    fn file(&self) -> &Path {
        assert_eq!(self.kubeconfig.len(), 1, "one kubeconfig file expected");
        &self.kubeconfig[0]
    }

    fn write_config(&self, clusters: &[(&str, String)]) {
        let config = Config {
            providers: vec![provider("corp", "https://dex.example.com/dex", None)],
            clusters: clusters
                .iter()
                .map(|(name, server)| {
                    let mut c = cluster(name, "corp", Some("kubernetes"));
                    c.server = server.clone();
                    c
                })
                .collect(),
            ..Config::default()
        };
        config
            .save(&self.config_file)
            .expect("save the Signet config");
    }

    /// A command whose environment points everything into this sandbox (and nowhere else).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let root = self.root.path();
        let kubeconfig: OsString =
            std::env::join_paths(&self.kubeconfig).expect("KUBECONFIG entries without ':'");
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", root.join("home"))
            .env("SIGNET_CONFIG", &self.config_file)
            .env("XDG_CONFIG_HOME", root.join("xdg/config"))
            .env("XDG_CACHE_HOME", root.join("xdg/cache"))
            .env("XDG_STATE_HOME", root.join("xdg/state"))
            .env("XDG_DATA_HOME", root.join("xdg/data"))
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn plugin(&self, args: &[&str]) -> Output {
        self.command(PLUGIN)
            .args(args)
            .output()
            .expect("run kubectl-signet")
    }

    /// Runs kubectl-signet and insists on success.
    fn plugin_ok(&self, args: &[&str]) -> Output {
        let out = self.plugin(args);
        assert!(
            out.status.success(),
            "expected `kubectl-signet {}` to succeed, got {:?}: {}",
            args.join(" "),
            out.status,
            text(&out.stderr)
        );
        out
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.command("kubectl")
            .args(args)
            .output()
            .expect("run kubectl (it must be on PATH)")
    }

    /// `kubectl config view --raw -o json` of the merged chain, which must succeed.
    fn merged_view(&self) -> Value {
        view_json(&self.kubectl(&["config", "view", "--raw", "-o", "json"]))
    }

    /// `kubectl config view --raw -o json` of one file only (`--kubeconfig` replaces the chain).
    fn file_view(&self, file: &Path) -> Value {
        let file = file.to_str().expect("UTF-8 path");
        view_json(&self.kubectl(&[
            "config",
            "view",
            "--raw",
            "-o",
            "json",
            "--kubeconfig",
            file,
        ]))
    }
}

fn view_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "expected `kubectl config view` to parse the kubeconfig, got {:?}: {}",
        out.status,
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kubectl config view prints JSON")
}

/// The entry named `name` in a view's `kind` list (`clusters`, `users`, `contexts`).
fn entry<'a>(view: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    view[kind]
        .as_array()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
}

fn names(view: &Value, kind: &str) -> Vec<String> {
    view[kind]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the cluster, user and context Signet writes for `name` in a kubeconfig view: the `signet`
/// extension on each, the server, and the exec entry.
fn assert_signet_entries(view: &Value, name: &str, server: &str) {
    let mark = serde_json::json!({"provider": "corp", "cluster": name});
    let extension = |e: &Value| -> Option<Value> {
        e["extensions"]
            .as_array()?
            .iter()
            .find(|x| x["name"] == "signet")
            .map(|x| x["extension"].clone())
    };
    let c = entry(view, "clusters", name)
        .unwrap_or_else(|| panic!("expected cluster {name} in {view}"));
    assert_eq!(c["cluster"]["server"], server, "server of cluster {name}");
    assert_eq!(
        extension(&c["cluster"]),
        Some(mark.clone()),
        "cluster {name}"
    );
    let user = format!("signet-{name}");
    let u = entry(view, "users", &user).unwrap_or_else(|| panic!("expected user {user}"));
    let exec = &u["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(
        exec["args"],
        serde_json::json!(["token", "--cluster", name]),
        "exec args of {user}"
    );
    assert!(
        exec["command"]
            .as_str()
            .is_some_and(|c| c.ends_with("kubectl-signet")),
        "exec command of {user}: {exec}"
    );
    assert_eq!(extension(&u["user"]), Some(mark.clone()), "user {user}");
    let ctx = entry(view, "contexts", name).unwrap_or_else(|| panic!("expected context {name}"));
    assert_eq!(ctx["context"]["cluster"], name);
    assert_eq!(ctx["context"]["user"], user.as_str());
    assert_eq!(extension(&ctx["context"]), Some(mark), "context {name}");
}

/// Small, seedable randomness (xorshift64*): the seed is printed so a failing run can be repeated with
/// `SIGNET_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn from_env_or_clock(test: &str) -> Rng {
        let seed = std::env::var("SIGNET_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0x5eed)
            });
        eprintln!("{test}: SIGNET_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, max)`.
    fn below(&mut self, max: u64) -> u64 {
        if max == 0 { 0 } else { self.next() % max }
    }
}

/// Runs `kubectl config set-context <name> --cluster=x`, retrying while another writer holds the lock.
/// kubectl takes `<file>.lock` with O_EXCL and fails at once when it exists ("…config.lock: file exists"):
/// that is kubectl's own behaviour, not a lost update, so the caller just tries again. Returns the retries.
fn kubectl_set_context(sandbox: &Sandbox, name: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut retries = 0;
    loop {
        let out = sandbox.kubectl(&["config", "set-context", name, "--cluster=x"]);
        if out.status.success() {
            return retries;
        }
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("file exists") || stderr.contains(".lock"),
            "expected kubectl to succeed or to find the lock taken, got: {stderr}"
        );
        assert!(
            Instant::now() < deadline,
            "kubectl could not take the lock for 60 s: {stderr}"
        );
        retries += 1;
        std::thread::sleep(Duration::from_millis(3));
    }
}

// ---------------------------------------------------------------------------------------------------------

/// 200 writes, half by a loop of `kubectl config set-context user-ctx-N`, half by a loop of Signet's
/// `sync` / `use prod` / `use prod --namespace nsN`, running at the same time on one file.
///
/// What must hold: every context kubectl made is there at the end (Signet reads inside the lock, so it
/// cannot write back a stale copy), Signet's entries are intact, and the file parses after every step of
/// the kubectl loop. The file is checked from that loop because its concurrent writer is then Signet,
/// whose writes are atomic; kubectl's own writes truncate the file in place, so a reader racing *kubectl*
/// can see a half-written file however well Signet behaves.
///
/// Not asserted: that the context's namespace is the *last* one Signet set. kubectl reads the file before
/// it takes the lock and writes back each entry that differs from a second, locked read — so a Signet
/// change that lands between kubectl's two reads is reverted by kubectl (client-go `ModifyConfig`). That is
/// kubectl's race with any writer; the test reports when it happened.
#[test]
fn kubectl_and_signet_writing_one_file_at_once_lose_no_update() {
    const STEPS: usize = 100;
    let sandbox = Sandbox::new(&["prod"]);
    sandbox.plugin_ok(&["sync"]);
    sandbox.plugin_ok(&["use", "prod"]);
    let mut rng = Rng::from_env_or_clock("interleaved writes");
    let jitter: Vec<u64> = (0..STEPS).map(|_| rng.below(15)).collect();

    let kubectl_done = AtomicUsize::new(0);
    let (kubectl_retries, namespaces) = std::thread::scope(|scope| {
        let kubectl_loop = scope.spawn(|| {
            let mut retries = 0;
            for n in 0..STEPS {
                retries += kubectl_set_context(&sandbox, &format!("user-ctx-{n}"));
                let view = sandbox.merged_view();
                assert!(
                    entry(&view, "contexts", &format!("user-ctx-{n}")).is_some(),
                    "kubectl's context user-ctx-{n} is visible right after it was written"
                );
                kubectl_done.store(n + 1, Ordering::SeqCst);
            }
            retries
        });
        let signet_loop = scope.spawn(|| {
            let mut namespaces = Vec::new();
            for (i, pause) in jitter.iter().enumerate() {
                // Keep pace with kubectl so the two loops overlap from start to end (and never wait
                // forever on a kubectl loop that died).
                let patience = Instant::now() + Duration::from_secs(60);
                while kubectl_done.load(Ordering::SeqCst) < i && Instant::now() < patience {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(*pause));
                match i % 3 {
                    0 => {
                        sandbox.plugin_ok(&["sync"]);
                    }
                    1 => {
                        sandbox.plugin_ok(&["use", "prod"]);
                    }
                    _ => {
                        let ns = format!("ns{i}");
                        sandbox.plugin_ok(&["use", "prod", "--namespace", &ns]);
                        namespaces.push(ns);
                    }
                }
            }
            namespaces
        });
        let namespaces = signet_loop.join().expect("the Signet loop");
        let retries = kubectl_loop.join().expect("the kubectl loop");
        (retries, namespaces)
    });

    let view = sandbox.merged_view();
    let missing: Vec<String> = (0..STEPS)
        .map(|n| format!("user-ctx-{n}"))
        .filter(|name| entry(&view, "contexts", name).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "lost updates: kubectl's contexts {missing:?} are gone"
    );
    assert_signet_entries(&view, "prod", "https://prod.example:6443");
    assert_eq!(view["current-context"], "prod");
    let ns = entry(&view, "contexts", "prod").expect("prod context")["context"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        namespaces.contains(&ns),
        "the prod namespace {ns:?} is one Signet set ({} of them)",
        namespaces.len()
    );
    let last = namespaces.last().expect("Signet set namespaces");
    eprintln!(
        "interleaved writes: {STEPS} kubectl + {STEPS} Signet writes; kubectl retried {kubectl_retries} times on the lock; prod namespace {ns} (last set by Signet: {last}{})",
        if &ns == last {
            ""
        } else {
            "; kubectl wrote back an older copy — its own unlocked-read race"
        }
    );
    let lock = lock_path(sandbox.file());
    assert!(
        !lock.exists(),
        "no lock is left behind: {} exists",
        lock.display()
    );
}

/// `kubectl-signet sync` and `use` on a 2,000-context kubeconfig, killed with SIGKILL after random
/// delays, over and over: after each kill the file must be byte for byte the old or the new version and
/// parse with kubectl.
///
/// Two runs in three are `use prod --namespace kill-N` (the in-place fast path), one in three is `sync`
/// after a server change (the full parse-and-serialise path); both write the whole ~2 MB file. The new
/// version is computed first by running the same command to completion on a copy. Delays are drawn up to
/// 1.2× the command's measured run time (at least 50 ms; the debug build's `sync` needs ~2 s), half of
/// them between 70% and 110% of it, where the file is written, so kills land before, during and after
/// the write. `SIGNET_KILL_ITERATIONS` (default 30) and `SIGNET_TEST_SEED`
/// repeat or extend a run. What a kill leaves besides the file is reported: a temporary file
/// (`.config.XXXXXX.tmp`: hidden and `.tmp`, never a name kubectl or a `KUBECONFIG` glob would load) and
/// the killed process's `config.lock`.
///
/// A killed Signet's lock says whose it is (`signet <pid>`) and nobody holds its OS lock any more, so the
/// next Signet write removes it and goes through at once (checked after every kill that left one). A lock
/// without Signet's mark is never removed: see the held-lock test.
#[test]
fn a_signet_write_killed_at_random_points_leaves_the_old_or_the_new_file() {
    let iterations: usize = std::env::var("SIGNET_KILL_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let sandbox = Sandbox::new(&["prod"]);
    let file = sandbox.file().to_path_buf();
    let dir = file.parent().expect("kubeconfig dir").to_path_buf();
    fs::create_dir_all(&dir).expect("create the kubeconfig dir");
    fs::write(&file, generated_kubeconfig(2000)).expect("write the 2,000-context kubeconfig");
    sandbox.plugin_ok(&["sync"]);
    sandbox.plugin_ok(&["use", "prod"]);
    let size_kib = fs::metadata(&file).expect("stat").len() / 1024;
    sandbox.merged_view();
    // The bytes kubectl last parsed: a file identical to them needs no second look.
    let mut parsed = fs::read(&file).expect("read the kubeconfig");

    // A twin that runs each command to completion on a copy, to know what "the new version" is.
    let mut twin = Sandbox::new(&["prod"]);
    twin.config_file = sandbox.config_file.clone();
    let twin_file = twin.file().to_path_buf();
    fs::create_dir_all(twin_file.parent().expect("dir")).expect("create the twin dir");

    let mut rng = Rng::from_env_or_clock("killed writes");
    let (mut old, mut new, mut completed) = (0, 0, 0);
    let (mut locks_left, mut temps_left) = (0, Vec::new());
    for i in 0..iterations {
        let ns = format!("kill-{i}");
        let args: Vec<&str> = if i % 3 != 2 {
            vec!["use", "prod", "--namespace", &ns]
        } else {
            // A new server makes `sync` rewrite the whole file (the full parse-and-serialise path).
            sandbox.write_config(&[("prod", format!("https://prod.example:{}", 7000 + i))]);
            vec!["sync"]
        };
        let before = fs::read(&file).expect("read the kubeconfig");
        fs::write(&twin_file, &before).expect("copy to the twin");
        let started = Instant::now();
        twin.plugin_ok(&args);
        let run_time = started.elapsed();
        let after = fs::read(&twin_file).expect("read the twin's result");
        assert!(
            before != after,
            "expected `{}` to change the file ({} bytes)",
            args.join(" "),
            before.len()
        );

        // Half the kills anywhere in the run, half in its last stretch, where the file is written.
        let span = run_time.max(Duration::from_millis(50)).as_micros() as u64;
        let delay = Duration::from_micros(if rng.below(2) == 0 {
            rng.below(span + span / 5)
        } else {
            span * 7 / 10 + rng.below(span * 4 / 10)
        });
        let mut child = sandbox
            .command(PLUGIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kubectl-signet");
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; an error means it had already exited
        let status = child.wait().expect("reap kubectl-signet");

        let now = fs::read(&file).expect("read the kubeconfig after the kill");
        if status.success() {
            completed += 1;
            assert_eq!(
                now,
                after,
                "a completed `{}` wrote the new version",
                args.join(" ")
            );
        } else if now == before {
            old += 1;
        } else if now == after {
            new += 1;
        } else {
            panic!(
                "after SIGKILL at {delay:?} into `{}` the kubeconfig is neither the old ({} bytes) nor the new ({} bytes) version: {} bytes",
                args.join(" "),
                before.len(),
                after.len(),
                now.len()
            );
        }
        if now != parsed {
            sandbox.merged_view(); // kubectl parses it
            parsed = now;
        }

        for leftover in fs::read_dir(&dir).expect("list the kubeconfig dir") {
            let name = leftover
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name == "config" || name == format!("config{BACKUP_SUFFIX}") {
                continue;
            }
            if name == "config.lock" {
                locks_left += 1;
                assert_a_killed_signets_lock_is_reclaimed(&sandbox, &dir.join(&name));
                parsed = fs::read(&file).expect("read the kubeconfig");
                continue;
            }
            assert!(
                name.starts_with(".config.") && name.ends_with(".tmp"),
                "a leftover that is neither the kubeconfig, its backup, its lock nor a hidden .tmp: {name}"
            );
            temps_left.push(name.clone());
            fs::remove_file(dir.join(&name)).expect("remove the leftover temp file");
        }
    }
    eprintln!(
        "killed writes on a {size_kib} KiB kubeconfig, {iterations} runs: {old} left the old file, {new} the new file (killed after the rename), {completed} finished before the kill; {locks_left} left config.lock, {} left a temp file {:?}",
        temps_left.len(),
        temps_left.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        old + new > 0,
        "at least one run was killed before it finished"
    );
}

/// With the lock a killed Signet left behind, the next Signet write removes it and succeeds without
/// waiting for the lock timeout.
fn assert_a_killed_signets_lock_is_reclaimed(sandbox: &Sandbox, lock: &Path) {
    let left = fs::read_to_string(lock).unwrap_or_default();
    assert!(
        left.is_empty() || left.starts_with("signet "),
        "a killed Signet's lock is empty (killed before the mark) or marked: {left:?}"
    );
    if left.is_empty() {
        // Killed between creating the file and marking it: indistinguishable from kubectl's sentinel,
        // so it is kept, and the person removes it (as after a crashed kubectl).
        fs::remove_file(lock).expect("remove the unmarked leftover lock");
        return;
    }
    let started = Instant::now();
    let out = sandbox.plugin(&["use", "prod"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "the next `use` reclaims the lock: {}",
        text(&out.stderr)
    );
    assert!(
        took < DEFAULT_LOCK_TIMEOUT,
        "no wait for the lock timeout: {took:?}"
    );
    assert!(!lock.exists(), "the reclaimed lock is released afterwards");
}

/// A Signet killed while it holds the kubeconfig lock leaves its marked lock behind; the next write reclaims
/// it at once. Forced rather than left to a random kill: with `KUBECONFIG=a:b` and `b.lock` held by someone
/// else, Signet takes `a.lock` (sorted order) and waits for `b.lock` — it is killed right then.
#[test]
fn a_lock_left_by_a_signet_killed_while_holding_it_is_reclaimed_by_the_next_write() {
    let mut sandbox = Sandbox::new(&["prod"]);
    let (a, b) = (sandbox.path("kube/a"), sandbox.path("kube/b"));
    sandbox.kubeconfig = vec![a.clone(), b.clone()];
    sandbox.plugin_ok(&["sync"]);
    let (a_lock, b_lock) = (lock_path(&a), lock_path(&b));
    fs::write(&b_lock, "").expect("someone else (a kubectl) holds b's lock");
    let mut child = sandbox
        .command(PLUGIN)
        .args(["use", "prod"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl-signet");
    let mark = format!("signet {}", child.id());
    let deadline = Instant::now() + DEFAULT_LOCK_TIMEOUT;
    while !fs::read_to_string(&a_lock).is_ok_and(|text| text.starts_with(&mark)) {
        assert!(
            child.try_wait().expect("poll kubectl-signet").is_none() && Instant::now() < deadline,
            "kubectl-signet never held {} while waiting for {}",
            a_lock.display(),
            b_lock.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
        .kill()
        .expect("SIGKILL kubectl-signet while it holds a.lock");
    child.wait().expect("reap kubectl-signet");
    assert!(
        fs::read_to_string(&a_lock).is_ok_and(|text| text.starts_with(&mark)),
        "the killed Signet left its marked lock"
    );
    fs::remove_file(&b_lock).expect("the other writer is done");
    assert_a_killed_signets_lock_is_reclaimed(&sandbox, &a_lock);
}

/// A `.lock` someone holds (a kubectl mid-write, or a crashed one) makes `use` wait for
/// [`DEFAULT_LOCK_TIMEOUT`], then fail with exit 1 and a message naming the lock; the lock stays. Released
/// while Signet waits, it is taken and the write goes through; an old lock is called stale.
#[test]
fn a_held_lock_makes_signet_wait_then_fail_naming_it_and_the_lock_stays() {
    let sandbox = Sandbox::new(&["prod"]);
    sandbox.plugin_ok(&["sync"]);
    sandbox.plugin_ok(&["use", "prod"]);
    let file = sandbox.file().to_path_buf();
    let lock = lock_path(&file);
    let before = fs::read(&file).expect("read kubeconfig");

    fs::write(&lock, "held by the test").expect("create the lock");
    let started = Instant::now();
    let out = sandbox.plugin(&["use", "prod", "--namespace", "blocked"]);
    let waited = started.elapsed();
    let stderr = text(&out.stderr);
    eprintln!("held lock: `use` gave up after {waited:?}: {stderr}");
    assert_eq!(out.status.code(), Some(1), "exit 1 when locked: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    assert!(
        waited >= DEFAULT_LOCK_TIMEOUT.mul_f32(0.9) && waited < DEFAULT_LOCK_TIMEOUT * 2,
        "waited about the lock timeout ({DEFAULT_LOCK_TIMEOUT:?}), took {waited:?}"
    );
    assert!(
        stderr.contains(&format!("'{}'", lock.display())),
        "the message names the lock file: {stderr}"
    );
    assert!(
        stderr.contains("locked") && stderr.contains("try again"),
        "the message says what is wrong and what to do: {stderr}"
    );
    assert_eq!(
        fs::read_to_string(&lock).ok().as_deref(),
        Some("held by the test"),
        "the lock is not deleted or replaced"
    );
    assert!(
        fs::read(&file).expect("read kubeconfig") == before,
        "nothing written while locked"
    );

    // Released while Signet waits: it gets the lock and writes.
    let mut child = sandbox
        .command(PLUGIN)
        .args(["use", "prod", "--namespace", "after-wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl-signet");
    std::thread::sleep(Duration::from_millis(800));
    // The proof that it waits: 800 ms in, it has neither finished nor written (without the lock it would
    // have written and exited long before; it is far from its lock timeout).
    assert!(
        child.try_wait().expect("poll kubectl-signet").is_none(),
        "`use` must still be waiting for the held lock after 800 ms"
    );
    assert!(
        fs::read(&file).expect("read kubeconfig") == before,
        "nothing written while the lock is held"
    );
    fs::remove_file(&lock).expect("release the lock");
    let out = child.wait_with_output().expect("kubectl-signet");
    // Success (not the timeout's exit 1) means it took the lock once released.
    assert!(
        out.status.success(),
        "`use` went through once the lock was released: {}",
        text(&out.stderr)
    );
    let view = sandbox.merged_view();
    assert_eq!(
        entry(&view, "contexts", "prod").expect("prod")["context"]["namespace"],
        "after-wait"
    );
    assert!(!lock.exists(), "Signet removed the lock it created");

    // A lock last touched two minutes ago is reported as stale, and still left alone.
    let stale = fs::File::create(&lock).expect("create an old lock");
    stale
        .set_modified(SystemTime::now() - Duration::from_secs(120))
        .expect("age the lock");
    drop(stale);
    let out = sandbox.plugin(&["use", "prod"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("looks stale") && stderr.contains("delete it"),
        "an old lock is called stale, with the fix: {stderr}"
    );
    assert!(lock.exists(), "a stale lock is still not deleted by Signet");
}

/// `KUBECONFIG` chains of two and three files: new entries go to the first file that exists (the last
/// when none does), entries that exist are edited in the file they came from, and `current-context` goes
/// to the default file — the same files the real kubectl picks for its own writes in the same chain.
#[test]
fn kubeconfig_chains_put_entries_where_client_go_would() {
    // Two files, neither exists: everything goes to the last one.
    let mut two = Sandbox::new(&["prod"]);
    let (a, b) = (two.path("kube/a"), two.path("kube/b"));
    two.kubeconfig = vec![a.clone(), b.clone()];
    two.plugin_ok(&["sync"]);
    two.plugin_ok(&["use", "prod", "--namespace", "team"]);
    assert!(!a.exists(), "the first file is not created");
    let in_b = two.file_view(&b);
    assert_signet_entries(&in_b, "prod", "https://prod.example:6443");
    assert_eq!(in_b["current-context"], "prod");
    assert_eq!(
        entry(&in_b, "contexts", "prod").expect("prod")["context"]["namespace"],
        "team"
    );
    kubectl_set_context(&two, "from-kubectl");
    assert!(!a.exists(), "kubectl does not create the first file either");
    assert!(
        entry(&two.file_view(&b), "contexts", "from-kubectl").is_some(),
        "kubectl put its new context in the same file"
    );
    let merged = two.merged_view();
    assert_signet_entries(&merged, "prod", "https://prod.example:6443");
    assert_eq!(merged["current-context"], "prod");

    // Two files, only the first exists: new entries go to it.
    let mut first = Sandbox::new(&["prod"]);
    let (a, b) = (first.path("kube/a"), first.path("kube/b"));
    first.kubeconfig = vec![a.clone(), b.clone()];
    fs::create_dir_all(a.parent().expect("dir")).expect("mkdir");
    fs::write(&a, UNRELATED_A).expect("write a");
    first.plugin_ok(&["sync"]);
    assert!(!b.exists(), "the last file is not created");
    let in_a = first.file_view(&a);
    assert_signet_entries(&in_a, "prod", "https://prod.example:6443");
    assert!(
        entry(&in_a, "contexts", "a-ctx").is_some(),
        "a's own entry kept"
    );
    kubectl_set_context(&first, "from-kubectl");
    assert!(
        entry(&first.file_view(&a), "contexts", "from-kubectl").is_some() && !b.exists(),
        "kubectl chose the same file"
    );

    // Three files: a missing, b exists, c exists and already holds prod's entries (written when
    // KUBECONFIG was c alone). A new cluster goes to b; prod is updated in c; current-context goes to b.
    let mut three = Sandbox::new(&["prod"]);
    let (a, b, c) = (
        three.path("kube/a"),
        three.path("kube/b"),
        three.path("kube/c"),
    );
    three.kubeconfig = vec![c.clone()];
    three.plugin_ok(&["sync"]);
    three.plugin_ok(&["use", "prod"]);
    kubectl_set_context(&three, "shared-in-c"); // someone else's entry in c
    fs::write(&b, UNRELATED_B).expect("write b");
    three.kubeconfig = vec![a.clone(), b.clone(), c.clone()];
    three.write_config(&[
        ("prod", "https://prod-moved.example:6443".into()),
        ("staging", "https://staging.example:6443".into()),
    ]);
    three.plugin_ok(&["sync"]);
    assert!(!a.exists(), "the missing first file is not created");
    let (in_b, in_c) = (three.file_view(&b), three.file_view(&c));
    assert_signet_entries(&in_b, "staging", "https://staging.example:6443");
    assert_signet_entries(&in_c, "prod", "https://prod-moved.example:6443");
    assert!(
        entry(&in_b, "clusters", "prod").is_none() && entry(&in_c, "clusters", "staging").is_none(),
        "each entry lives in exactly one file: b {:?}, c {:?}",
        names(&in_b, "clusters"),
        names(&in_c, "clusters")
    );
    assert!(
        entry(&in_b, "contexts", "b-ctx").is_some(),
        "b's own entry kept"
    );
    let (b_text, c_text) = (
        fs::read_to_string(&b).expect("read b"),
        fs::read_to_string(&c).expect("read c"),
    );
    assert!(
        b_text.contains("staging.example") && !b_text.contains("prod-moved.example"),
        "b's text holds staging, not prod:\n{b_text}"
    );
    assert!(
        c_text.contains("prod-moved.example") && !c_text.contains("staging"),
        "c's text holds prod, not staging:\n{c_text}"
    );

    three.plugin_ok(&["use", "prod", "--namespace", "ns-in-c"]);
    let (in_b, in_c) = (three.file_view(&b), three.file_view(&c));
    assert_eq!(
        entry(&in_c, "contexts", "prod").expect("prod in c")["context"]["namespace"],
        "ns-in-c",
        "the namespace is set where the context lives"
    );
    assert_eq!(
        in_b["current-context"], "",
        "prod was already current (through c): nothing to write, as with kubectl's writeCurrentContext"
    );
    three.plugin_ok(&["use", "staging"]);
    let (in_b, in_c) = (three.file_view(&b), three.file_view(&c));
    assert_eq!(in_b["current-context"], "staging");
    assert_eq!(
        in_c["current-context"], "prod",
        "c's own current-context untouched"
    );
    let merged = three.merged_view();
    assert_eq!(
        merged["current-context"], "staging",
        "first file to set it wins"
    );
    assert_signet_entries(&merged, "prod", "https://prod-moved.example:6443");
    assert_signet_entries(&merged, "staging", "https://staging.example:6443");

    // The real kubectl in the same chain: a new context goes to b, an existing one is edited in c,
    // use-context writes b.
    kubectl_set_context(&three, "from-kubectl");
    let out = three.kubectl(&["config", "set-context", "shared-in-c", "--namespace=z"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = three.kubectl(&["config", "use-context", "prod"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (in_b, in_c) = (three.file_view(&b), three.file_view(&c));
    assert!(
        entry(&in_b, "contexts", "from-kubectl").is_some(),
        "kubectl: new → b"
    );
    assert_eq!(
        entry(&in_c, "contexts", "shared-in-c").expect("shared-in-c in c")["context"]["namespace"],
        "z",
        "kubectl: existing → where it lives"
    );
    assert_eq!(
        in_b["current-context"], "prod",
        "kubectl: current-context → b"
    );
    assert!(!a.exists(), "nobody created the first file");
}

const UNRELATED_A: &str = "apiVersion: v1
kind: Config
clusters:
- name: a-cluster
  cluster:
    server: https://a.example:6443
users:
- name: a-user
  user:
    token: a-token
contexts:
- name: a-ctx
  context:
    cluster: a-cluster
    user: a-user
";

const UNRELATED_B: &str = "apiVersion: v1
kind: Config
clusters:
- name: b-cluster
  cluster:
    server: https://b.example:6443
users:
- name: b-user
  user:
    token: b-token
contexts:
- name: b-ctx
  context:
    cluster: b-cluster
    user: b-user
";

/// A symlinked kubeconfig stays a symlink, its target gets every change (fast `use` and full `sync`), the
/// target keeps its mode (0640 stays 0640) and the backup sits next to the target; a new file is 0600.
#[cfg(unix)]
#[test]
fn a_symlinked_kubeconfig_stays_a_symlink_and_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o7777;

    let mut sandbox = Sandbox::new(&["prod"]);
    let target = sandbox.path("dotfiles/kube.yaml");
    let link = sandbox.path("home/.kube/config");
    fs::create_dir_all(target.parent().expect("dir")).expect("mkdir dotfiles");
    fs::create_dir_all(link.parent().expect("dir")).expect("mkdir .kube");
    fs::write(&target, UNRELATED_A).expect("write the target");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).expect("chmod 0640");
    let relative = Path::new("../../dotfiles/kube.yaml");
    std::os::unix::fs::symlink(relative, &link).expect("symlink");
    sandbox.kubeconfig = vec![link.clone()];

    let check = |sandbox: &Sandbox, step: &str| {
        let meta = fs::symlink_metadata(&link).expect("lstat the link");
        assert!(meta.file_type().is_symlink(), "{step}: still a symlink");
        assert_eq!(
            fs::read_link(&link).expect("readlink"),
            relative,
            "{step}: the link is unchanged"
        );
        assert_eq!(mode(&target), 0o640, "{step}: the target keeps mode 0640");
        let in_target = sandbox.file_view(&target);
        assert!(
            entry(&in_target, "contexts", "a-ctx").is_some(),
            "{step}: the target keeps its own entries"
        );
        let leftovers: Vec<String> = fs::read_dir(link.parent().expect("dir"))
            .expect("list .kube")
            .chain(fs::read_dir(target.parent().expect("dir")).expect("list dotfiles"))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "config" && n != "kube.yaml" && n != "kube.yaml.signet-backup")
            .collect();
        assert!(leftovers.is_empty(), "{step}: stray files {leftovers:?}");
        in_target
    };

    sandbox.plugin_ok(&["sync"]);
    let in_target = check(&sandbox, "sync");
    assert_signet_entries(&in_target, "prod", "https://prod.example:6443");
    let backup = sandbox.path("dotfiles/kube.yaml.signet-backup");
    assert_eq!(
        fs::read_to_string(&backup).ok().as_deref(),
        Some(UNRELATED_A),
        "the backup of the original sits next to the target"
    );

    sandbox.plugin_ok(&["use", "prod", "--namespace", "through-link"]);
    let in_target = check(&sandbox, "use");
    assert_eq!(in_target["current-context"], "prod");
    assert_eq!(
        entry(&in_target, "contexts", "prod").expect("prod")["context"]["namespace"],
        "through-link"
    );

    sandbox.write_config(&[("prod", "https://prod-moved.example:6443".into())]);
    sandbox.plugin_ok(&["sync"]);
    let in_target = check(&sandbox, "sync after a server change");
    assert_signet_entries(&in_target, "prod", "https://prod-moved.example:6443");
    let merged = sandbox.merged_view();
    assert_signet_entries(&merged, "prod", "https://prod-moved.example:6443");
    assert_eq!(
        fs::read_to_string(&backup).ok().as_deref(),
        Some(UNRELATED_A),
        "one backup, from before Signet's first change"
    );

    // A kubeconfig Signet creates is private.
    let fresh = Sandbox::new(&["prod"]);
    fresh.plugin_ok(&["sync"]);
    assert_eq!(mode(fresh.file()), 0o600, "a new kubeconfig is 0600");
}

/// `use --namespace` takes only a Kubernetes namespace (an RFC 1123 label): anything else is refused
/// before the kubeconfig is touched, with the rule in the message and the name's control characters
/// escaped (issue 12: `use prod --namespace 'Bad_NS!'` used to write that namespace).
#[test]
fn use_refuses_a_namespace_that_is_not_an_rfc1123_label_and_writes_nothing() {
    let sandbox = Sandbox::new(&["prod"]);
    sandbox.plugin_ok(&["sync"]);
    let before = fs::read(sandbox.file()).expect("read the kubeconfig");
    for bad in ["Bad_NS!", "team a", "ns\u{1b}[2J", "-ns"] {
        let out = sandbox.plugin(&["use", "prod", &format!("--namespace={bad}")]);
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "`use --namespace {bad:?}` must fail with 1: {stderr}"
        );
        assert!(stderr.contains("RFC 1123"), "the rule is named: {stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "no raw control character on the terminal: {stderr:?}"
        );
        assert_eq!(
            fs::read(sandbox.file()).expect("read the kubeconfig"),
            before,
            "`use --namespace {bad:?}` left the kubeconfig byte for byte"
        );
    }
    sandbox.plugin_ok(&["use", "prod", "--namespace", "team-a"]);
}
