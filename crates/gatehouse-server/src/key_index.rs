//! The in-memory index that answers every API key verification without touching the
//! database.
//!
//! Keys are found by digest. Each entry holds what verification needs of the key
//! ([`KeyAccess`], replaced whole on an admin change) and its live usage (remaining
//! count, rate-limit bucket, last use), which is written to the store behind the
//! request path via [`KeyIndex::take_dirty`]. Admin changes go to the store first, then
//! here, before the admin call returns, so the very next verification sees them.
//!
//! Memory matters at a million keys (see BENCHMARKS.md). The table is split into
//! shards, each a hash table of pointers (nine bytes a slot) to boxed entries that hold
//! their own digest; a [`KeyAccess`] keeps its strings in one allocation; identical
//! scope sets are stored once; dirty keys are tracked by digest.

use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{
    self, ApiKey, Denial, KeyAccess, KeyDigest, KeyRecord, KeyUsage, Verified,
};
use gatehouse_core::scope::{Scope, ScopeSet};
use gatehouse_store::UsageUpdate;
use hashbrown::HashTable;
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;

/// Independent locks for writers; a power of two.
const SHARDS: usize = 64;

/// One key, its access settings and live usage under one lock (contended only by
/// concurrent uses of the same key).
#[derive(Debug)]
struct KeyEntry {
    digest: KeyDigest,
    state: Mutex<KeyState>,
}

#[derive(Debug)]
struct KeyState {
    access: KeyAccess,
    usage: KeyUsage,
    /// Used since its usage was last taken for writing.
    dirty: bool,
}

type Shard = RwLock<HashTable<Box<KeyEntry>>>;

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
#[derive(Debug)]
pub struct KeyIndex {
    shards: Box<[Shard]>,
    dirty: Mutex<Vec<KeyDigest>>,
    /// Keys tend to share a handful of scope sets; one copy each.
    scope_sets: Mutex<HashSet<ScopeSet>>,
}

impl Default for KeyIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl KeyIndex {
    /// An index of `records`.
    pub fn new(records: &[KeyRecord]) -> Self {
        let index = Self::with_capacity(records.len());
        index.extend(records);
        index
    }

    /// An empty index with room for `n` keys, so loading does not grow the tables (a
    /// growing table briefly needs its old and new copy).
    pub fn with_capacity(n: usize) -> Self {
        let per_shard = n.div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashTable::with_capacity(per_shard)))
                .collect(),
            dirty: Mutex::default(),
            scope_sets: Mutex::default(),
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
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Verifies `key` for `required` scopes at `now`, consuming usage if allowed.
    pub fn verify(&self, key: &ApiKey, required: &[Scope], now: UnixTime) -> Lookup {
        let digest = key.digest();
        let (lookup, newly_dirty) = {
            let shard = self.shard(&digest).read();
            let Some(entry) = shard.find(hash(&digest), |e| e.digest == digest) else {
                return Lookup {
                    access: None,
                    decision: Err(Denial::NotFound),
                    remaining: None,
                };
            };
            let mut state = entry.state.lock();
            let KeyState {
                access,
                usage,
                dirty,
            } = &mut *state;
            let decision = api_key::verify(Some(access), usage, required, now);
            let newly_dirty = decision.is_ok() && !*dirty;
            *dirty |= decision.is_ok();
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
        // Outside the shard lock, so `take_dirty` never waits on it in reverse order.
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
        let digest = record.digest;
        let mut shard = self.shard(&digest).write();
        if let Some(entry) = shard.find_mut(hash(&digest), |e| e.digest == digest) {
            let mut state = entry.state.lock();
            if reset_usage {
                state.usage.remaining = record.remaining;
                state.usage.last_used_at = record.last_used_at;
            }
            state.access = access;
            return;
        }
        let state = KeyState {
            access,
            usage: KeyUsage::from_record(record),
            dirty: false,
        };
        let entry = Box::new(KeyEntry {
            digest,
            state: Mutex::new(state),
        });
        shard.insert_unique(hash(&digest), entry, |e| hash(&e.digest));
    }

    /// Removes a key.
    pub fn remove(&self, digest: &KeyDigest) {
        let mut shard = self.shard(digest).write();
        if let Ok(entry) = shard.find_entry(hash(digest), |e| e.digest == *digest) {
            entry.remove();
        }
    }

    /// The live usage of a key: `(remaining, last_used_at)`.
    pub fn usage(&self, digest: &KeyDigest) -> Option<(Option<u64>, Option<UnixTime>)> {
        let shard = self.shard(digest).read();
        let entry = shard.find(hash(digest), |e| e.digest == *digest)?;
        let state = entry.state.lock();
        Some((state.usage.remaining, state.usage.last_used_at))
    }

    /// The usage of every key used since the last call, to be written to the store.
    pub fn take_dirty(&self) -> UsageBatch {
        let marked = std::mem::take(&mut *self.dirty.lock());
        let mut batch = UsageBatch {
            digests: Vec::with_capacity(marked.len()),
            updates: Vec::with_capacity(marked.len()),
        };
        for digest in marked {
            let shard = self.shard(&digest).read();
            let Some(entry) = shard.find(hash(&digest), |e| e.digest == digest) else {
                continue;
            };
            // Cleared as it is read, under the entry's lock: a later use marks it again
            // and is written next time.
            let mut state = entry.state.lock();
            state.dirty = false;
            batch.updates.push(UsageUpdate {
                id: state.access.id().to_owned(),
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
            let shard = self.shard(&digest).read();
            if let Some(entry) = shard.find(hash(&digest), |e| e.digest == digest) {
                let mut state = entry.state.lock();
                if !state.dirty {
                    state.dirty = true;
                    again.push(digest);
                }
            }
        }
        self.dirty.lock().extend(again);
    }

    fn shard(&self, digest: &KeyDigest) -> &Shard {
        // A byte the table's own hash does not use, so shards split keys evenly and
        // each shard's table still sees well-spread hashes.
        &self.shards[usize::from(digest.0[8]) % SHARDS]
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

/// A digest's table hash: its first eight bytes. A SHA-256 output is already uniformly
/// distributed, and digests of keys an attacker makes up are never inserted, so no
/// keyed hash is needed.
fn hash(digest: &KeyDigest) -> u64 {
    let [a, b, c, d, e, f, g, h, ..] = digest.0;
    u64::from_le_bytes([a, b, c, d, e, f, g, h])
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A million entries: each byte here is a megabyte. 160 is an allocator size class
    /// (see BENCHMARKS.md); growing past it costs 32 MB at a million keys.
    #[test]
    fn an_entry_fits_its_size_class() {
        assert!(size_of::<KeyEntry>() <= 160, "{}", size_of::<KeyEntry>());
    }
}
