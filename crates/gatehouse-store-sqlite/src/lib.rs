//! The embedded SQLite store, Gatehouse's default backend.
//!
//! One database file in WAL mode, migrated at open. Queries are checked at run time
//! (no build-time database), rows are mapped to core's domain types in `rows.rs`, and
//! the behaviour is pinned by `gatehouse-store`'s conformance suite (`tests/it`).
//!
//! Start at [`SqliteStore::open`].

mod audit;
mod certificates;
mod clients;
mod consents;
mod keys;
mod migrate;
mod refresh_tokens;
mod revoked;
mod rows;
mod signing_keys;
mod users;

use async_trait::async_trait;
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{KeyDigest, KeyRecord};
use gatehouse_core::audit::{AuditEvent, ChainHash};
use gatehouse_core::mtls::CertificateRecord;
use gatehouse_core::oauth::ClientRecord;
use gatehouse_core::oauth::refresh::RefreshRecord;
use gatehouse_core::user::{Consent, UserRecord, Username};
use gatehouse_store::{AuditQuery, Pruned, Store, StoreError, StoredSigningKey, UsageUpdate};
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// A Gatehouse store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The audit writer's own connection, with a larger page cache: appending big
    /// batches touches the tails of the table and its four indexes, and at a million
    /// keys loaded the other connections' caches would cost memory for nothing.
    audit_pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    ///
    /// The file is private to the server's user (mode 0600), created so before
    /// SQLite opens it, and tightened if an older version left it readable: it holds
    /// password hashes, sealed keys and the audit trail. SQLite gives the `-wal` and
    /// `-shm` files it creates the database file's mode; any left from before are
    /// tightened too.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        private_files(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot make {} private: {e}", path.display()))
        })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a commit survives a process crash; a power loss may lose the
            // last transactions, which the audit trail's one-second bound allows.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // A multi-row INSERT keeps a statement journal; in a temp file it was a
            // quarter of the audit writer's time.
            .pragma("temp_store", "MEMORY")
            // Checkpoint every 40 MB of WAL instead of 4: fewer copies of the same hot
            // pages (`cargo bench -p gatehouse-bench --bench audit`: +10%).
            .pragma("wal_autocheckpoint", "10000");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(unavailable)?;
        migrate::run(&pool).await?;
        // 8 MB of cache instead of 2: 1024-event batches append 1.3x faster.
        let audit_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.pragma("cache_size", "-8000"))
            .await
            .map_err(unavailable)?;
        Ok(Self { pool, audit_pool })
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.audit_pool.close().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn set_meta_if_absent(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_meta(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        keys::insert(&self.pool, key).await
    }

    async fn update_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        keys::update(&self.pool, key).await
    }

    async fn rotate_key(&self, old: &KeyRecord, new: &KeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        keys::update(&mut *tx, old).await?;
        keys::insert(&mut *tx, new).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn delete_key(&self, id: &str) -> Result<(), StoreError> {
        keys::delete(&self.pool, id).await
    }

    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        keys::by_id(&self.pool, id).await
    }

    async fn list_keys(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        keys::page(&self.pool, after, limit).await
    }

    async fn count_keys(&self) -> Result<u64, StoreError> {
        keys::count(&self.pool).await
    }

    async fn record_usage(&self, usage: &[UsageUpdate]) -> Result<(), StoreError> {
        keys::record_usage(&self.pool, usage).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        audit::append(&self.audit_pool, events).await
    }

    async fn audit_head(&self) -> Result<Option<(u64, ChainHash)>, StoreError> {
        audit::head(&self.pool).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        audit::query(&self.pool, query).await
    }

    async fn prune_audit(&self, before: UnixTime) -> Result<Pruned, StoreError> {
        audit::prune(&self.pool, before).await
    }

    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        signing_keys::insert(&self.pool, key).await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        signing_keys::all(&self.pool).await
    }

    async fn set_signing_key_expiry(
        &self,
        kid: &str,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        signing_keys::set_expiry(&self.pool, kid, expires_at).await
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        signing_keys::delete(&self.pool, kid).await
    }

    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        clients::insert(&self.pool, client).await
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        clients::update(&self.pool, client).await
    }

    async fn delete_client(&self, id: &str) -> Result<(), StoreError> {
        // What the client was granted goes with it, so a client registered later with
        // the same id inherits no consent and no refresh token.
        let mut tx = begin_write(&self.pool).await?;
        clients::delete(&mut *tx, id).await?;
        for sql in [
            "DELETE FROM consents WHERE client_id = ?",
            "DELETE FROM refresh_tokens WHERE client_id = ?",
        ] {
            let query = sqlx::query(sql).bind(id);
            query.execute(&mut *tx).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        clients::all(&self.pool).await
    }

    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        users::insert(&self.pool, user).await
    }

    async fn update_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        users::update(&self.pool, user).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        // Likewise for a user: an account given the same id later starts afresh.
        let mut tx = begin_write(&self.pool).await?;
        users::delete(&mut *tx, id).await?;
        for sql in [
            "DELETE FROM consents WHERE user_id = ?",
            "DELETE FROM refresh_tokens WHERE user_id = ?",
        ] {
            let query = sqlx::query(sql).bind(id);
            query.execute(&mut *tx).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        users::by_id(&self.pool, id).await
    }

    async fn user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<UserRecord>, StoreError> {
        users::by_username(&self.pool, username).await
    }

    async fn list_users(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError> {
        users::page(&self.pool, after, limit).await
    }

    async fn insert_refresh_token(&self, token: &RefreshRecord) -> Result<(), StoreError> {
        refresh_tokens::insert(&self.pool, token).await
    }

    async fn refresh_token(&self, digest: &KeyDigest) -> Result<Option<RefreshRecord>, StoreError> {
        refresh_tokens::by_digest(&self.pool, digest).await
    }

    async fn rotate_refresh_token(
        &self,
        old: &KeyDigest,
        at: UnixTime,
        new: &RefreshRecord,
    ) -> Result<bool, StoreError> {
        refresh_tokens::rotate(&self.pool, old, at, new).await
    }

    async fn revoke_refresh_family(
        &self,
        family_id: &str,
        at: UnixTime,
    ) -> Result<Vec<(String, UnixTime)>, StoreError> {
        refresh_tokens::revoke_family(&self.pool, family_id, at).await
    }

    async fn revoke_user_refresh_tokens(
        &self,
        user_id: &str,
        client_id: Option<&str>,
        at: UnixTime,
    ) -> Result<Vec<(String, UnixTime)>, StoreError> {
        refresh_tokens::revoke_of_user(&self.pool, user_id, client_id, at).await
    }

    async fn prune_refresh_tokens(&self, before: UnixTime) -> Result<u64, StoreError> {
        refresh_tokens::prune(&self.pool, before).await
    }

    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        consents::put(&self.pool, consent).await
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<Consent>, StoreError> {
        consents::one(&self.pool, user_id, client_id).await
    }

    async fn consents(&self, user_id: &str) -> Result<Vec<Consent>, StoreError> {
        consents::of_user(&self.pool, user_id).await
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<(), StoreError> {
        consents::delete(&self.pool, user_id, client_id).await
    }

    async fn insert_certificate(&self, cert: &CertificateRecord) -> Result<(), StoreError> {
        certificates::insert(&self.pool, cert).await
    }

    async fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        certificates::all(&self.pool).await
    }

    async fn revoke_certificate(&self, serial: &str, at: UnixTime) -> Result<(), StoreError> {
        certificates::revoke(&self.pool, serial, at).await
    }

    async fn revoke_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        revoked::insert(&self.pool, jti, expires_at).await
    }

    async fn revoked_tokens(&self) -> Result<Vec<(String, UnixTime)>, StoreError> {
        revoked::all(&self.pool).await
    }

    async fn prune_revoked_tokens(&self, before: UnixTime) -> Result<u64, StoreError> {
        revoked::prune(&self.pool, before).await
    }
}

/// Begins a transaction that takes the write lock at once, waiting its turn under
/// `busy_timeout`. A deferred transaction that reads before it writes cannot wait: if
/// another connection commits in between, its snapshot is stale and SQLite fails it
/// with SQLITE_BUSY at once, busy timeout or not.
async fn begin_write(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(unavailable)
}

/// A write that must have hit exactly one row: none means the record does not exist.
fn one_row(done: &sqlx::sqlite::SqliteQueryResult) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Creates the database file with mode 0600 if it does not exist, and sets 0600 on it
/// and on its `-wal` and `-shm` files if they do.
#[cfg(unix)]
fn private_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // An empty file is a valid new database for SQLite.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let mut companions = [path.as_os_str().to_owned(), path.as_os_str().to_owned()];
    companions[0].push("-wal");
    companions[1].push("-shm");
    for file in std::iter::once(path.as_os_str()).chain(companions.iter().map(|c| c.as_os_str())) {
        match std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_files(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Maps a database error: constraint violations are conflicts, the rest unavailability.
fn unavailable(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}
