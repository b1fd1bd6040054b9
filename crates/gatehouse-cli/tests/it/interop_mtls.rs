//! RFC 8705 mutual-TLS client authentication with third-party clients no one here
//! wrote: against the real server with `[tls]`, Python Authlib on a `requests`
//! session presenting a client certificate gets a token by client credentials with
//! `tls_client_auth` — no secret — and PyJWT verifies it and its certificate binding
//! (`interop/python/tls_client_auth.py`). The certificates are made here with rcgen:
//! a server CA, the server's certificate for 127.0.0.1, a client CA the server trusts
//! and the client's certificate, whose SAN URI the client is registered by.

use crate::support::{DEADLINE, Home, MASTER_KEY, Server, free_port};
use crate::third_party::{admin_post, python, run_json_against};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const METHOD: &str = "tls_client_auth";
const SCOPE: &str = "orders:read";
/// The client certificate's SAN URI, which the client is registered by.
const SUBJECT: &str = "spiffe://example.org/batch";

#[test]
fn authlib_with_a_client_certificate_gets_a_token_bound_to_it_by_tls_client_auth() {
    let mut home = Home::new();
    let pki = Pki::write_to(home.path());
    let (server, admin) = start_https(&mut home, &pki);

    let body = json!({
        "name": "batch",
        "grant_types": ["client_credentials"],
        "scope": SCOPE,
        "token_endpoint_auth_method": METHOD,
        "tls_client_auth_subject": SUBJECT,
    });
    let (status, created) = admin_post(&server, &admin, "/admin/v1/clients", &body);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["token_endpoint_auth_method"], METHOD, "{created}");
    assert!(created.get("client_secret").is_none(), "{created}");
    let client_id = created["client_id"].as_str().expect("client_id");

    let mut cmd = python("tls_client_auth.py");
    cmd.env("GATEHOUSE_URL", server.url())
        .env("CA_FILE", &pki.server_ca)
        .env("CLIENT_CERT", &pki.client_cert)
        .env("CLIENT_KEY", &pki.client_key)
        .env("CLIENT_ID", client_id);
    let out = run_json_against(&server, cmd, DEADLINE);

    assert_eq!(out["auth_method"], METHOD, "{out}");
    assert_eq!(out["bound_tokens_advertised"], true, "{out}");
    assert_eq!(
        out["token_endpoint"],
        format!("{}/oauth/token", server.url()).as_str(),
        "{out}"
    );
    assert_eq!(out["scope"], SCOPE, "{out}");
    let (header, claims) = (&out["header"], &out["claims"]);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], "ES256", "{header}");
    assert!(server.url().starts_with("https://127.0.0.1:"));
    assert_eq!(claims["iss"], server.url(), "{claims}");
    assert_eq!(
        claims["aud"],
        server.url(),
        "no audience registered: {claims}"
    );
    assert_eq!(claims["sub"], client_id, "{claims}");
    assert_eq!(claims["client_id"], client_id, "{claims}");
    assert_eq!(claims["scope"], SCOPE, "{claims}");

    // The binding is to this certificate: Python's thumbprint, the token's and one
    // computed here from the DER rcgen made all agree.
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&pki.client_der));
    assert_eq!(claims["cnf"]["x5t#S256"], thumbprint.as_str(), "{claims}");
    assert_eq!(out["thumbprint"], thumbprint.as_str(), "{out}");

    let refused = &out["without_certificate"];
    assert_eq!(refused["status"], 401, "{out}");
    assert_eq!(refused["error"], "invalid_client", "{out}");
}

/// Starts `gatehouse serve` with `[tls]` (client certificates optional, chaining to
/// the client CA) on a fixed port, so that its issuer is its real address; returns it
/// and its admin key.
fn start_https(home: &mut Home, pki: &Pki) -> (Server, String) {
    let config = format!(
        "version = 1\n\n[tls]\ncert = {}\nkey = {}\nclient_ca = {}\nclient_auth = \"optional\"\n",
        toml_path(&pki.server_cert),
        toml_path(&pki.server_key),
        toml_path(&pki.client_ca),
    );
    let config_file = write(home.path(), "gatehouse.toml", config.as_bytes());
    let mut serve = home.serve_bare();
    serve
        .arg("--config")
        .arg(&config_file)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(home.data_dir())
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY);
    let server_ca = std::fs::read(&pki.server_ca).expect("read the server CA");
    let server = home.start_https(serve, &server_ca);
    let admin = server.admin_key();
    (server, admin)
}

/// A path as a TOML basic string.
fn toml_path(path: &Path) -> String {
    serde_json::Value::from(path.to_str().expect("UTF-8 temp path")).to_string()
}

/// The certificate files of one test, and the client certificate's DER.
struct Pki {
    server_ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    client_der: Vec<u8>,
}

impl Pki {
    /// Makes the two CAs and their leaves, valid from 2020 to 2090 since the server
    /// runs on the real clock, and writes them as PEM files into `dir`.
    fn write_to(dir: &Path) -> Self {
        let server_ca = Ca::new("Interop server CA");
        let server = server_ca.leaf(
            "gatehouse",
            SanType::IpAddress([127, 0, 0, 1].into()),
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client_ca = Ca::new("Interop client CA");
        let client = client_ca.leaf(
            "batch",
            SanType::URI(SUBJECT.try_into().expect("SAN URI")),
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Self {
            server_ca: write(dir, "server-ca.pem", server_ca.pem.as_bytes()),
            server_cert: write(dir, "server.pem", server.pem.as_bytes()),
            server_key: write(dir, "server.key", server.key_pem.as_bytes()),
            client_ca: write(dir, "client-ca.pem", client_ca.pem.as_bytes()),
            client_cert: write(dir, "client.pem", client.pem.as_bytes()),
            client_key: write(dir, "client.key", client.key_pem.as_bytes()),
            client_der: client.der,
        }
    }
}

/// A certificate authority that signs the test's certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A certificate rcgen made, and its private key.
struct Issued {
    der: Vec<u8>,
    pem: String,
    key_pem: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2090, 1, 1);
        let key = KeyPair::generate().expect("CA key");
        let pem = params.self_signed(&key).expect("CA certificate").pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    fn leaf(&self, cn: &str, san: SanType, usage: ExtendedKeyUsagePurpose) -> Issued {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.subject_alt_names = vec![san];
        params.extended_key_usages = vec![usage];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2090, 1, 1);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Issued {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path
}
