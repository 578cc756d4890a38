//! A full sign-in, refresh and logout with logging at the most verbose level (every crate, TRACE) must
//! not put a token, authorization code, state or PKCE verifier into the logs (DESIGN.md §6).
//! One test per file: it installs the process-wide subscriber.

use std::sync::Arc;
use std::time::Duration;

use signet_core::session::LoginMethod;
use signet_core::token_store::{MemoryStore, SecretStore, TokenCache};
use signet_tests::idp::{Idp, IdpOptions, PASSWORD};
use signet_tests::world::{CapturedLogs, FormOpener, TestClock, World};

#[test]
fn no_secret_reaches_the_logs_at_trace_level() {
    let logs = CapturedLogs::install_at_trace();

    let world = World::new(Idp::start(IdpOptions::default()));
    let store = Arc::new(MemoryStore::new());
    let clock = TestClock::new();
    let signet = world.signet(world.config(), store.clone(), clock.clone());
    let opener = FormOpener::new(world.idp.ca(), "alice", PASSWORD);
    signet
        .login(
            "corp",
            LoginMethod::Browser {
                opener: &opener,
                timeout: Duration::from_secs(20),
            },
        )
        .expect("sign-in");
    let mut secrets: Vec<String> = Vec::new();
    let callback = opener.delivered.lock().expect("lock")[0].clone();
    for (k, v) in callback.query_pairs() {
        if k == "code" || k == "state" {
            secrets.push(v.into_owned());
        }
    }
    let cache = TokenCache::new(&world.paths);
    secrets.push(
        cache
            .read("corp", "kubernetes")
            .expect("cached")
            .id_token
            .expose()
            .to_string(),
    );
    secrets.push(
        store
            .get("corp")
            .expect("store")
            .expect("refresh token")
            .expose()
            .to_string(),
    );

    clock.advance(3600);
    let refreshed = signet.token_for("prod").expect("refresh");
    secrets.push(refreshed.id_token.expose().to_string());
    secrets.push(
        store
            .get("corp")
            .expect("store")
            .expect("rotated")
            .expose()
            .to_string(),
    );
    signet.logout("corp").expect("logout");

    let text = logs.text();
    assert!(
        text.lines().count() > 20,
        "verbose logging really captured lines:\n{text}"
    );
    assert!(
        text.contains("signed in") && text.contains("session refreshed"),
        "our own events are captured:\n{text}"
    );
    for secret in &secrets {
        assert!(secret.len() >= 8, "a real secret value");
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into the logs: …{}…",
            &secret[..8]
        );
    }
    for marker in ["code_verifier=", "refresh_token=", "eyJ"] {
        assert!(!text.contains(marker), "'{marker}' appears in the logs");
    }
}
