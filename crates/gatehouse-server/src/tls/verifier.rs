//! Two adapters that make rustls see what Gatehouse sees: the server's clock (so a
//! certificate's validity is judged by the same time as everything else, and tests
//! can move it), and the revocations of the built-in CA (a revoked certificate fails
//! its next handshake, before webpki is even asked). The verifier is also where a
//! refused certificate is still at hand, so it audits the refusal with the
//! certificate's fingerprint and principal.

use crate::audit_log::AuditLog;
use crate::ca::{Certificates, Standing};
use crate::clock::Clock;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::mtls;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The server's clock as rustls's.
pub struct ClockTime(pub Arc<dyn Clock>);

impl std::fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockTime")
    }
}

impl rustls::time_provider::TimeProvider for ClockTime {
    fn current_time(&self) -> Option<UnixTime> {
        let millis = u64::try_from(self.0.now().as_millis()).ok()?;
        Some(UnixTime::since_unix_epoch(Duration::from_millis(millis)))
    }
}

/// A client certificate verifier that refuses revoked certificates, then asks webpki,
/// and audits every refusal.
pub struct RefuseRevoked {
    /// webpki's verifier over the trusted CAs.
    pub inner: Arc<dyn ClientCertVerifier>,
    /// The certificates Gatehouse issued, and their revocations.
    pub certificates: Arc<Certificates>,
    /// Where refusals are recorded (none for `gatehouse config check`).
    pub audit: Option<AuditLog>,
    /// The time of the events.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RefuseRevoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefuseRevoked").finish_non_exhaustive()
    }
}

impl RefuseRevoked {
    /// Audits a refused certificate as `tls.handshake`: its fingerprint, the principal
    /// it names (if it parses) and rustls's reason. Queued from a task: verification
    /// is synchronous.
    fn report(&self, der: &[u8], sha256: &[u8; 32], error: &rustls::Error) {
        let (Some(audit), Ok(runtime)) = (&self.audit, tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let reason =
            client_cert_refusal(error).unwrap_or_else(|| String::from("invalid_certificate"));
        let mut event = EventBody::new(self.clock.now(), String::new(), "tls.handshake");
        event.outcome = Outcome::Denied;
        event.reason = Some(reason.into());
        event.auth_method = Some("mtls".into());
        event.credential_id = Some(gatehouse_core::hex::encode(sha256).into());
        event.principal = mtls::identity(der).ok().map(|id| id.principal.into());
        let audit = audit.clone();
        runtime.spawn(async move { audit.record(event).await });
    }
}

impl ClientCertVerifier for RefuseRevoked {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let sha256: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        let verified = if self.certificates.standing(&sha256) == Standing::Revoked {
            Err(rustls::Error::InvalidCertificate(CertificateError::Revoked))
        } else {
            self.inner
                .verify_client_cert(end_entity, intermediates, now)
        };
        if let Err(error) = &verified {
            self.report(end_entity.as_ref(), &sha256, error);
        }
        verified
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The audit reason of a handshake without the certificate `client_auth =
/// "required"` demands.
pub const NO_CERTIFICATE: &str = "no_client_certificate";

/// The audit reason when `error` refuses the client's certificate; `None` for other
/// handshake failures.
pub fn client_cert_refusal(error: &rustls::Error) -> Option<String> {
    let reason = match error {
        rustls::Error::NoCertificatesPresented => NO_CERTIFICATE,
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not_yet_valid"
            }
            CertificateError::UnknownIssuer => "untrusted_issuer",
            CertificateError::Revoked => "revoked",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "not_for_client_auth"
            }
            CertificateError::BadSignature | CertificateError::BadEncoding => "malformed",
            _ => "invalid_certificate",
        },
        _ => return None,
    };
    Some(reason.to_owned())
}
