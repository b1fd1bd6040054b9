//! Every OAuth client, in memory: the token endpoint authenticates without a database
//! round trip. Admin changes write the store first, then here.

use gatehouse_core::oauth::ClientRecord;
use gatehouse_store::Store;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// The clients, by id.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: RwLock<HashMap<String, Arc<ClientRecord>>>,
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

    /// Adds or replaces a client.
    pub fn upsert(&self, client: ClientRecord) {
        self.by_id
            .write()
            .insert(client.id.clone(), Arc::new(client));
    }

    /// Removes a client.
    pub fn remove(&self, id: &str) {
        self.by_id.write().remove(id);
    }
}
