//! The `refresh_token` grant (RFC 6749 §6, RFC 9700 §4.14): a new access token (and ID
//! token for `openid`) for a refresh token, which is spent and replaced by its
//! successor. A spent token presented again — by a thief or by a second request racing
//! the first — revokes its whole family and the access tokens it issued; the event is
//! audited on its own as `oauth.refresh_reuse`.

use super::{Issued, TokenRequest, active_user, id_token, sign_access};
use crate::refresh_tokens;
use crate::state::AppState;
use gatehouse_core::audit::Outcome;
use gatehouse_core::oauth::oidc;
use gatehouse_core::oauth::refresh::{self, RefreshRecord, RefreshRefusal};
use gatehouse_core::oauth::{ClientRecord, GrantType, OAuthError};
use gatehouse_core::scope::ScopeSet;

pub(super) async fn grant(
    state: &AppState,
    client: &ClientRecord,
    req: &TokenRequest,
    bound: Option<&str>,
) -> Issued {
    let presented = req
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is missing".into()))?;
    let record = refresh_tokens::find(state, presented)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| OAuthError::InvalidGrant("the refresh token is unknown".into()))?;
    let now = state.clock.now();
    let asked = match refresh::check(&record, &client.id, req.scope.as_deref(), now) {
        Ok(scopes) => scopes,
        Err(RefreshRefusal::Reused) => return Err(reused(state, &record).await),
        Err(refusal) => return Err(refused(&refusal)),
    };
    let user = active_user(state, &record.user_id).await?;
    // What the client and the user may still have: a scope taken from either since
    // the grant is not renewed with it.
    let scopes = ScopeSet::new(
        oidc::user_grantable(&asked, &user)
            .iter()
            .filter(|s| client.scopes.contains(s.as_str()))
            .cloned(),
    );
    if scopes.is_empty() {
        return Err(OAuthError::InvalidScope(
            "none of the granted scopes is still allowed".into(),
        ));
    }
    let access = sign_access(state, client, &scopes, Some(&user.id), bound)?;
    let id_token = id_token(state, client, &user, record.auth_time, None, &access)?;
    let minted = refresh_tokens::mint(now).map_err(|_| try_again())?;
    let next = refresh::successor(
        &record,
        minted.id,
        minted.digest,
        Some(access.jti.clone()),
        now,
        state.settings.tokens.refresh,
    );
    let rotated = state
        .store
        .rotate_refresh_token(&record.digest, now, &next)
        .await
        .map_err(|e| unavailable(&e))?;
    if !rotated {
        // Another request spent this token since it was read: a reuse, like any
        // other. The access token signed above is dropped unseen.
        return Err(reused(state, &record).await);
    }
    access.response(
        GrantType::RefreshToken,
        Some(minted.token.reveal().to_owned()),
        id_token,
    )
}

/// Revokes the family of a reused token, audits it, and says why the grant failed.
async fn reused(state: &AppState, record: &RefreshRecord) -> OAuthError {
    let revoked = refresh_tokens::revoke_family(state, &record.family_id).await;
    let mut event = state.system_event(
        "oauth.refresh_reuse",
        "refresh token used twice: family revoked",
        &record.family_id,
    );
    event.outcome = Outcome::Denied;
    event.principal = Some(record.user_id.as_str().into());
    event.credential_id = Some(record.client_id.as_str().into());
    if let Err(e) = revoked {
        tracing::error!(error = %e, "could not revoke a reused refresh token's family");
        event.reason = Some("refresh token used twice: family revocation failed".into());
    }
    state.audit.record(event).await;
    OAuthError::InvalidGrant(
        "the refresh token was already used; every token of this grant is revoked".into(),
    )
}

fn refused(refusal: &RefreshRefusal) -> OAuthError {
    match refusal {
        RefreshRefusal::ScopeEscalation(detail) => OAuthError::InvalidScope(detail.clone()),
        RefreshRefusal::OtherClient => {
            OAuthError::InvalidGrant("the refresh token was issued to another client".into())
        }
        RefreshRefusal::Expired => OAuthError::InvalidGrant("the refresh token expired".into()),
        RefreshRefusal::Revoked | RefreshRefusal::Reused => {
            OAuthError::InvalidGrant("the refresh token is revoked".into())
        }
    }
}

fn unavailable(e: &gatehouse_store::StoreError) -> OAuthError {
    tracing::error!(error = %e, "refresh token store failed");
    try_again()
}

fn try_again() -> OAuthError {
    OAuthError::ServerError("try again".into())
}
