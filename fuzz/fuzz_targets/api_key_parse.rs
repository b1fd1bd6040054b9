//! Feeds arbitrary bytes to the API key parser: it must never panic, and whatever it
//! accepts must have the published shape and round-trip.
#![no_main]

use gatehouse_core::api_key::{ApiKey, BODY_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(key) = ApiKey::parse(text) {
        assert_eq!(key.reveal(), text);
        let (prefix, body) = text.split_once('_').expect("accepted keys have a separator");
        assert_eq!(key.prefix(), prefix);
        assert_eq!(body.len(), BODY_LEN);
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(ApiKey::parse(key.reveal()).map(|k| k.digest()).ok(), Some(key.digest()));
    }
});
