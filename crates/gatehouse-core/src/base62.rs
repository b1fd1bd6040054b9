//! Base62 with the alphabet `0-9A-Za-z`, whose ASCII order is also its numeric order:
//! fixed-width base62 strings sort like the numbers they encode.

use crate::entropy::{Entropy, EntropyUnavailable};

/// The alphabet, in digit order.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `b` is a base62 digit.
pub const fn is_digit(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Writes `value` as exactly `out.len()` base62 digits, most significant first,
/// left-padded with `0`. Digits beyond the width are dropped; callers size `out` so
/// that none are.
pub fn encode_fixed(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        // `value % 62` is below 62, so the index is in bounds.
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
}

/// Fills `out` with uniformly random base62 digits.
///
/// Uses rejection sampling: a byte is kept only below 248 (= 4 × 62), so every digit
/// is equally likely and each carries log2(62) ≈ 5.95 bits.
pub fn fill_random(out: &mut [u8], entropy: &mut dyn Entropy) -> Result<(), EntropyUnavailable> {
    let mut pool = [0u8; 64];
    let mut used = pool.len();
    for slot in out.iter_mut() {
        loop {
            if used == pool.len() {
                entropy.fill(&mut pool)?;
                used = 0;
            }
            let byte = pool[used];
            used += 1;
            if byte < 248 {
                *slot = ALPHABET[usize::from(byte % 62)];
                break;
            }
        }
    }
    pool.fill(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_encoding_pads_with_zero() {
        let mut out = [0u8; 6];
        encode_fixed(61, &mut out);
        assert_eq!(&out, b"00000z");
        encode_fixed(62, &mut out);
        assert_eq!(&out, b"000010");
        encode_fixed(u64::from(u32::MAX), &mut out);
        assert_eq!(&out, b"4gfFC3");
    }

    #[test]
    fn alphabet_is_in_ascii_order() {
        assert!(ALPHABET.windows(2).all(|w| w[0] < w[1]));
    }
}
