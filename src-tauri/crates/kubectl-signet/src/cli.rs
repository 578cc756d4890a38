//! The command line, as clap reads it. Kept apart from `main` so that the packaging tool
//! (`src/bin/kubectl-signet-assets.rs`) renders the man page and shell completions from this very
//! definition, and `complete` answers kubectl's plugin completion from it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use signet_core::config::{Credentials, LoginMode};

/// Keeps you signed in to Kubernetes clusters behind Dex (or any OpenID Connect provider).
///
/// kubectl runs `kubectl-signet token` for every cluster Signet manages; you run the other commands.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-signet",
    bin_name = "kubectl signet",
    version,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an ExecCredential for a cluster (run by kubectl; refreshes or signs in when needed).
    Token {
        /// The cluster's name in the Signet config.
        #[arg(long)]
        cluster: String,
    },
    /// Sign in to a provider (or to the provider of a cluster).
    Login(LoginArgs),
    /// Sign out of a provider: forget its tokens (and revoke them where the provider allows).
    Logout {
        /// The provider's name.
        provider: String,
    },
    /// Show providers, accounts, groups, token expiry and clusters.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a cluster's context the current kubectl context.
    Use {
        /// The cluster's name in the Signet config.
        cluster: String,
        /// Also set the context's namespace.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// Write or repair the kubeconfig entries of every configured cluster.
    ///
    /// With --remove, take them out instead (Signet's own entries only; the config stays, so a later
    /// `sync` writes them back): for uninstalling, together with `logout`.
    Sync {
        /// Remove Signet's kubeconfig entries of every configured cluster instead of writing them.
        #[arg(long)]
        remove: bool,
    },
    /// Add a provider or a cluster to the Signet config.
    #[command(subcommand)]
    Add(AddCommand),
    /// Adopt kubelogin / legacy auth-provider oidc contexts, or import a team catalog.
    ///
    /// Without --catalog, reads the kubeconfig (KUBECONFIG, else ~/.kube/config, or --kubeconfig) and adopts
    /// every context whose user runs kubelogin (`kubectl oidc-login get-token`, `kubelogin get-token`) or
    /// uses `auth-provider: oidc`: one provider per issuer and client id, one cluster per context. The
    /// contexts keep their names and now run `kubectl-signet token`; the old users and every other entry
    /// are left untouched, and the file is backed up first. Old tokens are never copied: sign in afresh.
    ///
    /// With --catalog, merges a team catalog (the config format without secrets or local paths) from a
    /// file or an https URL into the config and writes the new clusters' contexts. On a terminal it asks
    /// before applying; without one it applies only with --yes.
    ///
    /// Prints the plan first; --dry-run stops there. Clusters that skip TLS verification are imported
    /// only with --allow-insecure.
    Import(ImportArgs),
    /// Use your desktop's clusters from this host (an SSH host, a dev container) through a forwarded socket.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Check the config, identity providers, clock, keyring, kubectl, PATH, locks and kubeconfig.
    ///
    /// Prints one line per check (ok, warn or fail) with the fix, and exits 1 when a check fails.
    Doctor,
}

/// `login`'s arguments.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// A provider or cluster name.
    pub target: String,
    /// Use the system browser and a loopback redirect (the default when there is a display).
    #[arg(long, conflicts_with = "device")]
    pub browser: bool,
    /// Use a device code: prints a URL and a code to enter on any device (the default without a display).
    #[arg(long)]
    pub device: bool,
    /// Command that opens the sign-in URL (the URL is passed as its last argument); `$BROWSER` works too.
    #[arg(long, value_name = "CMD", conflicts_with = "device")]
    pub browser_command: Option<String>,
}

/// `import`'s arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Read this kubeconfig file instead of KUBECONFIG / ~/.kube/config.
    #[arg(long, value_name = "FILE", conflicts_with = "catalog")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Import a team catalog from a TOML file or an https URL.
    #[arg(long, value_name = "FILE|URL")]
    pub catalog: Option<String>,
    /// Print what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Sign in as this Dex client instead of the old one; the old client id stays the clusters'
    /// audience, so it must list this client in its trustedPeers.
    #[arg(long, value_name = "ID", conflicts_with = "catalog")]
    pub client_id: Option<String>,
    /// Apply without asking (a catalog import asks on a terminal, and without one applies only with this).
    #[arg(long, short = 'y', conflicts_with = "dry_run")]
    pub yes: bool,
    /// Also import clusters that skip TLS verification of their API server (anyone on the network
    /// path could read your token).
    #[arg(long)]
    pub allow_insecure: bool,
}

