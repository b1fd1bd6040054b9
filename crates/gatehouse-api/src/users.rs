//! Users who log in: `/admin/v1/users` (`gatehouse:admin`). Passwords go in, never out:
//! a user shows only whether it has one.

use gatehouse_core::user::{Consent, UserRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp::to_datetime;

/// `POST /admin/v1/users`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 1 to 64 of a-z, 0-9, `.`, `_`, `@`, `+`, `-` (upper case is folded).
    pub username: String,
    /// Initial password (at least 12 characters); without one the user cannot log in
    /// until it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Name shown on consent pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Contact address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The most a token on the user's behalf may carry (the caller must hold them).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `PATCH /admin/v1/users/{id}`: absent fields are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Name shown on consent pages; `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Contact address; `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Replaces the scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Whether the user may log in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `POST /admin/v1/users/{id}/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// The new password (at least 12 characters).
    pub password: String,
}

/// A user as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// User id, `usr_…`.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown on consent pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Contact address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Whether the user may log in.
    pub enabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
    /// When the password was last set.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub password_changed_at: Option<OffsetDateTime>,
}

impl From<&UserRecord> for User {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.as_str().to_owned(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            scopes: u.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            enabled: u.enabled,
            has_password: u.password_hash.is_some(),
            created_at: to_datetime(u.created_at),
            updated_at: to_datetime(u.updated_at),
            password_changed_at: u.password_changed_at.map(to_datetime),
        }
    }
}

/// A user's remembered consent for one client:
/// `GET /admin/v1/users/{id}/consents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserConsent {
    /// The client.
    pub client_id: String,
    /// Every scope the user approved for it.
    pub scopes: Vec<String>,
    /// First approval.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub granted_at: OffsetDateTime,
    /// Latest approval.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
}

impl From<&Consent> for UserConsent {
    fn from(c: &Consent) -> Self {
        Self {
            client_id: c.client_id.clone(),
            scopes: c.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            granted_at: to_datetime(c.granted_at),
            updated_at: to_datetime(c.updated_at),
        }
    }
}
