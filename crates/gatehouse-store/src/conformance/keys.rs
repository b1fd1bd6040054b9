use crate::{Store, StoreError, UsageUpdate};
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{KeyDigest, KeyRecord, Prefix, RateLimit};
use gatehouse_core::scope::ScopeSet;

/// A fully populated record whose id sorts by `n`.
pub fn record(n: u8) -> KeyRecord {
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "team".into(),
        serde_json::json!({"name": "payments", "n": n}),
    );
    KeyRecord {
        id: format!("key_{n:03}"),
        digest: KeyDigest([n; 32]),
        prefix: Prefix::parse("live").unwrap(),
        start: format!("live_{n:04}"),
        name: format!("key {n}"),
        subject: "billing-service".into(),
        scopes: ScopeSet::parse(["orders:read", "orders:write"]).unwrap(),
        metadata,
        created_at: UnixTime::from_millis(1_700_000_000_000 + i64::from(n)),
        updated_at: UnixTime::from_millis(1_700_000_000_500),
        expires_at: Some(UnixTime::from_millis(1_800_000_000_000)),
        revoked_at: None,
        last_used_at: None,
        enabled: true,
        rate_limit: Some(RateLimit {
            limit: std::num::NonZeroU32::new(100).unwrap(),
            duration_ms: 60_000,
        }),
        remaining: Some(1000),
    }
}

pub async fn insert_then_read_back_every_field(store: &dyn Store) {
    let key = record(1);
    store.insert_key(&key).await.unwrap();
    assert_eq!(store.key(&key.id).await.unwrap(), Some(key));
    let mut bare = record(2);
    bare.expires_at = None;
    bare.rate_limit = None;
    bare.remaining = None;
    bare.metadata = serde_json::Map::new();
    bare.scopes = ScopeSet::default();
    bare.enabled = false;
    bare.revoked_at = Some(UnixTime::from_millis(5));
    bare.last_used_at = Some(UnixTime::from_millis(6));
    store.insert_key(&bare).await.unwrap();
    assert_eq!(store.key(&bare.id).await.unwrap(), Some(bare));
    assert_eq!(store.key("key_missing").await.unwrap(), None);
}

pub async fn duplicate_id_or_digest_is_a_conflict(store: &dyn Store) {
    store.insert_key(&record(1)).await.unwrap();
    let same_id = KeyRecord {
        digest: KeyDigest([9; 32]),
        ..record(1)
    };
    assert!(matches!(
        store.insert_key(&same_id).await,
        Err(StoreError::Conflict(_))
    ));
    let same_digest = KeyRecord {
        id: "key_other".into(),
        ..record(1)
    };
    assert!(matches!(
        store.insert_key(&same_digest).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn update_replaces_the_record(store: &dyn Store) {
    store.insert_key(&record(1)).await.unwrap();
    let mut changed = record(1);
    changed.name = "renamed".into();
    changed.enabled = false;
    changed.scopes = ScopeSet::parse(["orders:read"]).unwrap();
    changed.revoked_at = Some(UnixTime::from_millis(1_750_000_000_000));
    changed.rate_limit = None;
    changed.remaining = Some(3);
    store.update_key(&changed).await.unwrap();
    assert_eq!(store.key(&changed.id).await.unwrap(), Some(changed));
}

pub async fn update_of_a_missing_key_is_not_found(store: &dyn Store) {
    assert!(matches!(
        store.update_key(&record(1)).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn delete_removes_and_second_delete_is_not_found(store: &dyn Store) {
    store.insert_key(&record(1)).await.unwrap();
    store.delete_key(&record(1).id).await.unwrap();
    assert_eq!(store.key(&record(1).id).await.unwrap(), None);
    assert!(matches!(
        store.delete_key(&record(1).id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn list_pages_in_id_order(store: &dyn Store) {
    for n in [3, 1, 5, 2, 4] {
        store.insert_key(&record(n)).await.unwrap();
    }
    let first = store.list_keys(None, 2).await.unwrap();
    assert_eq!(ids(&first), ["key_001", "key_002"]);
    let second = store.list_keys(Some("key_002"), 2).await.unwrap();
    assert_eq!(ids(&second), ["key_003", "key_004"]);
    let last = store.list_keys(Some("key_004"), 2).await.unwrap();
    assert_eq!(ids(&last), ["key_005"]);
    assert!(
        store
            .list_keys(Some("key_005"), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn count_keys_counts_every_key(store: &dyn Store) {
    assert_eq!(store.count_keys().await.unwrap(), 0);
    for n in 0..50 {
        store.insert_key(&record(n)).await.unwrap();
    }
    assert_eq!(store.count_keys().await.unwrap(), 50);
    store.delete_key(&record(7).id).await.unwrap();
    assert_eq!(store.count_keys().await.unwrap(), 49);
}

pub async fn rotation_writes_both_records(store: &dyn Store) {
    store.insert_key(&record(1)).await.unwrap();
    let old = KeyRecord {
        revoked_at: Some(UnixTime::from_millis(1_700_000_100_000)),
        ..record(1)
    };
    let new = record(2);
    store.rotate_key(&old, &new).await.unwrap();
    assert_eq!(store.key(&old.id).await.unwrap(), Some(old.clone()));
    assert_eq!(store.key(&new.id).await.unwrap(), Some(new.clone()));
    // A rotation whose new key collides changes nothing.
    let clash = KeyRecord {
        name: "changed".into(),
        ..old.clone()
    };
    assert!(store.rotate_key(&clash, &new).await.is_err());
    assert_eq!(store.key(&old.id).await.unwrap(), Some(old));
}

pub async fn usage_updates_counters_and_ignores_deleted_keys(store: &dyn Store) {
    store.insert_key(&record(1)).await.unwrap();
    let used = UnixTime::from_millis(1_700_000_001_000);
    store
        .record_usage(&[
            UsageUpdate {
                id: record(1).id,
                last_used_at: Some(used),
                remaining: Some(998),
            },
            UsageUpdate {
                id: "key_gone".into(),
                last_used_at: Some(used),
                remaining: None,
            },
        ])
        .await
        .unwrap();
    let key = store.key(&record(1).id).await.unwrap().unwrap();
    assert_eq!(key.last_used_at, Some(used));
    assert_eq!(key.remaining, Some(998));
}

fn ids(keys: &[KeyRecord]) -> Vec<&str> {
    keys.iter().map(|k| k.id.as_str()).collect()
}
