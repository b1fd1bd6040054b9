//! The verification decision for a presented API key.

use super::{KeyAccess, KeyRecord};
use crate::auth::{AuthMethod, Authenticated};
use crate::rate_limit::{BucketState, TokenBucket};
use crate::scope::Scope;
use crate::time::UnixTime;

/// The mutable side of a key, kept in memory beside its record and persisted later.
#[derive(Debug, Clone, Default)]
pub struct KeyUsage {
    /// Verifications left, when limited.
    pub remaining: Option<u64>,
    /// Rate-limit state.
    pub bucket: TokenBucket,
    /// Last successful verification.
    pub last_used_at: Option<UnixTime>,
}

impl KeyUsage {
    /// Usage as the store last saw it.
    pub fn from_record(record: &KeyRecord) -> Self {
        Self {
            remaining: record.remaining,
            bucket: TokenBucket::default(),
            last_used_at: record.last_used_at,
        }
    }
}

/// Rate-limit state reported with a decision.
pub type RateLimitState = BucketState;

/// Why a key was refused. The order of the checks is the order of the variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No key with this digest.
    NotFound,
    /// Revoked (permanently).
    Revoked,
    /// Past its expiry.
    Expired,
    /// Disabled by an administrator.
    Disabled,
    /// Lacks a required scope.
    InsufficientScope,
    /// No verifications left.
    UsageExceeded,
    /// Over its rate limit.
    RateLimited(RateLimitState),
}

impl Denial {
    /// The stable code reported to callers and in the audit trail.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
            Self::Disabled => "DISABLED",
            Self::InsufficientScope => "INSUFFICIENT_SCOPE",
            Self::UsageExceeded => "USAGE_EXCEEDED",
            Self::RateLimited(_) => "RATE_LIMITED",
        }
    }
}

/// A key that passed every check, with what the check consumed.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The proof of authentication.
    pub who: Authenticated,
    /// Verifications left after this one, when limited.
    pub remaining: Option<u64>,
    /// Rate-limit state after this request, when limited.
    pub rate: Option<RateLimitState>,
}

