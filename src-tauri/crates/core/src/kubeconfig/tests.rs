use std::ffi::OsString;
use std::fs;
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

use super::chain::parse;
use super::switch::{use_context_in_place, use_context_parsed};
use super::*;

/// A kubeconfig someone else wrote: foreign entries, unknown keys, other extensions, a relative path.
const FOREIGN: &str = r#"apiVersion: v1
kind: Config
preferences:
  colors: true
  extensions:
  - name: pref-ext
    extension: {a: 1}
clusters:
- name: other
  cluster:
    server: https://other.example:6443
    certificate-authority: relative/ca.pem
    some-unknown-cluster-field: keep-me
    extensions:
    - name: minikube
      extension: {provider: minikube.sigs.k8s.io, version: v1.33.0}
users:
- name: other-user
  user:
    token: foreign-token
    unknown-user-field: 1
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/helper
      unknown-exec-field: yes-really
contexts:
- name: other
  context: {cluster: other, user: other-user, namespace: team}
current-context: other
totally-unknown-top-level: {x: [1, 2]}
extensions:
- name: top-ext
  extension: {b: 2}
"#;

fn entry(cluster: &str) -> SignetEntry {
    SignetEntry {
        provider: "corp".into(),
        cluster: cluster.into(),
        context: cluster.into(),
        server: format!("https://api.{cluster}.example:6443"),
        ca: ClusterCa::Data("LS0tCA==".into()),
        namespace: Some("default".into()),
        credentials: EntryCredentials::exec(DEFAULT_EXEC_COMMAND, cluster),
    }
}

/// A target over `files` as `KUBECONFIG` would list them, with a short lock timeout.
fn chain(home: &Path, files: &[&Path]) -> KubeconfigTarget {
    let env: OsString = std::env::join_paths(files).expect("paths join");
    KubeconfigTarget::resolve(Some(&env), home, None).with_lock_timeout(Duration::from_millis(300))
}

fn single(file: &Path) -> KubeconfigTarget {
    KubeconfigTarget::resolve(None, Path::new("/nonexistent-home"), Some(file))
        .with_lock_timeout(Duration::from_millis(300))
}

fn load(path: &Path) -> Kubeconfig {
    let text = fs::read_to_string(path).expect("kubeconfig readable");
    parse(&text, path).expect("kubeconfig parses")
}

fn json_of(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("serialisable")
}

fn names<T: Entry>(list: &[T]) -> Vec<&str> {
    list.iter().map(|e| e.name()).collect()
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

// ----- choosing files --------------------------------------------------------------------------------------

#[test]
fn kubeconfig_env_is_split_deduplicated_and_empty_entries_dropped() {
    let env = std::env::join_paths(["/a/one", "", "/b/two", "/a/one", "/c/three"]).expect("join");
    let target = KubeconfigTarget::resolve(Some(&env), Path::new("/home/u"), None);
    let expected: Vec<PathBuf> = ["/a/one", "/b/two", "/c/three"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(target.precedence(), expected.as_slice());
    assert!(!target.is_explicit());
}

#[test]
fn no_kubeconfig_env_or_only_empty_entries_means_home_kube_config() {
    let home = Path::new("/home/u");
    for env in [None, Some(OsString::from("")), Some(OsString::from(":"))] {
        let target = KubeconfigTarget::resolve(env.as_deref(), home, None);
        assert_eq!(
            target.precedence(),
            [home.join(".kube/config")].as_slice(),
            "KUBECONFIG={env:?}"
        );
    }
}

#[test]
fn explicit_file_replaces_the_whole_chain() {
    let env = OsString::from("/a/one:/b/two");
    let target =
        KubeconfigTarget::resolve(Some(&env), Path::new("/home/u"), Some(Path::new("/x/mine")));
    assert_eq!(target.precedence(), [PathBuf::from("/x/mine")].as_slice());
    assert!(target.is_explicit());
    assert_eq!(target.default_file(), Path::new("/x/mine"));
}

#[test]
fn default_file_is_the_first_existing_else_the_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let target = chain(dir.path(), &[&a, &b, &c]);
    assert_eq!(target.default_file(), c, "none exist: expected the last");
    fs::write(&b, "").expect("create b");
    assert_eq!(target.default_file(), b, "expected the first existing");
    let only = chain(dir.path(), &[&a]);
    assert_eq!(
        only.default_file(),
        a,
        "one entry: expected it even if missing"
    );
}

// ----- upsert ---------------------------------------------------------------------------------------------

#[test]
fn upsert_writes_the_documented_exec_entry_with_signet_extensions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kube/config");
    let outcome = upsert_cluster_entries(&single(&file), &[entry("prod")]).expect("upsert");
    assert_eq!(outcome.written, vec![file.clone()]);
    assert!(outcome.backups.is_empty(), "no backup for a new file");

    let kc = load(&file);
    assert_eq!(kc.api_version.as_deref(), Some("v1"));
    assert_eq!(kc.kind.as_deref(), Some("Config"));
    let user = json_of(&kc.auth_infos[0]);
    assert_eq!(user["name"], "signet-prod");
    let exec = &user["user"]["exec"];
    assert_eq!(exec["apiVersion"], EXEC_API_VERSION);
    assert_eq!(exec["command"], "kubectl-signet");
    assert_eq!(exec["args"], json!(["token", "--cluster", "prod"]));
    assert_eq!(exec["interactiveMode"], "IfAvailable");
    assert_eq!(
        exec["installHint"],
        "Install Signet (kubectl-signet) — see its README"
    );
    let mark =
        json!([{ "name": "signet", "extension": { "provider": "corp", "cluster": "prod" } }]);
    assert_eq!(user["user"]["extensions"], mark, "user extension");
    let cluster = json_of(&kc.clusters[0]);
    assert_eq!(
        cluster["cluster"]["server"],
        "https://api.prod.example:6443"
    );
    assert_eq!(cluster["cluster"]["certificate-authority-data"], "LS0tCA==");
    assert_eq!(cluster["cluster"]["extensions"], mark, "cluster extension");
    let context = json_of(&kc.contexts[0]);
    assert_eq!(
        context["context"],
        json!({ "cluster": "prod", "user": "signet-prod", "namespace": "default", "extensions": mark })
    );
    assert_eq!(kc.current_context, None, "upsert must not switch contexts");
    assert!(!lock_path(&file).exists(), "lock left behind");
}

