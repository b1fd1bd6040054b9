//! HTTPS and client certificates on real listeners: certificates made by rcgen
//! (`listeners`) and by Gatehouse's own CA (`builtin_ca`), presented by reqwest, curl
//! and openssl.

mod bound_tokens;
mod builtin_ca;
mod listeners;

use crate::gateway::upstream::Upstream;
use gatehouse_server::{ManualClock, MasterKey, Overrides, RunningServer, Settings};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// A certificate authority that signs test certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf for `sans` (and CN), valid between the years given, for `usage`.
    pub fn leaf(&self, spec: Leaf<'_>) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = spec.sans;
        params.distinguished_name.push(DnType::CommonName, spec.cn);
        params.not_before = rcgen::date_time_ymd(spec.years.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(spec.years.1, 1, 1);
        params.extended_key_usages = vec![spec.usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

pub struct Leaf<'a> {
    pub sans: Vec<SanType>,
    pub cn: &'a str,
    pub years: (i32, i32),
    pub usage: ExtendedKeyUsagePurpose,
}

impl Leaf<'_> {
    pub fn client(sans: Vec<SanType>) -> Self {
        Self {
            sans,
            cn: "client",
            years: (2020, 2090),
            usage: ExtendedKeyUsagePurpose::ClientAuth,
        }
    }
}

pub struct Issued {
    pub der: Vec<u8>,
    pub pem: String,
    pub key_pem: String,
}

pub fn spiffe(id: &str) -> SanType {
    SanType::URI(id.try_into().unwrap())
}

/// A server with `[tls]` (client certificates `client_auth`, trusted: `ca`) and a
/// gateway whose `/svc` route takes `mtls` or an API key.
pub struct Setup {
    server: Option<RunningServer>,
    _data: TempDir,
    pub files: TempDir,
    pub ca: Ca,
    pub upstream: Upstream,
    pub admin_key: String,
}

impl Setup {
    pub async fn new(client_auth: &str) -> Self {
        let files = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let ca = Ca::new("Test client CA");
        let server_ca = Ca::new("Test server CA");
        let server = server_ca.leaf(Leaf {
            sans: vec![
                SanType::IpAddress("127.0.0.1".parse().unwrap()),
                SanType::DnsName("localhost".try_into().unwrap()),
            ],
            cn: "gatehouse",
            years: (2020, 2090),
            usage: ExtendedKeyUsagePurpose::ServerAuth,
        });
        write(files.path(), "server.pem", &server.pem);
        write(files.path(), "server.key", &server.key_pem);
        write(files.path(), "server-ca.pem", &server_ca.pem);
        write(files.path(), "clients.pem", &ca.pem);
        let upstream = Upstream::start().await;
        let config = format!(
            r#"version = 1
[tls]
cert = "{dir}/server.pem"
key = "{dir}/server.key"
client_ca = "{dir}/clients.pem"
client_auth = "{client_auth}"

[gateway]
listen = "127.0.0.1:0"

[[gateway.routes]]
name = "svc"
path_prefix = "/svc"
upstream = "{upstream}"
auth = ["mtls", "api_key"]

[[gateway.routes]]
name = "scoped"
path_prefix = "/scoped"
upstream = "{upstream}"
auth = ["mtls", "jwt"]
require_scopes = ["orders:read"]
"#,
            dir = files.path().display(),
            upstream = upstream.url(),
        );
        let config_file = data.path().join("gatehouse.toml");
        std::fs::write(&config_file, config).unwrap();
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data.path().to_path_buf()),
        };
        let settings = Settings::load(Some(&config_file), std::iter::empty(), &overrides).unwrap();
        let master_key = MasterKey::from_hex(&"22".repeat(32), "test").unwrap();
        let clock: Arc<dyn gatehouse_server::Clock> =
            Arc::new(ManualClock::new(crate::support::START));
        let mut server = gatehouse_server::start(settings, clock, &master_key)
            .await
            .expect("a server with [tls] starts");
        let admin_key = server.take_admin_key().unwrap().reveal().to_owned();
        Self {
            admin_key,
            server: Some(server),
            _data: data,
            files,
            ca,
            upstream,
        }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    pub fn api(&self, path: &str) -> String {
        format!("https://{}{path}", self.server().addr())
    }

    pub fn gateway(&self, path: &str) -> String {
        format!("https://{}{path}", self.server().gateway_addr().unwrap())
    }

    /// An HTTPS client trusting the server's CA, presenting `cert` if given.
    pub fn client(&self, cert: Option<&Issued>) -> reqwest::Client {
        let server_ca = std::fs::read(self.files.path().join("server-ca.pem")).unwrap();
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(&server_ca).unwrap()])
            .timeout(Duration::from_secs(10));
        if let Some(cert) = cert {
            let pem = format!("{}{}", cert.pem, cert.key_pem);
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }

    /// The `tls.handshake` refusals audited so far, by reason.
    /// Once at least `expected` are recorded (within 5 s: the verifier queues its
    /// events from a task of its own).
    pub async fn refusals(&self, expected: usize) -> Vec<String> {
        let state = self.server().state();
        let query = gatehouse_store::AuditQuery {
            action: Some("tls.handshake".into()),
            limit: 100,
            ..Default::default()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            state.audit.flush().await;
            let reasons: Vec<String> = state
                .store
                .query_audit(&query)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|e| e.body.reason.as_deref().map(str::to_owned))
                .collect();
            if reasons.len() >= expected || std::time::Instant::now() > deadline {
                return reasons;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
