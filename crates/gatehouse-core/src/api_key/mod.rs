//! API keys: the `<prefix>_<body>` format, its checksum, its digest, and the decision
//! whether a presented key is allowed.
//!
//! A key is `<prefix>_<body>`: the prefix matches `[a-z][a-z0-9]{0,15}`, the body is
//! 46 base62 characters, 40 random ones followed by the CRC32 of those 40 written in
//! base62 over 6 characters. The checksum lets secret scanners and the server reject
//! typos and forgeries offline, before any lookup.

mod record;
mod verify;

pub use record::{KeyAccess, KeyId, KeyRecord, RateLimit};
pub use verify::{Denial, KeyUsage, RateLimitState, Verified, verify};

use crate::base62;
use crate::entropy::{Entropy, EntropyUnavailable};
use crate::secret::Secret;
use sha2::{Digest, Sha256};

/// Random characters in a key body.
pub const RANDOM_LEN: usize = 40;
/// Checksum characters at the end of a key body.
pub const CHECKSUM_LEN: usize = 6;
/// Length of a key body.
pub const BODY_LEN: usize = RANDOM_LEN + CHECKSUM_LEN;
/// Longest allowed prefix.
pub const MAX_PREFIX_LEN: usize = 16;
/// Body characters shown in a key's display `start`.
pub const START_LEN: usize = 4;

/// Why a string is not an API key. The variants never carry the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// No `_` between prefix and body.
    #[error("an API key has the form <prefix>_<body>")]
    MissingSeparator,
    /// The prefix is not `[a-z][a-z0-9]{0,15}`.
    #[error("the key prefix must match [a-z][a-z0-9]{{0,15}}")]
    BadPrefix,
    /// The body is not 46 characters.
    #[error("the key body must be 46 characters")]
    BadLength,
    /// The body has a character outside `0-9A-Za-z`.
    #[error("the key body must be base62 (0-9A-Za-z)")]
    BadAlphabet,
    /// The checksum does not match the random part.
    #[error("the key checksum does not match")]
    BadChecksum,
    /// A prefix Gatehouse keeps for other secrets in the key format.
    #[error("the prefix grt is reserved for refresh tokens")]
    ReservedPrefix,
}

/// The prefix of refresh tokens (`oauth::refresh`), which share the key format: kept
/// here, with the format, so that the format knows which prefixes are not for keys
/// without importing what uses it.
pub const REFRESH_TOKEN_PREFIX: &str = "grt";

/// A key prefix such as `gk`: `[a-z][a-z0-9]{0,15}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Prefix(String);

impl Prefix {
    /// The prefix new keys get unless one is named.
    pub fn default_prefix() -> Self {
        Self(String::from("gk"))
    }

    /// A prefix fixed in the code (other secrets in the key format, such as refresh
    /// tokens), known to be well formed.
    pub(crate) fn fixed(s: &'static str) -> Self {
        debug_assert!(Self::parse(s).is_ok(), "{s}");
        Self(String::from(s))
    }

    /// Parses a prefix for new API keys: well formed and not one Gatehouse keeps for
    /// other secrets (`grt`, refresh tokens), so a key never looks like one.
    pub fn for_keys(s: &str) -> Result<Self, ApiKeyError> {
        if s == REFRESH_TOKEN_PREFIX {
            return Err(ApiKeyError::ReservedPrefix);
        }
        Self::parse(s)
    }

    /// Parses a prefix.
    pub fn parse(s: &str) -> Result<Self, ApiKeyError> {
        let bytes = s.as_bytes();
        let well_formed = matches!(bytes.first(), Some(b'a'..=b'z'))
            && bytes.len() <= MAX_PREFIX_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(ApiKeyError::BadPrefix)
        }
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of a whole key: the only form in which a key is stored or indexed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl KeyDigest {
    /// The digest as lowercase hex.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        crate::hex::decode_32(s).map(Self)
    }
}

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A digest is not secret, but a short form keeps logs readable.
        write!(
            f,
            "KeyDigest({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A well-formed API key whose checksum matched. Holds the plaintext as a [`Secret`].
#[derive(Debug, Clone)]
pub struct ApiKey {
    text: Secret<String>,
    prefix_len: usize,
}

impl ApiKey {
    /// Parses a presented key: prefix, length, alphabet, then checksum.
    pub fn parse(s: &str) -> Result<Self, ApiKeyError> {
        let (prefix, body) = s.split_once('_').ok_or(ApiKeyError::MissingSeparator)?;
        Prefix::parse(prefix)?;
        let body = body.as_bytes();
        if body.len() != BODY_LEN {
            return Err(ApiKeyError::BadLength);
        }
        if !body.iter().all(|&b| base62::is_digit(b)) {
            return Err(ApiKeyError::BadAlphabet);
        }
        let (random, checksum) = body.split_at(RANDOM_LEN);
        if checksum != checksum_of(random) {
            return Err(ApiKeyError::BadChecksum);
        }
        Ok(Self {
            text: Secret::new(s.to_owned()),
            prefix_len: prefix.len(),
        })
    }

    /// A new random key with the given prefix.
    pub fn generate(
        prefix: &Prefix,
        entropy: &mut dyn Entropy,
    ) -> Result<Self, EntropyUnavailable> {
        let mut body = [0u8; BODY_LEN];
        let (random, checksum) = body.split_at_mut(RANDOM_LEN);
        base62::fill_random(random, entropy)?;
        checksum.copy_from_slice(&checksum_of(random));
        let mut text = String::with_capacity(prefix.as_str().len() + 1 + BODY_LEN);
        text.push_str(prefix.as_str());
        text.push('_');
        // Every byte of `body` is a base62 ASCII digit.
        text.extend(body.iter().map(|&b| char::from(b)));
        body.fill(0);
        Ok(Self {
            text: Secret::new(text),
            prefix_len: prefix.as_str().len(),
        })
    }

    /// SHA-256 of the whole key, the lookup index.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.text.expose().as_bytes()).into())
    }

    /// The key's prefix.
    pub fn prefix(&self) -> &str {
        &self.text.expose()[..self.prefix_len]
    }

    /// The display form: prefix, `_` and the first four body characters.
    pub fn start(&self) -> String {
        self.text.expose()[..self.prefix_len + 1 + START_LEN].to_owned()
    }

    /// The plaintext. Only for showing a new key to its creator, once.
    pub fn reveal(&self) -> &str {
        self.text.expose()
    }
}

/// The six base62 checksum characters for a 40-character random part.
fn checksum_of(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut out = [0u8; CHECKSUM_LEN];
    base62::encode_fixed(u64::from(crc32fast::hash(random)), &mut out);
    out
}

#[cfg(test)]
mod tests;
