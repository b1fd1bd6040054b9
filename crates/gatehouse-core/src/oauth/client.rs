//! OAuth clients as stored, and their secrets: at least 256 random bits, shown once,
//! kept only as SHA-256 and compared in constant time.

use crate::base62;
use crate::entropy::{Entropy, EntropyUnavailable};
use crate::jose::JwkSet;
use crate::scope::ScopeSet;
use crate::secret::Secret;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random base62 characters in a client secret: 43 × 5.95 ≥ 256 bits.
const SECRET_RANDOM_LEN: usize = 43;
/// Prefix of client secrets, so scanners can recognise a leaked one.
pub const SECRET_PREFIX: &str = "gcs_";

/// A grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.4: a machine acting for itself.
    ClientCredentials,
}

impl GrantType {
    /// The RFC name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// The grant named `name`, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1); the default.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT the client signs with its own private key (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// The RFC 7591 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// The method named `name`, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// SHA-256 of a client secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest(pub [u8; 32]);

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(…)")
    }
}

impl SecretDigest {
    /// The digest of `presented`.
    pub fn of(presented: &str) -> Self {
        Self(Sha256::digest(presented.as_bytes()).into())
    }

    /// Whether `presented` is the secret, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        Self::of(presented).0.ct_eq(&self.0).into()
    }
}

/// A newly generated client secret. Shown once, then only its digest is kept.
#[derive(Debug)]
pub struct ClientSecret(Secret<String>);

impl ClientSecret {
    /// A new secret: `gcs_` and 43 random base62 characters.
    pub fn generate(entropy: &mut dyn Entropy) -> Result<Self, EntropyUnavailable> {
        let mut body = [0u8; SECRET_RANDOM_LEN];
        base62::fill_random(&mut body, entropy)?;
        let mut text = String::with_capacity(SECRET_PREFIX.len() + SECRET_RANDOM_LEN);
        text.push_str(SECRET_PREFIX);
        text.extend(body.iter().map(|&b| char::from(b)));
        body.fill(0);
        Ok(Self(Secret::new(text)))
    }

    /// The secret, for the one response that shows it.
    pub fn reveal(&self) -> &str {
        self.0.expose()
    }

    /// What is stored.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(self.0.expose())
    }
}

/// An OAuth client as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// Public identifier, `cli_…`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Digest of the current secret.
    pub secret_digest: SecretDigest,
    /// How it authenticates at the token endpoint.
    pub auth_method: ClientAuthMethod,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may be granted; also what it gets when it asks for none.
    pub scopes: ScopeSet,
    /// Audiences (`aud`) of its tokens; empty means the issuer itself.
    pub audiences: Vec<String>,
    /// Access token lifetime in seconds; `None` uses the server default. Capped by
    /// the server's maximum when a token is issued.
    pub access_ttl_secs: Option<u32>,
    /// Public keys of a `private_key_jwt` client (RFC 7523), which sign its assertions.
    pub jwks: Option<JwkSet>,
    /// A disabled client is refused.
    pub enabled: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl Entropy for Counter {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
            for b in dest {
                *b = self.0;
                self.0 = self.0.wrapping_add(13);
            }
            Ok(())
        }
    }

    #[test]
    fn a_secret_is_long_prefixed_and_matches_only_itself() {
        let secret = ClientSecret::generate(&mut Counter(1)).unwrap();
        assert!(secret.reveal().starts_with("gcs_"));
        assert_eq!(secret.reveal().len(), 4 + 43);
        let digest = secret.digest();
        assert!(digest.matches(secret.reveal()));
        assert!(!digest.matches(&secret.reveal()[..46]));
        assert!(!digest.matches(""));
        assert!(!format!("{secret:?}{digest:?}").contains(&secret.reveal()[4..]));
    }

    #[test]
    fn names_round_trip() {
        let g = GrantType::ClientCredentials;
        assert_eq!(GrantType::from_name(g.as_str()), Some(g));
        for m in [
            ClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost,
            ClientAuthMethod::PrivateKeyJwt,
        ] {
            assert_eq!(ClientAuthMethod::from_name(m.as_str()), Some(m));
        }
        assert_eq!(GrantType::from_name("password"), None);
        assert_eq!(ClientAuthMethod::from_name("none"), None);
    }
}
