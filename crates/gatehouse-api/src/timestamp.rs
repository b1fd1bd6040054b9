//! Conversions between core's millisecond [`UnixTime`] and RFC 3339 timestamps.

use gatehouse_core::UnixTime;
use time::OffsetDateTime;

/// The RFC 3339 form of `t`, in UTC.
pub fn to_datetime(t: UnixTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_millis()) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `t` in milliseconds since the epoch (sub-millisecond digits are dropped).
pub fn from_datetime(t: OffsetDateTime) -> UnixTime {
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    UnixTime::from_millis(i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX }))
}

/// Serde helpers for `Option<OffsetDateTime>` as RFC 3339.
pub mod option {
    pub use time::serde::rfc3339::option::{deserialize, serialize};
}

/// Serde helpers for `OffsetDateTime` as RFC 3339.
pub mod required {
    pub use time::serde::rfc3339::{deserialize, serialize};
}

/// Deserializes a field that may be absent (keep), `null` (clear) or a value (set).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// [`double_option`] for RFC 3339 timestamps.
pub fn double_option_datetime<'de, D>(d: D) -> Result<Option<Option<OffsetDateTime>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    time::serde::rfc3339::option::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_times_survive_the_round_trip() {
        let t = UnixTime::from_millis(1_764_320_000_123);
        assert_eq!(from_datetime(to_datetime(t)), t);
    }
}