#[test]
fn upsert_keeps_unknown_fields_and_foreign_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let before = parse(FOREIGN, &file).expect("fixture parses");

    upsert_cluster_entries(&single(&file), &[entry("prod")]).expect("upsert");

    let after = load(&file);
    assert_eq!(names(&after.clusters), ["other", "prod"]);
    assert_eq!(names(&after.auth_infos), ["other-user", "signet-prod"]);
    assert_eq!(names(&after.contexts), ["other", "prod"]);
    assert_eq!(json_of(&after.clusters[0]), json_of(&before.clusters[0]));
    assert_eq!(
        json_of(&after.auth_infos[0]),
        json_of(&before.auth_infos[0])
    );
    assert_eq!(json_of(&after.contexts[0]), json_of(&before.contexts[0]));
    assert_eq!(json_of(&after.preferences), json_of(&before.preferences));
    assert_eq!(json_of(&after.extensions), json_of(&before.extensions));
    assert_eq!(after.other, before.other, "unknown top-level keys");
    assert_eq!(after.current_context.as_deref(), Some("other"));
    let text = fs::read_to_string(&file).expect("read");
    assert!(
        text.contains("certificate-authority: relative/ca.pem"),
        "relative path must stay relative:\n{text}"
    );
    assert!(text.contains("command: ./bin/helper"), "{text}");
}

#[test]
fn upsert_refuses_a_foreign_entry_with_the_same_name_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");

    let mut clash = entry("prod");
    clash.cluster = "other".into(); // the foreign cluster's name
    let err = upsert_cluster_entries(&single(&file), &[entry("prod"), clash])
        .expect_err("must refuse a foreign entry");
    assert_eq!(err.code(), "kubeconfig.not_signet_owned");
    let message = err.to_string();
    assert!(
        message.contains("cluster 'other'") && message.contains("rename the cluster"),
        "unexpected message: {message}"
    );
    assert_eq!(
        fs::read_to_string(&file).expect("read"),
        FOREIGN,
        "a refused batch must not write anything"
    );
    assert!(!backup_path(&file).exists(), "no backup without a change");
}

#[test]
fn upsert_refuses_another_signet_clusters_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let target = single(&file);
    upsert_cluster_entries(&target, &[entry("prod")]).expect("first upsert");
    let mut stage = entry("stage");
    stage.context = "prod".into();
    let err = upsert_cluster_entries(&target, &[stage]).expect_err("context belongs to prod");
    assert_eq!(err.code(), "kubeconfig.not_signet_owned");
    assert!(
        err.to_string()
            .contains("belongs to Signet's cluster 'prod'"),
        "{err}"
    );
}

