use crate::{Store, StoreError, StoredSigningKey};
use gatehouse_core::UnixTime;

fn key(kid: &str, active_at: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        encrypted_key: vec![0, 1, 2, 255, kid.len() as u8],
        created_at: UnixTime::from_millis(active_at - 3_600_000),
        active_at: UnixTime::from_millis(active_at),
        expires_at: None,
    }
}

pub async fn signing_keys_read_back_in_activation_order(store: &dyn Store) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    let newer = key("newer", 1_800_000_000_000);
    let older = key("older", 1_700_000_000_000);
    store.insert_signing_key(&newer).await.unwrap();
    store.insert_signing_key(&older).await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap(), vec![older, newer]);
}

pub async fn duplicate_signing_key_is_a_conflict(store: &dyn Store) {
    store.insert_signing_key(&key("k", 1)).await.unwrap();
    assert!(matches!(
        store.insert_signing_key(&key("k", 2)).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn signing_key_expiry_and_delete(store: &dyn Store) {
    store.insert_signing_key(&key("k", 1)).await.unwrap();
    let at = UnixTime::from_millis(1_900_000_000_000);
    store.set_signing_key_expiry("k", at).await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap()[0].expires_at, Some(at));
    assert!(matches!(
        store.set_signing_key_expiry("missing", at).await,
        Err(StoreError::NotFound)
    ));
    store.delete_signing_key("k").await.unwrap();
    assert!(store.signing_keys().await.unwrap().is_empty());
    assert!(matches!(
        store.delete_signing_key("k").await,
        Err(StoreError::NotFound)
    ));
}
