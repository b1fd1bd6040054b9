//! First start: create the admin key, once.

use crate::state::AppState;
use gatehouse_core::api_key::{ApiKey, KeyRecord, Prefix};
use gatehouse_core::scope::{ADMIN, ScopeSet};
use gatehouse_core::{UnixTime, id};
use gatehouse_store::Store;

const BOOTSTRAPPED: &str = "bootstrapped_at";

/// Creates the admin key if this store has never been bootstrapped, and returns it.
/// The caller prints it once; only its digest is stored.
pub async fn admin_key_if_new(
    store: &dyn Store,
    prefix: &Prefix,
    now: UnixTime,
) -> anyhow::Result<Option<(ApiKey, KeyRecord)>> {
    if store.meta(BOOTSTRAPPED).await?.is_some() {
        return Ok(None);
    }
    let mut entropy = crate::entropy::OsEntropy;
    let key = ApiKey::generate(prefix, &mut entropy)?;
    let record = KeyRecord::new(
        id::generate("key", now, &mut entropy)?,
        &key,
        "bootstrap admin".into(),
        "admin".into(),
        ScopeSet::parse([ADMIN])?,
        now,
    );
    // The key is stored before the flag: a crash in between leaves an unused key and a
    // retry on next start, never a bootstrapped store without an admin key.
    store.insert_key(&record).await?;
    if !store
        .set_meta_if_absent(BOOTSTRAPPED, &now.as_millis().to_string())
        .await?
    {
        store.delete_key(&record.id).await?;
        return Ok(None);
    }
    Ok(Some((key, record)))
}

/// Records the bootstrap in the audit trail.
pub async fn audit_bootstrap(state: &AppState, record: &KeyRecord) {
    let event = state.system_event("key.create", "bootstrap", &record.id);
    state.audit.record(event).await;
}