#[test]
fn resync_updates_owned_fields_keeps_added_ones_and_the_namespace_the_person_chose() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let target = single(&file);
    upsert_cluster_entries(&target, &[entry("prod")]).expect("create");
    use_context(&target, "prod", Some("team-a")).expect("pick namespace");
    // The person adds a proxy to the cluster and an env var to the exec entry.
    let text = fs::read_to_string(&file)
        .expect("read")
        .replace(
            "server: https://api.prod.example:6443",
            "server: https://api.prod.example:6443\n    proxy-url: http://proxy:3128",
        )
        .replace(
            "command: kubectl-signet",
            "command: kubectl-signet\n      env:\n      - name: A\n        value: b",
        );
    fs::write(&file, text).expect("hand edit");

    let mut moved = entry("prod");
    moved.server = "https://api2.prod.example:6443".into();
    moved.ca = ClusterCa::File(PathBuf::from("/etc/prod-ca.pem"));
    moved.credentials = EntryCredentials::exec("/opt/signet/kubectl-signet", "prod");
    upsert_cluster_entries(&target, &[moved]).expect("re-sync");

    let kc = load(&file);
    let cluster = json_of(&kc.clusters[0])["cluster"].clone();
    assert_eq!(cluster["server"], "https://api2.prod.example:6443");
    assert_eq!(cluster["certificate-authority"], "/etc/prod-ca.pem");
    assert_eq!(
        cluster["certificate-authority-data"],
        Value::Null,
        "old CA data removed"
    );
    assert_eq!(
        cluster["proxy-url"], "http://proxy:3128",
        "person's field kept"
    );
    let exec = json_of(&kc.auth_infos[0])["user"]["exec"].clone();
    assert_eq!(exec["command"], "/opt/signet/kubectl-signet");
    assert_eq!(exec["env"], json!([{ "name": "A", "value": "b" }]));
    let ns = kc.contexts[0]
        .context
        .as_ref()
        .and_then(|c| c.namespace.as_deref());
    assert_eq!(ns, Some("team-a"), "re-sync must not reset the namespace");
}

#[test]
fn resync_with_nothing_changed_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let target = single(&file);
    upsert_cluster_entries(&target, &[entry("prod")]).expect("create");
    let outcome = upsert_cluster_entries(&target, &[entry("prod")]).expect("re-sync");
    assert_eq!(outcome, EditOutcome::default(), "expected no write");
}

#[test]
fn token_mode_writes_a_token_and_set_token_rewrites_only_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let target = single(&file);
    let mut prod = entry("prod");
    prod.credentials = EntryCredentials::Token(Secret::new("tok-1"));
    upsert_cluster_entries(&target, &[prod]).expect("upsert");
    let user = json_of(&load(&file).auth_infos[1]);
    assert_eq!(user["user"]["token"], "tok-1");
    assert_eq!(user["user"]["exec"], Value::Null, "token mode has no exec");

    set_token(&target, "prod", &Secret::new("tok-2")).expect("set_token");
    let kc = load(&file);
    let user = json_of(&kc.auth_infos[1]);
    assert_eq!(user["user"]["token"], "tok-2");
    assert_eq!(json_of(&kc.auth_infos[0])["user"]["token"], "foreign-token");

    let err = set_token(&target, "missing", &Secret::new("tok-3")).expect_err("no such user");
    assert_eq!(err.code(), "kubeconfig.not_found");
    assert!(!err.to_string().contains("tok-3"), "token leaked: {err}");
}

#[cfg(unix)]
#[test]
fn a_kubeconfig_that_holds_a_token_is_made_private_and_said_once() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    // exec mode: the file keeps the mode the person gave it.
    let shared = dir.path().join("shared");
    fs::write(&shared, "apiVersion: v1\nkind: Config\n").expect("write fixture");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o644)).expect("chmod");
    let outcome = upsert_cluster_entries(&single(&shared), &[entry("prod")]).expect("upsert");
    assert_eq!(mode(&shared), 0o644, "no token, mode kept");
    assert!(outcome.tightened.is_empty(), "{outcome:?}");

    // token mode: the file (and its backup) become 0600, and the outcome says so once.
    let file = dir.path().join("config");
    fs::write(&file, "apiVersion: v1\nkind: Config\n").expect("write fixture");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
    let target = single(&file);
    let mut prod = entry("prod");
    prod.credentials = EntryCredentials::Token(Secret::new("tok-1"));
    let outcome = upsert_cluster_entries(&target, &[prod]).expect("upsert");
    assert_eq!(
        mode(&file),
        0o600,
        "a kubeconfig with a bearer token is private"
    );
    assert_eq!(mode(&backup_path(&file)), 0o600, "and so is its backup");
    assert_eq!(outcome.tightened, vec![file.clone()], "{outcome:?}");
    let outcome = set_token(&target, "prod", &Secret::new("tok-2")).expect("set_token");
    assert_eq!(mode(&file), 0o600);
    assert!(outcome.tightened.is_empty(), "said once: {outcome:?}");
}

