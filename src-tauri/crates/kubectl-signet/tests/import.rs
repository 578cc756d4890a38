//! `kubectl signet import` and `kubectl signet doctor` as a person runs them: a kubeconfig with a kubelogin
//! exec user, a legacy `auth-provider: oidc` user and unrelated entries; the real kubectl; the Dex
//! stand-in; the API-server stand-in (which trusts the old client id, `signet`, as audience); the real
//! keyring on a private D-Bus session; a catalog served by a tiny loopback HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use signet_core::config::Config;
use signet_tests::apiserver::{ApiServer, ApiServerOptions};
use signet_tests::cli::{CliWorld, text};
use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::tls::{HttpsFile, TestCa};
use signet_tests::world::World;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");
const FIXTURE: &str = include_str!("fixtures/kubelogin-kubeconfig.yaml");
/// The provider name import derives from the issuer `http://127.0.0.1:PORT/dex`.
const PROVIDER: &str = "127-0-0-1";
const LEGACY_SECRETS: [&str; 2] = ["legacy-id-token-signature", "legacy-refresh-token-value"];

/// The CLI world with the API-server stand-in; sign-ins open `signet-probe browse alice`.
struct Env {
    cli: CliWorld,
    api: ApiServer,
    kubeconfig: PathBuf,
}

impl std::ops::Deref for Env {
    type Target = CliWorld;

    fn deref(&self) -> &CliWorld {
        &self.cli
    }
}

impl Env {
    /// A world whose kubeconfig is the fixture, pointing at the stand-ins; no Signet config yet.
    fn new() -> Env {
        let world = World::new(Idp::start(IdpOptions::default()));
        // The API server trusts the old kubelogin client id as audience, as a real one would.
        let api = ApiServer::start(ApiServerOptions::new(world.idp.issuer(), "signet"));
        let kubeconfig = world.root.path().join("kubeconfig");
        let text = FIXTURE
            .replace("@ISSUER@", world.idp.issuer())
            .replace("@SERVER@", api.url())
            .replace("@CA@", &api.ca().ca_file.display().to_string());
        std::fs::write(&kubeconfig, text).expect("write the fixture kubeconfig");
        Env {
            cli: CliWorld::new(PLUGIN, world).browser("alice"),
            api,
            kubeconfig,
        }
    }

    fn idp(&self) -> &Idp {
        &self.world.idp
    }

