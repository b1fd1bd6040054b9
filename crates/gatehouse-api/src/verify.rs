//! `POST /v1/keys/verify`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp;

/// A verification request: the key to check and the scopes it must grant.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyKey {
    /// The API key presented to your service.
    pub key: String,
    /// Scopes the key must grant for this request.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The verdict. `valid` is true only when `code` is `VALID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Verdict {
    /// Whether the key may be used.
    pub valid: bool,
    /// `VALID`, `NOT_FOUND`, `EXPIRED`, `REVOKED`, `DISABLED`, `INSUFFICIENT_SCOPE`,
    /// `RATE_LIMITED` or `USAGE_EXCEEDED`.
    pub code: String,
    /// The key's id, when it exists.
    pub key_id: Option<String>,
    /// Who the key acts as, when it exists.
    pub subject: Option<String>,
    /// The key's scopes, when it exists.
    pub scopes: Option<Vec<String>>,
    /// The key's metadata object, when it exists and is not empty.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// The key's expiry.
    #[serde(with = "timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Verifications left, when limited.
    pub remaining: Option<u64>,
    /// Rate-limit state, when limited.
    pub ratelimit: Option<RateLimitStatus>,
}

/// Rate-limit state after this verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RateLimitStatus {
    /// Requests per window.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// Milliseconds until the limit is fully available again.
    pub reset_ms: u64,
}
