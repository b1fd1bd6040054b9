//! What a grant yields: the scopes (requested ∩ allowed) and the RFC 9068 claims.

use super::client::ClientRecord;
use crate::jose::{AccessClaims, Audience};
use crate::scope::{Scope, ScopeSet};
use crate::time::UnixTime;

/// A token endpoint error (RFC 6749 §5.2). The detail is safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Missing or repeated parameter, or an unsupported form.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed (unknown client, wrong secret, wrong method).
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// The client may not use this grant.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// The grant type is not supported.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// The scope is malformed or none of it may be granted.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// The code (or other grant) is unknown, expired, spent, or not this client's.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// Too many failed client authentications for this client id: refused without
    /// checking the credentials, answered 429 with `Retry-After`. RFC 6749 has no
    /// code for it; `invalid_client` is what a client already handles.
    #[error("invalid_client: {}", THROTTLED)]
    Throttled {
        /// Seconds until an attempt may be checked again (at least one).
        retry_after_secs: u64,
    },
    /// The server could not do its part: its store failed, no signing key is active,
    /// a token could not be signed or random bytes drawn. Not the client's fault, so
    /// never answered as one (RFC 6749 §4.1.2.1's `server_error`, 500): a client that
    /// is told `invalid_request` stops retrying a request that was fine. The
    /// description says only that; the server's log has the cause.
    #[error("server_error: {0}")]
    ServerError(String),
}

/// The `error_description` of [`OAuthError::Throttled`].
const THROTTLED: &str = "too many failed attempts; retry later";

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::Throttled { .. } => "invalid_client",
            Self::ServerError(_) => "server_error",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::InvalidGrant(d)
            | Self::ServerError(d) => d,
            Self::Throttled { .. } => THROTTLED,
        }
    }
}

/// The scopes a grant gets: the requested ones the client may have (RFC 6749 §3.3
/// lets the server narrow a request; the response then names what was granted), or
/// all of the client's scopes when it asks for none. A request of which none may be
/// granted is refused, so asking for more never silently yields an empty token.
pub fn granted_scopes(
    client: &ClientRecord,
    requested: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(client.scopes.clone());
    };
    let mut granted = Vec::new();
    for name in requested.split(' ').filter(|s| !s.is_empty()) {
        let scope =
            Scope::parse(name).map_err(|e| OAuthError::InvalidScope(format!("{name:?}: {e}")))?;
        if client.scopes.contains(scope.as_str()) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        return Err(OAuthError::InvalidScope(
            "none of the requested scopes is allowed for this client".into(),
        ));
    }
    Ok(ScopeSet::new(granted))
}

/// The claims of an access token issued to `client` by `issuer` at `now` for
/// `ttl_secs`, identified by `jti` (RFC 9068 §2.2; `sub` is the client itself in the
/// client credentials grant).
pub fn access_claims(
    issuer: &str,
    client: &ClientRecord,
    scopes: &ScopeSet,
    now: UnixTime,
    ttl_secs: u32,
    jti: String,
) -> AccessClaims {
    let now_secs = now.as_millis().div_euclid(1000);
    let aud = match client.audiences.as_slice() {
        [] => Audience::One(issuer.to_owned()),
        [one] => Audience::One(one.clone()),
        many => Audience::Many(many.to_vec()),
    };
    AccessClaims {
        iss: Some(issuer.to_owned()),
        sub: Some(client.id.clone()),
        aud: Some(aud),
        exp: now_secs + i64::from(ttl_secs),
        nbf: Some(now_secs),
        iat: Some(now_secs),
        jti: Some(jti),
        client_id: Some(client.id.clone()),
        scope: Some(scopes.to_space_separated()),
        cnf: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{ClientAuthMethod, GrantType, SecretDigest};

    fn client() -> ClientRecord {
        ClientRecord {
            id: "cli_1".into(),
            name: "billing".into(),
            secret_digest: SecretDigest::of("s"),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::parse(["orders:read", "orders:write"]).unwrap(),
            audiences: vec!["orders".into()],
            resource_server_audiences: Vec::new(),
            access_ttl_secs: None,
            jwks: None,
            tls_client_auth: None,
            redirect_uris: vec![],
            enabled: true,
            created_at: UnixTime::from_millis(0),
            updated_at: UnixTime::from_millis(0),
        }
    }

    #[test]
    fn no_request_gets_the_clients_scopes() {
        assert_eq!(granted_scopes(&client(), None).unwrap(), client().scopes);
        assert_eq!(
            granted_scopes(&client(), Some(" ")).unwrap(),
            client().scopes
        );
    }

    #[test]
    fn a_request_is_narrowed_to_what_is_allowed() {
        let got = granted_scopes(&client(), Some("orders:read gatehouse:admin")).unwrap();
        assert_eq!(got.to_space_separated(), "orders:read");
    }

    #[test]
    fn escalation_alone_is_refused() {
        let err = granted_scopes(&client(), Some("gatehouse:admin")).unwrap_err();
        assert_eq!(err.code(), "invalid_scope");
        assert_eq!(
            granted_scopes(&client(), Some("bad\"scope"))
                .unwrap_err()
                .code(),
            "invalid_scope"
        );
    }

    #[test]
    fn claims_follow_rfc_9068() {
        let c = client();
        let scopes = granted_scopes(&c, None).unwrap();
        let claims = access_claims(
            "https://auth.example",
            &c,
            &scopes,
            UnixTime::from_millis(1_700_000_000_999),
            600,
            "jti-1".into(),
        );
        assert_eq!(claims.iat, Some(1_700_000_000));
        assert_eq!(claims.exp, 1_700_000_600);
        assert_eq!(claims.sub.as_deref(), Some("cli_1"));
        assert_eq!(claims.client_id.as_deref(), Some("cli_1"));
        assert_eq!(claims.aud, Some(Audience::One("orders".into())));
        assert_eq!(claims.scope.as_deref(), Some("orders:read orders:write"));
    }
}