    /// The kubeconfig as kubectl reads it (`kubectl config view --raw -o json`).
    fn view(&self) -> Value {
        let out = self.kubectl(&["config", "view", "--raw", "-o", "json"]);
        assert!(out.status.success(), "config view: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("kubectl config view JSON")
    }

    fn config_text(&self) -> String {
        std::fs::read_to_string(&self.world.paths.config_file).unwrap_or_default()
    }
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The named entry of a `kubectl config view` list (`clusters`, `users`, `contexts`).
fn entry<'a>(view: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    view[list].as_array()?.iter().find(|e| e["name"] == name)
}

fn names(view: &Value, list: &str) -> Vec<String> {
    view[list]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `value` without its `signet` extension (an adopted entry is the old one plus Signet's mark).
fn without_signet_mark(value: &Value, inner: &str) -> Value {
    let mut value = value.clone();
    if let Some(list) = value[inner]["extensions"].as_array_mut() {
        list.retain(|e| e["name"] != "signet");
    }
    value
}

fn whoami(env: &Env, context: &str) -> Value {
    let out = env.kubectl(&["auth", "whoami", "--context", context, "-o", "json"]);
    serde_json::from_slice(ok(&out, &format!("kubectl auth whoami --context {context}")).as_bytes())
        .expect("SelfSubjectReview JSON")
}

#[test]
fn import_dry_run_prints_the_plan_and_changes_nothing() {
    let env = Env::new();
    let before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");
    let out = env.plugin(&["import", "--dry-run"]);
    let stdout = ok(&out, "import --dry-run");
    for expected in [
        "Import from kubeconfig",
        &format!("name = \"{PROVIDER}\""),
        "client_id = \"signet\"",
        "[[clusters]]",
        "audience = \"signet\"",
        "context prod: user oidc (kubelogin exec) → signet-prod-2",
        "cluster prod → prod-2 (a copy; prod stays for prod-admin)",
        "context staging: user legacy (legacy auth-provider oidc) → signet-staging",
        "cluster staging becomes Signet's",
        "Left untouched: users legacy, oidc (remove them",
        "Dry run: nothing was changed",
    ] {
        assert!(
            stdout.contains(expected),
            "expected {expected:?} in:\n{stdout}"
        );
    }
    for secret in LEGACY_SECRETS {
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
    }
    assert_eq!(
        std::fs::read(&env.kubeconfig).expect("read kubeconfig"),
        before,
        "a dry run leaves the kubeconfig byte for byte"
    );
    assert!(
        !env.world.paths.config_file.exists(),
        "a dry run writes no config"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.world.root.path())
        .expect("list root")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("kubeconfig."))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no backup or lock left: {leftovers:?}"
    );
}

#[test]
fn import_adopts_kubelogin_and_legacy_contexts_keeps_every_other_entry_and_kubectl_signs_in_through_them()
 {
    let env = Env::new();
    let before = env.view();
    let original = std::fs::read_to_string(&env.kubeconfig).expect("read kubeconfig");

    let stdout = ok(&env.plugin(&["import"]), "import");
    for expected in [
        "adopted context prod (Signet cluster prod-2)",
        "adopted context staging (Signet cluster staging)",
        &format!(
            "backed up the previous file to {}.signet-backup",
            env.kubeconfig.display()
        ),
        &format!("Next: sign in with `kubectl signet login {PROVIDER}`."),
    ] {
        assert!(
            stdout.contains(expected),
            "expected {expected:?} in:\n{stdout}"
        );
    }
    let backup = std::fs::read_to_string(format!("{}.signet-backup", env.kubeconfig.display()))
        .expect("backup");
    assert_eq!(backup, original, "the backup is the file as it was");

    let config =
        Config::load(&env.world.paths.config_file, &env.world.paths.home).expect("config written");
    let provider = config
        .provider(PROVIDER)
        .expect("provider from the issuer host");
    assert_eq!(provider.issuer, env.idp().issuer());
    assert_eq!(provider.client_id, "signet");
    assert_eq!(provider.client_secret, None);
    assert_eq!(
        provider.scopes,
        ["groups", "profile"],
        "email is always asked for"
    );
    let prod = config.cluster("prod-2").expect("cluster for context prod");
    assert_eq!(prod.context.as_deref(), Some("prod"));
    assert_eq!(prod.audience.as_deref(), Some("signet"));
    assert_eq!(prod.namespace.as_deref(), Some("team-a"));
    assert_eq!(prod.server, env.api.url());
    assert!(
        config.cluster("staging").is_some(),
        "cluster for context staging"
    );
    assert_eq!(
        config.clusters.len(),
        2,
        "only the OIDC contexts: {config:?}"
    );

    // Semantic comparison through kubectl: everything but the adopted contexts is as it was.
    let after = env.view();
    for list in ["clusters", "users", "contexts"] {
        for name in names(&before, list) {
            let old = entry(&before, list, &name).expect("old entry");
            let new =
                entry(&after, list, &name).unwrap_or_else(|| panic!("{list} {name} vanished"));
            match (list, name.as_str()) {
                ("contexts", "prod" | "staging") => {}
                ("clusters", "staging") => assert_eq!(
                    without_signet_mark(new, "cluster"),
                    *old,
                    "the taken-over cluster only gains Signet's mark"
                ),
                _ => assert_eq!(new, old, "{list} {name} must be unchanged"),
            }
        }
    }
    for key in [
        "preferences",
        "current-context",
        "extensions",
        "apiVersion",
        "kind",
    ] {
        assert_eq!(after[key], before[key], "{key} unchanged");
    }
    let mut added: Vec<String> = ["clusters", "users", "contexts"]
        .iter()
        .flat_map(|list| {
            names(&after, list)
                .into_iter()
                .filter(|n| entry(&before, list, n).is_none())
                .map(move |n| format!("{list}/{n}"))
        })
        .collect();
    added.sort();
    assert_eq!(
        added,
        [
            "clusters/prod-2",
            "users/signet-prod-2",
            "users/signet-staging"
        ],
        "only Signet's entries are new"
    );
    let prod_ctx = entry(&after, "contexts", "prod").expect("context prod");
    assert_eq!(prod_ctx["context"]["cluster"], "prod-2");
    assert_eq!(prod_ctx["context"]["user"], "signet-prod-2");
    assert_eq!(prod_ctx["context"]["namespace"], "team-a", "namespace kept");
    let staging_ctx = entry(&after, "contexts", "staging").expect("context staging");
    assert_eq!(
        without_signet_mark(staging_ctx, "context")["context"]["extensions"],
        entry(&before, "contexts", "staging").expect("old staging")["context"]["extensions"],
        "the other tool's extension on the context is kept"
    );
    let exec = &entry(&after, "users", "signet-staging").expect("user")["user"]["exec"];
    assert_eq!(
        exec["args"],
        serde_json::json!(["token", "--cluster", "staging"])
    );
    assert_eq!(
        exec["command"], PLUGIN,
        "absolute path: kubectl-signet is not on PATH"
    );

    // The legacy tokens stay only in the untouched legacy user: not in the config, not in Signet's entries.
    let config_text = env.config_text();
    let signet_entries = serde_json::to_string(&[
        entry(&after, "users", "signet-staging"),
        entry(&after, "users", "signet-prod-2"),
        entry(&after, "contexts", "staging"),
    ])
    .expect("json");
    for secret in LEGACY_SECRETS {
        assert!(
            !config_text.contains(secret),
            "{secret} copied into the config"
        );
        assert!(
            !signet_entries.contains(secret),
            "{secret} copied into Signet's entries"
        );
        assert!(!stdout.contains(secret), "{secret} printed");
    }

    // Sign in once; kubectl then works through both adopted contexts against the API server.
    let login = env.plugin(&["login", PROVIDER, "--browser"]);
    let login_out = ok(&login, "login");
    assert!(
        login_out.contains("Signed in to 127-0-0-1 as alice@example.com"),
        "{login_out}"
    );
    for context in ["prod", "staging"] {
        let review = whoami(&env, context);
        assert_eq!(
            review["status"]["userInfo"]["username"],
            "alice@example.com"
        );
        let groups = review["status"]["userInfo"]["groups"].to_string();
        assert!(
            groups.contains("\"dev\"") && groups.contains("\"ops\""),
            "{groups}"
        );
    }
    assert_eq!(
        text(&env.kubectl(&["config", "current-context"]).stdout).trim(),
        "prod-admin",
        "import does not switch contexts"
    );

    // A second import finds nothing left to adopt.
    let again = ok(&env.plugin(&["import"]), "second import");
    assert!(again.contains("Nothing to import"), "{again}");
}

/// Serves `body` to every GET on `127.0.0.1:<port>` until the test ends.
fn serve(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/toml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}/signet/catalog.toml")
}

