//! Throw-away certificate authorities for the test world.
//!
//! The Dex stand-in and the API-server stand-in each serve HTTPS with a leaf certificate signed by a CA
//! generated here, so tests can prove that Signet trusts exactly the CA it is configured with.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

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
