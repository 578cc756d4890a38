//! `kubectl-signet-assets <dir>`: renders what the packages ship beside the binary, from the very clap
//! definition the binary parses with (so the man page and completions cannot drift from it):
//!
//! - `man/kubectl-signet.1` (and one page per subcommand, `kubectl-signet-<sub>.1`);
//! - `completions/kubectl-signet.bash`, `_kubectl-signet` (zsh), `kubectl-signet.fish`.
//!
//! A packaging tool (scripts/package.sh); it is not installed.

use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_complete::Shell;

#[path = "../cli.rs"]
#[allow(dead_code)]
mod cli;

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: kubectl-signet-assets <output directory>");
        std::process::exit(2);
    };
    // Run as its own program (`kubectl-signet`), not as `kubectl signet` (the name kubectl shows in help).
    let command = cli::Cli::command()
        .name("kubectl-signet")
        .bin_name("kubectl-signet");
    write_man_pages(&command, &out.join("man"))?;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(
            shell,
            &mut command.clone(),
            "kubectl-signet",
            &completions,
        )?;
        println!("{}", path.display());
    }
    Ok(())
}

/// The main page and one page per (nested) subcommand, named as `git` names its pages.
fn write_man_pages(command: &clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = command.clone();
    command.build();
    let mut pages = vec![(command.get_name().to_string(), command.clone())];
    let mut i = 0;
    while i < pages.len() {
        let (name, cmd) = pages[i].clone();
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let sub_name = format!("{name}-{}", sub.get_name());
            // clap names are `&'static str` here (no `string` feature); this tool runs once and exits.
            let static_name: &'static str = sub_name.clone().leak();
            pages.push((sub_name, sub.clone().name(static_name)));
        }
        i += 1;
    }
    let version = env!("CARGO_PKG_VERSION");
    for (name, cmd) in pages {
        let mut buffer = Vec::new();
        clap_mangen::Man::new(cmd.version(version))
            .title(name.to_uppercase())
            .section("1")
            .manual("Signet")
            .source(format!("Signet {version}"))
            .render(&mut buffer)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, buffer)?;
        println!("{}", path.display());
    }
    Ok(())
}