#[test]
fn set_token_refuses_a_foreign_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(
        &file,
        "users:\n- name: signet-prod\n  user:\n    token: theirs\n",
    )
    .expect("write");
    let err = set_token(&single(&file), "prod", &Secret::new("ours")).expect_err("foreign");
    assert_eq!(err.code(), "kubeconfig.not_signet_owned");
    assert!(fs::read_to_string(&file).expect("read").contains("theirs"));
}

// ----- use_context and remove -----------------------------------------------------------------------------

#[test]
fn use_context_sets_current_context_and_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let target = single(&file);
    upsert_cluster_entries(&target, &[entry("prod")]).expect("upsert");

    use_context(&target, "prod", Some("payments")).expect("use");
    let kc = load(&file);
    assert_eq!(kc.current_context.as_deref(), Some("prod"));
    let ns = kc.contexts[1]
        .context
        .as_ref()
        .and_then(|c| c.namespace.as_deref());
    assert_eq!(ns, Some("payments"));

    let again = use_context(&target, "prod", Some("payments")).expect("use again");
    assert!(again.written.is_empty(), "no change, no write: {again:?}");

    use_context(&target, "prod", Some("")).expect("clear namespace");
    let kc = load(&file);
    assert_eq!(
        kc.contexts[1]
            .context
            .as_ref()
            .and_then(|c| c.namespace.as_deref()),
        None
    );

    // kubectl lets anyone switch to a foreign context; Signet too, but it will not edit its namespace.
    use_context(&target, "other", None).expect("switch to a foreign context");
    assert_eq!(load(&file).current_context.as_deref(), Some("other"));
    let err = use_context(&target, "other", Some("x")).expect_err("foreign namespace");
    assert_eq!(err.code(), "kubeconfig.not_signet_owned");
    let err = use_context(&target, "nope", None).expect_err("unknown context");
    assert_eq!(err.code(), "kubeconfig.not_found");
}

#[test]
fn remove_deletes_only_that_clusters_signet_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let target = single(&file);
    upsert_cluster_entries(&target, &[entry("prod"), entry("stage")]).expect("upsert");

    let outcome = remove_cluster_entries(&target, "prod").expect("remove");
    assert_eq!(outcome.written, vec![file.clone()]);
    let kc = load(&file);
    assert_eq!(names(&kc.clusters), ["other", "stage"]);
    assert_eq!(names(&kc.auth_infos), ["other-user", "signet-stage"]);
    assert_eq!(names(&kc.contexts), ["other", "stage"]);

    let again = remove_cluster_entries(&target, "prod").expect("remove again");
    assert!(
        again.written.is_empty(),
        "nothing left to remove: {again:?}"
    );
}

#[test]
fn signet_contexts_lists_owned_contexts_with_provider_cluster_and_current() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let target = single(&file);
    let mut prod = entry("prod");
    prod.context = "prod-ctx".into();
    upsert_cluster_entries(&target, &[prod]).expect("upsert");
    use_context(&target, "prod-ctx", None).expect("use");

    let listed = signet_contexts(&target).expect("list");
    assert_eq!(
        listed,
        vec![SignetContext {
            name: "prod-ctx".into(),
            provider: "corp".into(),
            cluster: "prod".into(),
            namespace: Some("default".into()),
            current: true,
            file: file.clone(),
        }]
    );
    let merged = read_merged(&target).expect("merged");
    assert_eq!(names(&merged.contexts), ["other", "prod-ctx"]);
}

// ----- KUBECONFIG chains ----------------------------------------------------------------------------------

#[test]
fn chain_new_entries_go_to_the_first_existing_file_and_existing_ones_stay_where_they_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        dir.path().join("a/config"),
        dir.path().join("b/config"),
        dir.path().join("c/config"),
    );
    // `b` exists and is empty; `c` already holds Signet's "prod"; `a` does not exist.
    fs::create_dir_all(b.parent().expect("parent")).expect("mkdir b");
    fs::write(&b, "").expect("create b");
    upsert_cluster_entries(&single(&c), &[entry("prod")]).expect("seed c");
    let target = chain(dir.path(), &[&a, &b, &c]);

    let mut prod = entry("prod");
    prod.server = "https://moved.example".into();
    let outcome = upsert_cluster_entries(&target, &[prod, entry("stage")]).expect("upsert");
    assert_eq!(outcome.written, vec![b.clone(), c.clone()]);
    assert!(!a.exists(), "a must not be created");

    let in_b = load(&b);
    assert_eq!(names(&in_b.clusters), ["stage"]);
    assert_eq!(names(&in_b.contexts), ["stage"]);
    let in_c = load(&c);
    assert_eq!(names(&in_c.clusters), ["prod"]);
    assert_eq!(
        json_of(&in_c.clusters[0])["cluster"]["server"],
        "https://moved.example"
    );

    // current-context goes to the default file (b); the namespace to the context's file (c).
    use_context(&target, "prod", Some("ns1")).expect("use");
    assert_eq!(load(&b).current_context.as_deref(), Some("prod"));
    let in_c = load(&c);
    assert_eq!(in_c.current_context, None);
    assert_eq!(
        in_c.contexts[0]
            .context
            .as_ref()
            .and_then(|x| x.namespace.as_deref()),
        Some("ns1")
    );
    for file in [&a, &b, &c] {
        assert!(
            !lock_path(file).exists(),
            "lock left for {}",
            file.display()
        );
    }
}

