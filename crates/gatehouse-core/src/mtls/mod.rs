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
    // Displayable names only: the principal goes into headers and the audit trail.
    if name.is_empty() || crate::display_text::check(name).is_err() {
        return Err(CertError::NoSubject);
    }
    Ok((name.to_owned(), source))
}

/// A client certificate issued by Gatehouse's built-in CA, or registered by
/// fingerprint: an identity with scopes, revocable at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Serial number, lowercase hex: the certificate's id in the API and CLI.
    pub serial: String,
    /// The principal it names (as [`identity`] reads it).
    pub principal: String,
    /// SHA-256 of the DER.
    pub sha256: [u8; 32],
    /// What its holder may do.
    pub scopes: ScopeSet,
    /// Start of validity.
    pub not_before: UnixTime,
    /// End of validity.
    pub not_after: UnixTime,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When it was revoked; refused from then on, in the handshake and per request.
    pub revoked_at: Option<UnixTime>,
    /// The certificate itself, PEM (public).
    pub pem: String,
}

/// Longest subject accepted for a certificate the built-in CA issues, in bytes.
pub const MAX_SUBJECT: usize = 255;

/// Where a subject asked of the built-in CA goes: a SPIFFE ID (`spiffe://` + trust
/// domain + path) in the SAN URI, a DNS name in the SAN DNS, any other printable name
/// in the subject CN — so that [`identity`] reads back exactly `subject`.
pub fn subject_placement(subject: &str) -> Result<PrincipalSource, CertError> {
    let printable = !subject.is_empty()
        && subject.len() <= MAX_SUBJECT
        && subject.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && !subject.starts_with(' ')
        && !subject.ends_with(' ');
    if !printable {
        return Err(CertError::NoSubject);
    }
    if let Some(rest) = subject.strip_prefix("spiffe://") {
        let (domain, path) = rest.split_once('/').unwrap_or((rest, ""));
        let domain_ok = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        let path_ok = path.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        }) || path.is_empty();
        return if domain_ok && path_ok {
            Ok(PrincipalSource::Uri)
        } else {
            Err(CertError::NoSubject)
        };
    }
    let dns = subject.contains('.')
        && subject.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    Ok(if dns {
        PrincipalSource::Dns
    } else {
        PrincipalSource::CommonName
    })
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
