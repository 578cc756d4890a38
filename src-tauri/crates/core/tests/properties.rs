//! Property tests (issue 12, "Hardening"): random and mutated input for every parser that reads what a
//! person, a team, a browser or an identity provider hands Signet — the config, a team catalog, the
//! kubeconfig read-modify-write, the loopback redirect listener's request line and ID-token claims. The
//! properties: no panic, no lost entry, and errors that carry `file:line` where the input has lines.
//!
//! How many cases CI runs (`cargo test -p signet-core --test properties`; fixed in code, `PROPTEST_CASES`
//! does not change them): [`CASES`] (256) for each of the 10 properties over pure parsers (config ×2,
//! catalog ×5, loopback ×2, forged ID tokens), [`TOKEN_CASES`] (64) for the one that signs ID tokens
//! (Ed25519 is slow unoptimised), [`FILE_CASES`] (64) for each of the 3 that read and write a kubeconfig on
//! disk and [`SOCKET_CASES`] (32) for the one on the real loopback listener: 2,848 cases in all, 8–12 s in
//! a debug build on two cores. Failure persistence is off (no `proptest-regressions/` files): a failure
//! prints the shrunk input, which then becomes a named unit test next to the code it breaks.

use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreEdDsaPrivateSigningKey, CoreGenderClaim, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    Audience, ClientId, EndUserEmail, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey as _, StandardClaims, SubjectIdentifier,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use signet_core::config::{Config, ConfigError};
use signet_core::import::{CatalogSource, ImportError, plan_catalog_import};
use signet_core::kubeconfig::{
    self, ClusterCa, EntryCredentials, KubeconfigError, KubeconfigTarget, SignetEntry,
};
use signet_core::oidc::loopback::{LoopbackListener, Request, parse_request};
use signet_core::oidc::{DexClaims, verify_id_token};
use signet_core::paths::Paths;
use signet_core::secret::Secret;

/// Cases for each property over a pure parser.
const CASES: u32 = 256;
/// Cases for each property that signs ID tokens (Ed25519).
const TOKEN_CASES: u32 = 64;
/// Cases for each property that reads and writes a kubeconfig (lock, backup, atomic write).
const FILE_CASES: u32 = 64;
/// Cases for the property that talks to the real loopback listener over TCP.
const SOCKET_CASES: u32 = 32;

fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Mutations: what a bad editor, a truncated download or a stray paste does to a text file.

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, String),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    DeleteLine(Index),
}

/// Fragments that mean something to TOML or YAML, or to the parsers' own keys.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "\"",
    "'",
    "\"\"\"",
    "=",
    " = ",
    ":",
    ": ",
    "- ",
    "#",
    "\n",
    "\r\n",
    "\t",
    "  ",
    "\\",
    "\\u",
    ",",
    "&a ",
    "*a",
    "!!binary ",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "~",
    "null",
    "\u{0}",
    "\u{feff}",
    "\u{7f}",
    "é",
    "\u{202e}",
    "[[providers]]\n",
    "[[clusters]]\n",
    "[settings]\n",
    "name = ",
    "provider = ",
    "server = ",
    "ca_file = ",
    "kubeconfig = ",
    "client_secret = ",
    "warning_minutes = 0\n",
    "insecure_skip_tls_verify = true\n",
    "clusters:\n",
    "users:\n",
    "contexts:\n",
    "current-context: ",
    "insecure-skip-tls-verify: ",
    "provideClusterInfo: ",
    "interactiveMode: ",
    "extensions: ",
    "exec: ",
    "user: ",
    "cluster: ",
    "9999999999999999999999",
];

fn insertion() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        1 => prop::collection::vec(any::<char>(), 1..6).prop_map(String::from_iter),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..12).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), insertion()).prop_map(|(i, s)| Mutation::Insert(i, s)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<Index>().prop_map(Mutation::DeleteLine),
    ]
}

/// Applies `mutations` in order, on characters (the text stays UTF-8, as a `&str` parser receives it).
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Truncate(i) => chars.truncate(at(i, chars.len())),
            Mutation::Delete(i, n) => {
                let start = at(i, chars.len());
                let end = (start + n).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Insert(i, s) => {
                let start = at(i, chars.len());
                chars.splice(start..start, s.chars());
            }
            Mutation::DuplicateLine(i) | Mutation::DeleteLine(i) => {
                let mut lines: Vec<String> = String::from_iter(&chars)
                    .split('\n')
                    .map(str::to_owned)
                    .collect();
                let k = i.index(lines.len());
                if matches!(m, Mutation::DuplicateLine(_)) {
                    lines.insert(k, lines[k].clone());
                } else {
                    lines.remove(k);
                }
                chars = lines.join("\n").chars().collect();
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<String> = String::from_iter(&chars)
                    .split('\n')
                    .map(str::to_owned)
                    .collect();
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    String::from_iter(chars)
}

// ---------------------------------------------------------------------------------------------------------
// Configs and catalogs: generated valid, then rendered as TOML blocks so a test knows every line.

#[derive(Debug, Clone)]
struct GenProvider {
    name: String,
    client_id: String,
    scopes: Vec<String>,
    login: &'static str,
}

#[derive(Debug, Clone)]
struct GenCluster {
    name: String,
    provider: usize,
    context: Option<String>,
    namespace: Option<String>,
    credentials: &'static str,
    audience: Option<String>,
}

#[derive(Debug, Clone)]
struct GenConfig {
    providers: Vec<GenProvider>,
    clusters: Vec<GenCluster>,
}

fn provider_name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,11}"
}

fn cluster_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,15}"
}

fn namespace() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
}

fn gen_config() -> impl Strategy<Value = GenConfig> {
    (
        prop::collection::btree_set(provider_name(), 1..4),
        // Cluster names and explicit context names are drawn from one set, so no two collide.
        prop::collection::btree_set(cluster_name(), 0..10),
    )
        .prop_flat_map(|(providers, names)| {
            let providers: Vec<String> = providers.into_iter().collect();
            let names: Vec<String> = names.into_iter().collect();
            let half = names.len() / 2;
            let (clusters, contexts) = (names[..half].to_vec(), names[half..].to_vec());
            let n = providers.len();
            let provider_fields = prop::collection::vec(
                (
                    "[A-Za-z0-9_.-]{1,12}",
                    prop::collection::vec("[a-z:_]{1,8}", 0..3),
                    prop::sample::select(&["embedded", "browser", "device"][..]),
                ),
                n,
            );
            let cluster_fields = prop::collection::vec(
                (
                    0..n,
                    any::<bool>(),
                    prop::option::of(namespace()),
                    prop::sample::select(&["exec", "token"][..]),
                    prop::option::of("[a-z0-9-]{1,10}"),
                ),
                half,
            );
            (provider_fields, cluster_fields).prop_map(move |(pf, cf)| GenConfig {
                providers: providers
                    .iter()
                    .zip(pf)
                    .map(|(name, (client_id, scopes, login))| GenProvider {
                        name: name.clone(),
                        client_id,
                        scopes,
                        login,
                    })
                    .collect(),
                clusters: clusters
                    .iter()
                    .zip(&contexts)
                    .zip(cf)
                    .map(
                        |(
                            (name, context),
                            (provider, own_context, namespace, credentials, audience),
                        )| {
                            GenCluster {
                                name: name.clone(),
                                provider,
                                context: own_context.then(|| context.clone()),
                                namespace,
                                credentials,
                                audience,
                            }
                        },
                    )
                    .collect(),
            })
        })
}