#[test]
fn chain_of_missing_files_creates_the_last_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let target = chain(dir.path(), &[&a, &b]);
    let outcome = upsert_cluster_entries(&target, &[entry("prod")]).expect("upsert");
    assert_eq!(outcome.written, vec![b.clone()]);
    assert!(!a.exists() && b.exists());
}

#[test]
fn first_file_defining_a_name_wins_and_shadowed_copies_are_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    upsert_cluster_entries(&single(&a), &[entry("prod")]).expect("seed a");
    upsert_cluster_entries(&single(&b), &[entry("prod")]).expect("seed b");
    let b_before = fs::read_to_string(&b).expect("read b");
    let mut prod = entry("prod");
    prod.server = "https://new.example".into();
    upsert_cluster_entries(&chain(dir.path(), &[&a, &b]), &[prod]).expect("upsert");
    assert_eq!(
        json_of(&load(&a).clusters[0])["cluster"]["server"],
        "https://new.example"
    );
    assert_eq!(fs::read_to_string(&b).expect("read b"), b_before);
}

// ----- files: symlinks, modes, backups --------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn symlinked_kubeconfig_stays_a_symlink_and_its_target_is_updated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("dotfiles/kubeconfig");
    fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
    fs::write(&real, FOREIGN).expect("write fixture");
    let link = dir.path().join("config");
    std::os::unix::fs::symlink("dotfiles/kubeconfig", &link).expect("symlink");

    let outcome = upsert_cluster_entries(&single(&link), &[entry("prod")]).expect("upsert");
    assert_eq!(outcome.written, vec![real.clone()], "the target is written");
    assert!(
        fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link must stay a symlink"
    );
    assert_eq!(names(&load(&real).clusters), ["other", "prod"]);
    assert!(
        backup_path(&real).exists(),
        "backup sits next to the real file"
    );
    assert!(!lock_path(&link).exists(), "lock left behind");
}

#[cfg(unix)]
#[test]
fn existing_mode_is_kept_and_new_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared");
    fs::write(&shared, FOREIGN).expect("write fixture");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o640)).expect("chmod");
    upsert_cluster_entries(&single(&shared), &[entry("prod")]).expect("upsert");
    assert_eq!(mode_of(&shared), 0o640, "existing mode must be kept");
    assert_eq!(
        mode_of(&backup_path(&shared)),
        0o640,
        "backup has the file's mode"
    );

    let fresh = dir.path().join("new/dir/config");
    upsert_cluster_entries(&single(&fresh), &[entry("prod")]).expect("upsert");
    assert_eq!(mode_of(&fresh), 0o600, "new file must be 0600");
    assert_eq!(
        mode_of(fresh.parent().expect("parent")),
        0o755,
        "new directories are 0755 like client-go"
    );
}

#[test]
fn backup_is_written_once_before_the_first_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let target = single(&file);
    let first = upsert_cluster_entries(&target, &[entry("prod")]).expect("first");
    assert_eq!(first.backups, vec![backup_path(&file)]);
    assert_eq!(
        fs::read_to_string(backup_path(&file)).expect("read backup"),
        FOREIGN
    );
    let second = upsert_cluster_entries(&target, &[entry("stage")]).expect("second");
    assert!(second.backups.is_empty(), "only one backup: {second:?}");
    assert_eq!(
        fs::read_to_string(backup_path(&file)).expect("read backup"),
        FOREIGN,
        "the backup keeps the file from before Signet's first change"
    );
}

// ----- locking --------------------------------------------------------------------------------------------

