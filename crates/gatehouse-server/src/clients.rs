//! Every OAuth client, in memory: the token endpoint authenticates without a database
//! round trip. Admin changes write the store first, then here.

use gatehouse_core::UnixTime;
use gatehouse_core::oauth::{Assertion, CertBinding, ClientRecord};
use gatehouse_store::Store;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;

/// Client assertions remembered at most; past it, expired ones go, then new
/// assertions are refused until some expire (never forgetting a live one).
const SEEN_CAP: usize = 100_000;

/// The clients, by id, and the client assertions already used.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: RwLock<HashMap<String, Arc<ClientRecord>>>,
    /// `client id` + `jti` → the assertion's expiry (seconds).
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl Clients {
    /// Loads every client from the store.
    pub async fn load(store: &dyn Store) -> anyhow::Result<Self> {
        let clients = Self::default();
        for client in store.clients().await? {
            clients.upsert(client);
        }
        Ok(clients)
    }

    /// The client `id`.
    pub fn get(&self, id: &str) -> Option<Arc<ClientRecord>> {
        self.by_id.read().get(id).cloned()
    }

    /// Every client, by id.
    pub fn all(&self) -> Vec<Arc<ClientRecord>> {
        let mut all: Vec<_> = self.by_id.read().values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The enabled client registered by exactly the certificate with this SHA-256
    /// (hex): `tls_client_auth` by fingerprint. A scan without copying: clients are
    /// few, and this runs per request on `mtls` routes.
    pub fn by_certificate(&self, fingerprint: &str) -> Option<Arc<ClientRecord>> {
        self.by_id
            .read()
            .values()
            .find(|c| {
                c.enabled
                    && matches!(&c.tls_client_auth, Some(CertBinding::Sha256(h)) if h == fingerprint)
            })
            .cloned()
    }

    /// Adds or replaces a client.
    pub fn upsert(&self, client: ClientRecord) {
        self.by_id
            .write()
            .insert(client.id.clone(), Arc::new(client));
    }

    /// Records a client assertion; false if it was used before (a replay) or the
    /// replay memory is full of live assertions.
    pub fn first_use(&self, client_id: &str, assertion: &Assertion, now: UnixTime) -> bool {
        let now_secs = now.as_millis().div_euclid(1000);
        let mut seen = self.seen.lock();
        if seen.len() >= SEEN_CAP {
            seen.retain(|_, exp| *exp > now_secs);
            if seen.len() >= SEEN_CAP {
                return false;
            }
        }
        let key = (client_id.to_owned(), assertion.jti.clone());
        if seen.get(&key).is_some_and(|exp| *exp > now_secs) {
            return false;
        }
        seen.insert(key, assertion.exp);
        true
    }

    /// Removes a client.
    pub fn remove(&self, id: &str) {
        self.by_id.write().remove(id);
    }
}
