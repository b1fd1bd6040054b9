//! A token bucket, computed as GCRA (the generic cell rate algorithm): one timestamp of
//! state per credential, no background refill.
//!
//! A limit of `limit` requests per `period` lets a burst of `limit` through, then one
//! request every `period / limit`.

use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;

/// A rate: at most `limit` requests per `duration_ms`, with bursts up to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests allowed per window.
    pub limit: NonZeroU32,
    /// Window length in milliseconds (≥ 1).
    pub duration_ms: u64,
}

/// What a take from the bucket says about the rate, for `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    /// The configured limit.
    pub limit: u32,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// Milliseconds until the bucket is full again.
    pub reset_ms: u64,
    /// When refused: milliseconds until one request would be allowed.
    pub retry_after_ms: Option<u64>,
}

/// GCRA state: the theoretical arrival time, in microseconds since the epoch (eight
/// bytes per credential; the arithmetic is done in `i128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenBucket {
    tat_us: i64,
}

impl TokenBucket {
    /// Takes one token at `now` if the rate allows, and reports the bucket's state.
    pub fn take(&mut self, rate: Rate, now: UnixTime) -> BucketState {
        let limit = i128::from(rate.limit.get());
        let period_us = i128::from(rate.duration_ms.max(1)) * 1000;
        let interval = (period_us / limit).max(1);
        let now_us = i128::from(now.as_millis()) * 1000;
        let tat = i128::from(self.tat_us).max(now_us);
        let new_tat = tat + interval;
        // Allowed while the new arrival time stays within one period of now.
        let allowed = new_tat - now_us <= period_us;
        let effective = if allowed { new_tat } else { tat };
        if allowed {
            self.tat_us = i64::try_from(new_tat).unwrap_or(i64::MAX);
        }
        let backlog = effective - now_us;
        let remaining = ((period_us - backlog) / interval).clamp(0, limit);
        BucketState {
            limit: rate.limit.get(),
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_ms: ms_ceil(backlog),
            retry_after_ms: (!allowed).then(|| ms_ceil(new_tat - now_us - period_us)),
        }
    }
}

impl TokenBucket {
    /// Whether the bucket has refilled completely by `now`: it then holds nothing a new
    /// bucket would not, and can be forgotten.
    pub fn is_full_at(&self, now: UnixTime) -> bool {
        i128::from(self.tat_us) <= i128::from(now.as_millis()) * 1000
    }
}

fn ms_ceil(us: i128) -> u64 {
    u64::try_from((us.max(0) + 999) / 1000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        limit: NonZeroU32::new(3).unwrap(),
        duration_ms: 3000,
    };

    #[test]
    fn burst_up_to_the_limit_then_refuses() {
        let mut bucket = TokenBucket::default();
        let t = UnixTime::from_millis(1_000_000);
        assert_eq!(bucket.take(RATE, t).remaining, 2);
        assert_eq!(bucket.take(RATE, t).remaining, 1);
        let third = bucket.take(RATE, t);
        assert_eq!(third.remaining, 0);
        assert_eq!(third.retry_after_ms, None);
        let refused = bucket.take(RATE, t);
        assert_eq!(refused.retry_after_ms, Some(1000));
    }

    #[test]
    fn refills_one_token_per_interval() {
        let mut bucket = TokenBucket::default();
        let t = UnixTime::from_millis(0);
        for _ in 0..3 {
            bucket.take(RATE, t);
        }
        assert!(
            bucket
                .take(RATE, t.plus_millis(999))
                .retry_after_ms
                .is_some()
        );
        assert!(
            bucket
                .take(RATE, t.plus_millis(1000))
                .retry_after_ms
                .is_none()
        );
        assert!(
            bucket
                .take(RATE, t.plus_millis(1000))
                .retry_after_ms
                .is_some()
        );
    }

    #[test]
    fn a_refused_take_does_not_consume() {
        let mut bucket = TokenBucket::default();
        let rate = Rate {
            limit: NonZeroU32::MIN,
            duration_ms: 1000,
        };
        let t = UnixTime::from_millis(0);
        bucket.take(rate, t);
        for _ in 0..100 {
            assert!(
                bucket
                    .take(rate, t.plus_millis(10))
                    .retry_after_ms
                    .is_some()
            );
        }
        assert!(
            bucket
                .take(rate, t.plus_millis(1000))
                .retry_after_ms
                .is_none()
        );
    }
}
