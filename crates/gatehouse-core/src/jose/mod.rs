//! JOSE: signing keys, public JSON Web Keys, and the strict verification of a compact
//! JWT (RFC 7515, 7517, 7519, 7638, 8037, 9068).
//!
//! Three algorithms and no others: ES256 (the default), EdDSA (Ed25519) and RS256. A key
//! is parsed once, with its algorithm pinned; a token names a key by `kid` and must use
//! that key's algorithm. `none`, HMAC and every header that points at a key source
//! (`jku`, `x5u`, `jwk`, `x5c`) are refused, so a token can never choose how it is
//! checked. Key generation needs randomness and happens in the server; this module only
//! parses, signs and verifies (AWS-LC draws ECDSA nonces itself).

pub(crate) mod b64;
pub mod claims;
pub mod jwk;
pub mod sign;
pub mod verify;

#[cfg(test)]
mod tests;

pub use claims::{AccessClaims, Audience};
pub use jwk::{Jwk, JwkError, JwkSet, VerifyingKey};
pub use sign::{SignError, SigningKey};
pub use verify::{Expected, TokenError, VerifiedToken, verify_jwt};

use serde::{Deserialize, Serialize};

/// A signature algorithm Gatehouse signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4); the default.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), keys of 2048 bits or more.
    #[serde(rename = "RS256")]
    Rs256,
}

impl Alg {
    /// The JOSE name (`alg` value).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }

    /// The algorithm named `name`, if it is one of the three.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
