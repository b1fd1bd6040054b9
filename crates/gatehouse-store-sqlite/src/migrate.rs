//! Schema migrations, embedded in the binary and applied in order at open.

use crate::unavailable;
use gatehouse_store::StoreError;
use sqlx::SqlitePool;

/// Every migration, in order. Never edit one that has shipped; add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_signing_keys.sql")),
    (3, include_str!("../migrations/0003_oauth_clients.sql")),
    (4, include_str!("../migrations/0004_revoked_tokens.sql")),
    (5, include_str!("../migrations/0005_audit_latency.sql")),
    (6, include_str!("../migrations/0006_users.sql")),
    (
        7,
        include_str!("../migrations/0007_client_redirect_uris.sql"),
    ),
    (
        8,
        include_str!("../migrations/0008_refresh_tokens_and_consents.sql"),
    ),
    (9, include_str!("../migrations/0009_certificates.sql")),
    (
        10,
        include_str!("../migrations/0010_client_tls_binding.sql"),
    ),
    (
        11,
        include_str!("../migrations/0011_client_resource_server_audiences.sql"),
    ),
];

/// Applies the migrations the database has not seen, each in its own transaction.
pub async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(unavailable)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    if let Some(newest) = applied.iter().max()
        && *newest > MIGRATIONS.len() as i64
    {
        return Err(StoreError::Corrupt(format!(
            "the database is at schema version {newest}, newer than this binary knows"
        )));
    }
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let mut tx = pool.begin().await.map_err(unavailable)?;
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        tracing::info!(version, "applied store migration");
    }
    Ok(())
}
