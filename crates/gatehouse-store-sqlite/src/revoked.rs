//! Queries on `revoked_tokens`.

use crate::unavailable;
use gatehouse_core::UnixTime;
use gatehouse_store::StoreError;
use sqlx::{Row, SqlitePool};

pub async fn insert(pool: &SqlitePool, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(expires_at.as_millis())
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub async fn all(pool: &SqlitePool) -> Result<Vec<(String, UnixTime)>, StoreError> {
    let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens ORDER BY jti")
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    rows.iter()
        .map(|row| {
            let c = |e: sqlx::Error| StoreError::Corrupt(format!("revoked_tokens: {e}"));
            Ok((
                row.try_get("jti").map_err(c)?,
                UnixTime::from_millis(row.try_get("expires_at").map_err(c)?),
            ))
        })
        .collect()
}

pub async fn prune(pool: &SqlitePool, before: UnixTime) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?")
        .bind(before.as_millis())
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected())
}