/// How a provider's sign-in runs (`--login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginArg {
    /// In the tray app's own window.
    Embedded,
    /// In the system browser, with a loopback redirect.
    Browser,
    /// With a device code, on any device.
    Device,
}

impl From<LoginArg> for LoginMode {
    fn from(arg: LoginArg) -> LoginMode {
        match arg {
            LoginArg::Embedded => LoginMode::Embedded,
            LoginArg::Browser => LoginMode::Browser,
            LoginArg::Device => LoginMode::Device,
        }
    }
}

/// What a cluster's kubeconfig user holds (`--credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredentialsArg {
    /// kubectl runs `kubectl-signet token`.
    Exec,
    /// A static token that Signet rewrites on every refresh.
    Token,
}

impl From<CredentialsArg> for Credentials {
    fn from(arg: CredentialsArg) -> Credentials {
        match arg {
            CredentialsArg::Exec => Credentials::Exec,
            CredentialsArg::Token => Credentials::Token,
        }
    }
}

/// `remote`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Write kubeconfig entries for the clusters your desktop's Signet offers through the forwarded socket.
    ///
    /// On the desktop, turn on "Allow kubectl on other hosts" in Signet's Settings and connect with
    /// `ssh -R <socket>:$XDG_RUNTIME_DIR/signet/forward.sock <host>`. Here, run this with
    /// SIGNET_AGENT_SOCK=<socket> (or --socket). Each entry runs `kubectl-signet token` with that socket,
    /// so kubectl works in any shell here while the socket is forwarded; the desktop asks you before it
    /// serves a new session, and the refresh token never leaves it. Nothing else is kept on this host.
    Setup {
        /// The forwarded socket (default: $SIGNET_AGENT_SOCK).
        #[arg(long, value_name = "PATH")]
        socket: Option<std::path::PathBuf>,
        /// Write to this kubeconfig file instead of KUBECONFIG / ~/.kube/config.
        #[arg(long, value_name = "FILE")]
        kubeconfig: Option<std::path::PathBuf>,
    },
}

/// `add`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// Add an OpenID provider (checks its discovery document before saving).
    Provider {
        /// A short name: a-z, 0-9 and '-'.
        name: String,
        /// The issuer URL (https; http only on loopback). Must equal the discovery document's issuer.
        #[arg(long)]
        issuer: String,
        /// Signet's client id at the provider (a Dex public client without redirectURIs).
        #[arg(long, default_value = "signet")]
        client_id: String,
        /// Dex connector id, to skip Dex's connector picker.
        #[arg(long)]
        connector: Option<String>,
        /// Extra scope (repeatable); openid, email and offline_access are always requested.
        #[arg(long = "scope", value_name = "SCOPE", default_values_t = ["groups".to_string()])]
        scopes: Vec<String>,
        /// CA bundle (PEM) for the provider's TLS.
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
        /// How to sign in: embedded (tray app), browser or device.
        #[arg(long, value_enum, default_value_t = LoginArg::Browser)]
        login: LoginArg,
    },
    /// Add a cluster whose API server trusts a provider, and write its kubeconfig entries.
    Cluster {
        /// The cluster's name (also the kubeconfig cluster and default context name).
        name: String,
        /// The provider it trusts.
        #[arg(long)]
        provider: String,
        /// The API server URL.
        #[arg(long)]
        server: String,
        /// CA bundle (PEM) for the API server.
        #[arg(long, conflicts_with = "insecure_skip_tls_verify")]
        ca_file: Option<std::path::PathBuf>,
        /// Skip TLS verification of the API server (dangerous; for throw-away clusters only).
        #[arg(long)]
        insecure_skip_tls_verify: bool,
        /// The audience (Dex peer client id) the API server expects; default: the provider's client id.
        #[arg(long)]
        audience: Option<String>,
        /// The context's namespace.
        #[arg(long)]
        namespace: Option<String>,
        /// The kubeconfig context name (default: the cluster name).
        #[arg(long)]
        context: Option<String>,
        /// exec (kubectl runs kubectl-signet) or token (a static token Signet rewrites).
        #[arg(long, value_enum, default_value_t = CredentialsArg::Exec)]
        credentials: CredentialsArg,
        /// Write this cluster's entries to this kubeconfig file instead of the default one.
        #[arg(long)]
        kubeconfig: Option<std::path::PathBuf>,
    },
}
