//! Human passwords: the acceptance rule, and Argon2id hashes in PHC string form.
//!
//! Passwords are the one secret people choose, so they are the one secret hashed slowly
//! (API keys and client secrets are random and hashed with SHA-256). Parameters follow
//! OWASP's Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 passes, 1 lane. They are
//! stored in each hash, so raising them later still verifies the old hashes.

use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (OWASP: 19 MiB with 2 passes).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const PASSES: u32 = 2;
/// Lanes.
pub const LANES: u32 = 1;
/// Shortest password accepted, in characters (NIST SP 800-63B asks for at least 8;
/// 12 leaves offline guessing out of reach at these parameters).
pub const MIN_CHARS: usize = 12;
/// Longest password accepted, in bytes: long passphrases are welcome, megabytes of
/// input to a slow hash are not.
pub const MAX_BYTES: usize = 1024;

/// Why a password is not accepted or cannot be hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("a password has at least 12 characters")]
    TooShort,
    /// More than [`MAX_BYTES`] bytes.
    #[error("a password has at most 1024 bytes")]
    TooLong,
    /// Control characters (other than none at all): they are never typed on purpose.
    #[error("a password must not contain control characters")]
    ControlCharacter,
    /// The stored hash is not a PHC string Gatehouse can read.
    #[error("the stored password hash is unreadable")]
    UnreadableHash,
}

/// A password that meets the rule: length and no control characters. No composition
/// rules (NIST SP 800-63B §5.1.1.2): they make passwords worse, not stronger.
pub fn check(password: &Secret<String>) -> Result<(), PasswordError> {
    let text = password.expose().as_str();
    if text.len() > MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if text.chars().count() < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if text.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacter);
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants known to be valid; `default` is never reached.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The Argon2id hash of `password` with `salt` (16 random bytes), as a PHC string.
pub fn hash(password: &Secret<String>, salt: &[u8; 16]) -> Result<String, PasswordError> {
    check(password)?;
    let salt = SaltString::encode_b64(salt).map_err(|_| PasswordError::UnreadableHash)?;
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::UnreadableHash)
}

/// Whether `password` matches the PHC string `stored` (compared in constant time by
/// the argon2 crate). Any Argon2 variant and parameters recorded in the hash verify.
pub fn verify(password: &Secret<String>, stored: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::UnreadableHash)?;
    if password.expose().len() > MAX_BYTES {
        return Ok(false);
    }
    Ok(argon2()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok())
}

/// Whether a stored hash was made with weaker parameters than today's, so a login can
/// re-hash the password it just verified.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < PASSES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let stored = hash(&pw("correct horse battery"), &[7; 16]).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(&pw("correct horse battery"), &stored).unwrap());
        assert!(!verify(&pw("correct horse batterY"), &stored).unwrap());
        assert!(!verify(&pw(""), &stored).unwrap());
        assert!(!needs_rehash(&stored));
        // Another salt, another hash.
        assert_ne!(
            stored,
            hash(&pw("correct horse battery"), &[8; 16]).unwrap()
        );
    }

    #[test]
    fn the_rule_is_length_and_no_control_characters() {
        assert_eq!(check(&pw("short")), Err(PasswordError::TooShort));
        assert_eq!(check(&pw("ααααααααααα")), Err(PasswordError::TooShort));
        assert!(
            check(&pw("αααααααααααα")).is_ok(),
            "12 characters, 24 bytes"
        );
        assert_eq!(check(&pw(&"a".repeat(1025))), Err(PasswordError::TooLong));
        assert_eq!(
            check(&pw("twelve chars\n")),
            Err(PasswordError::ControlCharacter)
        );
        assert!(check(&pw("all lowercase words are fine")).is_ok());
    }

    #[test]
    fn garbage_hashes_are_unreadable_and_weak_ones_want_a_rehash() {
        assert_eq!(
            verify(&pw("correct horse battery"), "not a hash"),
            Err(PasswordError::UnreadableHash)
        );
        let weak = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        assert!(needs_rehash(weak));
        assert!(needs_rehash("$2b$12$abcdefghijklmnopqrstuv"));
    }
}
