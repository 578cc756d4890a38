//! Shell completion for `kubectl signet …` through kubectl's plugin completion (kubectl ≥ 1.26).
//!
//! kubectl completes a plugin's arguments by running `kubectl_complete-<plugin>` from `PATH` with the words
//! after the plugin's name, the last one being the word under the cursor (possibly empty), and reads Cobra's
//! answer: one candidate per line (`value<TAB>description`), then `:<directive>`. The packaged
//! `kubectl_complete-signet` script runs `kubectl-signet __complete "$@"`, answered here from the clap
//! definition itself, plus the cluster and provider names of the person's config.
//!
//! Completion never fails loudly: a config that does not load just offers no names.

use std::io::Write as _;

use clap::CommandFactory as _;

use crate::cli::Cli;

/// Cobra's `ShellCompDirectiveDefault`: let the shell complete file names.
const FILES: u8 = 0;
/// Cobra's `ShellCompDirectiveNoFileComp`: offer only the listed candidates.
const NO_FILES: u8 = 4;

/// What the word under the cursor is.
#[derive(Debug, PartialEq, Eq)]
enum Slot {
    Subcommand,
    Flag,
    Value(String),
    Positional(String),
}

/// Prints the candidates for `words` (the last one is being typed) on stdout.
pub fn run(words: &[String]) {
    let (candidates, directive) = candidates(words, &config_names);
    let mut out = std::io::stdout().lock();
    for (value, help) in candidates {
        let _ = match help {
            Some(help) => writeln!(out, "{value}\t{help}"),
            None => writeln!(out, "{value}"),
        };
    }
    let _ = writeln!(out, ":{directive}");
}

/// The names of the person's clusters (`true`) or providers (`false`), if the config loads.
fn config_names(clusters: bool) -> Vec<String> {
    let Ok(paths) = signet_core::paths::Paths::from_env() else {
        return Vec::new();
    };
    let Ok(config) = signet_core::config::Config::load(&paths.config_file, &paths.home) else {
        return Vec::new();
    };
    if clusters {
        config.clusters.into_iter().map(|c| c.name).collect()
    } else {
        config.providers.into_iter().map(|p| p.name).collect()
    }
}

type Candidate = (String, Option<String>);

fn candidates(words: &[String], names: &dyn Fn(bool) -> Vec<String>) -> (Vec<Candidate>, u8) {
    let (typing, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", &[][..]),
    };
    let root = Cli::command();
    let (command, slot) = locate(&root, before, typing);
    let (all, directive): (Vec<Candidate>, u8) = match slot {
        Slot::Subcommand => (
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| {
                    (
                        s.get_name().to_string(),
                        s.get_about().map(|a| a.to_string()),
                    )
                })
                .collect(),
            NO_FILES,
        ),
        Slot::Flag => (
            command
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| {
                    Some((
                        format!("--{}", a.get_long()?),
                        a.get_help().map(|h| h.to_string()),
                    ))
                })
                .chain([("--help".to_string(), Some("Print help".to_string()))])
                .collect(),
            NO_FILES,
        ),
        Slot::Value(id) | Slot::Positional(id) => match id.as_str() {
            "cluster" => (plain(names(true)), NO_FILES),
            "provider" => (plain(names(false)), NO_FILES),
            "target" => (plain(names(false).into_iter().chain(names(true))), NO_FILES),
            "login" => (plain(["embedded", "browser", "device"]), NO_FILES),
            "credentials" => (plain(["exec", "token"]), NO_FILES),
            "kubeconfig" | "ca_file" | "catalog" => (Vec::new(), FILES),
            _ => (Vec::new(), NO_FILES),
        },
    };
    // A provider and a cluster may share a name (`login` offers both): each value once, first one first.
    let mut seen = std::collections::HashSet::new();
    let matching: Vec<Candidate> = all
        .into_iter()
        .filter(|(v, _)| v.starts_with(typing) && seen.insert(v.clone()))
        .collect();
    (matching, directive)
}

fn plain<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Vec<Candidate> {
    values.into_iter().map(|v| (v.into(), None)).collect()
}

