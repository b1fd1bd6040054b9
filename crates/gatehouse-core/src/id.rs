//! Public identifiers such as `key_…` and `req_…`: time-sortable and unguessable.
//!
//! An id is a type prefix, `_`, 9 base62 characters of milliseconds since the epoch
//! and 16 random base62 characters (95 bits). Fixed width and base62's ASCII order
//! make ids sort by creation time, so listing by id is listing by age.

use crate::base62;
use crate::entropy::{Entropy, EntropyUnavailable};
use crate::time::UnixTime;

const TIME_LEN: usize = 9;
const RANDOM_LEN: usize = 16;

/// A new id such as `key_0Q1x…` for the type `prefix` at `now`.
pub fn generate(
    prefix: &str,
    now: UnixTime,
    entropy: &mut dyn Entropy,
) -> Result<String, EntropyUnavailable> {
    let mut buf = [0u8; TIME_LEN + RANDOM_LEN];
    let (time, random) = buf.split_at_mut(TIME_LEN);
    base62::encode_fixed(u64::try_from(now.as_millis()).unwrap_or(0), time);
    base62::fill_random(random, entropy)?;
    let mut id = String::with_capacity(prefix.len() + 1 + buf.len());
    id.push_str(prefix);
    id.push('_');
    id.extend(buf.iter().map(|&b| char::from(b)));
    Ok(id)
}

/// Whether `s` has the shape of an id of type `prefix`.
pub fn is_well_formed(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            rest.len() == TIME_LEN + RANDOM_LEN && rest.bytes().all(base62::is_digit)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl Entropy for Fixed {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
            dest.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = generate(
            "key",
            UnixTime::from_millis(1_700_000_000_000),
            &mut Fixed(200),
        )
        .unwrap();
        let b = generate(
            "key",
            UnixTime::from_millis(1_700_000_000_001),
            &mut Fixed(0),
        )
        .unwrap();
        assert!(a < b);
        assert!(is_well_formed("key", &a));
        assert!(!is_well_formed("req", &a));
        assert!(!is_well_formed("key", "key_short"));
    }
}
