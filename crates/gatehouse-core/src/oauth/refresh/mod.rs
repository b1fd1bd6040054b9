//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): what a user's app presents to get a
//! new access token without the user, and the rules for honouring one.
//!
//! A refresh token is an opaque secret in the API-key format with the reserved prefix
//! [`PREFIX`] (`grt_` and 46 base62 characters with a CRC32), so secret scanners find
//! leaked ones and a mistyped one is refused before any lookup. Only its SHA-256 is
//! stored.
//!
//! Every use rotates it: the presented token is spent and a successor is issued in
//! the same *family* (the chain that began with one authorization code). A spent token
//! presented again means two parties hold it — the app and a thief, and the server
//! cannot tell which is which — so the whole family is revoked, with the access tokens
//! it issued (RFC 9700 §4.14.2). That includes two requests racing with the same
//! token: the store lets exactly one rotate it, and the loser counts as a reuse.
//!
//! A family lives at most its absolute lifetime from the code exchange, whatever its
//! use; each token in it also dies if unused for the idle lifetime.

use crate::api_key::{ApiKey, KeyDigest, Prefix};
use crate::entropy::{Entropy, EntropyUnavailable};
use crate::scope::{Scope, ScopeSet};
use crate::time::UnixTime;

/// The prefix of every refresh token (reserved by the key format).
pub const PREFIX: &str = crate::api_key::REFRESH_TOKEN_PREFIX;

/// Default absolute lifetime of a family: 30 days, in seconds (SPEC §3).
pub const DEFAULT_ABSOLUTE_SECS: u32 = 30 * 24 * 60 * 60;

/// Default idle lifetime of a token: 7 days, in seconds. An app used weekly keeps its
/// user signed in; a laptop left in a drawer for longer does not.
pub const DEFAULT_IDLE_SECS: u32 = 7 * 24 * 60 * 60;

/// A new refresh token (the secret; store only its digest).
pub fn generate(entropy: &mut dyn Entropy) -> Result<ApiKey, EntropyUnavailable> {
    ApiKey::generate(&Prefix::fixed(PREFIX), entropy)
}

/// Whether `token` is in the refresh-token format (prefix and checksum), before any
/// lookup.
pub fn parse(token: &str) -> Option<ApiKey> {
    ApiKey::parse(token).ok().filter(|t| t.prefix() == PREFIX)
}

/// How long a family and each of its tokens may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// From the code exchange to the end of the family, in seconds.
    pub absolute_secs: u32,
    /// From a token's issue to its end unless used, in seconds.
    pub idle_secs: u32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            absolute_secs: DEFAULT_ABSOLUTE_SECS,
            idle_secs: DEFAULT_IDLE_SECS,
        }
    }
}

/// A refresh token as stored. Never holds the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// Public id (`rt_…`), for audit events and logs.
    pub id: String,
    /// SHA-256 of the token, the lookup index.
    pub digest: KeyDigest,
    /// Id of the first token of the family; shared by every successor.
    pub family_id: String,
    /// The client it was issued to; only that client may use it.
    pub client_id: String,
    /// The user on whose behalf it acts.
    pub user_id: String,
    /// The scope of the original grant, identical across rotations (RFC 6749 §6).
    pub scopes: ScopeSet,
    /// When the user signed in, for ID tokens issued on refresh (OIDC Core §12.2).
    pub auth_time: UnixTime,
    /// When this token was issued.
    pub issued_at: UnixTime,
    /// When this token stops working unless used before: its idle deadline, never
    /// past the family's.
    pub expires_at: UnixTime,
    /// When the family ends.
    pub family_expires_at: UnixTime,
    /// The access token issued with this one, revoked with the family.
    pub access_jti: Option<String>,
    /// When it was exchanged for its successor.
    pub spent_at: Option<UnixTime>,
    /// When its family was revoked.
    pub revoked_at: Option<UnixTime>,
}

/// Why a refresh token is not honoured. Each is an `invalid_grant` (RFC 6749 §5.2)
/// except [`RefreshRefusal::ScopeEscalation`], an `invalid_scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// It was issued to another client (RFC 6749 §6: bound to the client).
    OtherClient,
    /// Its idle or absolute lifetime has passed.
    Expired,
    /// Its family was revoked.
    Revoked,
    /// It was used before: the caller must revoke the family.
    Reused,
    /// The request asks for a scope the grant did not include.
    ScopeEscalation(String),
}

