//! Queries on `certificates`.

use crate::{one_row, unavailable};
use gatehouse_core::UnixTime;
use gatehouse_core::mtls::CertificateRecord;
use gatehouse_core::scope::ScopeSet;
use gatehouse_store::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

/// Columns of `certificates`, as a literal so queries stay `&'static str` (sqlx
/// refuses SQL built at run time unless audited). In [`insert`]'s bind order.
macro_rules! certificate_columns {
    () => {
        "serial, principal, sha256, scopes, not_before, not_after, issued_at, revoked_at, pem"
    };
}

pub async fn insert(pool: &SqlitePool, cert: &CertificateRecord) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&cert.scopes)
        .map_err(|e| StoreError::Corrupt(format!("certificates.scopes: {e}")))?;
    // A taken serial or fingerprint fails on its UNIQUE index and becomes a conflict:
    // two certificates with one fingerprint would make the handshake's lookup ambiguous.
    let sql = concat!(
        "INSERT INTO certificates (",
        certificate_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    sqlx::query(sql)
        .bind(&cert.serial)
        .bind(&cert.principal)
        .bind(cert.sha256.as_slice())
        .bind(scopes)
        .bind(cert.not_before.as_millis())
        .bind(cert.not_after.as_millis())
        .bind(cert.issued_at.as_millis())
        .bind(cert.revoked_at.map(UnixTime::as_millis))
        .bind(&cert.pem)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub async fn all(pool: &SqlitePool) -> Result<Vec<CertificateRecord>, StoreError> {
    let sql = concat!(
        "SELECT ",
        certificate_columns!(),
        " FROM certificates ORDER BY serial"
    );
    let rows = sqlx::query(sql)
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    rows.iter().map(from_row).collect()
}

pub async fn revoke(pool: &SqlitePool, serial: &str, at: UnixTime) -> Result<(), StoreError> {
    // `COALESCE` keeps the first revocation's time but still matches the row, so
    // revoking twice succeeds and only an unknown serial changes no row.
    let done = sqlx::query(
        "UPDATE certificates SET revoked_at = COALESCE(revoked_at, ?) WHERE serial = ?",
    )
    .bind(at.as_millis())
    .bind(serial)
    .execute(pool)
    .await
    .map_err(unavailable)?;
    one_row(&done)
}

fn from_row(row: &SqliteRow) -> Result<CertificateRecord, StoreError> {
    let c = |e: sqlx::Error| StoreError::Corrupt(format!("certificates: {e}"));
    let time = |name: &str| row.try_get(name).map(UnixTime::from_millis).map_err(c);
    let sha256: Vec<u8> = row.try_get("sha256").map_err(c)?;
    let scopes: String = row.try_get("scopes").map_err(c)?;
    Ok(CertificateRecord {
        serial: row.try_get("serial").map_err(c)?,
        principal: row.try_get("principal").map_err(c)?,
        sha256: sha256
            .try_into()
            .map_err(|_| StoreError::Corrupt("certificates.sha256 is not 32 bytes".into()))?,
        scopes: serde_json::from_str::<ScopeSet>(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("certificates.scopes: {e}")))?,
        not_before: time("not_before")?,
        not_after: time("not_after")?,
        issued_at: time("issued_at")?,
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")
            .map_err(c)?
            .map(UnixTime::from_millis),
        pem: row.try_get("pem").map_err(c)?,
    })
}
