//! The store conformance suite against a real SQLite file, a fresh one per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gatehouse_store_sqlite::SqliteStore;

/// A store in a new temporary directory, kept alive for the test process.
async fn fresh_store() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::open(&dir.join("gatehouse.db")).await.unwrap()
}

gatehouse_store::conformance_suite!(fresh_store());

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).await.unwrap();
    gatehouse_store::Store::insert_key(&store, &gatehouse_store::conformance::keys::record(7))
        .await
        .unwrap();
    store.close().await;
    let reopened = SqliteStore::open(&path).await.unwrap();
    let key = gatehouse_store::Store::key(&reopened, "key_007")
        .await
        .unwrap();
    assert_eq!(key, Some(gatehouse_store::conformance::keys::record(7)));
}