/// The API server's CA as a catalog carries it: base64 PEM (`ca_data`; a catalog may not name files).
fn ca_data(env: &Env) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .arg(&env.api.ca().ca_file)
        .output()
        .expect("run base64");
    assert!(out.status.success(), "base64: {}", text(&out.stderr));
    text(&out.stdout)
}

fn catalog(env: &Env) -> String {
    format!(
        r#"# The platform team's catalog.
[[providers]]
name = "corp"
issuer = "{issuer}"
client_id = "signet"
scopes = ["groups"]
login = "browser"

[[clusters]]
name = "team-prod"
provider = "corp"
server = "{server}"
ca_data = "{ca}"
audience = "signet"
namespace = "team-a"
"#,
        issuer = env.idp().issuer(),
        server = env.api.url(),
        ca = ca_data(env)
    )
}

#[test]
fn a_catalog_from_a_file_and_from_a_loopback_url_is_merged_and_its_contexts_written() {
    let env = Env::new();
    let file = env.world.root.path().join("catalog.toml");
    std::fs::write(&file, catalog(&env)).expect("write catalog");
    let before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");
    let file_arg = file.to_str().expect("utf-8 path");

    let dry = ok(
        &env.plugin(&["import", "--catalog", file_arg, "--dry-run"]),
        "dry run",
    );
    assert!(dry.contains("name = \"team-prod\""), "{dry}");
    assert!(
        dry.contains("+ context team-prod (cluster team-prod, user signet-team-prod)"),
        "{dry}"
    );
    assert_eq!(
        std::fs::read(&env.kubeconfig).expect("read"),
        before,
        "dry run"
    );
    assert!(!env.world.paths.config_file.exists());

    let out = ok(
        &env.plugin(&["import", "--catalog", file_arg, "--yes"]),
        "import --catalog FILE --yes",
    );
    assert!(
        out.contains("context team-prod (cluster team-prod)"),
        "{out}"
    );
    assert!(out.contains("kubectl signet login corp"), "{out}");
    let config = Config::load(&env.world.paths.config_file, &env.world.paths.home).expect("config");
    assert!(config.provider("corp").is_some() && config.cluster("team-prod").is_some());
    let view = env.view();
    let ctx = entry(&view, "contexts", "team-prod").expect("context written");
    assert_eq!(ctx["context"]["user"], "signet-team-prod");
    assert_eq!(ctx["context"]["namespace"], "team-a");

    // The same catalog from a URL: everything is there already, nothing changes.
    let url = serve(catalog(&env));
    let again = ok(
        &env.plugin(&["import", "--catalog", &url, "--yes"]),
        "import --catalog URL",
    );
    assert!(again.contains("Nothing to import"), "{again}");
    assert!(
        again.contains("= provider corp: already configured"),
        "{again}"
    );

    // A catalog URL with one more cluster adds just that one.
    let more = format!(
        "{}\n[[clusters]]\nname = \"team-dev\"\nprovider = \"corp\"\nserver = \"{}\"\nca_data = \"{}\"\naudience = \"signet\"\n",
        catalog(&env),
        env.api.url(),
        ca_data(&env)
    );
    let url = serve(more);
    let out = ok(
        &env.plugin(&["import", "--catalog", &url, "--yes"]),
        "import --catalog URL",
    );
    assert!(out.contains("add 0 providers and 1 cluster"), "{out}");
    let config = Config::load(&env.world.paths.config_file, &env.world.paths.home).expect("config");
    assert_eq!(config.clusters.len(), 2);

    // kubectl uses the catalog's context once signed in.
    ok(&env.plugin(&["login", "corp", "--browser"]), "login corp");
    let review = whoami(&env, "team-dev");
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "alice@example.com"
    );

    // A conflicting catalog is refused, naming both sides.
    let conflicting = catalog(&env).replace(env.api.url(), "https://elsewhere.example:6443");
    let url = serve(conflicting);
    let out = env.plugin(&["import", "--catalog", &url, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "conflict exits 1");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cluster 'team-prod' from http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&env.world.paths.config_file.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn a_catalog_with_a_client_secret_is_rejected_and_nothing_changes() {
    let env = Env::new();
    let secret_catalog = catalog(&env).replace(
        "client_id = \"signet\"",
        "client_id = \"signet\"\nclient_secret = \"do-not-share-me\"",
    );
    let url = serve(secret_catalog.clone());
    let file = env.world.root.path().join("catalog.toml");
    std::fs::write(&file, secret_catalog).expect("write catalog");
    for source in [file.to_str().expect("utf-8"), url.as_str()] {
        let out = env.plugin(&["import", "--catalog", source, "--dry-run"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "rejected: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(
                ":6: providers[0].client_secret: a team catalog must not contain a client secret"
            ),
            "{stderr}"
        );
        assert!(
            !stderr.contains("do-not-share-me"),
            "the secret is never shown: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no plan on failure");
    }
    assert!(!env.world.paths.config_file.exists(), "nothing imported");

    let out = env.plugin(&["import", "--catalog", "http://catalog.example.com/c.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("must use https"),
        "{}",
        text(&out.stderr)
    );
}

/// Without a terminal to ask on and without `--yes`, `import --catalog` shows the plan, changes nothing,
/// exits 1 and says how to apply (issue 12: it used to apply a downloaded catalog without asking).
#[test]
fn a_catalog_import_without_a_terminal_or_yes_changes_nothing_and_says_how_to_apply() {
    let env = Env::new();
    let file = env.world.root.path().join("catalog.toml");
    std::fs::write(&file, catalog(&env)).expect("write catalog");
    let before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");
    let out = env.plugin(&["import", "--catalog", file.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "not applied: {}",
        text(&out.stdout)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("name = \"team-prod\""),
        "the plan is shown: {stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--yes"), "says how to apply: {stderr}");
    assert!(!env.world.paths.config_file.exists(), "no config written");
    assert_eq!(
        std::fs::read(&env.kubeconfig).expect("read kubeconfig"),
        before,
        "the kubeconfig is untouched"
    );
}

/// On a terminal, `import --catalog` asks (y/N): anything but yes changes nothing; `y` applies.
/// The terminal is a real pseudo-terminal (`script` from util-linux) whose input the test types.
#[test]
fn a_catalog_import_on_a_terminal_asks_and_applies_only_on_yes() {
    let env = Env::new();
    let file = env.world.root.path().join("catalog.toml");
    std::fs::write(&file, catalog(&env)).expect("write catalog");
    let before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");
    let on_terminal = |answer: &str| -> Output {
        let mut child = env
            .command("script")
            .args([
                "-qec",
                &format!("{PLUGIN} import --catalog {}", file.display()),
                "/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl-signet under script(1) (util-linux)");
        // Typed after the question is up; the terminal buffers it either way. A program that does not
        // ask may be gone already (a broken pipe): the assertions below then say what went wrong.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answer.as_bytes());
        child.wait_with_output().expect("wait for script")
    };

    let out = on_terminal("n\n");
    let shown = text(&out.stdout);
    assert!(
        shown.contains("name = \"team-prod\""),
        "plan shown: {shown}"
    );
    assert!(shown.contains("Apply this import? [y/N]"), "asked: {shown}");
    assert!(shown.contains("Nothing was changed"), "{shown}");
    assert!(!env.world.paths.config_file.exists(), "no config after 'n'");
    assert_eq!(std::fs::read(&env.kubeconfig).expect("read"), before);

    let out = on_terminal("y\n");
    let shown = text(&out.stdout);
    assert!(out.status.success(), "applied after 'y': {shown}");
    assert!(shown.contains("Imported."), "{shown}");
    let config = Config::load(&env.world.paths.config_file, &env.world.paths.home).expect("config");
    assert!(config.cluster("team-prod").is_some(), "{config:?}");
}

/// A catalog cluster with `insecure_skip_tls_verify` is refused unless the person says
/// `--allow-insecure`; the plan warns and names the cluster either way.
#[test]
fn a_catalog_cluster_that_skips_tls_verification_needs_allow_insecure() {
    let env = Env::new();
    let insecure = catalog(&env).replace(
        &format!("ca_data = \"{}\"\n", ca_data(&env)),
        "insecure_skip_tls_verify = true\n",
    );
    assert!(insecure.contains("insecure_skip_tls_verify"), "{insecure}");
    let url = serve(insecure);
    let out = env.plugin(&["import", "--catalog", &url, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("WARNING: cluster team-prod skips TLS verification"),
        "{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cluster team-prod would turn off TLS verification")
            && stderr.contains("--allow-insecure"),
        "{stderr}"
    );
    assert!(!env.world.paths.config_file.exists(), "nothing imported");

    ok(
        &env.plugin(&["import", "--catalog", &url, "--yes", "--allow-insecure"]),
        "import --allow-insecure",
    );
    let config = Config::load(&env.world.paths.config_file, &env.world.paths.home).expect("config");
    assert!(
        config
            .cluster("team-prod")
            .is_some_and(|c| c.insecure_skip_tls_verify)
    );
}

#[test]
fn doctor_passes_on_a_healthy_setup_and_fails_discovery_when_the_idp_is_down() {
    let mut env = Env::new();
    ok(&env.plugin(&["import"]), "import");

    let out = env.plugin(&["doctor"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "healthy setup:\n{stdout}\n{}",
        text(&out.stderr)
    );
    for line in stdout.lines() {
        assert!(
            line.starts_with("ok ") || line.starts_with("warn "),
            "only ok/warn lines on a healthy setup, got {line:?} in:\n{stdout}"
        );
    }
    for expected in [
        "ok    config:",
        &format!("ok    provider {PROVIDER}: discovery at"),
        &format!("ok    provider {PROVIDER}: clock within"),
        "ok    keyring: usable",
        "ok    kubectl: v",
        "ok    kubeconfig lock: no stale .lock file",
        "ok    kubeconfig: entries of 2 clusters match the config",
    ] {
        assert!(
            stdout.contains(expected),
            "expected {expected:?} in:\n{stdout}"
        );
    }

    // A kubectl lock left behind a minute ago, and the IdP gone: both fail, with their fixes.
    let lock = PathBuf::from(format!("{}.lock", env.kubeconfig.display()));
    std::fs::write(&lock, "").expect("create lock");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .and_then(|f| f.set_modified(old))
        .expect("age the lock");
    env.cli.world.idp.stop();

    let out = env.plugin(&["doctor"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed check exits 1:\n{stdout}"
    );
    let discovery = stdout
        .lines()
        .find(|l| l.starts_with(&format!("fail  provider {PROVIDER}: discovery failed")))
        .unwrap_or_else(|| panic!("a discovery failure in:\n{stdout}"));
    assert!(
        discovery.contains("— fix: check that the identity provider is up"),
        "{discovery}"
    );
    assert!(
        stdout.contains(&format!("fail  kubeconfig lock: {} is 1", lock.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("rm '{}'", lock.display())),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("signet: 2 checks failed"),
        "{}",
        text(&out.stderr)
    );
    assert!(lock.exists(), "doctor never deletes a lock");
}

/// A team catalog on an https server with its own CA (issue 12): refused with a clear TLS error — and
/// nothing changed — while that CA is not trusted; imported once it is (`SSL_CERT_FILE`, which the system
/// trust store honours, names it).
#[test]
fn a_catalog_over_https_with_a_private_ca_is_refused_until_that_ca_is_trusted() {
    let env = Env::new();
    let ca = TestCa::generate(env.world.root.path(), "catalog-server");
    let server = HttpsFile::serve(&ca, "/signet/catalog.toml", catalog(&env));
    let kubeconfig_before = std::fs::read(&env.kubeconfig).expect("read kubeconfig");

    let out = env.plugin(&["import", "--catalog", server.url(), "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an untrusted certificate fails the import:\n{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    for part in [
        &format!("signet: could not download catalog '{}': ", server.url()),
        "TLS",
        "UnknownIssuer",
        // What to do, for a catalog: there is no `ca_file` to set for one (that advice is a provider's).
        "if the catalog's server uses a private CA, add that CA to the system's trusted certificates (or point SSL_CERT_FILE at it)",
    ] {
        assert!(
            lines[0].contains(part),
            "expected {part:?} in: {}",
            lines[0]
        );
    }
    assert!(
        !lines[0].contains("ca_file"),
        "no provider advice for a catalog: {}",
        lines[0]
    );
    assert!(out.stdout.is_empty(), "no plan without a catalog");
    assert_eq!(server.served(), 0, "the catalog never left the server");
    // The server sees the refused handshake end a moment after the client has gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.refused() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(server.refused() >= 1, "the client refused the handshake");
    assert!(!env.world.paths.config_file.exists(), "no config written");
    assert_eq!(
        std::fs::read(&env.kubeconfig).expect("read kubeconfig"),
        kubeconfig_before,
        "the kubeconfig is unchanged"
    );

    let out = env
        .command(PLUGIN)
        .args(["import", "--catalog", server.url(), "--yes"])
        .env("SSL_CERT_FILE", &ca.ca_file)
        .output()
        .expect("run kubectl-signet import");
    let stdout = ok(&out, "import --catalog https://… with the CA trusted");
    assert!(
        stdout.contains("context team-prod (cluster team-prod)"),
        "{stdout}"
    );
    assert_eq!(server.served(), 1, "one download");
    let config = Config::load(&env.world.paths.config_file, &env.world.paths.home).expect("config");
    assert!(
        config.provider("corp").is_some() && config.cluster("team-prod").is_some(),
        "the catalog's provider and cluster are configured"
    );
    assert!(
        entry(&env.view(), "contexts", "team-prod").is_some(),
        "its context is written"
    );
}
