//! `kubectl-signet`: Signet's CLI and kubectl's exec-credential plugin (DESIGN.md §4).
//!
//! A thin adapter: it reads arguments and `KUBERNETES_EXEC_INFO`, calls `signet-core`, and writes the
//! result. stdout carries only the requested output (the ExecCredential for `token`); messages go to
//! stderr. Exit codes: 0 ok, 1 a failure the person can act on (the message says how), 2 usage.

mod cli;
mod cmd;
mod complete;
mod exec_entry;
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
    // kubectl's exec entry, when this binary is run directly (`kubectl-signet`, the front binary,
    // usually served it already): a fresh cached token found through the cluster index is printed
    // before clap, logging or the config (DESIGN.md §8). Anything else runs the full command.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if exec_entry::exec_entry_cluster(&args).is_some() {
        if std::env::var_os("SIGNET_LOG").is_some() {
            init_logging();
        }
        if exec_entry::serve_from_index(&args) {
            return ExitCode::SUCCESS;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<std::ffi::OsString> {
        words.iter().map(Into::into).collect()
    }

    #[test]
    fn the_exec_entry_is_recognised_exactly_where_clap_reads_token_with_that_cluster() {
        let cases: &[&[&str]] = &[
            &["token", "--cluster", "prod"],
            &["token", "--cluster=prod"],
            &["token", "--cluster", "arn:aws:eks:eu-west-1:1:cluster/prod"],
            &["token", "--cluster=a=b"],
            &["token", "--cluster", "-x"],
            &["token", "--cluster=-x"],
            &["token", "--cluster", "--help"],
            &["token", "--cluster="],
            &["token", "--cluster", ""],
            &["token", "--cluster", "prod", "--cluster", "dev"],
            &["token", "--cluster", "prod", "--"],
            &["token", "--help", "--cluster", "prod"],
            &["--version", "token", "--cluster", "prod"],
            &["token"],
            &["status"],
            &[],
        ];
        for words in cases {
            let os_words = args(words);
            let Some(cluster) = exec_entry::exec_entry_cluster(&os_words) else {
                continue;
            };
            let mut argv = vec!["kubectl-signet"];
            argv.extend_from_slice(words);
            match Cli::try_parse_from(&argv).map(|cli| cli.command) {
                Ok(cli::Command::Token { cluster: parsed }) => assert_eq!(
                    parsed, cluster,
                    "{words:?}: expected clap to read the same cluster"
                ),
                other => {
                    panic!("{words:?}: recognised as the exec entry, but clap reads {other:?}")
                }
            }
        }
        assert_eq!(
            exec_entry::exec_entry_cluster(&args(&["token", "--cluster", "prod"])),
            Some("prod")
        );
        assert_eq!(
            exec_entry::exec_entry_cluster(&args(&["token", "--cluster=prod"])),
            Some("prod")
        );
        assert_eq!(
            exec_entry::exec_entry_cluster(&args(&["token", "--cluster", "-x"])),
            None
        );
    }
}
