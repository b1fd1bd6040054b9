//! The `authorization_code` grant (RFC 6749 §4.1.3 with RFC 7636 §4.6): the code must
//! be fresh, this client's, for the same redirect URI, and answered by the verifier of
//! its challenge. It buys an access token, an ID token for `openid`, and the first
//! refresh token of a family for clients allowed `refresh_token`. A code used twice
//! revokes everything its first use gave (RFC 6749 §4.1.2).

use super::{Issued, TokenRequest, active_user, id_token, sign_access};
use crate::authorization::{IssuedToken, Redemption};
use crate::refresh_tokens;
use crate::state::AppState;
use gatehouse_core::oauth::refresh;
use gatehouse_core::oauth::{ClientRecord, CodeVerifier, GrantType, OAuthError};

pub(super) async fn grant(
    state: &AppState,
    client: &ClientRecord,
    req: &TokenRequest,
    bound: Option<&str>,
) -> Issued {
    let code = req
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("code is missing".into()))?;
    let verifier = CodeVerifier::parse(req.code_verifier.as_deref().unwrap_or_default())
        .map_err(|e| OAuthError::InvalidRequest(e.to_string()))?;
    let now = state.clock.now();
    let grant = match state.authorizations.codes.redeem(code, now) {
        Redemption::Fresh(grant) => grant,
        Redemption::Replayed { issued } => {
            revoke(state, &issued).await;
            return Err(OAuthError::InvalidGrant(
                "the code was already used; the tokens it gave are revoked".into(),
            ));
        }
        Redemption::Unknown => {
            return Err(OAuthError::InvalidGrant(
                "the code is unknown or expired".into(),
            ));
        }
    };
    if grant.client_id != client.id {
        return Err(OAuthError::InvalidGrant(
            "the code was issued to another client".into(),
        ));
    }
    if req.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri differs from the authorization request's".into(),
        ));
    }
    if !grant.challenge.verify(&verifier) {
        return Err(OAuthError::InvalidGrant(
            "code_verifier does not match the challenge".into(),
        ));
    }
    let user = active_user(state, &grant.user_id).await?;
    let access = sign_access(state, client, &grant.scopes, Some(&user.id), bound)?;
    let id_token = id_token(
        state,
        client,
        &user,
        grant.auth_time,
        grant.nonce.as_deref(),
        &access,
    )?;
    let mut issued = vec![IssuedToken::Access(access.jti.clone())];
    let refresh_token = if client.grant_types.contains(&GrantType::RefreshToken) {
        let minted =
            refresh_tokens::mint(now).map_err(|_| OAuthError::ServerError("try again".into()))?;
        let record = refresh::first(
            minted.id.clone(),
            minted.digest,
            &client.id,
            &user.id,
            grant.scopes.clone(),
            grant.auth_time,
            Some(access.jti.clone()),
            now,
            state.settings.tokens.refresh,
        );
        state
            .store
            .insert_refresh_token(&record)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not store a refresh token");
                OAuthError::ServerError("try again".into())
            })?;
        issued.push(IssuedToken::RefreshFamily(record.family_id));
        Some(minted.token.reveal().to_owned())
    } else {
        None
    };
    let mut replayed_meanwhile = false;
    for token in &issued {
        replayed_meanwhile |= !state
            .authorizations
            .codes
            .record_issued(code, token.clone());
    }
    if replayed_meanwhile {
        // A replay arrived between redeeming and recording: it could not name these
        // tokens, so they are revoked here, and the grant ends as for any replay.
        revoke(state, &issued).await;
        return Err(OAuthError::InvalidGrant(
            "the code was used twice at once; the tokens are revoked".into(),
        ));
    }
    access.response(GrantType::AuthorizationCode, refresh_token, id_token)
}

/// Revokes what a replayed code gave: access tokens are deny-listed for as long as
/// any token can live (their own expiry is not at hand), refresh families revoked
/// with every access token they issued.
async fn revoke(state: &AppState, issued: &[IssuedToken]) {
    let max_ttl_ms = i64::from(state.settings.tokens.max_access_ttl_secs) * 1000;
    let until = state.clock.now().plus_millis(max_ttl_ms);
    for token in issued {
        let result = match token {
            IssuedToken::Access(jti) => {
                state
                    .access_tokens
                    .revoke_id(state.store.as_ref(), jti, until)
                    .await
            }
            IssuedToken::RefreshFamily(family) => {
                refresh_tokens::revoke_family(state, family).await
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "could not revoke a token of a replayed code");
        }
    }
}