#[test]
fn waits_for_a_lock_that_is_released_meanwhile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let lock = lock_path(&file);
    fs::write(&lock, "").expect("someone else's lock");
    let writer = {
        let target = single(&file).with_lock_timeout(Duration::from_secs(30));
        std::thread::spawn(move || upsert_cluster_entries(&target, &[entry("prod")]))
    };
    // Proof that it waits: 300 ms in, the write has neither returned nor touched the file (an upsert that
    // ignored the lock would have written by now; one that gave up would have returned an error).
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !writer.is_finished(),
        "the upsert must wait while the lock is held"
    );
    assert!(!file.exists(), "nothing written while the lock is held");
    fs::remove_file(&lock).expect("release");
    writer
        .join()
        .expect("writer thread")
        .expect("upsert after the lock is gone");
    assert!(file.exists());
    assert!(!lock.exists(), "our lock must be removed");
}

#[test]
fn lock_held_by_someone_else_times_out_and_is_never_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(&file, FOREIGN).expect("write fixture");
    let lock = lock_path(&file);
    fs::write(&lock, "").expect("someone else's lock");

    let started = Instant::now();
    let err = upsert_cluster_entries(&single(&file), &[entry("prod")]).expect_err("locked");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "expected to wait the timeout, waited {:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), "kubeconfig.locked");
    let message = err.to_string();
    assert!(
        message.contains(&lock.display().to_string()) && !message.contains("stale"),
        "a fresh lock is not stale: {message}"
    );
    assert!(lock.exists(), "someone else's lock must never be deleted");
    assert_eq!(fs::read_to_string(&file).expect("read"), FOREIGN);
}

#[test]
fn an_old_lock_is_reported_as_stale_and_still_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let lock = lock_path(&file);
    let held = fs::File::create(&lock).expect("someone else's lock");
    held.set_modified(SystemTime::now() - Duration::from_secs(600))
        .expect("age the lock");
    drop(held);

    let err = use_context(&single(&file), "prod", None).expect_err("locked");
    assert_eq!(err.code(), "kubeconfig.locked");
    let message = err.to_string();
    assert!(
        message.contains("looks stale") && message.contains("delete it"),
        "expected a stale hint: {message}"
    );
    assert!(lock.exists(), "a stale lock is reported, never deleted");
}

#[test]
fn locks_every_file_of_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::write(lock_path(&b), "").expect("lock b");
    let err = upsert_cluster_entries(&chain(dir.path(), &[&a, &b]), &[entry("prod")])
        .expect_err("b is locked");
    assert_eq!(err.code(), "kubeconfig.locked");
    assert!(
        !lock_path(&a).exists(),
        "the lock taken on a must be released"
    );
    assert!(lock_path(&b).exists());
}

// ----- errors ---------------------------------------------------------------------------------------------

#[test]
fn a_broken_file_is_a_parse_error_that_quotes_no_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    fs::write(
        &file,
        "users:\n- name: x\n  user:\n    token: s3cr3t\n  : [\n",
    )
    .expect("write");
    let err = upsert_cluster_entries(&single(&file), &[entry("prod")]).expect_err("broken");
    assert_eq!(err.code(), "kubeconfig.parse_failed");
    assert!(!err.to_string().contains("s3cr3t"), "content leaked: {err}");
    assert!(!lock_path(&file).exists(), "lock left after an error");
}

// ----- use_context's in-place path ----------------------------------------------------------------------

/// What `kubectl config view --raw` writes: sorted keys, `current-context: ""`, a context without namespace.
const KUBECTL_STYLE: &str = r#"apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0t
    server: https://a.example
  name: a
contexts:
- context:
    cluster: a
    namespace: kube-system
    user: admin
  name: admin@a
- context:
    cluster: a
    extensions:
    - extension:
        cluster: a
        provider: corp
      name: signet
    user: signet-a
  name: a
current-context: ""
kind: Config
preferences: {}
users:
- name: signet-a
  user:
    token: x
"#;

/// Hand-written: comments, a document marker, no current-context, quoted and flow scalars.
const COMMENTED: &str = r#"# my clusters
---
apiVersion: v1
kind: Config
# the contexts
contexts:
- name: "a"   # first
  context:
    cluster: a
    user: signet-a
    namespace: 'old-ns'
    extensions:
    - name: signet
      extension: {provider: corp, cluster: a}
clusters: []
users: []
"#;

/// A flow-style context: a namespace cannot be inserted as a line, so the full path runs.
const FLOW_CONTEXT: &str = r#"contexts:
- {name: a, context: {cluster: a, user: u, extensions: [{name: signet, extension: {provider: corp, cluster: a}}]}}
current-context: a
"#;

