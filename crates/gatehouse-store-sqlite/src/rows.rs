//! Conversions between SQLite rows and core's domain types.

use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{KeyDigest, KeyRecord, Prefix, RateLimit};
use gatehouse_core::audit::{AuditEvent, ChainHash, EventBody, Outcome};
use gatehouse_core::scope::ScopeSet;
use gatehouse_store::StoreError;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// Columns of `api_keys`, as a literal so queries stay `&'static str` (sqlx refuses
/// SQL built at run time unless audited).
macro_rules! key_columns {
    () => {
        "id, digest, prefix, start, name, subject, scopes, metadata, created_at, updated_at, \
         expires_at, revoked_at, last_used_at, enabled, rate_limit, rate_duration_ms, remaining"
    };
}
pub(crate) use key_columns;

/// Columns of `audit_events`, as a literal (see [`key_columns`]).
macro_rules! event_columns {
    () => {
        "seq, time, request_id, action, outcome, reason, principal, credential_id, auth_method, \
         target, route, method, path, status, client_ip, latency_us, prev_hash, hash"
    };
}
pub(crate) use event_columns;

fn corrupt(what: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn time(v: Option<i64>) -> Option<UnixTime> {
    v.map(UnixTime::from_millis)
}

/// Reads an `api_keys` row.
pub fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    let c = corrupt("api_keys");
    let digest: Vec<u8> = row.try_get("digest").map_err(&c)?;
    let digest: [u8; 32] = digest
        .try_into()
        .map_err(|_| StoreError::Corrupt("api_keys.digest is not 32 bytes".into()))?;
    let prefix: String = row.try_get("prefix").map_err(&c)?;
    let scopes: String = row.try_get("scopes").map_err(&c)?;
    let metadata: String = row.try_get("metadata").map_err(&c)?;
    let rate_limit: Option<i64> = row.try_get("rate_limit").map_err(&c)?;
    let rate_duration: Option<i64> = row.try_get("rate_duration_ms").map_err(&c)?;
    let remaining: Option<i64> = row.try_get("remaining").map_err(&c)?;
    Ok(KeyRecord {
        id: row.try_get("id").map_err(&c)?,
        digest: KeyDigest(digest),
        prefix: Prefix::parse(&prefix)
            .map_err(|e| StoreError::Corrupt(format!("api_keys.prefix: {e}")))?,
        start: row.try_get("start").map_err(&c)?,
        name: row.try_get("name").map_err(&c)?,
        subject: row.try_get("subject").map_err(&c)?,
        scopes: serde_json::from_str::<ScopeSet>(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("api_keys.scopes: {e}")))?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| StoreError::Corrupt(format!("api_keys.metadata: {e}")))?,
        created_at: UnixTime::from_millis(row.try_get("created_at").map_err(&c)?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at").map_err(&c)?),
        expires_at: time(row.try_get("expires_at").map_err(&c)?),
        revoked_at: time(row.try_get("revoked_at").map_err(&c)?),
        last_used_at: time(row.try_get("last_used_at").map_err(&c)?),
        enabled: row.try_get("enabled").map_err(&c)?,
        rate_limit: match (rate_limit, rate_duration) {
            (Some(limit), Some(duration)) => Some(RateLimit {
                limit: u32::try_from(limit)
                    .ok()
                    .and_then(std::num::NonZeroU32::new)
                    .ok_or_else(|| StoreError::Corrupt("api_keys.rate_limit".into()))?,
                duration_ms: u64::try_from(duration)
                    .map_err(|_| StoreError::Corrupt("api_keys.rate_duration_ms".into()))?,
            }),
            _ => None,
        },
        remaining: remaining
            .map(u64::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("api_keys.remaining is negative".into()))?,
    })
}

/// Reads an `audit_events` row.
pub fn event_from_row(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let c = corrupt("audit_events");
    let seq: i64 = row.try_get("seq").map_err(&c)?;
    let outcome: String = row.try_get("outcome").map_err(&c)?;
    let status: Option<i64> = row.try_get("status").map_err(&c)?;
    let hash = |name: &str| -> Result<ChainHash, StoreError> {
        let hex: String = row.try_get(name).map_err(&c)?;
        ChainHash::from_hex(&hex).ok_or_else(|| StoreError::Corrupt(format!("audit_events.{name}")))
    };
    Ok(AuditEvent {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit_events.seq".into()))?,
        body: EventBody {
            time: UnixTime::from_millis(row.try_get("time").map_err(&c)?),
            request_id: row.try_get("request_id").map_err(&c)?,
            action: row.try_get("action").map_err(&c)?,
            outcome: Outcome::parse(&outcome)
                .ok_or_else(|| StoreError::Corrupt("audit_events.outcome".into()))?,
            reason: row.try_get("reason").map_err(&c)?,
            principal: row.try_get("principal").map_err(&c)?,
            credential_id: row.try_get("credential_id").map_err(&c)?,
            auth_method: row.try_get("auth_method").map_err(&c)?,
            target: row.try_get("target").map_err(&c)?,
            route: row.try_get("route").map_err(&c)?,
            method: row.try_get("method").map_err(&c)?,
            path: row.try_get("path").map_err(&c)?,
            status: status
                .map(u16::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("audit_events.status".into()))?,
            client_ip: row.try_get("client_ip").map_err(&c)?,
            latency_us: row
                .try_get::<Option<i64>, _>("latency_us")
                .map_err(&c)?
                .map(u64::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("audit_events.latency_us".into()))?,
        },
        prev_hash: hash("prev_hash")?,
        hash: hash("hash")?,
    })
}

/// A `u64` for an INTEGER column; values beyond `i64::MAX` are stored as `i64::MAX`.
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
