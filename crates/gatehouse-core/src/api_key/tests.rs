use super::*;
use crate::entropy::{Entropy, EntropyUnavailable};
use proptest::prelude::*;

/// Deterministic bytes for tests: a counter.
struct Counter(u8);

impl Entropy for Counter {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
        for b in dest {
            *b = self.0;
            self.0 = self.0.wrapping_add(7);
        }
        Ok(())
    }
}

fn generated() -> ApiKey {
    ApiKey::generate(&Prefix::default_prefix(), &mut Counter(0)).unwrap()
}

#[test]
fn generated_key_matches_the_published_pattern_and_parses_back() {
    let key = generated();
    let text = key.reveal();
    assert!(text.starts_with("gk_"));
    assert_eq!(text.len(), 3 + BODY_LEN);
    assert!(text[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    let parsed = ApiKey::parse(text).unwrap();
    assert_eq!(parsed.digest(), key.digest());
    assert_eq!(parsed.start(), &text[..7]);
}

#[test]
fn checksum_is_crc32_of_the_random_part_in_base62() {
    let key = generated();
    let body = &key.reveal()[3..];
    let crc = crc32fast::hash(&body.as_bytes()[..RANDOM_LEN]);
    let mut expected = [0u8; 6];
    crate::base62::encode_fixed(u64::from(crc), &mut expected);
    assert_eq!(&body.as_bytes()[RANDOM_LEN..], &expected);
}

#[test]
fn a_single_changed_character_fails_the_checksum() {
    let key = generated();
    let mut bytes = key.reveal().as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        ApiKey::parse(&tampered).unwrap_err(),
        ApiKeyError::BadChecksum
    );
}

#[test]
fn malformed_keys_are_rejected_with_the_reason() {
    let body = &generated().reveal()[3..].to_owned();
    assert_eq!(
        ApiKey::parse("nounderscore").unwrap_err(),
        ApiKeyError::MissingSeparator
    );
    assert_eq!(
        ApiKey::parse(&format!("Gk_{body}")).unwrap_err(),
        ApiKeyError::BadPrefix
    );
    assert_eq!(
        ApiKey::parse(&format!("_{body}")).unwrap_err(),
        ApiKeyError::BadPrefix
    );
    assert_eq!(
        ApiKey::parse(&format!("1k_{body}")).unwrap_err(),
        ApiKeyError::BadPrefix
    );
    assert_eq!(
        ApiKey::parse(&format!("abcdefghijklmnopq_{body}")).unwrap_err(),
        ApiKeyError::BadPrefix
    );
    assert_eq!(
        ApiKey::parse(&format!("gk_{body}x")).unwrap_err(),
        ApiKeyError::BadLength
    );
    assert_eq!(
        ApiKey::parse(&format!("gk_{}", &body[1..])).unwrap_err(),
        ApiKeyError::BadLength
    );
    let with_dash = format!("gk_-{}", &body[1..]);
    assert_eq!(
        ApiKey::parse(&with_dash).unwrap_err(),
        ApiKeyError::BadAlphabet
    );
}

#[test]
fn prefix_of_sixteen_characters_is_allowed() {
    let prefix = Prefix::parse("abcdefghijklmnop").unwrap();
    let key = ApiKey::generate(&prefix, &mut Counter(3)).unwrap();
    assert_eq!(key.prefix(), "abcdefghijklmnop");
    assert!(ApiKey::parse(key.reveal()).is_ok());
}

#[test]
fn digest_round_trips_through_hex() {
    let digest = generated().digest();
    assert_eq!(KeyDigest::from_hex(&digest.to_hex()), Some(digest));
    assert_eq!(KeyDigest::from_hex("zz"), None);
}

proptest! {
    #[test]
    fn parse_never_panics(s in ".{0,200}") {
        let _ = ApiKey::parse(&s);
    }

    #[test]
    fn parse_accepts_exactly_the_generated_shape(s in "[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{46}") {
        // Random strings of the right shape only parse if their checksum happens to match.
        if let Ok(key) = ApiKey::parse(&s) {
            let body = &s.as_bytes()[s.len() - BODY_LEN..];
            let mut expected = [0u8; 6];
            crate::base62::encode_fixed(u64::from(crc32fast::hash(&body[..RANDOM_LEN])), &mut expected);
            prop_assert_eq!(&body[RANDOM_LEN..], &expected[..]);
            prop_assert_eq!(key.reveal(), s.as_str());
        }
    }

    #[test]
    fn every_generated_key_parses(seed in any::<u8>(), prefix in "[a-z][a-z0-9]{0,15}") {
        let prefix = Prefix::parse(&prefix).unwrap();
        let key = ApiKey::generate(&prefix, &mut Counter(seed)).unwrap();
        prop_assert!(ApiKey::parse(key.reveal()).is_ok());
    }

    #[test]
    fn any_single_substitution_in_the_body_is_caught(pos in 0usize..BODY_LEN, replacement in "[0-9A-Za-z]") {
        let key = generated();
        let mut bytes = key.reveal().as_bytes().to_vec();
        let at = 3 + pos;
        let new = replacement.as_bytes()[0];
        prop_assume!(bytes[at] != new);
        bytes[at] = new;
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(ApiKey::parse(&tampered).unwrap_err(), ApiKeyError::BadChecksum);
    }
}

#[test]
fn the_refresh_token_prefix_is_kept_from_api_keys() {
    assert_eq!(Prefix::for_keys("grt"), Err(ApiKeyError::ReservedPrefix));
    assert_eq!(
        Prefix::for_keys("gk").map(|p| p.as_str().to_owned()),
        Ok("gk".to_owned())
    );
    assert_eq!(Prefix::for_keys("Bad"), Err(ApiKeyError::BadPrefix));
}
