//! Queries on `signing_keys`.

use crate::{one_row, unavailable};
use gatehouse_core::UnixTime;
use gatehouse_store::{StoreError, StoredSigningKey};
use sqlx::{Row, SqlitePool};

pub async fn insert(pool: &SqlitePool, key: &StoredSigningKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, encrypted_key, created_at, active_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.encrypted_key)
    .bind(key.created_at.as_millis())
    .bind(key.active_at.as_millis())
    .bind(key.expires_at.map(UnixTime::as_millis))
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub async fn all(pool: &SqlitePool) -> Result<Vec<StoredSigningKey>, StoreError> {
    let rows = sqlx::query(
        "SELECT kid, alg, encrypted_key, created_at, active_at, expires_at \
         FROM signing_keys ORDER BY active_at, created_at, kid",
    )
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    rows.iter()
        .map(|row| {
            let c = |e: sqlx::Error| StoreError::Corrupt(format!("signing_keys: {e}"));
            Ok(StoredSigningKey {
                kid: row.try_get("kid").map_err(c)?,
                alg: row.try_get("alg").map_err(c)?,
                encrypted_key: row.try_get("encrypted_key").map_err(c)?,
                created_at: UnixTime::from_millis(row.try_get("created_at").map_err(c)?),
                active_at: UnixTime::from_millis(row.try_get("active_at").map_err(c)?),
                expires_at: row
                    .try_get::<Option<i64>, _>("expires_at")
                    .map_err(c)?
                    .map(UnixTime::from_millis),
            })
        })
        .collect()
}

pub async fn set_expiry(
    pool: &SqlitePool,
    kid: &str,
    expires_at: UnixTime,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE signing_keys SET expires_at = ? WHERE kid = ?")
        .bind(expires_at.as_millis())
        .bind(kid)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

pub async fn delete(pool: &SqlitePool, kid: &str) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM signing_keys WHERE kid = ?")
        .bind(kid)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}
