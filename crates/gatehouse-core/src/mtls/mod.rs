//! Client certificates (SPEC §4, RFC 8705): who a certificate names, once the TLS
//! layer has verified its chain, validity and client-auth usage.
//!
//! This module does not verify anything — rustls did, during the handshake, against
//! the configured client CAs. It reads the leaf: the principal is the first SAN URI
//! (a SPIFFE ID such as `spiffe://example.org/orders`), else the first SAN DNS name,
//! else the subject common name; a certificate naming none of them names no one and is
//! refused. The SHA-256 of the DER is the credential id (hex) and the RFC 8705
//! `x5t#S256` confirmation (base64url).

use crate::auth::{AuthMethod, Authenticated};
use crate::jose::b64;
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Where a certificate's principal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalSource {
    /// A SAN URI, such as a SPIFFE ID.
    Uri,
    /// A SAN DNS name.
    Dns,
    /// The subject common name.
    CommonName,
}

/// What a verified client certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// Who: SAN URI, else SAN DNS, else subject CN.
    pub principal: String,
    /// Which of those it was.
    pub source: PrincipalSource,
    /// SHA-256 of the certificate's DER.
    pub sha256: [u8; 32],
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// Start of validity.
    pub not_before: UnixTime,
    /// End of validity.
    pub not_after: UnixTime,
}

/// Why a certificate names no one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The DER does not parse as an X.509 certificate.
    #[error("the certificate does not parse")]
    Malformed,
    /// No SAN URI, SAN DNS name or subject CN.
    #[error("the certificate names no subject (no SAN URI, SAN DNS name or CN)")]
    NoSubject,
}

/// Reads the identity of a client certificate already verified by the TLS layer.
pub fn identity(der: &[u8]) -> Result<CertIdentity, CertError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| CertError::Malformed)?;
    if !rest.is_empty() {
        return Err(CertError::Malformed);
    }
    let (principal, source) = principal(&cert)?;
    let validity = cert.validity();
    Ok(CertIdentity {
        principal,
        source,
        sha256: Sha256::digest(der).into(),
        serial: crate::hex::encode(cert.tbs_certificate.raw_serial()),
        not_before: UnixTime::from_millis(validity.not_before.timestamp().saturating_mul(1000)),
        not_after: UnixTime::from_millis(validity.not_after.timestamp().saturating_mul(1000)),
    })
}

fn principal(cert: &X509Certificate<'_>) -> Result<(String, PrincipalSource), CertError> {
    let names = cert
        .subject_alternative_name()
        .map_err(|_| CertError::Malformed)?
        .map(|san| san.value.general_names.clone())
        .unwrap_or_default();
    let uri = names.iter().find_map(|n| match n {
        GeneralName::URI(uri) => Some(*uri),
        _ => None,
    });
    let dns = names.iter().find_map(|n| match n {
        GeneralName::DNSName(dns) => Some(*dns),
        _ => None,
    });
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    let (name, source) = match (uri, dns, cn) {
        (Some(uri), _, _) => (uri, PrincipalSource::Uri),
        (None, Some(dns), _) => (dns, PrincipalSource::Dns),
        (None, None, Some(cn)) => (cn, PrincipalSource::CommonName),
        (None, None, None) => return Err(CertError::NoSubject),
    };
    // Printable names only: the principal goes into headers and the audit trail.
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(CertError::NoSubject);
    }
    Ok((name.to_owned(), source))
}

impl CertIdentity {
    /// The fingerprint as lowercase hex: the credential id in headers and audit.
    pub fn fingerprint(&self) -> String {
        crate::hex::encode(&self.sha256)
    }

    /// The RFC 8705 `x5t#S256` confirmation value: base64url of the SHA-256.
    pub fn x5t_s256(&self) -> String {
        b64::encode(self.sha256)
    }
}

impl Authenticated {
    /// The holder of a client certificate the TLS handshake verified: the principal
    /// the certificate names, the fingerprint as credential, and `scopes` — those of an
    /// identity registered with Gatehouse, or none.
    pub fn certificate_holder(identity: &CertIdentity, scopes: ScopeSet) -> Self {
        Self::new(
            identity.principal.as_str().into(),
            identity.fingerprint().as_str().into(),
            AuthMethod::Mtls,
            scopes,
        )
    }
}

#[cfg(test)]
mod tests;
