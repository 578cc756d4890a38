//! `kubectl-signet`: Signet's CLI and kubectl's exec-credential plugin (DESIGN.md §4).
//!
//! A thin adapter: it reads arguments and `KUBERNETES_EXEC_INFO`, calls `signet-core`, and writes the
//! result. stdout carries only the requested output (the ExecCredential for `token`); messages go to
//! stderr. Exit codes: 0 ok, 1 a failure the person can act on (the message says how), 2 usage.

mod cli;
mod cmd;
mod complete;
mod output;
mod sign_in;

use std::process::ExitCode;

use cli::Cli;

use clap::Parser as _;

fn main() -> ExitCode {
    // kubectl's plugin completion (`kubectl_complete-signet` runs `kubectl-signet __complete …`).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "__complete")
    {
        let words: Vec<String> = std::env::args_os()
            .skip(2)
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        complete::run(&words);
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    init_logging();
    match cmd::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(1)
        }
    }
}

/// Logs: info and above are appended to `$XDG_STATE_HOME/signet/signet.log` (opened only when something
/// is logged, so the exec plugin's fast path pays nothing); `SIGNET_LOG=debug` (any tracing filter) also
/// shows them on stderr. Nothing logged ever holds a token (the core's types redact themselves).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};

    let file_layer = signet_core::paths::Paths::from_env().ok().map(|paths| {
        let dir = paths.state_dir.clone();
        fmt::layer()
            .with_ansi(false)
            .with_writer(move || LogFile::open(&dir))
            .with_filter(EnvFilter::new("info"))
    });
    let stderr_layer = std::env::var("SIGNET_LOG").ok().map(|filter| {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(EnvFilter::new(filter))
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
}

/// The log file, opened (0600, append) for each event; a failure to open it drops the line silently.
struct LogFile(Option<std::fs::File>);

impl LogFile {
    fn open(dir: &std::path::Path) -> LogFile {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::create_dir_all(dir);
        LogFile(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(dir.join("signet.log"))
                .ok(),
        )
    }
}

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.0 {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