/// Runs `use_context` both ways on copies of `files` and checks they agree; returns whether the in-place
/// path handled it, and the in-place texts.
fn both_ways(files: &[&str], context: &str, namespace: Option<&str>) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = |name: &str| {
        let paths: Vec<PathBuf> = files
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let path = dir.path().join(format!("{name}-{i}"));
                fs::write(&path, text).expect("write fixture");
                path
            })
            .collect();
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        (chain(dir.path(), &refs), paths)
    };
    let (fast_target, fast_paths) = setup("fast");
    let (full_target, full_paths) = setup("full");

    let in_place = use_context_in_place(&fast_target, context, namespace).expect("in place");
    let handled = in_place.is_some();
    if !handled {
        use_context(&fast_target, context, namespace).expect("use_context");
    }
    edit(&full_target, |c| use_context_parsed(c, context, namespace)).expect("parsed path");

    for (fast, full) in fast_paths.iter().zip(&full_paths) {
        assert_eq!(
            json_of(&load(fast)),
            json_of(&load(full)),
            "in-place and parsed results differ for {}:\n{}",
            fast.display(),
            fs::read_to_string(fast).expect("read")
        );
    }
    let texts = fast_paths
        .iter()
        .map(|p| fs::read_to_string(p).expect("read"))
        .collect();
    (handled, texts)
}

#[test]
fn in_place_use_context_matches_the_parsed_path_on_a_kubectl_written_file() {
    let (handled, texts) = both_ways(&[KUBECTL_STYLE], "a", Some("team"));
    assert!(
        handled,
        "a kubectl-written file should take the in-place path"
    );
    assert!(texts[0].contains("current-context: a\n"), "{}", texts[0]);
    assert!(
        texts[0].contains("    namespace: team\n    cluster: a\n    extensions:"),
        "{}",
        texts[0]
    );
    let (handled, _) = both_ways(&[KUBECTL_STYLE], "admin@a", None);
    assert!(handled);
}

#[test]
fn in_place_use_context_keeps_comments_and_order() {
    let (handled, texts) = both_ways(&[COMMENTED], "a", Some("new-ns"));
    assert!(handled, "a commented file should take the in-place path");
    let expected = COMMENTED
        .replace("---\napiVersion", "---\ncurrent-context: a\napiVersion")
        .replace("namespace: 'old-ns'", "namespace: new-ns");
    assert_eq!(texts[0], expected);
}

#[test]
fn in_place_use_context_handles_chains_and_files_signet_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = dir.path().join("ours");
    upsert_cluster_entries(&single(&ours), &[entry("prod")]).expect("upsert");
    let ours = fs::read_to_string(&ours).expect("read");
    let (handled, texts) = both_ways(&[KUBECTL_STYLE, &ours], "prod", Some("x"));
    assert!(handled, "Signet's own output should take the in-place path");
    assert!(texts[0].contains("current-context: prod"), "{}", texts[0]);
    assert!(texts[1].contains("namespace: x"), "{}", texts[1]);
}

#[test]
fn shapes_the_in_place_path_does_not_edit_fall_back_to_the_parsed_path() {
    let (handled, _) = both_ways(&[FLOW_CONTEXT], "a", Some("ns"));
    assert!(!handled, "flow-style context needs the parsed path");
    let (handled, _) = both_ways(&[COMMENTED], "a", Some(""));
    assert!(!handled, "clearing a namespace needs the parsed path");
    let anchored = KUBECTL_STYLE.replace(
        "- context:\n    cluster: a\n    extensions",
        "- context: &c\n    cluster: a\n    extensions",
    );
    let (handled, _) = both_ways(&[&anchored], "a", Some("ns"));
    assert!(!handled, "anchors need the parsed path");
    let (handled, _) = both_ways(&["", KUBECTL_STYLE], "a", None);
    assert!(!handled, "an empty default file needs the parsed path");
}

// ----- performance ----------------------------------------------------------------------------------------

