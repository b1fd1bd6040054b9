//! API key management: `/admin/v1/keys`.

use gatehouse_core::api_key::KeyRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp::{self, to_datetime};

/// A rate limit: `limit` requests per `duration_ms`, bursts up to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per window, at least 1.
    pub limit: u32,
    /// Window in milliseconds, at least 1.
    pub duration_ms: u64,
}

/// `POST /admin/v1/keys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Human name.
    pub name: String,
    /// Who the key acts as; defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Key prefix, `[a-z][a-z0-9]{0,15}`; defaults to the server's (`gk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Scopes the key holds. The caller must hold them too.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Any JSON object, returned on verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Expiry time (RFC 3339).
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Whether the key works (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Per-key rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<RateLimit>,
    /// Number of verifications allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// `PATCH /admin/v1/keys/{id}`: absent fields are kept, `null` clears.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New scopes (replacing the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// New metadata (replacing the old object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// New expiry, or `null` for none.
    #[serde(
        default,
        deserialize_with = "timestamp::double_option_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    #[serde(serialize_with = "serialize_double_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// Enable or disable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// New rate limit, or `null` for none.
    #[serde(
        default,
        deserialize_with = "timestamp::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<RateLimit>)]
    pub ratelimit: Option<Option<RateLimit>>,
    /// New number of verifications left, or `null` for unlimited.
    #[serde(
        default,
        deserialize_with = "timestamp::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u64>)]
    pub remaining: Option<Option<u64>>,
}

fn serialize_double_datetime<S: serde::Serializer>(
    v: &Option<Option<OffsetDateTime>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(inner) => timestamp::option::serialize(inner, s),
        None => s.serialize_none(),
    }
}

/// `POST /admin/v1/keys/{id}/rotate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// Seconds the old key keeps working (default 0: revoked at once). At most 30 days.
    #[serde(default)]
    pub grace_period_seconds: u64,
}

/// An API key as shown by the admin API. Never includes the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Key {
    /// Public id, `key_…`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Who the key acts as.
    pub subject: String,
    /// Key prefix.
    pub prefix: String,
    /// The first characters of the key, to recognise it.
    pub start: String,
    /// Scopes the key holds.
    pub scopes: Vec<String>,
    /// Caller-defined JSON object.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Creation time.
    #[serde(with = "timestamp::required")]
    pub created_at: OffsetDateTime,
    /// Last change of settings.
    #[serde(with = "timestamp::required")]
    pub updated_at: OffsetDateTime,
    /// Expiry time.
    #[serde(with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Revocation time (in the future during a rotation's grace period).
    #[serde(with = "timestamp::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Last successful verification (written within seconds, not instantly).
    #[serde(with = "timestamp::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Whether the key is enabled.
    pub enabled: bool,
    /// Per-key rate limit.
    pub ratelimit: Option<RateLimit>,
    /// Verifications left, when limited.
    pub remaining: Option<u64>,
}

impl Key {
    /// The admin view of a stored key, with live usage figures.
    pub fn from_record(
        r: &KeyRecord,
        remaining: Option<u64>,
        last_used_at: Option<gatehouse_core::UnixTime>,
    ) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            subject: r.subject.clone(),
            prefix: r.prefix.as_str().to_owned(),
            start: r.start.clone(),
            scopes: r.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            metadata: r.metadata.clone(),
            created_at: to_datetime(r.created_at),
            updated_at: to_datetime(r.updated_at),
            expires_at: r.expires_at.map(to_datetime),
            revoked_at: r.revoked_at.map(to_datetime),
            last_used_at: last_used_at.map(to_datetime),
            enabled: r.enabled,
            ratelimit: r.rate_limit.map(|l| RateLimit {
                limit: l.limit.get(),
                duration_ms: l.duration_ms,
            }),
            remaining,
        }
    }
}

/// A newly created key: its settings plus the key itself, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedKey {
    /// The key's settings.
    #[serde(flatten)]
    pub info: Key,
    /// The API key. Store it now: Gatehouse keeps only its hash.
    pub key: String,
}

/// The result of a rotation: the new key (shown this once) and the old key's state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RotatedKey {
    /// The new key's settings.
    #[serde(flatten)]
    pub info: Key,
    /// The new API key, shown this once.
    pub key: String,
    /// The old key, now revoked or revoked when its grace period ends.
    pub previous: Key,
}
