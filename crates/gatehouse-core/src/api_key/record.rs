//! The stored form of an API key: everything but the key itself.

use super::{ApiKey, KeyDigest, Prefix};
use crate::SharedStr;
use crate::rate_limit::Rate;
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use std::sync::Arc;

/// A key's public identifier, `key_…`. Safe to log and show.
pub type KeyId = String;

/// A per-key rate limit.
pub type RateLimit = Rate;

/// An API key as stored: its digest, never its plaintext.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Public identifier, `key_…`.
    pub id: KeyId,
    /// SHA-256 of the whole key.
    pub digest: KeyDigest,
    /// The key's prefix.
    pub prefix: Prefix,
    /// Display form: prefix and the first four body characters.
    pub start: String,
    /// Human name.
    pub name: String,
    /// Who the key acts as (owner or service name).
    pub subject: String,
    /// What the key may do.
    pub scopes: ScopeSet,
    /// Caller-defined JSON object, returned on verification.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change to the record's settings.
    pub updated_at: UnixTime,
    /// The key stops working at this time.
    pub expires_at: Option<UnixTime>,
    /// The key is revoked from this time on (may be in the future during a rotation's
    /// grace period).
    pub revoked_at: Option<UnixTime>,
    /// Last successful verification, as last persisted.
    pub last_used_at: Option<UnixTime>,
    /// A disabled key is refused until enabled again.
    pub enabled: bool,
    /// Optional per-key rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Optional number of verifications left.
    pub remaining: Option<u64>,
}

impl KeyRecord {
    /// The record of a new key: enabled, created at `now`, with no expiry, limits or
    /// metadata.
    pub fn new(
        id: KeyId,
        key: &ApiKey,
        name: String,
        subject: String,
        scopes: ScopeSet,
        now: UnixTime,
    ) -> Self {
        Self {
            id,
            digest: key.digest(),
            prefix: Prefix(key.prefix().to_owned()),
            start: key.start(),
            name,
            subject,
            scopes,
            metadata: serde_json::Map::new(),
            created_at: now,
            updated_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            enabled: true,
            rate_limit: None,
            remaining: None,
        }
    }

    /// What verification needs of this key.
    pub fn access(&self) -> KeyAccess {
        let metadata = (!self.metadata.is_empty())
            .then(|| serde_json::to_string(&self.metadata).ok())
            .flatten()
            .unwrap_or_default();
        let text: Arc<str> = Arc::from([self.id.as_str(), &self.subject, &metadata].concat());
        KeyAccess {
            text,
            id_end: u32::try_from(self.id.len()).unwrap_or(u32::MAX),
            subject_end: u32::try_from(self.id.len() + self.subject.len()).unwrap_or(u32::MAX),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            enabled: self.enabled,
            rate_limit: self.rate_limit,
        }
    }

    /// Whether the key is revoked at `now`.
    pub fn is_revoked_at(&self, now: UnixTime) -> bool {
        self.revoked_at.is_some_and(|t| t <= now)
    }

    /// Whether the key is expired at `now`.
    pub fn is_expired_at(&self, now: UnixTime) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// What verification needs to know of a key, and nothing else. A million are kept in
/// memory, so it is compact: the id, subject and metadata share one allocation, and
/// every optional field is eight bytes or less.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyAccess {
    /// The id, the subject and the metadata JSON (empty when there is none), in a row.
    text: Arc<str>,
    id_end: u32,
    subject_end: u32,
    /// What the key may do.
    pub scopes: ScopeSet,
    /// The key stops working at this time.
    pub expires_at: Option<UnixTime>,
    /// The key is revoked from this time on.
    pub revoked_at: Option<UnixTime>,
    /// A disabled key is refused.
    pub enabled: bool,
    /// Optional per-key rate limit.
    pub rate_limit: Option<RateLimit>,
}

impl KeyAccess {
    /// Public identifier, `key_…`.
    pub fn id(&self) -> &str {
        self.piece(0, self.id_end)
    }

    /// Who the key acts as.
    pub fn subject(&self) -> &str {
        self.piece(self.id_end, self.subject_end)
    }

    /// The metadata object as JSON text; `None` when the key has none.
    pub fn metadata(&self) -> Option<&str> {
        Some(self.piece(self.subject_end, u32::MAX)).filter(|m| !m.is_empty())
    }

    /// The id, sharing this key's allocation.
    pub fn shared_id(&self) -> SharedStr {
        self.shared(0, self.id_end)
    }

    /// The subject, sharing this key's allocation.
    pub fn shared_subject(&self) -> SharedStr {
        self.shared(self.id_end, self.subject_end)
    }

    fn range(&self, start: u32, end: u32) -> std::ops::Range<usize> {
        let len = self.text.len();
        (start as usize).min(len)..(end as usize).min(len)
    }

    fn piece(&self, start: u32, end: u32) -> &str {
        self.text.get(self.range(start, end)).unwrap_or_default()
    }

    fn shared(&self, start: u32, end: u32) -> SharedStr {
        SharedStr::slice(&self.text, self.range(start, end)).unwrap_or_else(|| SharedStr::from(""))
    }

    /// Whether the key is revoked at `now`.
    pub fn is_revoked_at(&self, now: UnixTime) -> bool {
        self.revoked_at.is_some_and(|t| t <= now)
    }

    /// Whether the key is expired at `now`.
    pub fn is_expired_at(&self, now: UnixTime) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}