/// A TOML string literal (escaped as TOML wants).
fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// One `[[providers]]` or `[[clusters]]` table, line by line; the header is line 0.
#[derive(Debug, Clone)]
struct Block {
    provider: bool,
    lines: Vec<String>,
}

fn blocks(c: &GenConfig) -> Vec<Block> {
    let mut out = Vec::new();
    for (i, p) in c.providers.iter().enumerate() {
        let mut lines = vec![
            "[[providers]]".to_owned(),
            format!("name = {}", q(&p.name)),
            format!("issuer = {}", q(&format!("https://dex-{i}.example.com"))),
            format!("client_id = {}", q(&p.client_id)),
            format!("login = {}", q(p.login)),
        ];
        if !p.scopes.is_empty() {
            let list: Vec<String> = p.scopes.iter().map(|s| q(s)).collect();
            lines.push(format!("scopes = [{}]", list.join(", ")));
        }
        out.push(Block {
            provider: true,
            lines,
        });
    }
    for (i, cl) in c.clusters.iter().enumerate() {
        let mut lines = vec![
            "[[clusters]]".to_owned(),
            format!("name = {}", q(&cl.name)),
            format!("provider = {}", q(&c.providers[cl.provider].name)),
            format!(
                "server = {}",
                q(&format!("https://api-{i}.example.com:6443"))
            ),
            format!("credentials = {}", q(cl.credentials)),
        ];
        if let Some(context) = &cl.context {
            lines.push(format!("context = {}", q(context)));
        }
        if let Some(namespace) = &cl.namespace {
            lines.push(format!("namespace = {}", q(namespace)));
        }
        if let Some(audience) = &cl.audience {
            lines.push(format!("audience = {}", q(audience)));
        }
        out.push(Block {
            provider: false,
            lines,
        });
    }
    out
}

/// The text of `blocks`, a blank line after each table.
fn text_of(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(|b| format!("{}\n\n", b.lines.join("\n")))
        .collect()
}

/// The 1-based line of `blocks[block].lines[line]` in [`text_of`].
fn line_in(blocks: &[Block], block: usize, line: usize) -> usize {
    blocks[..block]
        .iter()
        .map(|b| b.lines.len() + 1)
        .sum::<usize>()
        + line
        + 1
}

/// Text a config parser may meet: arbitrary, TOML-shaped soup, or a valid config mutated.
fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        2 => prop::collection::vec(insertion(), 0..24).prop_map(|parts| parts.concat()),
        5 => (gen_config(), prop::collection::vec(mutation(), 1..4))
            .prop_map(|(c, m)| mutate(&text_of(&blocks(&c)), &m)),
    ]
}

/// A config error from parsing `text` names the file and a line that exists: `path:line: …`.
fn assert_located(e: &ConfigError, text: &str, path: &Path) -> Result<(), TestCaseError> {
    let line = match e {
        ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => *line,
        other => {
            return Err(TestCaseError::fail(format!(
                "parsing text gave a non-parse error: {other}"
            )));
        }
    };
    let lines = text.matches('\n').count() + 1;
    prop_assert!(
        (1..=lines).contains(&line),
        "line {line} is outside the text's {lines} lines: {e}"
    );
    let prefix = format!("{}:{line}: ", path.display());
    prop_assert!(
        e.to_string().starts_with(&prefix),
        "message starts with '{prefix}': {e}"
    );
    Ok(())
}

fn config_path() -> PathBuf {
    PathBuf::from("/home/p/.config/signet/config.toml")
}

/// Characters no cluster or context name may hold, and the extra ones a provider name may not.
const BAD_NAME_CHARS: &[char] = &[
    ' ', '\t', '\n', '\r', '"', '\'', '\\', '`', '$', '*', ';', '|', '&', '<', '>', '#', '%', '=',
    ',', '\u{0}', '\u{7}', '\u{7f}', '\u{85}', '\u{a0}', '\u{200b}', '\u{202e}', 'é', 'Ａ', 'а',
];
const BAD_PROVIDER_CHARS: &[char] = &['A', 'Z', '_', '.', ':', '@', '/', '+'];

/// A name that breaks the rule for its kind: a refused character somewhere, a leading `-`, empty or long.
fn hostile_name(provider: bool) -> impl Strategy<Value = String> {
    let chars: Vec<char> = if provider {
        [BAD_NAME_CHARS, BAD_PROVIDER_CHARS].concat()
    } else {
        BAD_NAME_CHARS.to_vec()
    };
    let max = if provider { 63 } else { 253 };
    // A leading `-` would read as a flag in `token --cluster NAME`; provider names may have one (the rule
    // is only "a-z, 0-9 and '-'").
    let dash = if provider { "a" } else { "-" };
    prop_oneof![
        (
            "[a-z0-9]{0,8}",
            prop::sample::select(chars),
            "[a-z0-9]{0,8}"
        )
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        "[a-z0-9]{0,8}".prop_map(move |s| format!("{dash}{s}{}", if provider { "_" } else { "" })),
        Just(String::new()),
        Just("a".repeat(max + 1)),
    ]
}

