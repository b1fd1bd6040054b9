//! HTTPS and client certificates on real listeners, with certificates made by rcgen:
//! the API and gateway speak TLS; a verified client certificate authenticates `mtls`
//! routes (the upstream sees its principal and fingerprint); certificates that are
//! expired, not yet valid, for servers only or from an unknown CA are refused in the
//! handshake and audited; the CA file is reloaded without a restart.

use crate::gateway::upstream::Upstream;
use gatehouse_server::{ManualClock, MasterKey, Overrides, RunningServer, Settings};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// A certificate authority that signs test certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Self {
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
    fn leaf(&self, spec: Leaf<'_>) -> Issued {
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

struct Leaf<'a> {
    sans: Vec<SanType>,
    cn: &'a str,
    years: (i32, i32),
    usage: ExtendedKeyUsagePurpose,
}

impl Leaf<'_> {
    fn client(sans: Vec<SanType>) -> Self {
        Self {
            sans,
            cn: "client",
            years: (2020, 2090),
            usage: ExtendedKeyUsagePurpose::ClientAuth,
        }
    }
}

struct Issued {
    der: Vec<u8>,
    pem: String,
    key_pem: String,
}

fn spiffe(id: &str) -> SanType {
    SanType::URI(id.try_into().unwrap())
}

/// A server with `[tls]` (client certificates `client_auth`, trusted: `ca`) and a
/// gateway whose `/svc` route takes `mtls` or an API key.
struct Setup {
    server: Option<RunningServer>,
    _data: TempDir,
    files: TempDir,
    ca: Ca,
    upstream: Upstream,
}

impl Setup {
    async fn new(client_auth: &str) -> Self {
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
        let server = gatehouse_server::start(settings, clock, &master_key)
            .await
            .expect("a server with [tls] starts");
        Self {
            server: Some(server),
            _data: data,
            files,
            ca,
            upstream,
        }
    }

    fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    fn api(&self, path: &str) -> String {
        format!("https://{}{path}", self.server().addr())
    }

    fn gateway(&self, path: &str) -> String {
        format!("https://{}{path}", self.server().gateway_addr().unwrap())
    }

    /// An HTTPS client trusting the server's CA, presenting `cert` if given.
    fn client(&self, cert: Option<&Issued>) -> reqwest::Client {
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
    async fn refusals(&self) -> Vec<String> {
        let state = self.server().state();
        state.audit.flush().await;
        let query = gatehouse_store::AuditQuery {
            action: Some("tls.handshake".into()),
            limit: 100,
            ..Default::default()
        };
        state
            .store
            .query_audit(&query)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| e.body.reason)
            .collect()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn the_api_and_gateway_speak_tls_and_a_client_certificate_authenticates_mtls_routes() {
    let s = Setup::new("optional").await;
    let anonymous = s.client(None);
    let health = anonymous.get(s.api("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // The issuer follows the listener: https.
    let meta: Value = anonymous
        .get(s.api("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // Plain HTTP on the TLS port gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", s.server().addr()))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // No certificate on an optional listener: served, but the route wants a credential.
    let reply = anonymous.get(s.gateway("/svc/a")).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(s.upstream.hits(), 0);

    let cert =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/orders")]));
    let holder = s.client(Some(&cert));
    let reply = holder.get(s.gateway("/svc/a")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let seen = s.upstream.last();
    assert_eq!(
        seen.header("x-gatehouse-subject"),
        Some("spiffe://example.org/orders")
    );
    assert_eq!(seen.header("x-gatehouse-auth"), Some("mtls"));
    let fingerprint = hex::encode(Sha256::digest(&cert.der));
    assert_eq!(
        seen.header("x-gatehouse-credential"),
        Some(fingerprint.as_str())
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    let state = s.server().state();
    state.audit.flush().await;
    let events = state
        .store
        .query_audit(&gatehouse_store::AuditQuery {
            action: Some("gateway.request".into()),
            outcome: Some(gatehouse_core::audit::Outcome::Allowed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].body.credential_id.as_deref(),
        Some(fingerprint.as_str())
    );
    assert_eq!(events[0].body.auth_method.as_deref(), Some("mtls"));
}

#[tokio::test]
async fn bad_client_certificates_are_refused_in_the_handshake_and_audited() {
    let s = Setup::new("optional").await;
    let cases = [
        (
            "expired",
            s.ca.leaf(Leaf {
                years: (2001, 2002),
                ..Leaf::client(vec![spiffe("spiffe://example.org/old")])
            }),
        ),
        (
            "not_yet_valid",
            s.ca.leaf(Leaf {
                years: (2090, 2095),
                ..Leaf::client(vec![spiffe("spiffe://example.org/future")])
            }),
        ),
        (
            "not_for_client_auth",
            s.ca.leaf(Leaf {
                usage: ExtendedKeyUsagePurpose::ServerAuth,
                ..Leaf::client(vec![spiffe("spiffe://example.org/server")])
            }),
        ),
        (
            "untrusted_issuer",
            Ca::new("Someone else").leaf(Leaf::client(vec![spiffe("spiffe://evil.example/x")])),
        ),
    ];
    for (reason, cert) in &cases {
        let reply = s.client(Some(cert)).get(s.gateway("/svc/a")).send().await;
        assert!(reply.is_err(), "{reason}: {:?}", reply.map(|r| r.status()));
    }
    assert_eq!(s.upstream.hits(), 0);
    let mut refusals = s.refusals().await;
    refusals.sort();
    let mut expected: Vec<&str> = cases.iter().map(|c| c.0).collect();
    expected.sort_unstable();
    assert_eq!(refusals, expected);
}

#[tokio::test]
async fn a_required_certificate_is_required_and_the_ca_file_reloads_without_a_restart() {
    let s = Setup::new("required").await;
    let reply = s.client(None).get(s.api("/healthz")).send().await;
    assert!(reply.is_err(), "no certificate, no connection");
    assert_eq!(s.refusals().await, ["no_client_certificate"]);

    let other_ca = Ca::new("Second client CA");
    let cert = other_ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/new")]));
    assert!(
        s.client(Some(&cert))
            .get(s.api("/healthz"))
            .send()
            .await
            .is_err()
    );

    // Trust the second CA too: new handshakes pick it up, no restart.
    let both = format!("{}{}", s.ca.pem, other_ca.pem);
    // A different length guarantees a visible change even within the same second.
    write(s.files.path(), "clients.pem", &both);
    let client = s.client(Some(&cert));
    let mut status = None;
    for _ in 0..40 {
        if let Ok(reply) = client.get(s.api("/healthz")).send().await {
            status = Some(reply.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(200), "the new CA was not picked up");
    let state = s.server().state();
    state.audit.flush().await;
    let reloads = state
        .store
        .query_audit(&gatehouse_store::AuditQuery {
            action: Some("tls.reload".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!reloads.is_empty());
}
