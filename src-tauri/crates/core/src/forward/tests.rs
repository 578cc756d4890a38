use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Runs `n` requests of `session` at once; returns their results after `answer` was given to the one
/// question they asked (counted in `asked`).
fn many_at_once(
    book: &Arc<ConsentBook>,
    session: &str,
    n: usize,
    answer: Decision,
    asked: &Arc<AtomicUsize>,
) -> Vec<Result<(), ConsentError>> {
    let (prompt_tx, prompt_rx) = std::sync::mpsc::channel();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let book = book.clone();
            let session = session.to_string();
            let asked = asked.clone();
            let prompt_tx = prompt_tx.clone();
            std::thread::spawn(move || {
                book.admit(&session, Duration::from_secs(20), |prompt| {
                    asked.fetch_add(1, Ordering::SeqCst);
                    prompt_tx.send(prompt).expect("send the prompt");
                })
            })
        })
        .collect();
    let prompt = prompt_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("one question is asked");
    // Let every request reach the question before the person answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while book
        .inner
        .lock()
        .expect("lock")
        .waiting
        .get(&prompt)
        .copied()
        != Some(n)
    {
        assert!(
            Instant::now() < deadline,
            "all {n} requests wait on the question"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    book.decide(prompt, answer);
    handles
        .into_iter()
        .map(|h| h.join().expect("a request thread"))
        .collect()
}

#[test]
fn twenty_requests_of_a_new_session_ask_once_and_allow_for_the_session_serves_the_rest_without_asking()
 {
    let book = Arc::new(ConsentBook::new());
    let asked = Arc::new(AtomicUsize::new(0));
    let results = many_at_once(&book, "ssh 1", 20, Decision::AllowSession, &asked);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "one question for 20 requests"
    );
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    book.admit("ssh 1", Duration::from_secs(1), |_| {
        panic!("an allowed session is not asked again")
    })
    .expect("served");
    let mut asked_other = false;
    let other = book.admit("ssh 2", Duration::from_millis(50), |_| asked_other = true);
    assert!(asked_other, "another session is asked on its own");
    assert_eq!(
        other,
        Err(ConsentError::NoAnswer(Duration::from_millis(50)))
    );
    book.forget();
    let mut asked_again = false;
    let _ = book.admit("ssh 1", Duration::from_millis(10), |_| asked_again = true);
    assert!(asked_again, "turning forwarding off forgets every session");
}

#[test]
fn deny_refuses_every_waiting_request_and_the_next_request_asks_again() {
    let book = Arc::new(ConsentBook::new());
    let asked = Arc::new(AtomicUsize::new(0));
    let results = many_at_once(&book, "ssh 1", 5, Decision::Deny, &asked);
    assert_eq!(results, vec![Err(ConsentError::Denied); 5]);
    let results = many_at_once(&book, "ssh 1", 1, Decision::AllowOnce, &asked);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "a denied session is asked again"
    );
    assert_eq!(results, vec![Ok(())]);
    let mut asked_again = false;
    let _ = book.admit("ssh 1", Duration::from_millis(10), |_| asked_again = true);
    assert!(asked_again, "allow once does not allow the session");
}

#[test]
fn an_answer_given_while_asking_is_not_lost() {
    let book = Arc::new(ConsentBook::new());
    let answering = book.clone();
    let result = book.admit("ssh 1", Duration::from_secs(10), |prompt| {
        answering.decide(prompt, Decision::CannotAsk);
    });
    assert_eq!(
        result,
        Err(ConsentError::CannotAsk),
        "refused at once, not after the wait"
    );
}

#[test]
fn an_unanswered_question_refuses_after_the_wait_and_a_late_answer_changes_nothing() {
    let book = ConsentBook::new();
    let mut prompt = None;
    let result = book.admit("ssh 1", Duration::from_millis(30), |p| prompt = Some(p));
    assert_eq!(
        result,
        Err(ConsentError::NoAnswer(Duration::from_millis(30)))
    );
    book.decide(prompt.expect("asked"), Decision::AllowSession);
    let mut asked_again = false;
    let _ = book.admit("ssh 1", Duration::from_millis(10), |_| asked_again = true);
    assert!(
        asked_again,
        "a press after the question closed allows nothing"
    );
}

#[test]
fn a_session_is_named_by_pid_and_start_time_and_without_a_pid_by_its_connection() {
    let me = Peer {
        connection: 1,
        pid: Some(std::process::id()),
    };
    let name = session_of(&me);
    assert!(name.starts_with(&format!("pid {} started ", std::process::id())));
    assert!(
        !name.ends_with(" started 0"),
        "the start time is read: {name}"
    );
    assert_eq!(
        session_of(&Peer {
            connection: 2,
            ..me
        }),
        name,
        "same process, same session"
    );
    assert_eq!(
        session_of(&Peer {
            connection: 7,
            pid: None
        }),
        "connection 7"
    );
}

#[test]
fn a_process_in_a_container_belongs_to_the_containers_session() {
    let docker = "0::/system.slice/docker-4f1c2d.scope\n";
    assert_eq!(
        container_of(docker),
        Some("/system.slice/docker-4f1c2d.scope")
    );
    let podman =
        "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-9ab.scope/container\n";
    assert!(container_of(podman).is_some_and(|c| c.contains("libpod-9ab")));
    let v1 = "12:pids:/docker/4f1c2d\n11:memory:/docker/4f1c2d\n";
    assert_eq!(container_of(v1), Some("/docker/4f1c2d"));
    let desktop = "0::/user.slice/user-1000.slice/session-2.scope\n";
    assert_eq!(
        container_of(desktop),
        None,
        "an ssh client in a desktop session is not a container"
    );
    assert_eq!(container_of(""), None);
}

#[test]
fn a_remote_host_name_is_shown_escaped_and_short() {
    assert_eq!(shown_host(Some("devbox")), "devbox");
    assert_eq!(shown_host(Some("evil\u{1b}[2J")), "evil\\u{1b}[2J");
    assert_eq!(shown_host(Some(&"x".repeat(300))).len(), 64);
    assert_eq!(shown_host(Some("  ")), "another host");
    assert_eq!(shown_host(None), "another host");
}

#[test]
fn a_socket_of_another_user_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nothing.sock");
    assert!(matches!(
        ask_token(&missing, "prod", false),
        Err(ForwardError::NoSocket { .. })
    ));
    if rustix::process::geteuid().is_root() {
        // Owned by `nobody`: root can chown to test the check.
        let socket = dir.path().join("theirs.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        std::process::Command::new("chown")
            .args(["nobody", &socket.display().to_string()])
            .status()
            .expect("chown");
        let e = ask_token(&socket, "prod", false).expect_err("refused");
        assert!(matches!(e, ForwardError::NotYours { .. }), "{e}");
    }
}