/// A local path as a team catalog might try to set it.
fn local_path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "/etc/passwd",
                "~/.kube/config",
                "../../.ssh/id_rsa",
                "C:\\Users\\p\\.kube\\config",
                "",
                ".",
                "/dev/stdin",
                "\\\\server\\share\\ca.pem",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(cases(CASES))]

    /// A valid config parses, keeps every name, and survives render → parse (`Config::checked`) unchanged.
    #[test]
    fn a_valid_config_parses_with_every_name_and_round_trips(c in gen_config()) {
        let text = text_of(&blocks(&c));
        let parsed = Config::parse(&text, &config_path(), Path::new("/home/p"))
            .map_err(|e| TestCaseError::fail(format!("valid config refused: {e}\n{text}")))?;
        let providers: Vec<&str> = parsed.providers.iter().map(|p| p.name.as_str()).collect();
        let want: Vec<&str> = c.providers.iter().map(|p| p.name.as_str()).collect();
        prop_assert_eq!(providers, want, "provider names in order");
        prop_assert_eq!(parsed.clusters.len(), c.clusters.len(), "cluster count");
        for (got, want) in parsed.clusters.iter().zip(&c.clusters) {
            prop_assert_eq!(&got.name, &want.name);
            prop_assert_eq!(&got.provider, &c.providers[want.provider].name);
            prop_assert_eq!(&got.context, &want.context);
            prop_assert_eq!(&got.namespace, &want.namespace);
            prop_assert_eq!(&got.audience, &want.audience);
        }
        let again = parsed.checked(Path::new("/home/p"))
            .map_err(|e| TestCaseError::fail(format!("re-rendered config refused: {e}")))?;
        prop_assert_eq!(again, parsed, "render → parse changed the config");
    }

    /// A valid catalog reads as the same config, and importing it into an empty config plans every
    /// provider and cluster it holds, in order.
    #[test]
    fn a_valid_catalog_is_imported_with_every_entry(c in gen_config()) {
        let text = text_of(&blocks(&c));
        let own = Config::parse(&text, Path::new("team.toml"), Path::new("/home/p"))
            .map_err(|e| TestCaseError::fail(format!("valid config refused: {e}")))?;
        let catalog = Config::parse_catalog(&text, Path::new("team.toml"))
            .map_err(|e| TestCaseError::fail(format!("valid catalog refused: {e}")))?;
        prop_assert_eq!(&catalog, &own, "a catalog reads differently from a config");
        let paths = Paths::under(Path::new("/nonexistent/signet-properties"));
        let source = CatalogSource::File(PathBuf::from("team.toml"));
        let plan = plan_catalog_import(&Config::default(), &paths, &source, &text)
            .map_err(|e| TestCaseError::fail(format!("import refused: {e}")))?;
        let merged = plan.merged_config();
        let names = |c: &Config| -> (Vec<String>, Vec<String>) {
            (
                c.providers.iter().map(|p| p.name.clone()).collect(),
                c.clusters.iter().map(|c| c.name.clone()).collect(),
            )
        };
        prop_assert_eq!(names(merged), names(&catalog), "entries lost or reordered by the import");
    }

    /// Whatever the text, the config parser does not panic, and a refusal says `file:line:`.
    #[test]
    fn config_text_never_panics_and_errors_carry_file_and_line(text in config_text()) {
        let path = config_path();
        if let Err(e) = Config::parse(&text, &path, Path::new("/home/p")) {
            assert_located(&e, &text, &path)?;
        }
    }

    /// Whatever the text, the catalog parser does not panic, a refusal says `file:line:`, and nothing it
    /// accepts names a local path.
    #[test]
    fn catalog_text_never_panics_errors_carry_file_and_line_and_no_local_path_passes(
        text in prop_oneof![
            3 => config_text(),
            1 => (gen_config(), any::<Index>(), any::<bool>(), local_path()).prop_map(
                |(c, at, ca_file, path)| {
                    let mut b = blocks(&c);
                    let i = at.index(b.len());
                    let key = if ca_file || b[i].provider { "ca_file" } else { "kubeconfig" };
                    b[i].lines.insert(1, format!("{key} = {}", q(&path)));
                    text_of(&b)
                }
            ),
        ]
    ) {
        let path = PathBuf::from("https://config.example.com/team.toml");
        match Config::parse_catalog(&text, &path) {
            Ok(catalog) => {
                prop_assert!(
                    catalog.providers.iter().all(|p| p.ca_file.is_none()),
                    "ca_file passed"
                );
                prop_assert!(
                    catalog.clusters.iter().all(|c| c.ca_file.is_none() && c.kubeconfig.is_none()),
                    "a local path passed"
                );
            }
            Err(e) => assert_located(&e, &text, &path)?,
        }
    }

    /// A catalog entry that names a local path (`ca_file`, a cluster's `kubeconfig`) is refused with the key
    /// and the line of that path.
    #[test]
    fn a_catalog_with_a_local_path_is_refused_at_its_line(
        c in gen_config(), at in any::<Index>(), ca_file in any::<bool>(), path in local_path(),
    ) {
        let mut b = blocks(&c);
        let i = at.index(b.len());
        let key = if ca_file || b[i].provider { "ca_file" } else { "kubeconfig" };
        b[i].lines.insert(1, format!("{key} = {}", q(&path)));
        let text = text_of(&b);
        let index = if b[i].provider { i } else { i - c.providers.len() };
        let table = if b[i].provider { "providers" } else { "clusters" };
        match Config::parse_catalog(&text, Path::new("team.toml")) {
            Err(ConfigError::Invalid { line, key: got, message, .. }) => {
                prop_assert_eq!(got, format!("{table}[{index}].{key}"));
                prop_assert_eq!(line, line_in(&b, i, 1), "line of the path");
                // Refused for being in a catalog, not because the file happens to be unreadable.
                prop_assert!(message.contains("team catalog must not"), "{}", message);
            }
            other => prop_assert!(false, "expected the {} to be refused, got {:?}", key, other),
        }
    }

    /// A provider, cluster or context name that breaks its rule is refused with its key and line.
    #[test]
    fn a_catalog_with_a_hostile_name_is_refused_at_its_line(
        c in gen_config(),
        at in any::<Index>(),
        provider_name in hostile_name(true),
        cluster_name in hostile_name(false),
    ) {
        let mut b = blocks(&c);
        let i = at.index(b.len());
        let provider = b[i].provider;
        let name = if provider { provider_name } else { cluster_name };
        b[i].lines[1] = format!("name = {}", q(&name));
        let text = text_of(&b);
        let index = if provider { i } else { i - c.providers.len() };
        let table = if provider { "providers" } else { "clusters" };
        match Config::parse_catalog(&text, Path::new("team.toml")) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let ConfigError::Invalid { line, key, .. } = &e else { unreachable!() };
                prop_assert_eq!(key, &format!("{table}[{index}].name"), "{}", e);
                prop_assert_eq!(*line, line_in(&b, i, 1), "line of the name: {}", e);
                prop_assert!(
                    !e.to_string().contains(|ch: char| ch.is_control()),
                    "the message shows the name escaped: {:?}", e.to_string()
                );
            }
            other => prop_assert!(false, "expected {:?} to be refused, got {:?}", name, other),
        }
    }

    /// A catalog may not carry a client secret: the import plan refuses it with the secret's line.
    #[test]
    fn a_catalog_with_a_client_secret_is_refused_at_its_line(
        c in gen_config(), at in any::<Index>(), secret in "[A-Za-z0-9]{12,20}",
    ) {
        let mut b = blocks(&c);
        let i = at.index(c.providers.len());
        b[i].lines.insert(2, format!("client_secret = {}", q(&secret)));
        let text = text_of(&b);
        let paths = Paths::under(Path::new("/nonexistent/signet-properties"));
        let source = CatalogSource::File(PathBuf::from("team.toml"));
        match plan_catalog_import(&Config::default(), &paths, &source, &text) {
            Err(e @ ImportError::SecretInCatalog { .. }) => {
                let ImportError::SecretInCatalog { line, index, .. } = &e else { unreachable!() };
                prop_assert_eq!(*index, i);
                prop_assert_eq!(*line, line_in(&b, i, 2), "line of the secret: {}", e);
                prop_assert!(
                    !e.to_string().contains(&secret),
                    "the message quotes the secret: {}", e
                );
            }
            other => prop_assert!(
                false,
                "expected the secret to be refused, got {:?}", other.map(|_| ())
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Kubeconfig read-modify-write

/// Strings that YAML would read as something else unless quoted, and some that are just awkward.
const TRICKY: &[&str] = &[
    "true",
    "false",
    "True",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "null",
    "Null",
    "~",
    "",
    " ",
    "1",
    "0",
    "-1",
    "1.0",
    "1e3",
    "0x1F",
    "0o17",
    "017",
    ".inf",
    "-.inf",
    ".nan",
    "1_000",
    "+1",
    ".5",
    "2024-01-01",
    "12:30:00",
    "- a",
    "a: b",
    "a:b",
    "#c",
    "a #c",
    "'q'",
    "\"",
    "@x",
    "`x",
    "%x",
    "!tag",
    "!!str x",
    "*alias",
    "&anchor",
    "? x",
    "|",
    ">",
    "{}",
    "[]",
    "{a: 1}",
    "[1, 2]",
    " lead",
    "trail ",
    "a\nb",
    "a\n",
    "\t",
    "é",
    "\u{7f}",
    "\u{85}",
    "\u{feff}x",
    "\u{2028}",
    "---",
    "...",
    "<<",
];

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(TRICKY).prop_map(str::to_owned),
        2 => "[ -~]{0,16}",
        1 => prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        tricky_string().prop_map(Value::from),
    ]
}

/// Any JSON value, a few levels deep.
fn any_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(tricky_string(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Fields no kubeconfig model knows (`x-…`, so they never shadow a real key).
fn unknown_fields() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map("x-[a-zA-Z0-9_.-]{1,8}", any_value(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn with_unknown(
    mut known: serde_json::Map<String, Value>,
    unknown: serde_json::Map<String, Value>,
) -> Value {
    known.extend(unknown);
    Value::Object(known)
}

fn object(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn foreign_extensions() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(
        prop::collection::vec(("x-[a-z]{1,6}", any_value()), 1..3).prop_map(|list| {
            Value::Array(
                list.into_iter()
                    .map(|(name, extension)| json!({ "name": name, "extension": extension }))
                    .collect(),
            )
        }),
    )
}

fn foreign_cluster(name: String) -> impl Strategy<Value = Value> {
    (
        tricky_string(),
        prop::option::of("[A-Za-z0-9+/]{4,40}"),
        prop::option::of(any::<bool>()),
        prop::option::of(tricky_string()),
        foreign_extensions(),
        unknown_fields(),
        unknown_fields(),
    )
        .prop_map(
            move |(server, ca, insecure, proxy, extensions, inner, outer)| {
                let mut c = object(json!({ "server": server }));
                if let Some(ca) = ca {
                    c.insert("certificate-authority-data".into(), ca.into());
                }
                if let Some(insecure) = insecure {
                    c.insert("insecure-skip-tls-verify".into(), insecure.into());
                }
                if let Some(proxy) = proxy {
                    c.insert("proxy-url".into(), proxy.into());
                }
                if let Some(extensions) = extensions {
                    c.insert("extensions".into(), extensions);
                }
                with_unknown(
                    object(json!({ "name": name, "cluster": with_unknown(c, inner) })),
                    outer,
                )
            },
        )
}

/// A foreign user: a static token, an exec plugin, a client certificate or basic auth. `tokens` collects
/// every credential it carries (they must never show up in an error).
fn foreign_user(name: String) -> impl Strategy<Value = (Value, Vec<String>)> {
    let credential = prop_oneof![
        "tok-[A-Za-z0-9]{16}".prop_map(|t| (json!({ "token": t }), vec![t])),
        (
            prop::collection::vec(tricky_string(), 0..3),
            prop::option::of(any::<bool>()),
            unknown_fields(),
        )
            .prop_map(|(args, provide, unknown)| {
                let mut exec = object(json!({
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "kubelogin",
                    "args": args,
                    "env": [{ "name": "X", "value": "y" }],
                }));
                if let Some(provide) = provide {
                    exec.insert("provideClusterInfo".into(), provide.into());
                }
                (json!({ "exec": with_unknown(exec, unknown) }), vec![])
            }),
        ("key-[A-Za-z0-9]{16}").prop_map(|k| (
            json!({ "client-certificate-data": "Y2VydA==", "client-key-data": k }),
            vec![k]
        )),
        ("[a-z]{1,8}", "pw-[A-Za-z0-9]{16}")
            .prop_map(|(u, p)| (json!({ "username": u, "password": p }), vec![p])),
    ];
    (
        credential,
        foreign_extensions(),
        unknown_fields(),
        unknown_fields(),
    )
        .prop_map(move |((user, secrets), extensions, inner, outer)| {
            let mut user = object(user);
            if let Some(extensions) = extensions {
                user.insert("extensions".into(), extensions);
            }
            let entry = with_unknown(
                object(json!({ "name": name, "user": with_unknown(user, inner) })),
                outer,
            );
            (entry, secrets)
        })
}

fn foreign_context(name: String) -> impl Strategy<Value = Value> {
    (
        tricky_string(),
        prop::option::of(tricky_string()),
        prop::option::of(tricky_string()),
        foreign_extensions(),
        unknown_fields(),
        unknown_fields(),
    )
        .prop_map(
            move |(cluster, user, namespace, extensions, inner, outer)| {
                let mut c = object(json!({ "cluster": cluster }));
                if let Some(user) = user {
                    c.insert("user".into(), user.into());
                }
                if let Some(namespace) = namespace {
                    c.insert("namespace".into(), namespace.into());
                }
                if let Some(extensions) = extensions {
                    c.insert("extensions".into(), extensions);
                }
                with_unknown(
                    object(json!({ "name": name, "context": with_unknown(c, inner) })),
                    outer,
                )
            },
        )
}

/// A kubeconfig with foreign entries (names `f-…`, never Signet's) and unknown fields at every level.
#[derive(Debug, Clone)]
struct GenKubeconfig {
    doc: Value,
    secrets: Vec<String>,
    as_json: bool,
}

fn foreign_names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("f-[a-z0-9]{1,6}", 0..4).prop_map(|s| s.into_iter().collect())
}

fn gen_kubeconfig() -> impl Strategy<Value = GenKubeconfig> {
    (foreign_names(), foreign_names(), foreign_names())
        .prop_flat_map(|(clusters, users, contexts)| {
            (
                clusters
                    .into_iter()
                    .map(foreign_cluster)
                    .collect::<Vec<_>>(),
                users.into_iter().map(foreign_user).collect::<Vec<_>>(),
                contexts
                    .into_iter()
                    .map(foreign_context)
                    .collect::<Vec<_>>(),
                prop::option::of(tricky_string()),
                prop::option::of((prop::option::of(any::<bool>()), unknown_fields())),
                foreign_extensions(),
                unknown_fields(),
                any::<bool>(),
            )
        })
        .prop_map(
            |(clusters, users, contexts, current, preferences, extensions, unknown, as_json)| {
                let secrets = users.iter().flat_map(|(_, s)| s.clone()).collect();
                let mut doc = object(json!({
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": clusters,
                    "users": users.into_iter().map(|(u, _)| u).collect::<Vec<_>>(),
                    "contexts": contexts,
                }));
                if let Some(current) = current {
                    doc.insert("current-context".into(), current.into());
                }
                if let Some((colors, unknown)) = preferences {
                    let mut p = serde_json::Map::new();
                    if let Some(colors) = colors {
                        p.insert("colors".into(), colors.into());
                    }
                    doc.insert("preferences".into(), with_unknown(p, unknown));
                }
                if let Some(extensions) = extensions {
                    doc.insert("extensions".into(), extensions);
                }
                GenKubeconfig {
                    doc: with_unknown(doc, unknown),
                    secrets,
                    as_json,
                }
            },
        )
}

impl GenKubeconfig {
    /// The file's text: YAML (as kubectl writes it) or JSON (which kubectl also reads).
    fn text(&self) -> String {
        if self.as_json {
            // JSON leaves C1 controls and the like raw, which YAML (and so kubectl) refuses: escape them.
            let json = serde_json::to_string_pretty(&self.doc).expect("JSON");
            json.chars()
                .map(|c| match u32::from(c) {
                    0x7f..=0x9f | 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff => {
                        format!("\\u{:04x}", u32::from(c))
                    }
                    _ => c.to_string(),
                })
                .collect()
        } else {
            serde_saphyr::to_string(&self.doc).expect("YAML")
        }
    }
}

fn gen_entries() -> impl Strategy<Value = Vec<SignetEntry>> {
    prop::collection::btree_set("s-[a-z0-9]{1,6}", 1..4).prop_flat_map(|names| {
        let names: Vec<String> = names.into_iter().collect();
        let n = names.len();
        let ca = prop_oneof![
            Just(ClusterCa::System),
            "[A-Za-z0-9+/]{8,40}".prop_map(ClusterCa::Data),
            Just(ClusterCa::InsecureSkipTlsVerify),
        ];
        let credentials = prop_oneof![Just(None), "sig-[A-Za-z0-9]{12}".prop_map(Some),];
        prop::collection::vec(
            (
                ca,
                prop::option::of(namespace()),
                credentials,
                any::<bool>(),
            ),
            n,
        )
        .prop_map(move |fields| {
            names
                .iter()
                .zip(fields)
                .map(|(name, (ca, namespace, token, own_context))| SignetEntry {
                    provider: "corp".into(),
                    cluster: name.clone(),
                    context: if own_context {
                        format!("{name}-ctx")
                    } else {
                        name.clone()
                    },
                    server: format!("https://{name}.example.com:6443"),
                    ca,
                    namespace,
                    credentials: match token {
                        Some(t) => EntryCredentials::Token(Secret::new(t)),
                        None => EntryCredentials::exec("kubectl-signet", name),
                    },
                })
                .collect()
        })
    })
}

fn read_yaml(text: &str) -> Result<Value, TestCaseError> {
    serde_saphyr::from_str(text).map_err(|e| TestCaseError::fail(format!("not YAML: {e}\n{text}")))
}

/// Two spellings kube's model writes that mean what the original meant to client-go: a missing
/// `provideClusterInfo` is written `false` (its default), a context without `user` is written `user: null`
/// (read as no user).
fn normalise(mut entry: Value) -> Value {
    if let Some(exec) = entry
        .pointer_mut("/user/exec")
        .and_then(Value::as_object_mut)
    {
        exec.entry("provideClusterInfo")
            .or_insert(Value::Bool(false));
    }
    if let Some(context) = entry.get_mut("context").and_then(Value::as_object_mut)
        && context.get("user") == Some(&Value::Null)
    {
        context.remove("user");
    }
    entry
}

fn named<'a>(doc: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    doc.get(list)?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

fn target(file: &Path) -> KubeconfigTarget {
    KubeconfigTarget::resolve(None, Path::new("/nonexistent"), Some(file))
        .with_lock_timeout(Duration::from_millis(200))
}

proptest! {
    #![proptest_config(cases(FILE_CASES))]

    /// After Signet writes its entries, every foreign entry and every unknown field is still there with the
    /// same value (compared as parsed YAML), and Signet's entries are present and marked.
    #[test]
    fn kubeconfig_upsert_keeps_every_foreign_entry_and_unknown_field(
        kc in gen_kubeconfig(), entries in gen_entries(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("config");
        let text = kc.text();
        let before = read_yaml(&text)?;
        prop_assert_eq!(
            &before, &kc.doc,
            "the test's own file does not read back as written:\n{}", text
        );
        std::fs::write(&file, &text).expect("write kubeconfig");

        kubeconfig::upsert_cluster_entries(&target(&file), &entries)
            .map_err(|e| TestCaseError::fail(format!("upsert failed: {e}\n{text}")))?;
        let written = std::fs::read_to_string(&file).expect("read kubeconfig");
        let after = read_yaml(&written)?;

        for (key, value) in before.as_object().expect("a map") {
            if ["clusters", "users", "contexts"].contains(&key.as_str()) {
                continue;
            }
            prop_assert_eq!(
                after.get(key), Some(value),
                "top-level '{}' changed:\n{}", key, written
            );
        }
        for list in ["clusters", "users", "contexts"] {
            let old = before[list].as_array().expect("a list");
            for entry in old {
                let name = entry["name"].as_str().expect("a name");
                let now = named(&after, list, name);
                prop_assert_eq!(
                    now.cloned().map(normalise), Some(normalise(entry.clone())),
                    "{} entry '{}' changed:\n{}", list, name, written
                );
            }
            let count = after[list].as_array().map_or(0, Vec::len);
            prop_assert_eq!(count, old.len() + entries.len(), "{} count:\n{}", list, written);
        }
        for e in &entries {
            let mark = json!([
                { "name": "signet", "extension": { "provider": "corp", "cluster": e.cluster } }
            ]);
            let field = |list: &str, name: &str, pointer: &str| {
                named(&after, list, name).and_then(|x| x.pointer(pointer)).cloned()
            };
            let (cluster, user, context) = (&e.cluster, &e.user_name(), &e.context);
            prop_assert_eq!(field("clusters", cluster, "/cluster/server"), Some(json!(e.server)));
            prop_assert_eq!(field("clusters", cluster, "/cluster/extensions"), Some(mark.clone()));
            prop_assert_eq!(field("users", user, "/user/extensions"), Some(mark));
            prop_assert_eq!(field("contexts", context, "/context/cluster"), Some(json!(cluster)));
            prop_assert_eq!(
                field("contexts", context, "/context/user"),
                Some(json!(user))
            );
        }
    }

    /// A foreign entry (or another Signet cluster's) that holds a name Signet needs is never overwritten:
    /// the whole edit is refused, naming it, and the file is left as it was.
    #[test]
    fn a_foreign_entry_with_a_name_signet_needs_is_never_overwritten(
        mut kc in gen_kubeconfig(),
        entries in gen_entries(),
        which in any::<Index>(),
        kind in 0usize..3,
        other_signet_cluster in any::<bool>(),
        cluster in foreign_cluster("taken".into()),
        (user, _) in foreign_user("taken".into()),
        context in foreign_context("taken".into()),
    ) {
        let e = &entries[which.index(entries.len())];
        let (list, name, mut entry, inner) = match kind {
            0 => ("clusters", e.cluster.clone(), cluster, "cluster"),
            1 => ("users", e.user_name(), user, "user"),
            _ => ("contexts", e.context.clone(), context, "context"),
        };
        entry["name"] = json!(name);
        if other_signet_cluster {
            entry[inner]["extensions"] = json!([
                {
                    "name": "signet",
                    "extension": { "provider": "corp", "cluster": "s-someone-else" }
                }
            ]);
        }
        kc.doc[list].as_array_mut().expect("a list").push(entry);
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("config");
        let text = kc.text();
        std::fs::write(&file, &text).expect("write kubeconfig");

        match kubeconfig::upsert_cluster_entries(&target(&file), &entries) {
            Err(e @ KubeconfigError::NotSignetOwned { .. }) => {
                prop_assert_eq!(e.code(), "kubeconfig.not_signet_owned");
                let KubeconfigError::NotSignetOwned { name: named, .. } = &e else {
                    unreachable!()
                };
                prop_assert_eq!(named, &name, "{}", e);
            }
            other => prop_assert!(false, "expected a refusal naming {}, got {:?}", name, other),
        }
        let bytes = std::fs::read(&file).expect("read kubeconfig");
        prop_assert!(bytes == text.as_bytes(), "the refused file was changed");
        prop_assert!(!kubeconfig::backup_path(&file).exists(), "a backup was made");
        prop_assert!(!kubeconfig::lock_path(&file).exists(), "the lock was left behind");
    }

    /// A truncated or garbled kubeconfig makes the edit fail (or, when the damage still parses, succeed),
    /// never panic; on failure the file's bytes are unchanged, no backup or lock is left, and the error
    /// quotes no credential from the file.
    #[test]
    fn a_mutated_kubeconfig_is_refused_without_touching_the_file(
        kc in gen_kubeconfig(),
        entries in gen_entries(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("config");
        let text = mutate(&kc.text(), &mutations);
        std::fs::write(&file, &text).expect("write kubeconfig");

        if let Err(e) = kubeconfig::upsert_cluster_entries(&target(&file), &entries) {
            prop_assert!(
                matches!(e, KubeconfigError::Parse { .. } | KubeconfigError::NotSignetOwned { .. }),
                "unexpected error: {}", e
            );
            let bytes = std::fs::read(&file).expect("read kubeconfig");
            prop_assert!(bytes == text.as_bytes(), "the refused file was changed");
            prop_assert!(!kubeconfig::backup_path(&file).exists(), "a backup was made");
            prop_assert!(!kubeconfig::lock_path(&file).exists(), "the lock was left behind");
            let shown = format!("{e} {e:?}");
            for secret in &kc.secrets {
                prop_assert!(
                    !shown.contains(secret.as_str()),
                    "the error quotes a credential: {}", shown
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The loopback redirect listener's request line

fn redirect() -> url::Url {
    url::Url::parse("http://127.0.0.1:38117/callback").expect("redirect URI")
}

/// A `state` as Signet makes them (base64url of random bytes).
fn state() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{16,43}"
}

/// A value close to `state` that is not it.
fn near_miss(s: String) -> impl Strategy<Value = String> {
    let (a, b, c) = (s.clone(), s.clone(), s.clone());
    prop_oneof![
        Just(String::new()),
        Just(format!("{s}x")),
        Just(s[..s.len() - 1].to_owned()),
        Just(format!(" {s}")),
        any::<Index>().prop_map(move |i| {
            let mut chars: Vec<char> = a.chars().collect();
            let k = i.index(chars.len());
            chars[k] = if chars[k] == 'a' { 'b' } else { 'a' };
            String::from_iter(chars)
        }),
        // The same letters in the other case (a state without letters gets one more character).
        Just(match b.chars().position(|c| c.is_ascii_alphabetic()) {
            Some(k) => {
                let mut chars: Vec<char> = b.chars().collect();
                chars[k] = if chars[k].is_ascii_lowercase() {
                    chars[k].to_ascii_uppercase()
                } else {
                    chars[k].to_ascii_lowercase()
                };
                String::from_iter(chars)
            }
            None => format!("{b}A"),
        }),
        // Anything else (made different when it happens to be the state).
        "[A-Za-z0-9_-]{0,43}".prop_map(move |x| if x == c { format!("{x}x") } else { x }),
    ]
}

proptest! {
    #![proptest_config(cases(CASES))]

    /// Whatever bytes arrive as a request head, the parser does not panic, and it hands over a callback
    /// only for the redirect path carrying exactly the expected `state`.
    #[test]
    fn loopback_request_parser_never_panics_and_accepts_only_the_state(
        state in state(),
        head in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            (
                prop::sample::select(&["GET", "POST", "get", "", "GET GET"][..]),
                prop::sample::select(
                    &["/callback", "/", "/callback/", "//x/callback", "http://e/callback", "*"][..]
                ),
                "[ -~]{0,60}",
                prop::collection::vec(any::<u8>(), 0..40),
            ).prop_map(|(m, p, q, tail)| {
                let mut head = format!("{m} {p}?{q} HTTP/1.1\r\n").into_bytes();
                head.extend(tail);
                head
            }),
        ],
    ) {
        let text = String::from_utf8_lossy(&head);
        if let Some(Request::Callback(url)) = parse_request(&text, &redirect(), &state) {
            prop_assert_eq!(url.path(), "/callback");
            let carried = url
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned());
            prop_assert_eq!(carried.as_deref(), Some(state.as_str()), "accepted {:?}", text);
        }
    }

    /// A `GET /callback` is handed over exactly when its first `state` is the expected one (whatever other
    /// parameters, encodings and later `state`s it carries); any other method or path is not a callback.
    #[test]
    fn loopback_hands_over_a_callback_only_with_the_expected_state(
        (state, other) in state().prop_flat_map(|s| (Just(s.clone()), near_miss(s))),
        matching in any::<bool>(),
        before in prop::collection::vec(
            ("(code|error|error_description|x|State|state )", "[ -~]{0,12}"),
            0..3,
        ),
        after in prop::collection::vec(("(code|state|x)", "[ -~]{0,12}"), 0..3),
        method in prop::sample::select(&["GET", "GET", "GET", "POST", "HEAD", "get"][..]),
        path in prop::sample::select(
            &["/callback", "/callback", "/callback", "/callback/", "/Callback", "/callbackx"][..]
        ),
        headers in "(Host: 127.0.0.1\r\n)?([A-Za-z-]{1,10}: [ -~]{0,20}\r\n){0,3}",
    ) {
        let carried = if matching { state.clone() } else { other };
        let mut url = redirect();
        url.set_path(path);
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in &before {
                query.append_pair(k, v);
            }
            query.append_pair("state", &carried);
            for (k, v) in &after {
                query.append_pair(k, v);
            }
        }
        let target = &url[url::Position::BeforePath..];
        let head = format!("{method} {target} HTTP/1.1\r\n{headers}\r\n");
        let got = parse_request(&head, &redirect(), &state);
        let callback = method == "GET" && path == "/callback";
        match got {
            Some(Request::Callback(u)) => {
                prop_assert!(callback && matching, "accepted {:?}", head);
                prop_assert_eq!(u.query(), url.query());
            }
            Some(Request::ForeignCallback) => {
                prop_assert!(callback && !matching, "400 for {:?}", head)
            }
            Some(Request::Elsewhere) => prop_assert!(!callback, "404 for {:?}", head),
            None => prop_assert!(false, "a well-formed request was not read: {:?}", head),
        }
    }
}

proptest! {
    #![proptest_config(cases(SOCKET_CASES))]

    /// On the real listener, a client that sends random bytes (or a complete head of them) and hangs up
    /// gets a 4xx or nothing, and the browser's redirect after it is still the one handed over.
    #[test]
    fn loopback_listener_survives_random_bytes_and_hands_over_the_real_redirect(
        garbage in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2048),
            // A complete head with a random request line and headers: answered 4xx.
            (
                "[ -~]{0,40}",
                "[ -~]{0,40}",
                "([A-Za-z-]{1,10}: [ -~]{0,20}\r\n){0,3}"
            )
                .prop_map(|(method, target, headers)| {
                    format!("{method} {target}\r\n{headers}\r\n").into_bytes()
                }),
        ],
        state in state(),
    ) {
        use std::io::{Read as _, Write as _};
        let listener = LoopbackListener::bind().expect("bind");
        let addr = listener.redirect_uri().socket_addrs(|| None).expect("address")[0];
        let browser_state = state.clone();
        let clients = std::thread::spawn(move || {
            let mut other = TcpStream::connect(addr).expect("connect");
            let _ = other.write_all(&garbage);
            let _ = other.shutdown(Shutdown::Write);
            let mut answer = Vec::new();
            let _ = other.read_to_end(&mut answer); // until the listener is done with it
            let mut browser = TcpStream::connect(addr).expect("connect");
            let _ = write!(
                browser,
                "GET /callback?code=c0de&state={browser_state} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            );
            let mut page = String::new();
            let _ = browser.read_to_string(&mut page);
            (answer, page)
        });
        let callback = listener.accept(Duration::from_secs(10), &state);
        let url = callback.as_ref().map(|c| c.url.query().map(str::to_owned)).ok().flatten();
        if let Ok(callback) = callback {
            callback.finish(Ok(""));
        }
        let (answer, page) = clients.join().expect("clients");
        prop_assert_eq!(url, Some(format!("code=c0de&state={state}")), "the real redirect");
        prop_assert!(page.starts_with("HTTP/1.1 200"), "browser page: {}", page);
        prop_assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"),
            "answer to random bytes: {}", String::from_utf8_lossy(&answer)
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// ID-token claims

/// A throwaway Ed25519 key for these tests only.
const SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIHCKtVsakHwywi/e/zdyou1tGDLv+tsm6EuT0ScVQhYy
-----END PRIVATE KEY-----";
const ISSUER: &str = "https://dex.example.com";
const CLIENT_ID: &str = "signet";
/// The nonce forged tokens carry and are checked against, so only their signature can refuse them.
const FORGED_NONCE: &str = "n0nce-of-this-sign-in";

type DexIdToken =
    IdToken<DexClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

fn signing_key() -> CoreEdDsaPrivateSigningKey {
    CoreEdDsaPrivateSigningKey::from_ed25519_pem(SIGNING_KEY, Some(JsonWebKeyId::new("k1".into())))
        .expect("test key")
}

fn jwks() -> CoreJsonWebKeySet {
    CoreJsonWebKeySet::new(vec![signing_key().as_verification_key()])
}

fn issuer() -> IssuerUrl {
    IssuerUrl::new(ISSUER.into()).expect("issuer")
}

#[derive(Debug, Clone)]
struct GenClaims {
    subject: String,
    email: Option<String>,
    groups: Vec<String>,
    peers: Vec<String>,
    nonce: String,
}

fn gen_claims() -> impl Strategy<Value = GenClaims> {
    (
        "[ -~]{1,24}",
        prop::option::of("[a-z0-9.]{1,10}@[a-z]{1,8}\\.com"),
        prop::collection::vec(tricky_string(), 0..4),
        prop::collection::vec("[a-z0-9-]{1,10}", 0..3),
        "[A-Za-z0-9_-]{8,22}",
    )
        .prop_map(|(subject, email, groups, peers, nonce)| GenClaims {
            subject,
            email,
            groups,
            peers: peers.into_iter().filter(|p| p != CLIENT_ID).collect(),
            nonce,
        })
}

/// The token a Dex sign-in for `c` returns: signed, unexpired, `aud` = our client and the peers asked for.
fn sign(c: &GenClaims) -> String {
    let now = chrono::Utc::now();
    let mut audiences = vec![Audience::new(CLIENT_ID.into())];
    audiences.extend(c.peers.iter().map(|p| Audience::new(p.clone())));
    let mut standard = StandardClaims::new(SubjectIdentifier::new(c.subject.clone()));
    if let Some(email) = &c.email {
        standard = standard.set_email(Some(EndUserEmail::new(email.clone())));
    }
    let claims = IdTokenClaims::new(
        issuer(),
        audiences,
        now + chrono::TimeDelta::hours(1),
        now - chrono::TimeDelta::seconds(30),
        standard,
        DexClaims {
            groups: c.groups.clone(),
            nbf: None,
        },
    )
    .set_nonce(Some(Nonce::new(c.nonce.clone())))
    .set_authorized_party((!c.peers.is_empty()).then(|| ClientId::new(CLIENT_ID.into())));
    DexIdToken::new(
        claims,
        &signing_key(),
        CoreJwsSigningAlgorithm::EdDsa,
        None,
        None,
    )
    .expect("sign")
    .to_string()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens that are not what a provider signed: random text, random base64url segments, or well-formed
/// headers (any `alg`, including `none` and HMAC) over random JSON payloads with a random signature.
fn forged_token() -> impl Strategy<Value = String> {
    let header = (
        prop::sample::select(&["none", "HS256", "RS256", "EdDSA", "ES256", "", "x"][..]),
        prop::option::of(prop::sample::select(&["k1", "k2", ""][..])),
    )
        .prop_map(|(alg, kid)| {
            let mut h = json!({ "alg": alg, "typ": "JWT" });
            if let Some(kid) = kid {
                h["kid"] = json!(kid);
            }
            b64(h.to_string().as_bytes())
        });
    let payload = prop_oneof![
        any_value().prop_map(|v| b64(v.to_string().as_bytes())),
        (gen_claims(), unknown_fields(), any_value()).prop_map(|(c, unknown, odd)| {
            let mut p = object(json!({
                "iss": ISSUER, "sub": c.subject, "aud": [CLIENT_ID], "nonce": FORGED_NONCE,
                "exp": chrono::Utc::now().timestamp() + 3600, "iat": chrono::Utc::now().timestamp(),
                "groups": odd,
            }));
            p.extend(unknown);
            b64(Value::Object(p).to_string().as_bytes())
        }),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| b64(&b)),
    ];
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,90}",
        (header, payload, prop::collection::vec(any::<u8>(), 0..80))
            .prop_map(|(h, p, s)| format!("{h}.{p}.{}", b64(&s))),
    ]
}

proptest! {
    #![proptest_config(cases(CASES))]

    /// Random and forged tokens never panic the claim parsing and are always refused as invalid tokens.
    #[test]
    fn forged_id_tokens_are_refused_without_panic(token in forged_token()) {
        let nonce = Nonce::new(FORGED_NONCE.into());
        let audiences = [CLIENT_ID.to_owned()];
        match verify_id_token(&token, CLIENT_ID, &issuer(), jwks(), Some(&nonce), &audiences) {
            Ok(identity) => prop_assert!(false, "forged token accepted as {:?}", identity),
            Err(e) => prop_assert_eq!(e.code(), "oidc.invalid_id_token", "{}", e),
        }
    }
}

proptest! {
    #![proptest_config(cases(TOKEN_CASES))]

    /// A token the provider signed is read with every claim; the same token with any bit of any segment
    /// flipped, or checked against another nonce or client, is refused.
    #[test]
    fn signed_id_tokens_are_read_and_any_change_is_refused(
        c in gen_claims(),
        segment in 0usize..3,
        byte in any::<Index>(),
        bit in 0u8..8,
        other in "[a-z]{1,8}",
    ) {
        let token = sign(&c);
        let audiences: Vec<String> =
            std::iter::once(CLIENT_ID.to_owned()).chain(c.peers.clone()).collect();
        let nonce = Nonce::new(c.nonce.clone());
        let verify = |token: &str, client: &str, nonce: &Nonce, audiences: &[String]| {
            verify_id_token(token, client, &issuer(), jwks(), Some(nonce), audiences)
        };
        let identity = verify(&token, CLIENT_ID, &nonce, &audiences)
            .map_err(|e| TestCaseError::fail(format!("signed token refused: {e}")))?;
        prop_assert_eq!(&identity.subject, &c.subject);
        prop_assert_eq!(&identity.email, &c.email);
        prop_assert_eq!(&identity.groups, &c.groups);
        prop_assert_eq!(&identity.audiences, &audiences);

        let mut parts: Vec<Vec<u8>> = token
            .split('.')
            .map(|p| URL_SAFE_NO_PAD.decode(p).expect("base64url"))
            .collect();
        let k = byte.index(parts[segment].len());
        parts[segment][k] ^= 1 << bit;
        let flipped: Vec<String> = parts.iter().map(|p| b64(p)).collect();
        let flipped = flipped.join(".");
        prop_assert!(
            verify(&flipped, CLIENT_ID, &nonce, &audiences).is_err(),
            "a token with segment {} byte {} bit {} flipped was accepted", segment, k, bit
        );
        let wrong_nonce = Nonce::new(format!("{}{other}", c.nonce));
        prop_assert!(
            verify(&token, CLIENT_ID, &wrong_nonce, &audiences).is_err(),
            "accepted with another nonce"
        );
        let client = format!("{CLIENT_ID}-{other}");
        prop_assert!(
            verify(&token, &client, &nonce, std::slice::from_ref(&client)).is_err(),
            "accepted for another client"
        );
    }
}
