//! What a person can do with Signet, one verb per module. Each use case takes the engine ([`Signet`])
//! and plain inputs, changes files, the keyring or the network through the core's nouns (config,
//! kubeconfig, session, token store), and returns an outcome struct. Nothing here prints or notifies:
//! `kubectl-signet` and the tray app only translate outcomes into their own words.
//!
//! - [`import`]: plan an import from a kubeconfig or a team catalog (the plan applies itself);
//! - [`login`]: sign in (once across processes), then write the provider's kubeconfig entries;
//! - [`remote`]: on a remote host, write the entries of the clusters the desktop's agent offers;
//! - [`setup`]: add, change and remove providers and clusters; discover an issuer, probe a server;
//! - [`switch`]: make a cluster's context current, with a namespace.
//!
//! [`Signet`]: crate::Signet

pub mod import;
pub mod login;
pub mod remote;
pub mod setup;
pub mod switch;
