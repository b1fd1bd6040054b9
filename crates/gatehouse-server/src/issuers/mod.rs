//! Tokens from external issuers (an IdP such as Auth0 or Keycloak), verified with the
//! keys each issuer publishes: `[[jwt.issuers]]`, SPEC §6.
//!
//! Each [`Issuer`] holds its JWK Set in memory, parsed once, and fetches it again when
//! it goes stale or a token names an unknown `kid`: one task fetches while the others
//! wait for its result, and never more often than [`REFETCH_MIN_INTERVAL`], so a flood
//! of tokens with made-up kids is not a flood of fetches. When no keys can be had the
//! answer is [`ExternalRejection::Unavailable`] (503), not a 401: the token may be
//! good. When a refresh fails, the keys held are used on, for a bounded time.
//!
//! The checks on the token are core's [`verify_jwt`] (signature by the key its `kid`
//! names, that key's algorithm, `iss`, `exp`/`nbf`/`iat` with [`LEEWAY_SECS`], size),
//! then the issuer's algorithm allow-list and audiences. `typ` is not checked: IdPs
//! send `JWT`, `at+jwt` or nothing. Keeping out tokens meant for someone else (an ID
//! token's `aud` is a client id) is the audience check's job.

mod fetch;
mod key_set;
mod settings;

#[cfg(test)]
mod tests;

pub use fetch::MAX_DOCUMENT_BYTES;
pub use settings::IssuerSettings;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fetch::FetchError;
use gatehouse_core::UnixTime;
use gatehouse_core::jose::{Alg, Expected, TokenError, VerifiedToken, verify_jwt};
use key_set::{KeySet, Timing};
use parking_lot::RwLock;
use reqwest::{Client, Url};
use serde::Deserialize;
use settings::{discovery_url, fetchable_url};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::MutexGuard;
use tokio::time::Instant;

/// Least time between two fetches of one issuer's keys, whatever the tokens ask for.
pub const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Limit on one fetch (discovery or JWK Set), body included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 60;

/// Why an external issuer's token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalRejection {
    /// The token fails a check: 401.
    #[error("{0}")]
    Invalid(TokenError),
    /// The issuer's keys cannot be fetched, so the token cannot be judged: 503.
    #[error("the issuer's keys cannot be fetched")]
    Unavailable,
}

impl ExternalRejection {
    /// A stable snake_case reason for logs and audit events.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(e) => e.reason(),
            Self::Unavailable => "issuer_unavailable",
        }
    }
}

/// Every configured external issuer.
#[derive(Debug)]
pub struct Issuers {
    issuers: Vec<Issuer>,
}

impl Issuers {
    /// The issuers of `settings` (validated by config), fetching with `http`. Nothing
    /// is fetched until a token needs it.
    pub fn new(settings: Vec<IssuerSettings>, http: Client) -> Self {
        Self::with_timing(settings, http, Timing::DEFAULT)
    }

    pub(crate) fn with_timing(settings: Vec<IssuerSettings>, http: Client, timing: Timing) -> Self {
        let mut issuers: Vec<Issuer> = Vec::with_capacity(settings.len());
        for settings in settings {
            // Config refuses duplicates; if one slips through, the first entry decides.
            if issuers.iter().any(|i| i.settings.issuer == settings.issuer) {
                tracing::warn!(issuer = %settings.issuer, "issuer configured twice; first kept");
                continue;
            }
            issuers.push(Issuer {
                settings,
                http: http.clone(),
                timing,
                keys: RwLock::new(None),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
            });
        }
        Self { issuers }
    }

    /// The issuer configured for exactly this `iss`.
    pub fn find(&self, iss: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.settings.issuer == iss)
    }

    /// Whether no external issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }
}

/// One external issuer and its cached keys.
#[derive(Debug)]
pub struct Issuer {
    settings: IssuerSettings,
    http: Client,
    timing: Timing,
    /// The keys in use, replaced whole. The lock is never held across an await.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held by the one task that may fetch; the others wait for it, then find its keys.
    fetch: tokio::sync::Mutex<FetchState>,
}

