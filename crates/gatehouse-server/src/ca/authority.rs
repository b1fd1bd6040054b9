//! The built-in certificate authority's key and certificate: created once by
//! `gatehouse ca init`, the private key sealed under the master key in the store's
//! `meta`, opened at start. It signs short-lived client certificates (client-auth EKU
//! only); leaf keys are generated here, returned once and never stored.

use crate::master_key::MasterKey;
use crate::sealed;
use anyhow::Context;
use gatehouse_core::UnixTime;
use gatehouse_core::mtls::{self, CertificateRecord, PrincipalSource};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::{Entropy, Secret};
use gatehouse_store::Store;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

/// The `meta` entry holding the CA: its certificate (PEM) and sealed PKCS#8 key (hex),
/// in one value so that the CA exists whole or not at all.
const META: &str = "ca";
/// Sealing purpose and label of the CA key (see `sealed`).
const PURPOSE: &str = "ca-key";

/// The CA as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    certificate: String,
    sealed_key: String,
}
/// The CA certificate lives ten years; its leaves a month by default.
const CA_DAYS: i64 = 3650;
/// Default and longest leaf lifetimes, in days (397: the CA/Browser Forum's cap).
pub const DEFAULT_DAYS: u32 = 30;
/// Longest leaf lifetime, in days.
pub const MAX_DAYS: u32 = 397;
/// Leaves start this long before issue, so a client whose clock is a little behind
/// can use one at once.
const BACKDATE_MS: i64 = 5 * 60 * 1000;

/// The CA, ready to sign.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA certificate, DER (a trust anchor for client certificates).
    pub cert_der: Vec<u8>,
}

/// A leaf as issued: the record to store and its private key, shown once.
pub struct Issued {
    /// What is stored and listed.
    pub record: CertificateRecord,
    /// PKCS#8 PEM of the leaf's key.
    pub private_key: Secret<String>,
}

impl Authority {
    /// The CA of `store`, if one was created.
    pub async fn load(store: &dyn Store, master: &MasterKey) -> anyhow::Result<Option<Self>> {
        let Some(text) = store.meta(META).await? else {
            return Ok(None);
        };
        let stored: Stored = serde_json::from_str(&text).context("the stored CA")?;
        let sealed = hex::decode(stored.sealed_key).context("the stored CA key is not hex")?;
        let pkcs8 = sealed::open(master, PURPOSE, META, &sealed)?;
        Self::from_parts(&stored.certificate, pkcs8.expose()).map(Some)
    }

    /// Creates the CA at `now` and stores it; `None` if one exists already (the store
    /// decides, so two racing inits cannot both win).
    pub async fn create(
        store: &dyn Store,
        master: &MasterKey,
        now: UnixTime,
    ) -> anyhow::Result<Option<Self>> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, "Gatehouse client CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = datetime(now.plus_millis(-BACKDATE_MS))?;
        params.not_after = datetime(now.plus_millis(CA_DAYS * 86_400_000))?;
        params.serial_number = Some(random_serial()?);
        let cert_pem = params.self_signed(&key)?.pem();
        let pkcs8 = Secret::new(key.serialize_der());
        let stored = Stored {
            certificate: cert_pem.clone(),
            sealed_key: hex::encode(sealed::seal(master, PURPOSE, META, pkcs8.expose())?),
        };
        let stored = serde_json::to_string(&stored)?;
        if !store.set_meta_if_absent(META, &stored).await? {
            return Ok(None);
        }
        Self::from_parts(&cert_pem, pkcs8.expose()).map(Some)
    }

    fn from_parts(cert_pem: &str, pkcs8: &[u8]) -> anyhow::Result<Self> {
        let key = KeyPair::try_from(pkcs8).context("the CA key does not parse")?;
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .context("the CA certificate is not PEM")?;
        let issuer = Issuer::from_ca_cert_der(&der, key).context("the CA certificate")?;
        let cert_der = der.to_vec();
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
            cert_der,
        })
    }

    /// Signs a client certificate for `subject` valid `days` from `now`, holding
    /// `scopes`. The subject must be one `mtls::subject_placement` accepts.
    pub fn issue(
        &self,
        subject: &str,
        days: u32,
        scopes: ScopeSet,
        now: UnixTime,
    ) -> anyhow::Result<Issued> {
        let placement = mtls::subject_placement(subject)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        match placement {
            PrincipalSource::Uri => params
                .subject_alt_names
                .push(SanType::URI(subject.try_into()?)),
            PrincipalSource::Dns => params
                .subject_alt_names
                .push(SanType::DnsName(subject.try_into()?)),
            PrincipalSource::CommonName => {}
        }
        params.distinguished_name.push(DnType::CommonName, subject);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = datetime(now.plus_millis(-BACKDATE_MS))?;
        params.not_after = datetime(now.plus_millis(i64::from(days) * 86_400_000))?;
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let read = mtls::identity(cert.der())?;
        anyhow::ensure!(
            read.principal == subject,
            "the certificate reads back differently"
        );
        Ok(Issued {
            record: CertificateRecord {
                serial: read.serial,
                principal: read.principal,
                sha256: read.sha256,
                scopes,
                not_before: read.not_before,
                not_after: read.not_after,
                issued_at: now,
                revoked_at: None,
                pem: cert.pem(),
            },
            private_key: Secret::new(key.serialize_pem()),
        })
    }
}

/// 16 random bytes, positive and without a leading zero byte, so the hex read back
/// from the certificate is the hex of these bytes.
fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    crate::entropy::OsEntropy.fill(&mut bytes)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn datetime(t: UnixTime) -> anyhow::Result<OffsetDateTime> {
    let nanos = i128::from(t.as_millis()) * 1_000_000;
    Ok(OffsetDateTime::from_unix_timestamp_nanos(nanos)?)
}
