//! The proof that a request was authenticated.
//!
//! [`Authenticated`] has private fields and a crate-private constructor: only core's
//! verification functions (such as [`crate::api_key::verify`]) can make one. Handlers
//! that need a caller take an `Authenticated`, so skipping verification does not
//! compile.

use crate::SharedStr;
use crate::scope::ScopeSet;

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A Gatehouse API key.
    ApiKey,
}

impl AuthMethod {
    /// The stable name used in headers and the audit trail.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
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

    /// Who the caller is (a key's subject).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The credential's public id (a key id).
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
