//! Queries on `api_keys`.

use crate::rows::{key_columns, key_from_row, to_i64};
use crate::{one_row, unavailable};
use gatehouse_core::api_key::KeyRecord;
use gatehouse_store::{StoreError, UsageUpdate};
use sqlx::{Sqlite, SqlitePool, sqlite::SqliteArguments};

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// Binds every column but `id` and `digest`, in `KEY_COLUMNS` order.
fn bind_settings<'q>(q: Query<'q>, key: &'q KeyRecord) -> Result<Query<'q>, StoreError> {
    let scopes =
        serde_json::to_string(&key.scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let metadata =
        serde_json::to_string(&key.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(q.bind(key.prefix.as_str())
        .bind(&key.start)
        .bind(&key.name)
        .bind(&key.subject)
        .bind(scopes)
        .bind(metadata)
        .bind(key.created_at.as_millis())
        .bind(key.updated_at.as_millis())
        .bind(key.expires_at.map(|t| t.as_millis()))
        .bind(key.revoked_at.map(|t| t.as_millis()))
        .bind(key.last_used_at.map(|t| t.as_millis()))
        .bind(key.enabled)
        .bind(key.rate_limit.map(|r| i64::from(r.limit.get())))
        .bind(key.rate_limit.map(|r| to_i64(r.duration_ms)))
        .bind(key.remaining.map(to_i64)))
}

pub async fn insert<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    key: &KeyRecord,
) -> Result<(), StoreError> {
    let sql = concat!(
        "INSERT INTO api_keys (",
        key_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    let q = sqlx::query(sql).bind(&key.id).bind(key.digest.0.as_slice());
    bind_settings(q, key)?
        .execute(db)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub async fn update<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    key: &KeyRecord,
) -> Result<(), StoreError> {
    let sql = "UPDATE api_keys SET prefix = ?, start = ?, name = ?, subject = ?, scopes = ?, metadata = ?, \
               created_at = ?, updated_at = ?, expires_at = ?, revoked_at = ?, last_used_at = ?, enabled = ?, \
               rate_limit = ?, rate_duration_ms = ?, remaining = ? WHERE id = ?";
    let done = bind_settings(sqlx::query(sql), key)?
        .bind(&key.id)
        .execute(db)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

pub async fn delete(pool: &SqlitePool, id: &str) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM api_keys WHERE id = ?")
        .bind(id)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

pub async fn by_id(pool: &SqlitePool, id: &str) -> Result<Option<KeyRecord>, StoreError> {
    let sql = concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = ?");
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    row.as_ref().map(key_from_row).transpose()
}

pub async fn page(
    pool: &SqlitePool,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<KeyRecord>, StoreError> {
    let sql = concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE id > ? ORDER BY id LIMIT ?"
    );
    let rows = sqlx::query(sql)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    rows.iter().map(key_from_row).collect()
}

pub async fn count(pool: &SqlitePool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
        .fetch_one(pool)
        .await
        .map_err(unavailable)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt("negative key count".into()))
}

pub async fn record_usage(pool: &SqlitePool, usage: &[UsageUpdate]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    for u in usage {
        sqlx::query("UPDATE api_keys SET last_used_at = ?, remaining = ? WHERE id = ?")
            .bind(u.last_used_at.map(|t| t.as_millis()))
            .bind(u.remaining.map(to_i64))
            .bind(&u.id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)
}
