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

/// A second connection to the store's file, to write what the store itself never would.
async fn raw(path: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_stored_before_redirect_uris_existed_reads_back_with_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).await.unwrap();
    // The row a pre-0007 server wrote: no redirect_uris column in the INSERT.
    sqlx::query(
        "INSERT INTO oauth_clients (id, name, secret_digest, auth_method, grant_types, scopes, \
         audiences, enabled, created_at, updated_at) VALUES ('cli_old', 'old', zeroblob(32), \
         'client_secret_basic', '[\"client_credentials\"]', '[]', '[]', 1, 0, 0)",
    )
    .execute(&raw(&path).await)
    .await
    .unwrap();
    let clients = gatehouse_store::Store::clients(&store).await.unwrap();
    assert_eq!(clients.len(), 1);
    assert!(clients[0].redirect_uris.is_empty());
    assert!(clients[0].resource_server_audiences.is_empty());
}

#[tokio::test]
async fn a_stored_redirect_uri_that_does_not_parse_is_corrupt_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let client = gatehouse_store::conformance::clients::native_app("cli_app");
    gatehouse_store::Store::insert_client(&store, &client)
        .await
        .unwrap();
    for bad in [
        "[\"https://app.example/cb#fragment\"]",
        "[\"http://evil.example/cb\"]",
        "[42]",
        "not json",
    ] {
        sqlx::query("UPDATE oauth_clients SET redirect_uris = ?")
            .bind(bad)
            .execute(&raw(&path).await)
            .await
            .unwrap();
        match gatehouse_store::Store::clients(&store).await {
            Err(gatehouse_store::StoreError::Corrupt(what)) => {
                assert!(
                    what.contains("oauth_clients.redirect_uris"),
                    "{bad}: {what}"
                );
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_and_shm_files_are_private_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).await.unwrap();
    // A write, so the WAL and its index exist.
    gatehouse_store::Store::insert_key(&store, &gatehouse_store::conformance::keys::record(1))
        .await
        .unwrap();
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_readable_database_left_by_an_older_version_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(mode(&path), 0o600);
}
