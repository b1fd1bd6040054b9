//! Scopes: RFC 6749 §3.3 scope tokens, and sets of them.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Longest scope accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 128;

/// The scope that holds every `gatehouse:*` scope.
pub const ADMIN: &str = "gatehouse:admin";
/// Manage API keys.
pub const KEYS: &str = "gatehouse:keys";
/// Manage OAuth clients.
pub const CLIENTS: &str = "gatehouse:clients";
/// Read the audit trail.
pub const AUDIT_READ: &str = "gatehouse:audit:read";
/// Verify other credentials (`POST /v1/keys/verify`).
pub const VERIFY: &str = "gatehouse:verify";
/// Introspect any Gatehouse token (`POST /oauth/introspect`), held by a client.
pub const INTROSPECT: &str = "gatehouse:introspect";
/// Scrape `GET /metrics` when `[metrics] auth = "api_key"`.
pub const METRICS: &str = "gatehouse:metrics";

/// Why a string is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Empty, too long, or a character outside RFC 6749's `scope-token`.
    #[error("a scope is 1 to 128 printable ASCII characters without space, '\"' or '\\'")]
    Malformed,
}

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )`, at most 128 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Scope(Box<str>);

impl Scope {
    /// Parses one scope token.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_SCOPE_LEN
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if ok {
            Ok(Self(s.into()))
        } else {
            Err(ScopeError::Malformed)
        }
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A sorted, duplicate-free set of scopes, cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(Arc<[Scope]>);

impl ScopeSet {
    /// A set of the given scopes, sorted, duplicates dropped.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v.into())
    }

    /// Parses scopes from strings.
    pub fn parse<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopeError> {
        Ok(Self::new(
            scopes
                .into_iter()
                .map(Scope::parse)
                .collect::<Result<Vec<_>, _>>()?,
        ))
    }

    /// Whether the set holds `scope` literally.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.binary_search_by(|s| s.as_str().cmp(scope)).is_ok()
    }

    /// Whether the set grants `scope`: it holds it, or it is a `gatehouse:*` scope and
    /// the set holds `gatehouse:admin`. Application scopes are only ever granted
    /// literally.
    pub fn grants(&self, scope: &str) -> bool {
        self.contains(scope) || (scope.starts_with("gatehouse:") && self.contains(ADMIN))
    }

    /// Whether the set grants every scope in `required`.
    pub fn grants_all<'a>(&self, required: impl IntoIterator<Item = &'a Scope>) -> bool {
        required.into_iter().all(|s| self.grants(s.as_str()))
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes joined by single spaces (the OAuth `scope` form).
    pub fn to_space_separated(&self) -> String {
        self.0
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::new(Vec::<Scope>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn admin_grants_gatehouse_scopes_but_not_application_scopes() {
        let set = ScopeSet::parse([ADMIN]).unwrap();
        assert!(set.grants(KEYS));
        assert!(set.grants(AUDIT_READ));
        assert!(!set.grants("orders:read"));
    }

    #[test]
    fn keys_scope_does_not_grant_audit() {
        let set = ScopeSet::parse([KEYS]).unwrap();
        assert!(set.grants(KEYS));
        assert!(!set.grants(AUDIT_READ));
        assert!(!set.grants(ADMIN));
    }

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(Scope::parse("orders:read").is_ok());
        assert!(Scope::parse("a!#[]~").is_ok());
        assert!(Scope::parse("has space").is_err());
        assert!(Scope::parse("quote\"").is_err());
        assert!(Scope::parse("back\\slash").is_err());
        assert!(Scope::parse("").is_err());
        assert!(Scope::parse(&"a".repeat(129)).is_err());
        assert!(Scope::parse("é").is_err());
    }

    #[test]
    fn sets_are_sorted_and_deduplicated() {
        let set = ScopeSet::parse(["b", "a", "b"]).unwrap();
        assert_eq!(set.to_space_separated(), "a b");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_scope_tokens(s in ".{0,140}") {
            if let Ok(scope) = Scope::parse(&s) {
                prop_assert!(!scope.as_str().contains(' '));
                prop_assert!(scope.as_str().len() <= MAX_SCOPE_LEN);
            }
        }
    }
}
