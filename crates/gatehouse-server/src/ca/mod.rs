//! Client certificates Gatehouse knows: those its built-in CA issued (`authority`),
//! kept in memory by fingerprint (`Certificates`) so that a handshake and every
//! request can ask at once whether a certificate is revoked and what its holder may
//! do. A revocation is stored first, then applies here: the next handshake with that
//! certificate fails, and so does the next request on a connection already open.

pub mod authority;

use crate::master_key::MasterKey;
use gatehouse_core::UnixTime;
use gatehouse_core::mtls::CertificateRecord;
use gatehouse_core::scope::ScopeSet;
use gatehouse_store::Store;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

pub use authority::Authority;

/// The CA (once created) and every certificate it issued.
pub struct Certificates {
    master: Option<MasterKey>,
    authority: RwLock<Option<Arc<Authority>>>,
    by_sha256: RwLock<HashMap<[u8; 32], Arc<CertificateRecord>>>,
}

impl Default for Certificates {
    /// None known and no CA, nor a way to create one (`gatehouse config check`).
    fn default() -> Self {
        Self {
            master: None,
            authority: RwLock::new(None),
            by_sha256: RwLock::new(HashMap::new()),
        }
    }
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("authority", &self.authority.read().is_some())
            .field("known", &self.by_sha256.read().len())
            .finish_non_exhaustive()
    }
}

/// What Gatehouse knows of a presented certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Issued here and not revoked: these scopes.
    Registered(ScopeSet),
    /// Issued here and revoked.
    Revoked,
    /// Not issued here (another CA the configuration trusts): no scopes.
    Unknown,
}

impl Certificates {
    /// The CA and the certificates of `store`; the master key opens the CA's key now
    /// and seals it when the CA is created later.
    pub async fn load(store: &dyn Store, master: &MasterKey) -> anyhow::Result<Self> {
        let authority = Authority::load(store, master).await?;
        let by_sha256 = store
            .certificates()
            .await?
            .into_iter()
            .map(|r| (r.sha256, Arc::new(r)))
            .collect();
        Ok(Self {
            master: Some(master.clone()),
            authority: RwLock::new(authority.map(Arc::new)),
            by_sha256: RwLock::new(by_sha256),
        })
    }

    /// The CA, once created.
    pub fn authority(&self) -> Option<Arc<Authority>> {
        self.authority.read().clone()
    }

    /// Creates the CA at `now`; `None` if it exists already.
    pub async fn create_authority(
        &self,
        store: &dyn Store,
        now: UnixTime,
    ) -> anyhow::Result<Option<Arc<Authority>>> {
        let master = self
            .master
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no master key to seal a CA key with"))?;
        let Some(created) = Authority::create(store, master, now).await? else {
            return Ok(None);
        };
        let created = Arc::new(created);
        *self.authority.write() = Some(Arc::clone(&created));
        Ok(Some(created))
    }

    /// The standing of the certificate with this SHA-256.
    pub fn standing(&self, sha256: &[u8; 32]) -> Standing {
        match self.by_sha256.read().get(sha256) {
            Some(record) if record.revoked_at.is_some() => Standing::Revoked,
            Some(record) => Standing::Registered(record.scopes.clone()),
            None => Standing::Unknown,
        }
    }

    /// Adds or replaces (a revocation) a record, after the store has it.
    pub fn put(&self, record: CertificateRecord) {
        self.by_sha256
            .write()
            .insert(record.sha256, Arc::new(record));
    }

    /// Every record, by serial.
    pub fn list(&self) -> Vec<Arc<CertificateRecord>> {
        let mut all: Vec<_> = self.by_sha256.read().values().cloned().collect();
        all.sort_by(|a, b| a.serial.cmp(&b.serial));
        all
    }

    /// The record with `serial`.
    pub fn by_serial(&self, serial: &str) -> Option<Arc<CertificateRecord>> {
        self.by_sha256
            .read()
            .values()
            .find(|r| r.serial == serial)
            .cloned()
    }
}
