//! Checking Gatehouse's own access tokens: signature and claims through core's
//! verifier, a cache of verified tokens, and the deny-list of revoked ones.
//!
//! The cache is keyed by SHA-256 of the token and holds an entry no longer than the
//! token lives, so a token seen again costs a hash and a lookup instead of a signature
//! check. Revocation is checked on every use, cached or not: revoking takes effect on
//! the very next request.

use crate::signing_keys::SigningKeys;
use gatehouse_core::UnixTime;
use gatehouse_core::jose::{Expected, TokenError, VerifiedToken};
use gatehouse_store::Store;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Cached verified tokens at most; past it, expired entries go, then everything.
const CACHE_CAP: usize = 100_000;

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Core refused it.
    Invalid(TokenError),
    /// It was revoked.
    Revoked,
}

impl Rejection {
    /// A stable reason for audit events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(e) => e.reason(),
            Self::Revoked => "revoked",
        }
    }
}

/// Where a token sits in the cache: SHA-256 of the token, computed once per request
/// whether the answer then comes from the cache or from a signature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

/// Verified-token cache and revocation deny-list.
#[derive(Debug, Default)]
pub struct AccessTokens {
    cache: RwLock<HashMap<CacheKey, Arc<VerifiedToken>>>,
    /// Revoked `jti` → when the token expires (then it can be forgotten).
    revoked: RwLock<HashMap<String, UnixTime>>,
}

impl AccessTokens {
    /// Loads the deny-list.
    pub async fn load(store: &dyn Store) -> anyhow::Result<Self> {
        let revoked = store.revoked_tokens().await?;
        let tokens = Self::default();
        tokens.revoked.write().extend(revoked);
        Ok(tokens)
    }

    /// Verifies a token Gatehouse issued (`iss` = `issuer`, `typ` = `at+jwt`).
    pub fn verify(
        &self,
        keys: &SigningKeys,
        token: &str,
        issuer: &str,
        now: UnixTime,
    ) -> Result<Arc<VerifiedToken>, Rejection> {
        self.verify_keyed(CacheKey::of(token), keys, token, issuer, now)
    }

    /// [`Self::verify`] for a token whose cache key the caller already has.
    pub fn verify_keyed(
        &self,
        key: CacheKey,
        keys: &SigningKeys,
        token: &str,
        issuer: &str,
        now: UnixTime,
    ) -> Result<Arc<VerifiedToken>, Rejection> {
        let verified = match self.cached(&key, now) {
            Some(hit) => hit,
            None => {
                let expected = Expected {
                    issuer,
                    audience: None,
                    typ: Some("at+jwt"),
                    leeway_secs: 0,
                    max_len: Expected::MAX_LEN,
                };
                let verified = Arc::new(
                    keys.verify(token, &expected, now)
                        .map_err(Rejection::Invalid)?,
                );
                self.remember(key, Arc::clone(&verified), now);
                verified
            }
        };
        self.still_valid(verified, now)
    }

    /// The same answer as [`Self::verify`] for a token verified before, from the cache
    /// alone; `None` if it is not cached. Only Gatehouse's own tokens are cached, so a
    /// hit needs no look at the token's claimed issuer.
    pub fn verify_if_cached(
        &self,
        key: &CacheKey,
        now: UnixTime,
    ) -> Option<Result<Arc<VerifiedToken>, Rejection>> {
        let hit = self.cached(key, now)?;
        Some(self.still_valid(hit, now))
    }

    /// A cached token that has not expired. Time claims are rechecked on a hit; the
    /// signature is what is cached.
    fn cached(&self, key: &CacheKey, now: UnixTime) -> Option<Arc<VerifiedToken>> {
        let hit = self.cache.read().get(key).cloned()?;
        (hit.claims.exp > now.as_millis().div_euclid(1000)).then_some(hit)
    }

    /// Checks what can change after the signature was verified: `nbf` against the
    /// clock, and revocation.
    fn still_valid(
        &self,
        verified: Arc<VerifiedToken>,
        now: UnixTime,
    ) -> Result<Arc<VerifiedToken>, Rejection> {
        if verified
            .claims
            .nbf
            .is_some_and(|nbf| nbf > now.as_millis().div_euclid(1000))
        {
            return Err(Rejection::Invalid(TokenError::NotYetValid));
        }
        if let Some(jti) = &verified.claims.jti
            && self.revoked.read().contains_key(jti)
        {
            return Err(Rejection::Revoked);
        }
        Ok(verified)
    }

    /// Revokes a verified token: persisted first, then effective here at once.
    pub async fn revoke(&self, store: &dyn Store, token: &VerifiedToken) -> anyhow::Result<()> {
        let Some(jti) = &token.claims.jti else {
            return Ok(());
        };
        let expires_at = UnixTime::from_millis(token.claims.exp.saturating_mul(1000));
        self.revoke_id(store, jti, expires_at).await
    }

    /// Revokes the token with `jti` without holding it (a replayed authorization code's
    /// token): deny-listed until `expires_at`, at the latest when it expires.
    pub async fn revoke_id(
        &self,
        store: &dyn Store,
        jti: &str,
        expires_at: UnixTime,
    ) -> anyhow::Result<()> {
        store.revoke_token(jti, expires_at).await?;
        self.revoked.write().insert(jti.to_owned(), expires_at);
        Ok(())
    }

    /// Forgets every cached token signed by `kid` (a withdrawn key).
    pub fn forget_key(&self, kid: &str) {
        self.cache.write().retain(|_, t| t.kid != kid);
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub async fn prune(&self, store: &dyn Store, now: UnixTime) -> anyhow::Result<()> {
        store.prune_revoked_tokens(now).await?;
        self.revoked.write().retain(|_, expires| *expires > now);
        Ok(())
    }

    fn remember(&self, key: CacheKey, token: Arc<VerifiedToken>, now: UnixTime) {
        let mut cache = self.cache.write();
        if cache.len() >= CACHE_CAP {
            let now_secs = now.as_millis().div_euclid(1000);
            cache.retain(|_, t| t.claims.exp > now_secs);
            if cache.len() >= CACHE_CAP {
                cache.clear();
            }
        }
        cache.insert(key, token);
    }
}