impl RefreshRefusal {
    /// A short machine-readable reason for the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::OtherClient => "refresh_other_client",
            Self::Expired => "refresh_expired",
            Self::Revoked => "refresh_revoked",
            Self::Reused => "refresh_reused",
            Self::ScopeEscalation(_) => "scope_escalation",
        }
    }
}

/// Checks a stored token presented by `client_id` at `now`, with the request's
/// optional `scope`; returns the scope of the new access token: the requested one,
/// which must be within the grant (narrowing is allowed, RFC 6749 §6), or the whole
/// grant. Order matters: a reuse is reported even when the token has since expired
/// or belongs to another client, so a thief replaying it late still burns the family.
pub fn check(
    record: &RefreshRecord,
    client_id: &str,
    requested: Option<&str>,
    now: UnixTime,
) -> Result<ScopeSet, RefreshRefusal> {
    if record.revoked_at.is_some() {
        return Err(RefreshRefusal::Revoked);
    }
    if record.spent_at.is_some() {
        return Err(RefreshRefusal::Reused);
    }
    if record.client_id != client_id {
        return Err(RefreshRefusal::OtherClient);
    }
    if now >= record.expires_at || now >= record.family_expires_at {
        return Err(RefreshRefusal::Expired);
    }
    narrowed(&record.scopes, requested)
}

/// `requested` (space-separated) when every scope in it is in `granted`; all of
/// `granted` when nothing is requested.
fn narrowed(granted: &ScopeSet, requested: Option<&str>) -> Result<ScopeSet, RefreshRefusal> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(granted.clone());
    };
    let mut scopes = Vec::new();
    for name in requested.split(' ').filter(|s| !s.is_empty()) {
        let scope = Scope::parse(name)
            .map_err(|e| RefreshRefusal::ScopeEscalation(format!("{name:?}: {e}")))?;
        if !granted.contains(scope.as_str()) {
            return Err(RefreshRefusal::ScopeEscalation(format!(
                "{name:?} was not granted to this refresh token"
            )));
        }
        scopes.push(scope);
    }
    Ok(ScopeSet::new(scopes))
}

/// The first token of a new family, issued by a code exchange at `now`.
#[allow(clippy::too_many_arguments)] // every field is needed and distinct
pub fn first(
    id: String,
    digest: KeyDigest,
    client_id: &str,
    user_id: &str,
    scopes: ScopeSet,
    auth_time: UnixTime,
    access_jti: Option<String>,
    now: UnixTime,
    lifetimes: Lifetimes,
) -> RefreshRecord {
    let family_expires_at = now.plus_millis(secs_to_millis(lifetimes.absolute_secs));
    RefreshRecord {
        family_id: id.clone(),
        id,
        digest,
        client_id: client_id.to_owned(),
        user_id: user_id.to_owned(),
        scopes,
        auth_time,
        issued_at: now,
        expires_at: idle_deadline(now, family_expires_at, lifetimes),
        family_expires_at,
        access_jti,
        spent_at: None,
        revoked_at: None,
    }
}

/// The successor of `spent`, issued at `now`: same family, client, user, scope and
/// family deadline; a fresh idle deadline.
pub fn successor(
    spent: &RefreshRecord,
    id: String,
    digest: KeyDigest,
    access_jti: Option<String>,
    now: UnixTime,
    lifetimes: Lifetimes,
) -> RefreshRecord {
    RefreshRecord {
        id,
        digest,
        family_id: spent.family_id.clone(),
        client_id: spent.client_id.clone(),
        user_id: spent.user_id.clone(),
        scopes: spent.scopes.clone(),
        auth_time: spent.auth_time,
        issued_at: now,
        expires_at: idle_deadline(now, spent.family_expires_at, lifetimes),
        family_expires_at: spent.family_expires_at,
        access_jti,
        spent_at: None,
        revoked_at: None,
    }
}

fn idle_deadline(now: UnixTime, family_expires_at: UnixTime, lifetimes: Lifetimes) -> UnixTime {
    now.plus_millis(secs_to_millis(lifetimes.idle_secs))
        .min(family_expires_at)
}

fn secs_to_millis(secs: u32) -> i64 {
    i64::from(secs) * 1000
}

#[cfg(test)]
mod tests;
