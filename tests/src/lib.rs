//! Signet's test world: real parts started by the tests themselves (DESIGN.md §7).
//!
//! Nothing here touches the real user's `HOME`, kubeconfig or keyring: every helper works inside a
//! temporary directory and a private D-Bus session.

pub mod apiserver;
pub mod bench;
pub mod browser;
pub mod cli;
pub mod desktop;
pub mod idp;
pub mod keyring;
pub mod portal;
pub mod sshd;
pub mod tls;
pub mod webdriver;
pub mod world;
