//! People who log in (for the authorization code flow): accounts as stored, their
//! usernames, and their passwords (`password`).
//!
//! A user holds scopes like a key does: a token issued on a user's behalf can carry no
//! scope the user lacks. Disabling a user stops every login at once without losing the
//! account.

pub mod consent;
pub mod password;

pub use consent::Consent;

use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// Longest username, in bytes.
pub const MAX_USERNAME: usize = 64;

/// Why a username is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Empty, too long, or a character outside `a-z 0-9 . _ @ + -`.
    #[error(
        "a username is 1 to 64 characters of a-z, 0-9, '.', '_', '@', '+' or '-', starting with a letter or digit"
    )]
    Malformed,
}

/// A username: lowercase ASCII, so `Alice` and `alice` are one account and look-alike
/// Unicode names cannot impersonate each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Parses a username, folding ASCII case.
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        let lower = s.to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= MAX_USERNAME
            && lower
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && lower
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_@+".contains(&b));
        if ok {
            Ok(Self(lower))
        } else {
            Err(UsernameError::Malformed)
        }
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// `usr_…`.
    pub id: String,
    /// Unique login name.
    pub username: Username,
    /// Shown on consent pages; optional.
    pub display_name: Option<String>,
    /// Contact address (not verified by Gatehouse); optional.
    pub email: Option<String>,
    /// Argon2id PHC string; `None` until a password is set (the user cannot log in).
    pub password_hash: Option<String>,
    /// The most a token on this user's behalf may carry.
    pub scopes: ScopeSet,
    /// Whether the user may log in.
    pub enabled: bool,
    /// Created.
    pub created_at: UnixTime,
    /// Last changed (any field).
    pub updated_at: UnixTime,
    /// When the password was last set.
    pub password_changed_at: Option<UnixTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_fold_case_and_refuse_odd_characters() {
        assert_eq!(
            Username::parse("Alice.B+test@Example").unwrap().as_str(),
            "alice.b+test@example"
        );
        for bad in [
            "",
            "-alice",
            "al ice",
            "alicé",
            "a\u{0430}",
            &"a".repeat(65),
            "a/b",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }
}
