//! The in-memory index that answers every API key verification without touching the
//! database.
//!
//! Keys are found by digest. Each entry holds what verification needs of the key
//! ([`KeyAccess`], replaced whole on an admin change) and its live usage (remaining
//! count, rate-limit bucket, last use), which is written to the store behind the
//! request path via [`KeyIndex::take_dirty`]. Admin changes go to the store first, then
//! here, before the admin call returns, so the very next verification sees them.
//!
//! Memory matters at a million keys: entries are boxed (small hash-table slots),
//! strings are shared, identical scope sets are stored once, and dirty keys are
//! tracked by digest.

use dashmap::DashMap;
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{
    self, ApiKey, Denial, KeyAccess, KeyDigest, KeyRecord, KeyUsage, Verified,
};
use gatehouse_core::scope::{Scope, ScopeSet};
use gatehouse_store::UsageUpdate;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

/// One key: its access settings and live usage under one lock (contended only by
/// concurrent uses of the same key).
#[derive(Debug)]
struct KeyEntry {
    state: Mutex<KeyState>,
    dirty: AtomicBool,
}

#[derive(Debug)]
struct KeyState {
    access: KeyAccess,
    usage: KeyUsage,
}

/// A verification's result.
#[derive(Debug)]
pub struct Lookup {
    /// The key's settings, when the digest is known.
    pub access: Option<KeyAccess>,
    /// Core's decision.
    pub decision: Result<Verified, Denial>,
    /// Verifications left after this one, when limited.
    pub remaining: Option<u64>,
}

/// Usage taken from the index to be written; see [`KeyIndex::requeue`].
#[derive(Debug)]
pub struct UsageBatch {
    digests: Vec<KeyDigest>,
    /// The rows to write.
    pub updates: Vec<UsageUpdate>,
}

/// All keys, by digest.
#[derive(Debug, Default)]
pub struct KeyIndex {
    by_digest: DashMap<KeyDigest, Box<KeyEntry>, DigestHasher>,
    dirty: Mutex<Vec<KeyDigest>>,
    /// Keys tend to share a handful of scope sets; one copy each.
    scope_sets: Mutex<HashSet<ScopeSet>>,
}

impl KeyIndex {
    /// An index of `records`.
    pub fn new(records: &[KeyRecord]) -> Self {
        let index = Self::with_capacity(records.len());
        index.extend(records);
        index
    }

    /// An empty index with room for `n` keys, so loading does not grow the table (a
    /// growing table briefly needs its old and new copy).
    pub fn with_capacity(n: usize) -> Self {
        Self {
            by_digest: DashMap::with_capacity_and_hasher(n, DigestHasher),
            ..Self::default()
        }
    }

    /// Adds `records` (loading in pages keeps start-up memory flat).
    pub fn extend(&self, records: &[KeyRecord]) {
        for record in records {
            self.upsert(record, true);
        }
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
        let digest = key.digest();
        let (lookup, newly_dirty) = {
            let Some(entry) = self.by_digest.get(&digest) else {
                return Lookup {
                    access: None,
                    decision: Err(Denial::NotFound),
                    remaining: None,
                };
            };
            let mut state = entry.state.lock();
            let KeyState { access, usage } = &mut *state;
            let decision = api_key::verify(Some(access), usage, required, now);
            let newly_dirty = decision.is_ok() && !entry.dirty.swap(true, Ordering::AcqRel);
            let remaining = usage.remaining;
            (
                Lookup {
                    access: Some(access.clone()),
                    decision,
                    remaining,
                },
                newly_dirty,
            )
        };
        // Outside the map's shard lock, so `take_dirty` never waits on it in reverse order.
        if newly_dirty {
            self.dirty.lock().push(digest);
        }
        lookup
    }

    /// Adds or replaces a key. With `reset_usage`, the record's `remaining` and
    /// `last_used_at` replace the live ones; otherwise the live usage is kept.
    pub fn upsert(&self, record: impl std::borrow::Borrow<KeyRecord>, reset_usage: bool) {
        let record = record.borrow();
        let mut access = record.access();
        access.scopes = self.intern(access.scopes);
        self.by_digest
            .entry(record.digest)
            .and_modify(|entry| {
                let mut state = entry.state.lock();
                if reset_usage {
                    state.usage.remaining = record.remaining;
                    state.usage.last_used_at = record.last_used_at;
                }
                state.access = access.clone();
            })
            .or_insert_with(|| {
                let usage = KeyUsage::from_record(record);
                let state = Mutex::new(KeyState {
                    access: access.clone(),
                    usage,
                });
                Box::new(KeyEntry {
                    state,
                    dirty: AtomicBool::new(false),
                })
            });
    }

    /// Removes a key.
    pub fn remove(&self, digest: &KeyDigest) {
        self.by_digest.remove(digest);
    }

    /// The live usage of a key: `(remaining, last_used_at)`.
    pub fn usage(&self, digest: &KeyDigest) -> Option<(Option<u64>, Option<UnixTime>)> {
        self.by_digest.get(digest).map(|e| {
            let state = e.state.lock();
            (state.usage.remaining, state.usage.last_used_at)
        })
    }

    /// The usage of every key used since the last call, to be written to the store.
    pub fn take_dirty(&self) -> UsageBatch {
        let marked = std::mem::take(&mut *self.dirty.lock());
        let mut batch = UsageBatch {
            digests: Vec::with_capacity(marked.len()),
            updates: Vec::with_capacity(marked.len()),
        };
        for digest in marked {
            let Some(entry) = self.by_digest.get(&digest) else {
                continue;
            };
            // Cleared before reading: a use racing with this marks it again and is
            // written next time.
            entry.dirty.store(false, Ordering::Release);
            let state = entry.state.lock();
            batch.updates.push(UsageUpdate {
                id: state.access.id.to_string(),
                last_used_at: state.usage.last_used_at,
                remaining: state.usage.remaining,
            });
            batch.digests.push(digest);
        }
        batch
    }

    /// Marks a batch that could not be written as dirty again.
    pub fn requeue(&self, batch: UsageBatch) {
        let mut again = Vec::new();
        for digest in batch.digests {
            if let Some(entry) = self.by_digest.get(&digest)
                && !entry.dirty.swap(true, Ordering::AcqRel)
            {
                again.push(digest);
            }
        }
        self.dirty.lock().extend(again);
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
