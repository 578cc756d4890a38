//! The agent's accept loop backs off when `accept` fails (EMFILE here) instead of spinning, and serves again
//! once descriptors are free. Its own test binary: it lowers this process's descriptor limit.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use signet_core::agent::{AgentFailure, AgentHandler, AgentServer, Peer, Request};

struct Status;

impl AgentHandler for Status {
    fn handle(&self, _request: Request, _peer: &Peer) -> Result<serde_json::Value, AgentFailure> {
        Ok(serde_json::json!({"providers": []}))
    }
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (opened before the descriptors
/// run out, read again from offset 0), in clock ticks (1/100 s).
fn cpu_ticks(proc_stat: &std::fs::File) -> u64 {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 4096];
    let n = proc_stat
        .read_at(&mut buf, 0)
        .expect("read /proc/self/stat");
    let stat = String::from_utf8_lossy(&buf[..n]);
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn accept_errors_are_backed_off_not_spun_on_and_serving_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signet/agent.sock");
    let server = AgentServer::bind(&path).expect("bind");
    std::thread::spawn(move || server.serve(Arc::new(Status)));

    // Use up every descriptor this process may open, keep one for the client, then connect: the connection
    // waits in the backlog and every `accept` fails with EMFILE.
    let proc_stat = std::fs::File::open("/proc/self/stat").expect("/proc/self/stat");
    let open_now = std::fs::read_dir("/proc/self/fd").expect("fds").count() as u64;
    let limit = open_now + 32;
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(limit),
            maximum: rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum,
        },
    )
    .expect("setrlimit");
    let mut fillers = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => fillers.push(f),
            Err(e) if e.raw_os_error() == Some(24) => break, // EMFILE
            Err(e) => panic!("unexpected error filling descriptors: {e}"),
        }
        assert!(fillers.len() < 10_000, "the descriptor limit did not hold");
    }
    drop(fillers.pop());
    let mut client = UnixStream::connect(&path).expect("connect (waits in the backlog)");
    assert!(
        std::fs::File::open("/dev/null").is_err(),
        "the process is at its limit"
    );

    // While accept keeps failing, the agent must not burn a core.
    let before = cpu_ticks(&proc_stat);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(&proc_stat) - before;
    assert!(
        used < 30,
        "the accept loop spun on EMFILE: {used} ticks of CPU in 2 s (a back-off uses ~0)"
    );

    // Descriptors free again: serving resumes. The client that waited in the backlog is usually answered;
    // if the agent took it while still short of descriptors and had to drop it (the client then sees a
    // broken pipe or EOF, and kubectl-signet falls back to working alone), a new client must be served.
    drop(fillers);
    let waited = ask_status(&mut client);
    let answer = match waited {
        Ok(answer) if !answer.is_empty() => answer,
        _ => {
            let mut fresh = UnixStream::connect(&path).expect("connect again");
            ask_status(&mut fresh).expect("a new client is served after the back-off")
        }
    };
    assert!(answer.contains("\"ok\":true"), "{answer}");
}

/// Sends a status request and reads the one-line answer (empty at EOF).
fn ask_status(client: &mut UnixStream) -> std::io::Result<String> {
    client.write_all(b"{\"op\":\"status\"}\n")?;
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut answer = String::new();
    BufReader::new(&*client).read_line(&mut answer)?;
    Ok(answer)
}
