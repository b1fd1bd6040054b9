//! Refresh tokens on the server side: minting them, finding the stored record of a
//! presented one, and revoking families together with the access tokens they issued.
//! The rules (rotation, reuse, lifetimes, scope) are core's `oauth::refresh`; the
//! single winner of a rotation race is the store's `rotate_refresh_token`.

use crate::entropy::OsEntropy;
use crate::state::AppState;
use gatehouse_core::api_key::{ApiKey, KeyDigest};
use gatehouse_core::oauth::refresh::{self, RefreshRecord};
use gatehouse_core::{EntropyUnavailable, UnixTime, id};
use gatehouse_store::StoreError;

/// A new refresh token: the secret, shown to the client once, its digest and its
/// public id.
pub struct Minted {
    /// The token itself.
    pub token: ApiKey,
    /// Its SHA-256, what is stored.
    pub digest: KeyDigest,
    /// `rt_…`.
    pub id: String,
}

/// Mints a token at `now`.
pub fn mint(now: UnixTime) -> Result<Minted, EntropyUnavailable> {
    let token = refresh::generate(&mut OsEntropy)?;
    Ok(Minted {
        digest: token.digest(),
        id: id::generate("rt", now, &mut OsEntropy)?,
        token,
    })
}

/// The stored record of a presented token, whatever its state; `None` for anything
/// that is not a well-formed refresh token (checked before any lookup) or unknown.
pub async fn find(state: &AppState, presented: &str) -> Result<Option<RefreshRecord>, StoreError> {
    let Some(token) = refresh::parse(presented) else {
        return Ok(None);
    };
    state.store.refresh_token(&token.digest()).await
}

/// Revokes a family and deny-lists the access tokens it issued that may still live.
pub async fn revoke_family(state: &AppState, family_id: &str) -> anyhow::Result<()> {
    let now = state.clock.now();
    let issued = state.store.revoke_refresh_family(family_id, now).await?;
    deny_list(state, issued, now).await
}

/// Revokes every refresh token of a user (of one client, if given) — consent
/// withdrawn, password changed, account disabled or deleted — and deny-lists their
/// access tokens.
pub async fn revoke_user(
    state: &AppState,
    user_id: &str,
    client_id: Option<&str>,
) -> anyhow::Result<()> {
    let now = state.clock.now();
    let issued = state
        .store
        .revoke_user_refresh_tokens(user_id, client_id, now)
        .await?;
    deny_list(state, issued, now).await
}

/// Deny-lists access tokens given as (`jti`, issued at) until the latest they can
/// expire; those already expired are skipped.
async fn deny_list(
    state: &AppState,
    issued: Vec<(String, UnixTime)>,
    now: UnixTime,
) -> anyhow::Result<()> {
    let longest_ms = i64::from(state.settings.tokens.max_access_ttl_secs) * 1000;
    for (jti, issued_at) in issued {
        let until = issued_at.plus_millis(longest_ms);
        if until > now {
            state
                .access_tokens
                .revoke_id(state.store.as_ref(), &jti, until)
                .await?;
        }
    }
    Ok(())
}
