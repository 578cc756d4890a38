//! Taking Signet off a machine: `kubectl signet sync --remove` takes out exactly the kubeconfig entries
//! Signet wrote (the README's "Uninstall" steps), and `sync` puts them back.

use std::process::{Command, Output};

use signet_tests::idp::{Idp, IdpOptions};
use signet_tests::world::World;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-signet");

fn run(world: &World, args: &[&str]) -> Output {
    let out = world
        .command(PLUGIN)
        .args(args)
        .output()
        .expect("run kubectl-signet");
    assert!(
        out.status.success(),
        "kubectl-signet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn names(world: &World, what: &str) -> Vec<String> {
    let out = Command::new("kubectl")
        .args(["config", "view", "-o"])
        .arg(format!("jsonpath={{.{what}[*].name}}"))
        .env("KUBECONFIG", world.root.path().join("kubeconfig"))
        .env("HOME", &world.paths.home)
        .output()
        .expect("run kubectl config view");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn sync_remove_takes_out_only_signets_entries_and_sync_writes_them_back() {
    let world = World::new(Idp::start(IdpOptions::default()));
    world.write_config(&world.config());
    // Someone else's entries, and no current context pointing at Signet's (kubectl would run its plugin).
    std::fs::write(
        world.root.path().join("kubeconfig"),
        "apiVersion: v1\nkind: Config\ncurrent-context: mine\n\
         clusters:\n- name: mine\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         users:\n- name: me\n  user: {token: not-signets}\n\
         contexts:\n- name: mine\n  context: {cluster: mine, user: me}\n",
    )
    .expect("write kubeconfig");
    run(&world, &["sync"]);
    assert_eq!(names(&world, "contexts"), vec!["mine", "prod"]);

    let out = run(&world, &["sync", "--remove"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed cluster prod's entries"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(names(&world, "contexts"), vec!["mine"]);
    assert_eq!(names(&world, "users"), vec!["me"]);
    assert_eq!(names(&world, "clusters"), vec!["mine"]);

    run(&world, &["sync"]);
    assert_eq!(
        names(&world, "contexts"),
        vec!["mine", "prod"],
        "sync writes them back"
    );
}
