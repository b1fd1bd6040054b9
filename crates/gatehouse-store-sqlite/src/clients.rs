//! Queries on `oauth_clients`.

use crate::{one_row, unavailable};
use gatehouse_core::UnixTime;
use gatehouse_core::oauth::{ClientAuthMethod, ClientRecord, GrantType, RedirectUri, SecretDigest};
use gatehouse_core::scope::ScopeSet;
use gatehouse_store::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

pub async fn insert(pool: &SqlitePool, c: &ClientRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_clients (id, name, secret_digest, auth_method, grant_types, scopes, \
         audiences, resource_server_audiences, access_ttl_secs, jwks, redirect_uris, \
         tls_client_auth, enabled, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.secret_digest.0[..])
    .bind(c.auth_method.as_str())
    .bind(grants_json(c))
    .bind(scopes_json(&c.scopes))
    .bind(json(c.audiences.iter().map(String::as_str)))
    .bind(json(c.resource_server_audiences.iter().map(String::as_str)))
    .bind(c.access_ttl_secs.map(i64::from))
    .bind(jwks_json(c))
    .bind(redirect_uris_json(c))
    .bind(binding_json(c))
    .bind(c.enabled)
    .bind(c.created_at.as_millis())
    .bind(c.updated_at.as_millis())
    .execute(pool)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub async fn update(pool: &SqlitePool, c: &ClientRecord) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE oauth_clients SET name = ?, secret_digest = ?, auth_method = ?, grant_types = ?, \
         scopes = ?, audiences = ?, resource_server_audiences = ?, access_ttl_secs = ?, \
         jwks = ?, redirect_uris = ?, tls_client_auth = ?, enabled = ?, updated_at = ? \
         WHERE id = ?",
    )
    .bind(&c.name)
    .bind(&c.secret_digest.0[..])
    .bind(c.auth_method.as_str())
    .bind(grants_json(c))
    .bind(scopes_json(&c.scopes))
    .bind(json(c.audiences.iter().map(String::as_str)))
    .bind(json(c.resource_server_audiences.iter().map(String::as_str)))
    .bind(c.access_ttl_secs.map(i64::from))
    .bind(jwks_json(c))
    .bind(redirect_uris_json(c))
    .bind(binding_json(c))
    .bind(c.enabled)
    .bind(c.updated_at.as_millis())
    .bind(&c.id)
    .execute(pool)
    .await
    .map_err(unavailable)?;
    one_row(&done)
}

pub async fn delete<'e>(db: impl sqlx::SqliteExecutor<'e>, id: &str) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM oauth_clients WHERE id = ?")
        .bind(id)
        .execute(db)
        .await
        .map_err(unavailable)?;
    one_row(&done)
}

pub async fn all(pool: &SqlitePool) -> Result<Vec<ClientRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, secret_digest, auth_method, grant_types, scopes, audiences, \
         resource_server_audiences, access_ttl_secs, jwks, redirect_uris, tls_client_auth, \
         enabled, created_at, updated_at FROM oauth_clients ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &SqliteRow) -> Result<ClientRecord, StoreError> {
    let c = |e: sqlx::Error| StoreError::Corrupt(format!("oauth_clients: {e}"));
    let corrupt = |what: &str| StoreError::Corrupt(format!("oauth_clients.{what}"));
    let digest: Vec<u8> = row.try_get("secret_digest").map_err(c)?;
    let method: String = row.try_get("auth_method").map_err(c)?;
    let grants = parse(row.try_get("grant_types").map_err(c)?, "grant_types")?;
    let scopes = parse(row.try_get("scopes").map_err(c)?, "scopes")?;
    let redirect_uris = parse(row.try_get("redirect_uris").map_err(c)?, "redirect_uris")?;
    Ok(ClientRecord {
        id: row.try_get("id").map_err(c)?,
        name: row.try_get("name").map_err(c)?,
        secret_digest: SecretDigest(digest.try_into().map_err(|_| corrupt("secret_digest"))?),
        auth_method: ClientAuthMethod::from_name(&method).ok_or_else(|| corrupt("auth_method"))?,
        grant_types: grants
            .iter()
            .map(|g| GrantType::from_name(g).ok_or_else(|| corrupt("grant_types")))
            .collect::<Result<_, _>>()?,
        scopes: ScopeSet::parse(scopes.iter().map(String::as_str))
            .map_err(|_| corrupt("scopes"))?,
        audiences: parse(row.try_get("audiences").map_err(c)?, "audiences")?,
        resource_server_audiences: parse(
            row.try_get("resource_server_audiences").map_err(c)?,
            "resource_server_audiences",
        )?,
        access_ttl_secs: row
            .try_get::<Option<i64>, _>("access_ttl_secs")
            .map_err(c)?
            .map(u32::try_from)
            .transpose()
            .map_err(|_| corrupt("access_ttl_secs"))?,
        jwks: row
            .try_get::<Option<String>, _>("jwks")
            .map_err(c)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("oauth_clients.jwks: {e}")))?,
        // Every stored URI parsed when it was registered; one that no longer does
        // must not be redirected to, so the row is corrupt rather than skipped.
        redirect_uris: redirect_uris
            .iter()
            .map(|u| {
                RedirectUri::parse(u)
                    .map_err(|e| StoreError::Corrupt(format!("oauth_clients.redirect_uris: {e}")))
            })
            .collect::<Result<_, _>>()?,
        tls_client_auth: row
            .try_get::<Option<String>, _>("tls_client_auth")
            .map_err(c)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("oauth_clients.tls_client_auth: {e}")))?,
        enabled: row.try_get("enabled").map_err(c)?,
        created_at: UnixTime::from_millis(row.try_get("created_at").map_err(c)?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at").map_err(c)?),
    })
}

fn jwks_json(c: &ClientRecord) -> Option<String> {
    c.jwks
        .as_ref()
        .and_then(|set| serde_json::to_string(set).ok())
}

fn binding_json(c: &ClientRecord) -> Option<String> {
    c.tls_client_auth
        .as_ref()
        .and_then(|b| serde_json::to_string(b).ok())
}

fn redirect_uris_json(c: &ClientRecord) -> String {
    json(c.redirect_uris.iter().map(RedirectUri::as_str))
}

fn grants_json(c: &ClientRecord) -> String {
    json(c.grant_types.iter().map(|g| g.as_str()))
}

fn scopes_json(scopes: &ScopeSet) -> String {
    json(scopes.iter().map(|s| s.as_str()))
}

fn json<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items = items
        .into_iter()
        .map(|s| serde_json::Value::String(s.to_owned()));
    serde_json::Value::Array(items.collect()).to_string()
}

fn parse(text: String, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("oauth_clients.{what}: {e}")))
}
