//! Queries on `consents`.

use crate::{one_row, unavailable};
use gatehouse_core::UnixTime;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::Consent;
use gatehouse_store::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

pub async fn put(pool: &SqlitePool, consent: &Consent) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&consent.scopes)
        .map_err(|e| StoreError::Corrupt(format!("consents.scopes: {e}")))?;
    // Every column is replaced, `granted_at` too: core carries the first approval's
    // time forward in the record it hands over.
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, scopes, granted_at, updated_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, client_id) DO UPDATE SET \
         scopes = excluded.scopes, granted_at = excluded.granted_at, \
         updated_at = excluded.updated_at",
    )
    .bind(&consent.user_id)
    .bind(&consent.client_id)
    .bind(scopes)
    .bind(consent.granted_at.as_millis())
    .bind(consent.updated_at.as_millis())
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub async fn one(
    pool: &SqlitePool,
    user_id: &str,
    client_id: &str,
) -> Result<Option<Consent>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id, client_id, scopes, granted_at, updated_at FROM consents \
         WHERE user_id = ? AND client_id = ?",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    row.as_ref().map(from_row).transpose()
}

pub async fn of_user(pool: &SqlitePool, user_id: &str) -> Result<Vec<Consent>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id, client_id, scopes, granted_at, updated_at FROM consents \
         WHERE user_id = ? ORDER BY client_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    rows.iter().map(from_row).collect()
}

pub async fn delete(pool: &SqlitePool, user_id: &str, client_id: &str) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM consents WHERE user_id = ? AND client_id = ?")
        .bind(user_id)
        .bind(client_id)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

fn from_row(row: &SqliteRow) -> Result<Consent, StoreError> {
    let c = |e: sqlx::Error| StoreError::Corrupt(format!("consents: {e}"));
    let scopes: String = row.try_get("scopes").map_err(c)?;
    Ok(Consent {
        user_id: row.try_get("user_id").map_err(c)?,
        client_id: row.try_get("client_id").map_err(c)?,
        scopes: serde_json::from_str::<ScopeSet>(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("consents.scopes: {e}")))?,
        granted_at: UnixTime::from_millis(row.try_get("granted_at").map_err(c)?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at").map_err(c)?),
    })
}
