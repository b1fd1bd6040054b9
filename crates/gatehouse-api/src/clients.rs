//! OAuth clients: `/admin/v1/clients` (`gatehouse:clients`). Field names follow RFC
//! 7591 where it has one.

use gatehouse_core::jose::JwkSet;
use gatehouse_core::oauth::{CertBinding, ClientRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp::to_datetime;

/// `POST /admin/v1/clients`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    /// Human name.
    pub name: String,
    /// Grants it may use; default `["client_credentials"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Scopes it may be granted, space-separated (the caller must hold them).
    #[serde(default)]
    pub scope: String,
    /// Audiences of its tokens; default: the issuer.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Audiences this client serves as a resource server: it may introspect tokens
    /// whose `aud` names one of them (at most 20; default none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_server_audiences: Vec<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt`, or
    /// `none` for a public (native) client of the authorization code flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Access token lifetime in seconds (capped by the server's maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u32>,
    /// Public keys (each with a `kid`) for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<JwkSet>,
    /// Where the authorization endpoint may send the user back: 1 to 20 for a client
    /// allowed `authorization_code`, none otherwise (default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// `tls_client_auth` (RFC 8705): the subject its certificate must name — a SPIFFE
    /// ID, DNS name or CN, as Gatehouse reads a certificate's principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject: Option<String>,
    /// `tls_client_auth`: the SHA-256 (hex) of the one certificate it must present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_sha256: Option<String>,
}

/// `PATCH /admin/v1/clients/{id}`: absent fields are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    /// Human name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Grants it may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Scopes it may be granted, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Audiences of its tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// Replace the audiences it serves as a resource server (`[]` removes them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_server_audiences: Option<Vec<String>>,
    /// Token endpoint authentication method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Access token lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u32>,
    /// Whether it may obtain tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replace the public keys of a `private_key_jwt` client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<JwkSet>,
    /// Replace the redirect URIs (`[]` removes them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Replace the certificate of a `tls_client_auth` client with one naming this
    /// subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject: Option<String>,
    /// Replace it with exactly this certificate (SHA-256, hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_sha256: Option<String>,
}

/// A client as the admin API shows it; never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Client {
    /// Client id, `cli_…`.
    pub client_id: String,
    /// Human name.
    pub name: String,
    /// Grants it may use.
    pub grant_types: Vec<String>,
    /// Scopes it may be granted, space-separated.
    pub scope: String,
    /// Audiences of its tokens (empty: the issuer).
    pub audience: Vec<String>,
    /// Audiences it serves as a resource server: it may introspect tokens whose `aud`
    /// names one of them.
    #[serde(default)]
    pub resource_server_audiences: Vec<String>,
    /// Token endpoint authentication method.
    pub token_endpoint_auth_method: String,
    /// Access token lifetime in seconds, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u32>,
    /// Public keys of a `private_key_jwt` client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<JwkSet>,
    /// Where the authorization endpoint may send the user back, exactly as
    /// registered (empty for a client without `authorization_code`).
    pub redirect_uris: Vec<String>,
    /// `tls_client_auth` (RFC 8705): the subject its certificate must name — a SPIFFE
    /// ID, DNS name or CN, as Gatehouse reads a certificate's principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject: Option<String>,
    /// `tls_client_auth`: the SHA-256 (hex) of the one certificate it must present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_sha256: Option<String>,
    /// Whether it may obtain tokens.
    pub enabled: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
}

/// A new client or a new secret: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientWithSecret {
    /// The client.
    #[serde(flatten)]
    pub client: Client,
    /// The client secret; store it now, it is not shown again. None for a
    /// `private_key_jwt` or public (`none`) client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<&ClientRecord> for Client {
    fn from(c: &ClientRecord) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scope: c.scopes.to_space_separated(),
            audience: c.audiences.clone(),
            resource_server_audiences: c.resource_server_audiences.clone(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            access_token_ttl: c.access_ttl_secs,
            jwks: c.jwks.clone(),
            redirect_uris: c
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            tls_client_auth_subject: match &c.tls_client_auth {
                Some(CertBinding::Subject(s)) => Some(s.clone()),
                _ => None,
            },
            tls_client_auth_sha256: match &c.tls_client_auth {
                Some(CertBinding::Sha256(hex)) => Some(hex.clone()),
                _ => None,
            },
            enabled: c.enabled,
            created_at: to_datetime(c.created_at),
            updated_at: to_datetime(c.updated_at),
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The access token, a JWT (RFC 9068).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u32,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// A refresh token, for clients allowed the `refresh_token` grant (authorization
    /// code and refresh grants only); opaque, single use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An OpenID Connect ID token, when the scope includes `openid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// A token endpoint error (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorBody {
    /// The RFC 6749 error code.
    pub error: String,
    /// What went wrong.
    pub error_description: String,
}
