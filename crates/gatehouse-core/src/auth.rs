//! The proof that a request was authenticated.
//!
//! [`Authenticated`] has private fields and a crate-private constructor: only core's
//! verification functions (such as [`crate::api_key::verify`]) can make one. Handlers
//! that need a caller take an `Authenticated`, so skipping verification does not
//! compile.

use crate::SharedStr;
use crate::jose::VerifiedToken;
use crate::scope::{Scope, ScopeSet};

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A Gatehouse API key.
    ApiKey,
    /// An access token Gatehouse issued.
    OAuth,
    /// A JWT from a configured external issuer.
    Jwt,
    /// A client certificate verified in the TLS handshake.
    Mtls,
}

impl AuthMethod {
    /// The stable name used in headers and the audit trail.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::OAuth => "oauth",
            Self::Jwt => "jwt",
            Self::Mtls => "mtls",
        }
    }
}

/// A verified caller: who it is, by which credential, and what it may do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    principal: SharedStr,
    credential_id: SharedStr,
    method: AuthMethod,
    scopes: ScopeSet,
}

impl Authenticated {
    pub(crate) fn new(
        principal: SharedStr,
        credential_id: SharedStr,
        method: AuthMethod,
        scopes: ScopeSet,
    ) -> Self {
        Self {
            principal,
            credential_id,
            method,
            scopes,
        }
    }

    /// The bearer of a verified access token: `method` is [`AuthMethod::OAuth`] for
    /// Gatehouse's own tokens and [`AuthMethod::Jwt`] for an external issuer's.
    ///
    /// The principal is `sub` (else `client_id`), the credential `client_id` (else
    /// `sub`, else `jti`), and the scopes those of `scope` that are well-formed: a token
    /// is not refused for an odd scope another issuer chose, but that scope can satisfy
    /// nothing. `None` when the token names no one.
    pub fn token_bearer(token: &VerifiedToken, method: AuthMethod) -> Option<Self> {
        let claims = &token.claims;
        let principal = claims.sub.as_deref().or(claims.client_id.as_deref())?;
        let credential = claims
            .client_id
            .as_deref()
            .or(claims.sub.as_deref())
            .or(claims.jti.as_deref())?;
        let scopes = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter_map(|s| Scope::parse(s).ok());
        Some(Self::new(
            principal.into(),
            credential.into(),
            method,
            ScopeSet::new(scopes),
        ))
    }

    /// Who the caller is (a key's subject).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The credential's public id (a key id, an OAuth client id).
    pub fn credential_id(&self) -> &str {
        &self.credential_id
    }

    /// How the caller authenticated.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// The caller's scopes.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }
}
