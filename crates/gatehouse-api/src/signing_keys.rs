//! Token signing keys: `/admin/v1/signing-keys` (`gatehouse:admin`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp;

/// A signing key, without its private half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyInfo {
    /// Key id (RFC 7638 thumbprint), the `kid` of the tokens it signs.
    pub kid: String,
    /// `ES256`, `EdDSA` or `RS256`.
    pub alg: String,
    /// `next` (published, not signing yet), `active`, `retired` (published for tokens
    /// it signed) or `expired`.
    pub state: String,
    /// Published from.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    /// Signs from.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub active_at: OffsetDateTime,
    /// Leaves the JWK Set at.
    #[serde(
        with = "timestamp::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<OffsetDateTime>,
}

/// `POST /admin/v1/signing-keys/rotate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSigningKey {
    /// Sign with the new key at once instead of after the publish lead (for a key
    /// thought compromised; verifiers that cached the JWK Set will refuse new tokens
    /// until they refetch it).
    #[serde(default)]
    pub immediate: bool,
}
