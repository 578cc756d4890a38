//! Starts the API-server stand-in ([`signet_tests::apiserver`]) from command-line flags, for demos and
//! manual runs. Prints one JSON line when ready, then serves until killed or until stdin closes
//! (with `--exit-on-stdin-eof`).
//!
//! ```text
//! apiserver --issuer URL [--issuer-ca FILE] [--audience A]... [--username-claim C]
//!           [--username-prefix P] [--groups-claim C] [--groups-prefix P] [--signing-alg ALG]...
//!           [--namespace NS]... [--forbid-namespace-list-for USER]... [--tls-dir DIR]
//!           [--exit-on-stdin-eof]
//! ```
//! Ready line: `{"ready":true,"url":"https://127.0.0.1:PORT","ca_file":"…","issuer":"…","pid":N}`.

use std::io::Read as _;
use std::path::PathBuf;

use signet_tests::apiserver::{ApiServer, ApiServerOptions};

fn main() {
    let mut opts = ApiServerOptions {
        audiences: Vec::new(),
        ..Default::default()
    };
    let mut namespaces = Vec::new();
    let mut algs = Vec::new();
    let mut exit_on_eof = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--exit-on-stdin-eof" {
            exit_on_eof = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            eprintln!("{}", usage());
            return;
        }
        let Some(value) = args.next() else {
            fail(&format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--issuer" => opts.issuer = value,
            "--issuer-ca" => {
                let pem = std::fs::read_to_string(&value)
                    .unwrap_or_else(|e| fail(&format!("read {value}: {e}")));
                opts.issuer_ca_pem = Some(pem);
            }
            "--audience" => opts.audiences.push(value),
            "--username-claim" => opts.username_claim = value,
            "--username-prefix" => opts.username_prefix = Some(value),
            "--groups-claim" => opts.groups_claim = value,
            "--groups-prefix" => opts.groups_prefix = Some(value),
            "--signing-alg" => algs.push(value),
            "--namespace" => namespaces.push(value),
            "--forbid-namespace-list-for" => opts.forbid_namespace_list_for.push(value),
            "--tls-dir" => opts.tls_dir = Some(PathBuf::from(value)),
            other => fail(&format!("unknown flag {other}")),
        }
    }
    if opts.issuer.is_empty() {
        fail("--issuer is required");
    }
    if opts.audiences.is_empty() {
        opts.audiences.push("kubernetes".to_string());
    }
    if !namespaces.is_empty() {
        opts.namespaces = namespaces;
    }
    if !algs.is_empty() {
        opts.signing_algs = algs;
    }
    if let Some(dir) = &opts.tls_dir {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(&format!("create {dir:?}: {e}")));
    }

    let server = ApiServer::start(opts);
    println!(
        "{}",
        serde_json::json!({
            "ready": true,
            "url": server.url(),
            "ca_file": server.ca().ca_file,
            "issuer": server.issuer(),
            "pid": std::process::id(),
        })
    );
    if exit_on_eof {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    } else {
        loop {
            std::thread::park();
        }
    }
    drop(server);
}

fn usage() -> &'static str {
    "usage: apiserver --issuer URL [--issuer-ca FILE] [--audience A]... [--username-claim C] \
     [--username-prefix P] [--groups-claim C] [--groups-prefix P] [--signing-alg ALG]... \
     [--namespace NS]... [--forbid-namespace-list-for USER]... [--tls-dir DIR] [--exit-on-stdin-eof]"
}

fn fail(msg: &str) -> ! {
    eprintln!("signet-apiserver-standin: {msg}\n{}", usage());
    std::process::exit(2)
}
