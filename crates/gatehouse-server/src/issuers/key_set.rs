//! An issuer's JWK Set as held in memory: parsed once into verifying keys, with the
//! time it was fetched and how long it stays fresh.

use gatehouse_core::jose::{Alg, Jwk, VerifyingKey};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// Entries of a JWK Set looked at; real issuers publish a handful, and parsing an RSA
/// key is not free, so a set padded with thousands is cut short.
const MAX_KEYS: usize = 100;

/// How long things take and last. Constants in production; tests shrink them rather
/// than sleep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Least time between two fetches of one issuer's keys.
    pub refetch: Duration,
    /// Bounds and default of the freshness taken from `Cache-Control: max-age`.
    pub fresh_min: Duration,
    pub fresh_max: Duration,
    pub fresh_default: Duration,
    /// How long keys are still used, counted from their fetch, while the issuer cannot
    /// be reached.
    pub max_stale: Duration,
    /// Limit on one HTTP exchange, body included.
    pub fetch_timeout: Duration,
}

impl Timing {
    pub(crate) const DEFAULT: Self = Self {
        refetch: super::REFETCH_MIN_INTERVAL,
        fresh_min: Duration::from_secs(60),
        fresh_max: Duration::from_secs(3600),
        fresh_default: Duration::from_secs(300),
        // Serving old keys through an outage keeps the gateway up, but it also means a
        // key the issuer withdrew (say, after a leak) stays trusted while anyone can
        // keep us from reaching the issuer. A day bounds that window.
        max_stale: Duration::from_secs(24 * 3600),
        fetch_timeout: super::FETCH_TIMEOUT,
    };

    /// Freshness for a response with these `Cache-Control` values.
    pub(crate) fn fresh_for(&self, cache_control: Option<&str>) -> Duration {
        match cache_control.and_then(max_age) {
            Some(secs) => Duration::from_secs(secs).clamp(self.fresh_min, self.fresh_max),
            None => self.fresh_default,
        }
    }
}

/// `max-age` in seconds; `no-cache` and `no-store` count as 0 (then clamped up: an
/// issuer cannot make us fetch on every request).
fn max_age(cache_control: &str) -> Option<u64> {
    let mut found = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(0);
        }
        if let Some((name, value)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
        {
            found = found.or(value.trim().trim_matches('"').parse().ok());
        }
    }
    found
}

/// The usable keys of one fetched JWK Set.
#[derive(Debug)]
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
    fetched_at: Instant,
    fresh_for: Duration,
}

/// Only `keys` is read; each entry is parsed on its own so one odd key cannot spoil
/// the others.
#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWK Set document, keeping the keys that can verify an allowed
    /// algorithm and skipping the rest. Fails only if the document is not a JWK Set.
    pub(crate) fn parse(
        body: &[u8],
        allowed: &[Alg],
        issuer: &str,
        fetched_at: Instant,
        fresh_for: Duration,
    ) -> Result<Self, serde_json::Error> {
        let raw: RawSet = serde_json::from_slice(body)?;
        let mut keys: Vec<VerifyingKey> = Vec::new();
        for entry in raw.keys.into_iter().take(MAX_KEYS) {
            match usable(entry, allowed) {
                // Two keys under one kid would make the choice of key the publisher's
                // accident; the first is kept, as most verifiers do.
                Ok(key) if keys.iter().any(|k| k.kid() == key.kid()) => {
                    tracing::warn!(issuer, kid = ?key.kid(), "JWKS repeats a kid; first kept");
                }
                Ok(key) => keys.push(key),
                // Issuers routinely publish encryption or other keys: not worth a warning.
                Err(why) => tracing::debug!(issuer, why, "JWKS entry skipped"),
            }
        }
        Ok(Self {
            keys,
            fetched_at,
            fresh_for,
        })
    }

    /// The key with this `kid`.
    pub(crate) fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// Whether the set has no usable key.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of usable keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is recent enough to use without asking the issuer.
    pub(crate) fn fresh_at(&self, clock: Instant) -> bool {
        clock.saturating_duration_since(self.fetched_at) < self.fresh_for
    }

    /// Whether the set may still be used when a refresh fails.
    pub(crate) fn usable_at(&self, clock: Instant, max_stale: Duration) -> bool {
        clock.saturating_duration_since(self.fetched_at) < max_stale
    }

    #[cfg(test)]
    pub(crate) fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid().to_owned()).collect()
    }
}

/// The verifying key of one JWK Set entry, or why it is skipped.
fn usable(entry: serde_json::Value, allowed: &[Alg]) -> Result<VerifyingKey, &'static str> {
    let jwk: Jwk = serde_json::from_value(entry).map_err(|_| "not a JWK")?;
    if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
        return Err("`use` is not `sig`");
    }
    if let Some(alg) = jwk.alg.as_deref()
        && !Alg::from_name(alg).is_some_and(|a| allowed.contains(&a))
    {
        return Err("`alg` not allowed");
    }
    // Refuses private keys (`d`) and unsupported types and curves; fills in the RFC 7638
    // thumbprint as kid when there is none.
    let key = VerifyingKey::from_jwk(&jwk).map_err(|_| "unsupported or invalid key")?;
    if !allowed.contains(&key.alg()) {
        return Err("key algorithm not allowed");
    }
    Ok(key)
}