/// Walks the words before the cursor through the command tree: which (sub)command they reach, and what
/// the word being typed is there.
fn locate<'a>(
    root: &'a clap::Command,
    before: &[String],
    typing: &str,
) -> (&'a clap::Command, Slot) {
    let mut command = root;
    let mut positionals = 0;
    let mut words = before.iter();
    let mut pending_value: Option<String> = None;
    while let Some(word) = words.next() {
        if let Some(long) = word.strip_prefix("--") {
            if long.contains('=') {
                continue;
            }
            let takes_value = command
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .filter(|a| a.get_action().takes_values());
            if let Some(arg) = takes_value {
                match words.next() {
                    Some(_) => {}
                    None => pending_value = Some(arg.get_id().to_string()),
                }
            }
        } else if word.starts_with('-') {
            continue;
        } else if let Some(sub) = command.find_subcommand(word) {
            command = sub;
            positionals = 0;
        } else {
            positionals += 1;
        }
    }
    if let Some(id) = pending_value {
        return (command, Slot::Value(id));
    }
    if typing.starts_with('-') {
        return (command, Slot::Flag);
    }
    if command.has_subcommands() {
        return (command, Slot::Subcommand);
    }
    let positional = command
        .get_positionals()
        .nth(positionals)
        .map(|a| a.get_id().to_string())
        .unwrap_or_default();
    (command, Slot::Positional(positional))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(clusters: bool) -> Vec<String> {
        if clusters {
            vec!["prod".into(), "staging".into()]
        } else {
            vec!["corp".into()]
        }
    }

    fn complete(line: &str) -> (Vec<String>, u8) {
        let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
        if line.is_empty() {
            words = vec![String::new()];
        }
        let (found, directive) = candidates(&words, &names);
        (found.into_iter().map(|(v, _)| v).collect(), directive)
    }

    #[test]
    fn offers_the_subcommands_at_the_top() {
        let (found, directive) = complete("");
        for expected in [
            "token", "login", "logout", "status", "use", "sync", "add", "import", "doctor",
        ] {
            assert!(
                found.contains(&expected.to_string()),
                "{expected} missing from {found:?}"
            );
        }
        assert!(
            !found.iter().any(|f| f.starts_with("__")),
            "hidden commands offered: {found:?}"
        );
        assert_eq!(directive, NO_FILES);
        assert_eq!(complete("lo").0, vec!["login", "logout"]);
    }

    #[test]
    fn offers_cluster_and_provider_names_from_the_config() {
        assert_eq!(complete("use ").0, vec!["prod", "staging"]);
        assert_eq!(complete("use st").0, vec!["staging"]);
        assert_eq!(complete("token --cluster p").0, vec!["prod"]);
        assert_eq!(complete("logout ").0, vec!["corp"]);
        assert_eq!(complete("login ").0, vec!["corp", "prod", "staging"]);
        assert_eq!(complete("add cluster x --provider ").0, vec!["corp"]);
    }

    #[test]
    fn a_name_shared_by_a_provider_and_a_cluster_is_offered_once() {
        // The shared name is not adjacent in the list (providers first, then clusters), so only a
        // seen-set catches it.
        let names = |clusters: bool| -> Vec<String> {
            if clusters {
                vec!["prod".into(), "corp".into()]
            } else {
                vec!["corp".into(), "dev".into()]
            }
        };
        let words: Vec<String> = ["login", ""].map(String::from).to_vec();
        let (found, _) = candidates(&words, &names);
        let found: Vec<String> = found.into_iter().map(|(v, _)| v).collect();
        assert_eq!(
            found,
            vec!["corp", "dev", "prod"],
            "each name once, in first-seen order"
        );
    }

    #[test]
    fn offers_flags_and_fixed_values_and_leaves_files_to_the_shell() {
        let (flags, _) = complete("login corp --");
        assert!(flags.contains(&"--device".to_string()), "{flags:?}");
        assert!(
            flags.contains(&"--browser-command".to_string()),
            "{flags:?}"
        );
        assert_eq!(
            complete("add provider p --login ").0,
            vec!["embedded", "browser", "device"]
        );
        assert_eq!(complete("add cluster c --credentials t").0, vec!["token"]);
        assert_eq!(complete("import --kubeconfig ").1, FILES);
        // After a flag's value, the next word is positional again.
        assert_eq!(complete("use --namespace x ").0, vec!["prod", "staging"]);
    }
}
