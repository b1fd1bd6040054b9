//! HTTPS on both listeners (SPEC §4) with rustls: TLS 1.2 and 1.3 only, client
//! certificates verified during the handshake against the `client_ca` files and the
//! built-in CA (by the server's clock, refusing certificates Gatehouse revoked), and
//! the certificate, key and CA files read again when they change — without a restart
//! and without touching connections already open.
//!
//! A resumed TLS session is not verified again; that is why a revocation is also
//! checked at every request (`gateway/decision.rs`), not only here.
//!
//! A verified client certificate becomes the connection's [`CertIdentity`] (core's
//! `mtls`), which the gateway's `mtls` routes authenticate by. A handshake refused
//! over a client certificate (none when required, an untrusted CA, expired, not a
//! client certificate…) is audited as `tls.handshake`, with rustls's reason.

mod material;
mod verifier;

use crate::audit_log::AuditLog;
use crate::ca::Certificates;
use crate::clock::Clock;
use crate::config::TlsSettings;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::mtls::{self, CertIdentity};
use parking_lot::{Mutex, RwLock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client must finish the handshake within this time (the same bound as a request
/// head: a slow handshake holds a connection like a slow head does).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the files' modification times are checked.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The TLS side of both listeners.
pub struct Tls {
    settings: TlsSettings,
    acceptor: RwLock<TlsAcceptor>,
    stamps: Mutex<Vec<Option<SystemTime>>>,
    known: Arc<Certificates>,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
}

/// A connection after its handshake.
pub struct Accepted {
    /// The decrypted stream.
    pub stream: TlsStream<TcpStream>,
    /// The client certificate, when one was presented and verified and names someone.
    pub client_cert: Option<Arc<CertIdentity>>,
}

impl Tls {
    /// Reads the files of `settings`; fails with the file and the reason.
    pub fn load(
        settings: &TlsSettings,
        known: Arc<Certificates>,
        audit: AuditLog,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Self>> {
        let config = material::server_config(settings, Arc::clone(&clock), &known, Some(&audit))?;
        Ok(Arc::new(Self {
            stamps: Mutex::new(material::stamps(settings)),
            acceptor: RwLock::new(TlsAcceptor::from(Arc::new(config))),
            settings: settings.clone(),
            known,
            audit,
            clock,
        }))
    }

    /// Runs the handshake on `tcp` from `peer`. `None` when it fails or times out
    /// (a refusal over the client certificate is audited).
    pub async fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> Option<Accepted> {
        let acceptor = self.acceptor.read().clone();
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                self.refused(peer, &e).await;
                return None;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return None;
            }
        };
        let client_cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| match mtls::identity(leaf.as_ref()) {
                Ok(identity) => Some(Arc::new(identity)),
                Err(e) => {
                    tracing::info!(%peer, error = %e, "client certificate ignored");
                    None
                }
            });
        Some(Accepted {
            stream,
            client_cert,
        })
    }

    /// Audits a handshake that failed because a required certificate was missing (a
    /// certificate that was presented and refused is audited by the verifier, which
    /// still has it); other failures (port scanners, plain HTTP on the TLS port) are
    /// only logged.
    async fn refused(&self, peer: SocketAddr, error: &std::io::Error) {
        let reason = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .and_then(verifier::client_cert_refusal);
        let Some(reason) = reason else {
            tracing::debug!(%peer, error = %error, "TLS handshake failed");
            return;
        };
        tracing::info!(%peer, reason, "client certificate refused");
        if reason != verifier::NO_CERTIFICATE {
            return;
        }
        let mut event = self.event("tls.handshake", &reason);
        event.outcome = Outcome::Denied;
        event.principal = None;
        event.client_ip = Some(gatehouse_proxy::hygiene::client_ip_text(peer.ip()).into());
        event.auth_method = Some("mtls".into());
        self.audit.record(event).await;
    }

    /// Reads the files again if any changed since the last load; a set that does not
    /// load (a half-written file, a key that does not match) keeps the one in use.
    pub async fn reload_if_changed(&self) {
        let stamps = material::stamps(&self.settings);
        if *self.stamps.lock() == stamps {
            return;
        }
        *self.stamps.lock() = stamps;
        self.rebuild("files_changed").await;
    }

    /// Builds the configuration again (files changed, or the built-in CA was just
    /// created and becomes a trust anchor); on failure the one in use stays.
    pub async fn rebuild(&self, why: &str) {
        let mut event = self.event("tls.reload", why);
        let clock = Arc::clone(&self.clock);
        match material::server_config(&self.settings, clock, &self.known, Some(&self.audit)) {
            Ok(config) => {
                *self.acceptor.write() = TlsAcceptor::from(Arc::new(config));
                tracing::info!("TLS certificate, key and client CAs reloaded");
                event.outcome = Outcome::Allowed;
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS files not reloaded; keeping those in use");
                event.outcome = Outcome::Denied;
                event.reason = Some(format!("{why}: {e}").into());
            }
        }
        self.audit.record(event).await;
    }

    /// An event by Gatehouse itself: a handshake has no request id yet.
    fn event(&self, action: &str, reason: &str) -> EventBody {
        let mut event = EventBody::new(self.clock.now(), String::new(), action);
        event.reason = Some(reason.into());
        event.principal = Some("gatehouse".into());
        event
    }
}

/// Reads and checks the files of `settings` as a start would (`gatehouse config
/// check`).
pub fn check(settings: &TlsSettings) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
    let known = Arc::new(Certificates::default());
    material::server_config(settings, clock, &known, None).map(drop)
}

/// Checks the files every second and reloads them when they change.
pub fn spawn_reloader(tls: Arc<Tls>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_EVERY);
        loop {
            tick.tick().await;
            tls.reload_if_changed().await;
        }
    })
}
