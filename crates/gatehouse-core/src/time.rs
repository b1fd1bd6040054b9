//! Time as a value. Core never reads a clock; callers pass `now` in.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::num::NonZeroU64;

/// The bit that maps `i64` onto `u64` in order: `i64::MIN` becomes 0, `i64::MAX` becomes
/// `u64::MAX`.
const SIGN: u64 = 1 << 63;

/// Milliseconds since the Unix epoch, UTC.
///
/// Stored order-preserving in a `NonZeroU64`, so an `Option<UnixTime>` is eight bytes
/// instead of sixteen: a million keys in memory carry three each. The one value given
/// up, `i64::MIN` milliseconds (292 million years BC), saturates to the next one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(NonZeroU64);

impl UnixTime {
    /// The instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        match NonZeroU64::new(ms.cast_unsigned() ^ SIGN) {
            Some(biased) => Self(biased),
            None => Self(NonZeroU64::MIN),
        }
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        (self.0.get() ^ SIGN).cast_signed()
    }

    /// This instant moved `ms` milliseconds forward (saturating).
    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self::from_millis(self.as_millis().saturating_add(ms))
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({})", self.as_millis())
    }
}

impl Serialize for UnixTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.as_millis())
    }
}

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Self::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_optional_time_is_eight_bytes() {
        assert_eq!(size_of::<Option<UnixTime>>(), 8);
    }

    #[test]
    fn the_extremes_round_trip_or_saturate() {
        assert_eq!(UnixTime::from_millis(i64::MAX).as_millis(), i64::MAX);
        assert_eq!(UnixTime::from_millis(0).as_millis(), 0);
        assert_eq!(UnixTime::from_millis(-1).as_millis(), -1);
        assert_eq!(UnixTime::from_millis(i64::MIN).as_millis(), i64::MIN + 1);
        assert_eq!(
            UnixTime::from_millis(i64::MAX).plus_millis(1).as_millis(),
            i64::MAX
        );
    }

    #[test]
    fn serializes_as_plain_milliseconds() {
        let t = UnixTime::from_millis(1_700_000_000_123);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1700000000123");
        assert_eq!(
            serde_json::from_str::<UnixTime>("-5").unwrap().as_millis(),
            -5
        );
    }

    proptest! {
        #[test]
        fn round_trips_and_keeps_order(a in (i64::MIN + 1)..=i64::MAX, b in (i64::MIN + 1)..=i64::MAX) {
            let (ta, tb) = (UnixTime::from_millis(a), UnixTime::from_millis(b));
            prop_assert_eq!(ta.as_millis(), a);
            prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
        }
    }
}