/// What the fetching task remembers between fetches.
#[derive(Debug, Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    last_failed: bool,
    /// The JWK Set URL found by discovery, until a fetch from it fails.
    discovered: Option<Url>,
}

/// The header members read before verification, to choose and fetch keys.
#[derive(Deserialize)]
struct PeekedHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl Issuer {
    /// The `iss` of this issuer's tokens.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verifies a token from this issuer: signature by a key from its JWK Set (fetched
    /// and cached), algorithm in the allow-list, `iss`, an allowed `aud`,
    /// `exp`/`nbf`/`iat` with [`LEEWAY_SECS`] of leeway, size limit. `typ` is not
    /// checked (see the module docs). The error never contains the token.
    pub async fn verify(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<VerifiedToken, ExternalRejection> {
        use ExternalRejection::{Invalid, Unavailable};
        let expected = Expected {
            issuer: &self.settings.issuer,
            audience: None,
            typ: None,
            leeway_secs: LEEWAY_SECS,
            max_len: Expected::MAX_LEN,
        };
        // Everything that can be refused without keys is refused first, so garbage never
        // causes a fetch: given no keys, core stops at the key lookup at the latest.
        match verify_jwt(token, |_| None, &expected, now) {
            Err(TokenError::UnknownKey) | Ok(_) => {}
            Err(e) => return Err(Invalid(e)),
        }
        let header = peek_header(token).ok_or(Invalid(TokenError::Malformed(
            "header is not a JSON object with an alg",
        )))?;
        let allowed = |alg: Alg| self.settings.algorithms.contains(&alg);
        if !Alg::from_name(&header.alg).is_some_and(allowed) {
            return Err(Invalid(TokenError::AlgNotAllowed));
        }
        // Core finds keys by kid only: a token without one can never verify.
        let Some(kid) = header.kid else {
            return Err(Invalid(TokenError::UnknownKey));
        };
        let keys = self.keys_for(&kid).await?;
        // An issuer that publishes no usable key (all withdrawn, or only types Gatehouse
        // does not support) leaves nothing to judge with: 503, not "every token is bad".
        if keys.is_empty() {
            return Err(Unavailable);
        }
        let verified = verify_jwt(token, |kid| keys.get(kid), &expected, now).map_err(Invalid)?;
        // Already true of the header's alg; checked on the result so that the rule does
        // not depend on the order above.
        if !allowed(verified.alg) {
            return Err(Invalid(TokenError::AlgNotAllowed));
        }
        let audience_ok = verified
            .claims
            .aud
            .as_ref()
            .is_some_and(|aud| self.settings.audiences.iter().any(|a| aud.contains(a)));
        if !audience_ok {
            return Err(Invalid(TokenError::WrongAudience));
        }
        Ok(verified)
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys.read().clone()
    }

    /// Keys to verify a token signed with `kid`: the cached ones if fresh and knowing
    /// `kid`, else whatever a (rate-limited, shared) fetch yields.
    async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, ExternalRejection> {
        if let Some(keys) = self.cached()
            && keys.get(kid).is_some()
        {
            let clock = Instant::now();
            if keys.fresh_at(clock) {
                return Ok(keys);
            }
            // Stale but usable: refresh, unless another task already is; then answer
            // with these rather than queue behind it.
            if keys.usable_at(clock, self.timing.max_stale) {
                return match self.fetch.try_lock() {
                    Ok(state) => self.refresh(state, kid).await,
                    Err(_) => Ok(keys),
                };
            }
        }
        let state = self.fetch.lock().await;
        self.refresh(state, kid).await
    }

    /// With the fetch lock held: fetches if due, and decides which keys answer.
    async fn refresh(
        &self,
        mut state: MutexGuard<'_, FetchState>,
        kid: &str,
    ) -> Result<Arc<KeySet>, ExternalRejection> {
        let clock = Instant::now();
        let cached = self.cached();
        // Another task may have fetched while this one waited for the lock.
        if let Some(keys) = &cached
            && keys.fresh_at(clock)
            && keys.get(kid).is_some()
        {
            return Ok(Arc::clone(keys));
        }
        let due = state
            .last_attempt
            .is_none_or(|t| clock.saturating_duration_since(t) >= self.timing.refetch);
        if due {
            state.last_attempt = Some(clock);
            match self.fetch(&mut state).await {
                Some(keys) => {
                    state.last_failed = false;
                    let keys = Arc::new(keys);
                    *self.keys.write() = Some(Arc::clone(&keys));
                    return Ok(keys);
                }
                None => {
                    state.last_failed = true;
                    if cached
                        .as_ref()
                        .is_some_and(|k| k.usable_at(clock, self.timing.max_stale))
                    {
                        tracing::warn!(issuer = %self.settings.issuer, "using the issuer's keys fetched earlier");
                    }
                }
            }
        }
        match cached {
            // A kid the held keys do not know is only "unknown" if the issuer could be
            // asked: while it cannot, the token may be signed with a new key (503).
            Some(keys)
                if keys.usable_at(clock, self.timing.max_stale)
                    && (keys.get(kid).is_some() || !state.last_failed) =>
            {
                Ok(keys)
            }
            _ => Err(ExternalRejection::Unavailable),
        }
    }

    /// Fetches and parses the JWK Set; failures are logged here, with the URL.
    async fn fetch(&self, state: &mut FetchState) -> Option<KeySet> {
        let issuer = self.settings.issuer.as_str();
        let url = match self.jwks_url(state).await {
            Ok(url) => url,
            Err(error) => {
                tracing::warn!(issuer, url = %discovery_url(issuer), %error, "OIDC discovery failed");
                return None;
            }
        };
        match self.fetch_keys(&url).await {
            Ok(keys) => {
                if keys.is_empty() {
                    tracing::warn!(issuer, %url, "the issuer's JWK Set has no usable key");
                } else {
                    tracing::debug!(issuer, %url, keys = keys.len(), "fetched the issuer's keys");
                }
                Some(keys)
            }
            Err(error) => {
                tracing::warn!(issuer, %url, %error, "fetching the issuer's keys failed");
                // Discovery may point elsewhere by now.
                state.discovered = None;
                None
            }
        }
    }

    async fn jwks_url(&self, state: &mut FetchState) -> Result<Url, FetchError> {
        if let Some(uri) = &self.settings.jwks_uri {
            // Checked again although config validated it: `new` cannot refuse.
            return fetchable_url(uri).map_err(FetchError::Url);
        }
        if let Some(url) = &state.discovered {
            return Ok(url.clone());
        }
        let url =
            fetch::discover(&self.http, &self.settings.issuer, self.timing.fetch_timeout).await?;
        state.discovered = Some(url.clone());
        Ok(url)
    }

    async fn fetch_keys(&self, url: &Url) -> Result<KeySet, FetchError> {
        // Freshness counts from before the request: the keys are at least that old.
        let started = Instant::now();
        let document = fetch::get(&self.http, url, self.timing.fetch_timeout).await?;
        let fresh_for = self.timing.fresh_for(document.cache_control.as_deref());
        KeySet::parse(
            &document.body,
            &self.settings.algorithms,
            &self.settings.issuer,
            started,
            fresh_for,
        )
        .map_err(|e| FetchError::Json("JWK Set", e))
    }

    #[cfg(test)]
    pub(crate) fn cached_kids(&self) -> Vec<String> {
        self.cached().map(|k| k.kids()).unwrap_or_default()
    }
}

fn peek_header(token: &str) -> Option<PeekedHeader> {
    let header = token.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()
}

/// Reads `iss` from a compact JWT's payload WITHOUT verifying anything, only to choose
/// whose keys to try (Gatehouse's own or an external issuer's). `None` if it cannot be
/// read, or if the token is over the size limit that verification would refuse anyway.
pub fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Payload {
        iss: String,
    }
    if token.len() > Expected::MAX_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Payload>(&payload)
        .ok()
        .map(|p| p.iss)
}
