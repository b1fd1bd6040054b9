//! Queries on `users`.

use crate::{one_row, unavailable};
use gatehouse_core::UnixTime;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::{UserRecord, Username};
use gatehouse_store::StoreError;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, Sqlite, SqlitePool};

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// Columns of `users`, as a literal so queries stay `&'static str` (sqlx refuses SQL
/// built at run time unless audited). `id` first; the rest in [`bind_fields`] order.
macro_rules! user_columns {
    () => {
        "id, username, display_name, email, password_hash, scopes, enabled, created_at, \
         updated_at, password_changed_at"
    };
}

/// Binds every column but `id`, in [`user_columns`] order.
fn bind_fields<'q>(q: Query<'q>, user: &'q UserRecord) -> Result<Query<'q>, StoreError> {
    let scopes = serde_json::to_string(&user.scopes)
        .map_err(|e| StoreError::Corrupt(format!("users.scopes: {e}")))?;
    Ok(q.bind(user.username.as_str())
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(scopes)
        .bind(user.enabled)
        .bind(user.created_at.as_millis())
        .bind(user.updated_at.as_millis())
        .bind(user.password_changed_at.map(UnixTime::as_millis)))
}

pub async fn insert(pool: &SqlitePool, user: &UserRecord) -> Result<(), StoreError> {
    let sql = concat!(
        "INSERT INTO users (",
        user_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    let q = sqlx::query(sql).bind(&user.id);
    bind_fields(q, user)?
        .execute(pool)
        .await
        .map_err(unavailable)?;
    Ok(())
}

pub async fn update(pool: &SqlitePool, user: &UserRecord) -> Result<(), StoreError> {
    // Every column: the record replaces the stored one, as the trait promises. Taking a
    // username another user holds fails on the UNIQUE index and becomes a conflict.
    let sql = "UPDATE users SET username = ?, display_name = ?, email = ?, password_hash = ?, \
               scopes = ?, enabled = ?, created_at = ?, updated_at = ?, password_changed_at = ? \
               WHERE id = ?";
    let done = bind_fields(sqlx::query(sql), user)?
        .bind(&user.id)
        .execute(pool)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

pub async fn delete<'e>(db: impl sqlx::SqliteExecutor<'e>, id: &str) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id)
        .execute(db)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

pub async fn by_id(pool: &SqlitePool, id: &str) -> Result<Option<UserRecord>, StoreError> {
    let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?");
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_username(
    pool: &SqlitePool,
    username: &Username,
) -> Result<Option<UserRecord>, StoreError> {
    let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE username = ?");
    let row = sqlx::query(sql)
        .bind(username.as_str())
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    row.as_ref().map(from_row).transpose()
}

pub async fn page(
    pool: &SqlitePool,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<UserRecord>, StoreError> {
    // Every id sorts after "", so no cursor means the first page.
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id > ? ORDER BY id LIMIT ?"
    );
    let rows = sqlx::query(sql)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(unavailable)?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    let c = |e: sqlx::Error| StoreError::Corrupt(format!("users: {e}"));
    let username: String = row.try_get("username").map_err(c)?;
    let scopes: String = row.try_get("scopes").map_err(c)?;
    Ok(UserRecord {
        id: row.try_get("id").map_err(c)?,
        username: stored_username(&username)?,
        display_name: row.try_get("display_name").map_err(c)?,
        email: row.try_get("email").map_err(c)?,
        password_hash: row.try_get("password_hash").map_err(c)?,
        scopes: serde_json::from_str::<ScopeSet>(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("users.scopes: {e}")))?,
        enabled: row.try_get("enabled").map_err(c)?,
        created_at: UnixTime::from_millis(row.try_get("created_at").map_err(c)?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at").map_err(c)?),
        password_changed_at: row
            .try_get::<Option<i64>, _>("password_changed_at")
            .map_err(c)?
            .map(UnixTime::from_millis),
    })
}

/// Reads a stored username, which must already be in core's folded form: `Alice` in
/// the table would be a second account beside `alice` that no lookup could reach.
fn stored_username(text: &str) -> Result<Username, StoreError> {
    Username::parse(text)
        .ok()
        .filter(|u| u.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt("users.username".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    /// A store with one raw row written past the domain types, as a bad migration or a
    /// hand edit could leave it.
    async fn store_with_row(username: &str, scopes: &str) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gatehouse.db"))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO users (id, username, scopes, enabled, created_at, updated_at) \
             VALUES ('usr_0001', ?, ?, 1, 1, 1)",
        )
        .bind(username)
        .bind(scopes)
        .execute(&store.pool)
        .await
        .unwrap();
        (dir, store)
    }

    async fn corruption(store: &SqliteStore) -> String {
        match by_id(&store.pool, "usr_0001").await {
            Err(StoreError::Corrupt(what)) => what,
            other => panic!("expected corrupt, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_username_that_does_not_parse_is_corrupt() {
        for bad in ["bad name", "Alice"] {
            let (_dir, store) = store_with_row(bad, r#"["openid"]"#).await;
            assert!(corruption(&store).await.contains("users.username"), "{bad}");
        }
    }

    #[tokio::test]
    async fn scopes_that_do_not_parse_are_corrupt() {
        for bad in ["openid profile", r#"["bad scope"]"#] {
            let (_dir, store) = store_with_row("alice", bad).await;
            assert!(corruption(&store).await.contains("users.scopes"), "{bad}");
        }
    }
}
