//! Throw-away certificate authorities for the test world.
//!
//! The Dex stand-in and the API-server stand-in each serve HTTPS with a leaf certificate signed by a CA
//! generated here, so tests can prove that Signet trusts exactly the CA it is configured with.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A CA plus one leaf certificate for `127.0.0.1`, `::1` and `localhost`, written as PEM files.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// PEM of the CA certificate (what a client must trust).
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TestCa {
    /// Generates a CA named `name` and a loopback leaf certificate, and writes `<name>-ca.pem`,
    /// `<name>-cert.pem` and `<name>-key.pem` into `dir`.
    pub fn generate(dir: &Path, name: &str) -> TestCa {
        let ca_key = KeyPair::generate().expect("generate CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("signet test CA ({name})"));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");

        let leaf_key = KeyPair::generate().expect("generate leaf key");
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} on loopback"));
        let leaf_cert = leaf_params
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .expect("sign leaf");

        let ca_file = dir.join(format!("{name}-ca.pem"));
        let cert_file = dir.join(format!("{name}-cert.pem"));
        let key_file = dir.join(format!("{name}-key.pem"));
        std::fs::write(&ca_file, ca_cert.pem()).expect("write CA pem");
        std::fs::write(&cert_file, leaf_cert.pem()).expect("write cert pem");
        std::fs::write(&key_file, leaf_key.serialize_pem()).expect("write key pem");
        TestCa {
            ca_pem: ca_cert.pem(),
            ca_file,
            cert_file,
            key_file,
        }
    }
}

/// One document served over HTTPS on loopback with a [`TestCa`]'s leaf certificate (a team catalog on a
/// web server with a private CA), to every `GET`, until dropped. Counts what it served and the
/// connections that ended before a request arrived (a client that refused the certificate).
#[derive(Debug)]
pub struct HttpsFile {
    url: String,
    port: u16,
    counts: Arc<HttpsCounts>,
}

#[derive(Debug, Default)]
struct HttpsCounts {
    served: AtomicUsize,
    refused: AtomicUsize,
    stop: AtomicBool,
}

impl HttpsFile {
    /// Serves `body` at `https://127.0.0.1:<port><path>` (any path answers it).
    pub fn serve(ca: &TestCa, path: &str, body: String) -> HttpsFile {
        let certs = CertificateDer::pem_file_iter(&ca.cert_file)
            .expect("read the leaf certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse the leaf certificate");
        let key = PrivateKeyDer::from_pem_file(&ca.key_file).expect("read the leaf key");
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server TLS config"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
        let port = listener.local_addr().expect("listener address").port();
        let counts = Arc::new(HttpsCounts::default());
        let shared = Arc::clone(&counts);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = stream else { continue };
                let (tls, counts, body) = (Arc::clone(&tls), Arc::clone(&shared), body.clone());
                std::thread::spawn(move || {
                    let answered = answer_once(tcp, tls, &body);
                    let counter = if answered.is_ok() {
                        &counts.served
                    } else {
                        &counts.refused
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        HttpsFile {
            url: format!("https://127.0.0.1:{port}{path}"),
            port,
            counts,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests answered with the document.
    pub fn served(&self) -> usize {
        self.counts.served.load(Ordering::SeqCst)
    }

    /// Connections that ended before a whole request arrived (e.g. the TLS handshake was refused).
    pub fn refused(&self) -> usize {
        self.counts.refused.load(Ordering::SeqCst)
    }
}

impl Drop for HttpsFile {
    fn drop(&mut self) {
        self.counts.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request's head over TLS and answers it with `body`.
fn answer_once(
    tcp: std::net::TcpStream,
    tls: Arc<rustls::ServerConfig>,
    body: &str,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    let mut stream = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let w = stream.get_mut();
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: application/toml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    w.flush()?;
    w.conn.send_close_notify();
    w.flush()
}
