//! The [`ImportPlan`] as text, for `--dry-run` and the app's confirmation.

use std::fmt;
use std::path::PathBuf;

use super::plan::{ClusterEntryChange, ContextAdoption, ImportPlan};
use crate::config::Config;
use crate::secret::Secret;
use crate::text::printable_multiline;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The plan as text. Names, paths and reasons come from a kubeconfig or a catalog, so the whole text is
/// shown with control characters escaped.
impl fmt::Display for ImportPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.render(&mut text)?;
        f.write_str(&printable_multiline(&text))
    }
}

impl ImportPlan {
    fn render(&self, f: &mut impl fmt::Write) -> fmt::Result {
        writeln!(f, "Import from {}", self.source)?;
        writeln!(f)?;
        self.render_config(f)?;
        self.render_adoptions(f)?;
        self.render_new_entries(f)?;
        self.render_skipped_and_notes(f)?;
        self.render_insecure_warning(f)
    }

    /// The providers and clusters added to the config, and the entries reused.
    fn render_config(&self, f: &mut impl fmt::Write) -> fmt::Result {
        if self.providers.is_empty() && self.clusters.is_empty() {
            writeln!(f, "Signet config {}: no change", self.config_file.display())?;
        } else {
            writeln!(
                f,
                "Signet config {}: add {} and {}:",
                self.config_file.display(),
                plural(self.providers.len(), "provider", "providers"),
                plural(self.clusters.len(), "cluster", "clusters"),
            )?;
            for line in self.additions_toml().lines() {
                if line.is_empty() {
                    writeln!(f)?;
                } else {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        for r in &self.reused {
            writeln!(f, "  = {r}")?;
        }
        Ok(())
    }

    /// Per kubeconfig file, the contexts that become Signet's and what is left untouched.
    fn render_adoptions(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let mut files: Vec<&PathBuf> = Vec::new();
        for a in &self.adoptions {
            if !files.contains(&&a.file) {
                files.push(&a.file);
            }
        }
        for file in files {
            let here: Vec<&ContextAdoption> =
                self.adoptions.iter().filter(|a| &a.file == file).collect();
            writeln!(f)?;
            writeln!(
                f,
                "Kubeconfig {}: {} become Signet's (names kept):",
                file.display(),
                plural(here.len(), "context", "contexts")
            )?;
            for a in &here {
                let cluster = match &a.cluster_entry {
                    ClusterEntryChange::TakenOver => {
                        format!("cluster {} becomes Signet's (fields kept)", a.cluster)
                    }
                    ClusterEntryChange::Copied { kept_for } if kept_for.is_empty() => format!(
                        "cluster {} → {} (a copy; {} is kept)",
                        a.old_cluster, a.cluster, a.old_cluster
                    ),
                    ClusterEntryChange::Copied { kept_for } => format!(
                        "cluster {} → {} (a copy; {} stays for {})",
                        a.old_cluster,
                        a.cluster,
                        a.old_cluster,
                        kept_for.join(", ")
                    ),
                    ClusterEntryChange::Existing => format!("cluster {}", a.cluster),
                };
                writeln!(
                    f,
                    "  ~ context {}: user {} ({}) → signet-{} (kubectl-signet token --cluster {}); {}",
                    a.context, a.old_user, a.old_auth, a.cluster, a.cluster, cluster
                )?;
            }
            let mut old_users: Vec<&str> = here.iter().map(|a| a.old_user.as_str()).collect();
            old_users.sort_unstable();
            old_users.dedup();
            writeln!(
                f,
                "  Left untouched: {} {} (remove {} with `kubectl config delete-user NAME` once Signet works), and every other entry.",
                if old_users.len() == 1 {
                    "user"
                } else {
                    "users"
                },
                old_users.join(", "),
                if old_users.len() == 1 { "it" } else { "them" },
            )?;
        }
        Ok(())
    }

    /// The kubeconfig entries written for new catalog clusters.
    fn render_new_entries(&self, f: &mut impl fmt::Write) -> fmt::Result {
        if !self.new_entries.is_empty() {
            writeln!(f)?;
            for n in &self.new_entries {
                writeln!(
                    f,
                    "Kubeconfig {}: + context {} (cluster {}, user signet-{})",
                    n.file.display(),
                    n.context,
                    n.cluster,
                    n.cluster
                )?;
            }
        }
        Ok(())
    }

    fn render_skipped_and_notes(&self, f: &mut impl fmt::Write) -> fmt::Result {
        if !self.skipped.is_empty() {
            writeln!(f)?;
            writeln!(f, "Not imported:")?;
            for s in &self.skipped {
                writeln!(f, "  - {}: {}", s.what, s.reason)?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
            writeln!(f, "Notes:")?;
            for n in &self.notes {
                writeln!(f, "  - {n}")?;
            }
        }
        Ok(())
    }

    /// The clusters that skip TLS verification, which applying needs consent for.
    fn render_insecure_warning(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let insecure = self.insecure_clusters();
        if !insecure.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "WARNING: {} TLS verification of the API server: anyone on the network path could read your token. Applying needs --allow-insecure.",
                if insecure.len() == 1 {
                    format!("cluster {} skips", insecure[0])
                } else {
                    format!("clusters {} skip", insecure.join(", "))
                }
            )?;
        }
        Ok(())
    }
}

impl ImportPlan {
    /// The providers and clusters to add, as the TOML that will be saved, with any client secret redacted.
    fn additions_toml(&self) -> String {
        let shown = Config {
            providers: self
                .providers
                .iter()
                .cloned()
                .map(|mut p| {
                    if p.client_secret.is_some() {
                        p.client_secret = Some(Secret::new("<redacted>"));
                    }
                    p
                })
                .collect(),
            clusters: self.clusters.clone(),
            ..Config::default()
        };
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("(cannot render: {e})\n"))
    }
}
