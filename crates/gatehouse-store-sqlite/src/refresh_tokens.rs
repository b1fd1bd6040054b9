//! Queries on `refresh_tokens`.

use crate::{begin_write, unavailable};
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::KeyDigest;
use gatehouse_core::oauth::refresh::RefreshRecord;
use gatehouse_core::scope::ScopeSet;
use gatehouse_store::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

/// Columns of `refresh_tokens`, as a literal so queries stay `&'static str` (sqlx
/// refuses SQL built at run time unless audited). In [`insert`]'s bind order.
macro_rules! refresh_columns {
    () => {
        "digest, id, family_id, client_id, user_id, scopes, auth_time, issued_at, expires_at, \
         family_expires_at, access_jti, spent_at, revoked_at"
    };
}

pub async fn insert<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    t: &RefreshRecord,
) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&t.scopes)
        .map_err(|e| StoreError::Corrupt(format!("refresh_tokens.scopes: {e}")))?;
    let sql = concat!(
        "INSERT INTO refresh_tokens (",
        refresh_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    sqlx::query(sql)
        .bind(t.digest.0.as_slice())
        .bind(&t.id)
        .bind(&t.family_id)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(scopes)
        .bind(t.auth_time.as_millis())
        .bind(t.issued_at.as_millis())
        .bind(t.expires_at.as_millis())
        .bind(t.family_expires_at.as_millis())
        .bind(&t.access_jti)
        .bind(t.spent_at.map(UnixTime::as_millis))
        .bind(t.revoked_at.map(UnixTime::as_millis))
        .execute(db)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub async fn by_digest(
    pool: &SqlitePool,
    digest: &KeyDigest,
) -> Result<Option<RefreshRecord>, StoreError> {
    let sql = concat!(
        "SELECT ",
        refresh_columns!(),
        " FROM refresh_tokens WHERE digest = ?"
    );
    let row = sqlx::query(sql)
        .bind(digest.0.as_slice())
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    row.as_ref().map(from_row).transpose()
}

pub async fn rotate(
    pool: &SqlitePool,
    old: &KeyDigest,
    at: UnixTime,
    new: &RefreshRecord,
) -> Result<bool, StoreError> {
    // The conditional UPDATE is the single-winner test: under the write lock only one
    // transaction can find `old` unspent; every later one changes no row.
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query(
        "UPDATE refresh_tokens SET spent_at = ? \
         WHERE digest = ? AND spent_at IS NULL AND revoked_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(old.0.as_slice())
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    if done.rows_affected() != 1 {
        tx.rollback().await.map_err(unavailable)?;
        return Ok(false);
    }
    // A successor that cannot be stored (a taken digest or id) leaves `old` unspent:
    // the error drops the transaction, which rolls it back.
    insert(&mut *tx, new).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(true)
}

pub async fn revoke_family(
    pool: &SqlitePool,
    family_id: &str,
    at: UnixTime,
) -> Result<Vec<(String, UnixTime)>, StoreError> {
    // One transaction, so the access tokens returned are exactly those of the tokens
    // this call saw revoked.
    let mut tx = begin_write(pool).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(family_id)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    let rows = sqlx::query(
        "SELECT access_jti, issued_at FROM refresh_tokens \
         WHERE family_id = ? AND access_jti IS NOT NULL ORDER BY issued_at, id",
    )
    .bind(family_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    rows.iter().map(access_token).collect()
}

pub async fn revoke_of_user(
    pool: &SqlitePool,
    user_id: &str,
    client_id: Option<&str>,
    at: UnixTime,
) -> Result<Vec<(String, UnixTime)>, StoreError> {
    // `COALESCE(?, client_id)` matches every client when none is given, keeping one
    // static statement; `client_id` is never NULL, so the comparison always decides.
    let mut tx = begin_write(pool).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? \
         WHERE user_id = ? AND client_id = COALESCE(?, client_id) AND revoked_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(user_id)
    .bind(client_id)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    let rows = sqlx::query(
        "SELECT access_jti, issued_at FROM refresh_tokens \
         WHERE user_id = ? AND client_id = COALESCE(?, client_id) AND access_jti IS NOT NULL \
         ORDER BY issued_at, id",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    rows.iter().map(access_token).collect()
}

pub async fn prune(pool: &SqlitePool, before: UnixTime) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM refresh_tokens WHERE family_expires_at <= ?")
        .bind(before.as_millis())
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected())
}

fn access_token(row: &SqliteRow) -> Result<(String, UnixTime), StoreError> {
    let c = |e: sqlx::Error| StoreError::Corrupt(format!("refresh_tokens: {e}"));
    Ok((
        row.try_get("access_jti").map_err(c)?,
        UnixTime::from_millis(row.try_get("issued_at").map_err(c)?),
    ))
}

fn from_row(row: &SqliteRow) -> Result<RefreshRecord, StoreError> {
    let c = |e: sqlx::Error| StoreError::Corrupt(format!("refresh_tokens: {e}"));
    let time = |name: &str| row.try_get(name).map(UnixTime::from_millis).map_err(c);
    let maybe_time = |name: &str| {
        row.try_get::<Option<i64>, _>(name)
            .map(|t| t.map(UnixTime::from_millis))
            .map_err(c)
    };
    let digest: Vec<u8> = row.try_get("digest").map_err(c)?;
    let scopes: String = row.try_get("scopes").map_err(c)?;
    Ok(RefreshRecord {
        id: row.try_get("id").map_err(c)?,
        digest: KeyDigest(
            digest
                .try_into()
                .map_err(|_| StoreError::Corrupt("refresh_tokens.digest is not 32 bytes".into()))?,
        ),
        family_id: row.try_get("family_id").map_err(c)?,
        client_id: row.try_get("client_id").map_err(c)?,
        user_id: row.try_get("user_id").map_err(c)?,
        scopes: serde_json::from_str::<ScopeSet>(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("refresh_tokens.scopes: {e}")))?,
        auth_time: time("auth_time")?,
        issued_at: time("issued_at")?,
        expires_at: time("expires_at")?,
        family_expires_at: time("family_expires_at")?,
        access_jti: row.try_get("access_jti").map_err(c)?,
        spent_at: maybe_time("spent_at")?,
        revoked_at: maybe_time("revoked_at")?,
    })
}