/// DESIGN.md §8: `use` on a 2,000-context (~2 MB) kubeconfig; the budget is 0.2× kubectl's ~580 ms. The time
/// is printed (`cargo test -- --nocapture`), not asserted: benchmarks measure it.
#[test]
fn use_context_on_a_2000_context_kubeconfig() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let ca = "LS0t".repeat(150);
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "- name: c{i}\n  cluster:\n    server: https://api-{i}.example:6443\n    certificate-authority-data: {ca}\n"
        ));
    }
    text.push_str("users:\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "- name: u{i}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: kubectl-signet\n      args: [token, --cluster, c{i}]\n      interactiveMode: IfAvailable\n"
        ));
    }
    text.push_str("contexts:\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "- name: ctx{i}\n  context:\n    cluster: c{i}\n    user: u{i}\n    namespace: ns{i}\n    extensions:\n    - name: signet\n      extension: {{provider: corp, cluster: c{i}}}\n"
        ));
    }
    text.push_str("current-context: ctx0\n");
    fs::write(&file, &text).expect("write big kubeconfig");

    let started = Instant::now();
    let outcome = use_context(&single(&file), "ctx1999", Some("picked")).expect("use");
    let took = started.elapsed();
    eprintln!(
        "use_context on {} contexts, {} KiB: {took:?}",
        2000,
        text.len() / 1024
    );

    assert_eq!(outcome.written, vec![file.clone()]);
    assert_eq!(
        outcome.backups.len(),
        1,
        "the first change backs the file up"
    );
    let started = Instant::now();
    use_context(&single(&file), "ctx1998", None).expect("use again");
    use_context(&single(&file), "ctx1999", None).expect("and back");
    eprintln!(
        "use_context again (backup exists): {:?} per call",
        started.elapsed() / 2
    );
    let kc = load(&file);
    assert_eq!(kc.contexts.len(), 2000);
    assert_eq!(kc.clusters.len(), 2000);
    assert_eq!(kc.current_context.as_deref(), Some("ctx1999"));
    assert_eq!(
        kc.contexts[1999]
            .context
            .as_ref()
            .and_then(|c| c.namespace.as_deref()),
        Some("picked")
    );
    assert_eq!(
        kc.contexts[0]
            .context
            .as_ref()
            .and_then(|c| c.namespace.as_deref()),
        Some("ns0")
    );
}

#[test]
fn a_first_sync_makes_its_context_current_in_the_same_edit_and_never_replaces_a_current_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config");
    let target = single(&file);
    let (outcome, made) =
        upsert_cluster_entries_current_if_unset(&target, &[entry("prod")], "prod")
            .expect("first sync");
    assert!(made, "no current context before: prod becomes current");
    assert_eq!(outcome.written.len(), 1, "one write: {outcome:?}");
    assert!(
        outcome.backups.is_empty(),
        "a new file has nothing to back up"
    );
    assert_eq!(load(&file).current_context.as_deref(), Some("prod"));

    let (_, made) =
        upsert_cluster_entries_current_if_unset(&target, &[entry("staging")], "staging")
            .expect("second sync");
    assert!(!made, "a current context exists");
    assert_eq!(
        load(&file).current_context.as_deref(),
        Some("prod"),
        "the person's current context is kept"
    );
}

/// Issue 14: the status reads a kubeconfig chain again only when one of its files changed (a 2 MB
/// kubeconfig is not parsed on every status), and never misses a change: a Signet upsert (atomic replace),
/// an in-place write of the same length, a file of the chain appearing. A chain written less than
/// [`SETTLE`](crate::file_stamp::SETTLE) ago is read every time (a second write in the same timestamp tick
/// would not change its stamp).
#[test]
fn the_chain_cache_reads_again_only_after_a_file_of_the_chain_changed() {
    let settle = || std::thread::sleep(crate::file_stamp::SETTLE + Duration::from_millis(100));
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    fs::write(&first, FOREIGN).expect("write the first file");
    let target = chain(dir.path(), &[&first, &second]);
    let cache = ChainCache::new();

    let fresh = cache.view(&target).expect("read the chain");
    cache.view(&target).expect("read the chain again");
    assert_eq!(
        cache.reads(),
        2,
        "a chain written just now is read every time"
    );

    settle();
    let view = cache.view(&target).expect("view");
    assert_eq!(view, fresh);
    assert_eq!(view.current_context.as_deref(), Some("other"));
    assert!(view.contexts.is_empty(), "no Signet context yet");
    for _ in 0..5 {
        assert_eq!(cache.view(&target).expect("view"), view);
    }
    assert_eq!(cache.reads(), 3, "a settled, unchanged chain is read once");

    upsert_cluster_entries(&target, &[entry("prod")]).expect("upsert");
    let view = cache.view(&target).expect("view after the upsert");
    assert_eq!(cache.reads(), 4, "Signet's own write is seen");
    assert_eq!(
        view.contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["prod"]
    );

    settle();
    cache.view(&target).expect("view");
    assert_eq!(cache.reads(), 5);
    // Someone else rewrites the file in place, same length: the stamp still tells.
    let text = fs::read_to_string(&first).expect("read");
    fs::write(
        &first,
        text.replace("current-context: other", "current-context: prod "),
    )
    .expect("rewrite");
    assert_eq!(
        cache
            .view(&target)
            .expect("view")
            .current_context
            .as_deref(),
        Some("prod")
    );
    assert_eq!(cache.reads(), 6);

    settle();
    cache.view(&target).expect("view");
    assert_eq!(cache.reads(), 7);
    fs::write(&second, "apiVersion: v1\nkind: Config\n").expect("a second file appears");
    cache.view(&target).expect("view");
    assert_eq!(
        cache.reads(),
        8,
        "a file appearing in the chain is a change"
    );
}
