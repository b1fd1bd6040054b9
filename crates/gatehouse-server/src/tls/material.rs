//! The files of `[tls]` turned into a rustls server configuration, and rustls's
//! reasons for refusing a client certificate turned into audit reasons.

use super::verifier::{ClockTime, RefuseRevoked};
use crate::audit_log::AuditLog;
use crate::ca::Certificates;
use crate::clock::Clock;
use crate::config::{ClientAuth, TlsSettings};
use anyhow::Context;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

/// TLS sessions kept for resumption.
const SESSION_CACHE: usize = 16_384;

/// The server configuration `settings` describe: TLS 1.2 and 1.3 (rustls offers
/// nothing older), HTTP/1.1, client certificates as `client_auth` says — trusted if
/// they chain to a `client_ca` file or to the built-in CA, and not revoked there —
/// with validity judged by `clock`.
pub fn server_config(
    settings: &TlsSettings,
    clock: Arc<dyn Clock>,
    known: &Arc<Certificates>,
    audit: Option<&AuditLog>,
) -> anyhow::Result<ServerConfig> {
    let chain = certificates(&settings.cert)?;
    let key = PrivateKeyDer::from_pem_file(&settings.key)
        .with_context(|| format!("{}: no readable PEM private key", settings.key.display()))?;
    // The provider is named, not taken from the process default, which is ambiguous
    // (and panics) when another dependency enables a second one.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let time = Arc::new(ClockTime(Arc::clone(&clock)));
    let builder = ServerConfig::builder_with_details(Arc::clone(&provider), time)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let mut roots = RootCertStore::empty();
    if settings.client_auth != ClientAuth::Off {
        for path in &settings.client_ca {
            for ca in certificates(path)? {
                roots
                    .add(ca)
                    .with_context(|| format!("{}: not a usable CA", path.display()))?;
            }
        }
        if let Some(authority) = known.authority() {
            roots
                .add(CertificateDer::from(authority.cert_der.clone()))
                .context("the built-in CA")?;
        }
    }
    let builder = match settings.client_auth {
        ClientAuth::Off => builder.with_no_client_auth(),
        ClientAuth::Optional if roots.is_empty() => {
            tracing::warn!("client_auth = \"optional\" but no client CA yet: none asked for");
            builder.with_no_client_auth()
        }
        mode => {
            anyhow::ensure!(
                !roots.is_empty(),
                "client_auth = \"required\" needs a client_ca file or the built-in CA (gatehouse ca init)"
            );
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(Arc::new(RefuseRevoked {
                inner: verifier.build().context("client CAs")?,
                certificates: Arc::clone(known),
                audit: audit.cloned(),
                clock,
            }))
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .with_context(|| format!("{}: does not match the certificate", settings.key.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // rustls keeps 256 sessions by default, two per TLS 1.3 handshake: only the last
    // ~128 clients could resume. A gateway in front of many services keeps more (a
    // few hundred bytes each). A resumed session is not verified again; revocations
    // are also checked per request for that reason.
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(config)
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("{}: not a readable PEM file", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{}: holds no certificate",
        path.display()
    );
    Ok(certs)
}

/// When each file was last modified, to notice changes.
pub fn stamps(settings: &TlsSettings) -> Vec<Option<SystemTime>> {
    [&settings.cert, &settings.key]
        .into_iter()
        .chain(&settings.client_ca)
        .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .collect()
}
