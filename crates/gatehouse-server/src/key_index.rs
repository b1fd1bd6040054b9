//! The in-memory index that answers every API key verification without touching the
//! database.
//!
//! Keys are found by digest. Each entry pairs the stored record (replaced whole on an
//! admin change) with its live usage (remaining count, rate-limit bucket, last use),
//! which is written to the store behind the request path by [`KeyIndex::take_dirty`].
//! Admin changes go to the store first, then here, before the admin call returns, so
//! the very next verification sees them.

use dashmap::DashMap;
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{self, ApiKey, Denial, KeyDigest, KeyRecord, KeyUsage, Verified};
use gatehouse_core::scope::{Scope, ScopeSet};
use gatehouse_store::UsageUpdate;
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One key: its record and its live usage.
#[derive(Debug)]
struct KeyEntry {
    record: RwLock<Arc<KeyRecord>>,
    usage: Mutex<KeyUsage>,
    dirty: AtomicBool,
}

/// A verification's result, with the record when the key exists.
#[derive(Debug)]
pub struct Lookup {
    /// The key's record, when the digest is known.
    pub record: Option<Arc<KeyRecord>>,
    /// Core's decision.
    pub decision: Result<Verified, Denial>,
}

/// Usage taken from the index to be written; see [`KeyIndex::requeue`].
#[derive(Debug)]
pub struct UsageBatch {
    entries: Vec<Arc<KeyEntry>>,
    /// The rows to write.
    pub updates: Vec<UsageUpdate>,
}

/// All keys, by digest.
#[derive(Debug, Default)]
pub struct KeyIndex {
    by_digest: DashMap<KeyDigest, Arc<KeyEntry>, DigestHasher>,
    dirty: Mutex<Vec<Arc<KeyEntry>>>,
    /// Keys tend to share a handful of scope sets; one copy each keeps a million keys
    /// small.
    scope_sets: Mutex<HashSet<ScopeSet>>,
}

impl KeyIndex {
    /// An index of `records`.
    pub fn new(records: Vec<KeyRecord>) -> Self {
        let index = Self::default();
        for record in records {
            index.upsert(record, true);
        }
        index
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Verifies `key` for `required` scopes at `now`, consuming usage if allowed.
    pub fn verify(&self, key: &ApiKey, required: &[Scope], now: UnixTime) -> Lookup {
        let Some(entry) = self
            .by_digest
            .get(&key.digest())
            .map(|e| Arc::clone(e.value()))
        else {
            return Lookup {
                record: None,
                decision: Err(Denial::NotFound),
            };
        };
        let record = Arc::clone(&entry.record.read());
        let decision = {
            let mut usage = entry.usage.lock();
            api_key::verify(Some(&record), &mut usage, required, now)
        };
        if decision.is_ok() && !entry.dirty.swap(true, Ordering::AcqRel) {
            self.dirty.lock().push(Arc::clone(&entry));
        }
        Lookup {
            record: Some(record),
            decision,
        }
    }

    /// Adds or replaces a key. With `reset_usage`, the record's `remaining` and
    /// `last_used_at` replace the live ones; otherwise the live usage is kept.
    pub fn upsert(&self, mut record: KeyRecord, reset_usage: bool) {
        record.scopes = self.intern(record.scopes);
        let digest = record.digest;
        if let Some(entry) = self.by_digest.get(&digest) {
            if reset_usage {
                let mut usage = entry.usage.lock();
                usage.remaining = record.remaining;
                usage.last_used_at = record.last_used_at;
            }
            *entry.record.write() = Arc::new(record);
            return;
        }
        let usage = KeyUsage::from_record(&record);
        let entry = KeyEntry {
            record: RwLock::new(Arc::new(record)),
            usage: Mutex::new(usage),
            dirty: AtomicBool::new(false),
        };
        self.by_digest.insert(digest, Arc::new(entry));
    }

    /// Removes a key.
    pub fn remove(&self, digest: &KeyDigest) {
        self.by_digest.remove(digest);
    }

    /// The live usage of a key: `(remaining, last_used_at)`.
    pub fn usage(&self, digest: &KeyDigest) -> Option<(Option<u64>, Option<UnixTime>)> {
        self.by_digest.get(digest).map(|e| {
            let usage = e.usage.lock();
            (usage.remaining, usage.last_used_at)
        })
    }

    /// The usage of every key used since the last call, to be written to the store.
    pub fn take_dirty(&self) -> UsageBatch {
        let entries = std::mem::take(&mut *self.dirty.lock());
        let updates = entries
            .iter()
            .map(|entry| {
                // Cleared before reading: a use that races with this is marked again
                // and written next time.
                entry.dirty.store(false, Ordering::Release);
                let usage = entry.usage.lock();
                UsageUpdate {
                    id: entry.record.read().id.clone(),
                    last_used_at: usage.last_used_at,
                    remaining: usage.remaining,
                }
            })
            .collect();
        UsageBatch { entries, updates }
    }

    /// Marks a batch that could not be written as dirty again.
    pub fn requeue(&self, batch: UsageBatch) {
        let mut dirty = self.dirty.lock();
        for entry in batch.entries {
            if !entry.dirty.swap(true, Ordering::AcqRel) {
                dirty.push(entry);
            }
        }
    }

    fn intern(&self, scopes: ScopeSet) -> ScopeSet {
        let mut sets = self.scope_sets.lock();
        if let Some(existing) = sets.get(&scopes) {
            return existing.clone();
        }
        sets.insert(scopes.clone());
        scopes
    }
}

/// Hashes a [`KeyDigest`] by its first eight bytes. A SHA-256 output is already
/// uniformly distributed, and digests of keys an attacker makes up are never inserted,
/// so no keyed hash is needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct DigestHasher;

impl BuildHasher for DigestHasher {
    type Hasher = FirstBytes;

    fn build_hasher(&self) -> FirstBytes {
        FirstBytes(0)
    }
}

/// The hasher of [`DigestHasher`].
#[derive(Debug, Clone, Copy)]
pub struct FirstBytes(u64);

impl Hasher for FirstBytes {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut first = [0u8; 8];
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(first);
    }

    // The array's length prefix carries no information.
    fn write_usize(&mut self, _: usize) {}
}
