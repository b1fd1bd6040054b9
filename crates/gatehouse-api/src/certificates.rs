//! The built-in certificate authority and the client certificates it issues:
//! `/admin/v1/ca` and `/admin/v1/certificates` (`gatehouse:admin`). A certificate's
//! private key is returned once, when it is issued, and never stored.

use gatehouse_core::mtls::CertificateRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp::to_datetime;

/// The CA's certificate: what servers and clients trust (`GET`/`POST /admin/v1/ca`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaCertificate {
    /// PEM.
    pub certificate: String,
}

/// `POST /admin/v1/certificates`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCertificate {
    /// Who the certificate names: a SPIFFE ID (`spiffe://trust-domain/path`, put in
    /// the SAN URI), a DNS name (SAN DNS), or another name (subject CN).
    pub subject: String,
    /// Days of validity (default 30, at most 397).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// What the holder may do (the caller must hold them).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A client certificate as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Certificate {
    /// Serial number, hex: the certificate's id.
    pub serial: String,
    /// The principal it names.
    pub subject: String,
    /// SHA-256 of the DER, hex: the credential id in headers and the audit trail.
    pub fingerprint: String,
    /// What its holder may do.
    pub scopes: Vec<String>,
    /// Valid from.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub not_before: OffsetDateTime,
    /// Valid until.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub not_after: OffsetDateTime,
    /// When it was revoked, if it was.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<OffsetDateTime>,
    /// The certificate, PEM.
    pub certificate: String,
}

/// A newly issued certificate with its private key, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssuedCertificate {
    /// The certificate.
    #[serde(flatten)]
    pub certificate: Certificate,
    /// Its private key, PKCS#8 PEM. Not stored by Gatehouse.
    pub private_key: String,
    /// The CA certificate, PEM, for the chain.
    pub ca_certificate: String,
}

impl From<&CertificateRecord> for Certificate {
    fn from(c: &CertificateRecord) -> Self {
        Self {
            serial: c.serial.clone(),
            subject: c.principal.clone(),
            fingerprint: gatehouse_core::hex::encode(&c.sha256),
            scopes: c.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            not_before: to_datetime(c.not_before),
            not_after: to_datetime(c.not_after),
            revoked_at: c.revoked_at.map(to_datetime),
            certificate: c.pem.clone(),
        }
    }
}
