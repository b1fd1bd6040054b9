//! Route rate limits: one token bucket (core's GCRA, eight bytes of state) per route
//! and credential, in memory on this node.

use gatehouse_core::UnixTime;
use gatehouse_core::rate_limit::{BucketState, Rate, TokenBucket};
use hashbrown::{Equivalent, HashMap};
use parking_lot::Mutex;
use std::hash::{BuildHasher, RandomState};

/// Shards, so concurrent requests of different credentials rarely share a lock.
const SHARDS: usize = 16;
/// Buckets kept at most; past it, full (idle) buckets are dropped first.
const MAX_BUCKETS: usize = 1_000_000;

type Shard = Mutex<HashMap<(String, String), TokenBucket, RandomState>>;

/// Buckets by (route, credential).
#[derive(Debug)]
pub struct RouteLimits {
    hasher: RandomState,
    shards: [Shard; SHARDS],
}

impl Default for RouteLimits {
    fn default() -> Self {
        let hasher = RandomState::new();
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::with_hasher(hasher.clone()))),
            hasher,
        }
    }
}

/// A borrowed `(route, credential)`: hashes like the owned key, so a lookup does not
/// allocate.
#[derive(Hash)]
struct Borrowed<'a>(&'a str, &'a str);

impl Equivalent<(String, String)> for Borrowed<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

impl RouteLimits {
    /// Takes one request for `credential` on `route` at `now`.
    pub fn take(&self, route: &str, credential: &str, rate: Rate, now: UnixTime) -> BucketState {
        let hash = self.hasher.hash_one(Borrowed(route, credential));
        let shard = &self.shards[(hash % SHARDS as u64) as usize];
        let mut buckets = shard.lock();
        if let Some(bucket) = buckets.get_mut(&Borrowed(route, credential)) {
            return bucket.take(rate, now);
        }
        if buckets.len() >= MAX_BUCKETS / SHARDS {
            buckets.retain(|_, b| !b.is_full_at(now));
        }
        let mut bucket = TokenBucket::default();
        let state = bucket.take(rate, now);
        buckets.insert((route.to_owned(), credential.to_owned()), bucket);
        state
    }

    /// Drops buckets that have refilled completely: they hold nothing a new bucket
    /// would not.
    pub fn prune(&self, now: UnixTime) {
        for shard in &self.shards {
            shard.lock().retain(|_, b| !b.is_full_at(now));
        }
    }

    /// Buckets held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn each_credential_has_its_own_bucket_per_route_and_idle_ones_are_pruned() {
        let limits = RouteLimits::default();
        let rate = Rate {
            limit: NonZeroU32::new(2).unwrap(),
            duration_ms: 1_000,
        };
        let now = UnixTime::from_millis(1_000_000);
        assert!(limits.take("r", "a", rate, now).retry_after_ms.is_none());
        assert!(limits.take("r", "a", rate, now).retry_after_ms.is_none());
        assert!(limits.take("r", "a", rate, now).retry_after_ms.is_some());
        assert!(limits.take("r", "b", rate, now).retry_after_ms.is_none());
        assert!(
            limits
                .take("other", "a", rate, now)
                .retry_after_ms
                .is_none()
        );
        assert_eq!(limits.len(), 3);
        limits.prune(UnixTime::from_millis(1_002_000));
        assert!(limits.is_empty());
    }
}