/// Decides whether the key with `access` may be used at `now` for `required` scopes,
/// and consumes one use and one rate-limit token if so.
///
/// Checks run from the most to the least permanent reason, and nothing is consumed by
/// a refused request: a key over its rate limit keeps its usage count.
pub fn verify(
    access: Option<&KeyAccess>,
    usage: &mut KeyUsage,
    required: &[Scope],
    now: UnixTime,
) -> Result<Verified, Denial> {
    let record = access.ok_or(Denial::NotFound)?;
    if record.is_revoked_at(now) {
        return Err(Denial::Revoked);
    }
    if record.is_expired_at(now) {
        return Err(Denial::Expired);
    }
    if !record.enabled {
        return Err(Denial::Disabled);
    }
    if !record.scopes.grants_all(required) {
        return Err(Denial::InsufficientScope);
    }
    if usage.remaining == Some(0) {
        return Err(Denial::UsageExceeded);
    }
    let rate = match record.rate_limit {
        Some(limit) => {
            let state = usage.bucket.take(limit, now);
            if state.retry_after_ms.is_some() {
                return Err(Denial::RateLimited(state));
            }
            Some(state)
        }
        None => None,
    };
    usage.remaining = usage.remaining.map(|n| n - 1);
    usage.last_used_at = Some(now);
    let who = Authenticated::new(
        record.shared_subject(),
        record.shared_id(),
        AuthMethod::ApiKey,
        record.scopes.clone(),
    );
    Ok(Verified {
        who,
        remaining: usage.remaining,
        rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_key::{KeyDigest, Prefix};
    use crate::rate_limit::Rate;
    use crate::scope::ScopeSet;
    use std::num::NonZeroU32;

    const NOW: UnixTime = UnixTime::from_millis(1_700_000_000_000);

    fn record() -> KeyRecord {
        KeyRecord {
            id: "key_1".into(),
            digest: KeyDigest([7; 32]),
            prefix: Prefix::default_prefix(),
            start: "gk_abcd".into(),
            name: "test".into(),
            subject: "svc".into(),
            scopes: ScopeSet::parse(["orders:read"]).unwrap(),
            metadata: serde_json::Map::new(),
            created_at: NOW,
            updated_at: NOW,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            enabled: true,
            rate_limit: None,
            remaining: None,
        }
    }

    fn check(record: &KeyRecord, required: &[&str]) -> Result<Verified, Denial> {
        let required: Vec<Scope> = required.iter().map(|s| Scope::parse(s).unwrap()).collect();
        verify(
            Some(&record.access()),
            &mut KeyUsage::from_record(record),
            &required,
            NOW,
        )
    }

    #[test]
    fn access_keeps_id_subject_and_metadata_apart_in_one_string() {
        let mut r = record();
        r.subject = "sérvice/ünïcode".into();
        assert_eq!(r.access().metadata(), None);
        r.metadata
            .insert("tenant".into(), serde_json::Value::from(7));
        let access = r.access();
        assert_eq!(access.id(), "key_1");
        assert_eq!(access.subject(), "sérvice/ünïcode");
        assert_eq!(access.metadata(), Some(r#"{"tenant":7}"#));
        assert_eq!(&*access.shared_subject(), "sérvice/ünïcode");
        assert_eq!(&*access.shared_id(), "key_1");
    }

    #[test]
    fn missing_record_is_not_found() {
        let denial = verify(None, &mut KeyUsage::default(), &[], NOW).unwrap_err();
        assert_eq!(denial, Denial::NotFound);
    }

    #[test]
    fn valid_key_yields_its_subject_and_scopes() {
        let verified = check(&record(), &["orders:read"]).unwrap();
        assert_eq!(verified.who.principal(), "svc");
        assert_eq!(verified.who.credential_id(), "key_1");
        assert!(verified.who.scopes().contains("orders:read"));
    }

    #[test]
    fn revocation_takes_effect_at_its_time_not_before() {
        let mut r = record();
        r.revoked_at = Some(NOW.plus_millis(1));
        assert!(check(&r, &[]).is_ok());
        r.revoked_at = Some(NOW);
        assert_eq!(check(&r, &[]).unwrap_err(), Denial::Revoked);
    }

    #[test]
    fn expiry_is_exclusive() {
        let mut r = record();
        r.expires_at = Some(NOW);
        assert_eq!(check(&r, &[]).unwrap_err(), Denial::Expired);
    }

    #[test]
    fn revoked_wins_over_expired_and_disabled() {
        let mut r = record();
        r.revoked_at = Some(NOW);
        r.expires_at = Some(NOW);
        r.enabled = false;
        assert_eq!(check(&r, &[]).unwrap_err(), Denial::Revoked);
    }

    #[test]
    fn disabled_key_is_refused() {
        let mut r = record();
        r.enabled = false;
        assert_eq!(check(&r, &[]).unwrap_err(), Denial::Disabled);
    }

    #[test]
    fn missing_scope_is_insufficient() {
        assert_eq!(
            check(&record(), &["orders:write"]).unwrap_err(),
            Denial::InsufficientScope
        );
    }

    #[test]
    fn usage_limit_counts_down_then_refuses() {
        let mut r = record();
        r.remaining = Some(2);
        let mut usage = KeyUsage::from_record(&r);
        assert_eq!(
            verify(Some(&r.access()), &mut usage, &[], NOW)
                .unwrap()
                .remaining,
            Some(1)
        );
        assert_eq!(
            verify(Some(&r.access()), &mut usage, &[], NOW)
                .unwrap()
                .remaining,
            Some(0)
        );
        assert_eq!(
            verify(Some(&r.access()), &mut usage, &[], NOW).unwrap_err(),
            Denial::UsageExceeded
        );
        assert_eq!(usage.last_used_at, Some(NOW));
    }

    #[test]
    fn rate_limited_request_consumes_no_usage() {
        let mut r = record();
        r.remaining = Some(10);
        r.rate_limit = Some(Rate {
            limit: NonZeroU32::MIN,
            duration_ms: 60_000,
        });
        let mut usage = KeyUsage::from_record(&r);
        assert!(verify(Some(&r.access()), &mut usage, &[], NOW).is_ok());
        let denial = verify(Some(&r.access()), &mut usage, &[], NOW).unwrap_err();
        assert!(matches!(denial, Denial::RateLimited(s) if s.retry_after_ms == Some(60_000)));
        assert_eq!(usage.remaining, Some(9));
    }
}
