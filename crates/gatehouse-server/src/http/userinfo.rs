//! `GET`/`POST /oauth/userinfo` (OIDC Core §5.3): the claims about the signed-in user
//! that an access token with `openid` may read. The token is one of Gatehouse's own,
//! checked like everywhere else (signature, expiry, deny-list), sent as
//! `Authorization: Bearer` only — never in the query, where logs keep it. Errors are
//! RFC 6750 §3: 401 `invalid_token`, 403 `insufficient_scope`, 400 `invalid_request`.

use crate::state::{AppState, RequestContext};
use crate::wire::Challenge;
use crate::wire::credential::{self, CredentialError, Presented, Schemes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gatehouse_core::audit::Outcome;
use gatehouse_core::oauth::oidc;
use gatehouse_core::scope::ScopeSet;
use std::sync::Arc;

/// `/oauth/userinfo` — who the token's user is, as far as its scope allows.
#[utoipa::path(get, path = "/oauth/userinfo", tag = "oauth",
    responses((status = 200, description = "OIDC userinfo claims"),
        (status = 401, description = "missing, invalid, expired or revoked token"),
        (status = 403, description = "the token lacks the openid scope")))]
pub async fn userinfo(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
) -> Response {
    let mut event = ctx.event(state.clock.now(), "oauth.userinfo", Outcome::Denied, 0);
    let response = match answer(&state, &headers).await {
        Ok((user_id, client_id, body)) => {
            event.outcome = Outcome::Allowed;
            event.principal = Some(user_id.into());
            event.credential_id = client_id.map(Into::into);
            event.reason = Some("userinfo".into());
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => {
            event.reason = Some(refusal.reason().into());
            refusal.into_response()
        }
    };
    event.status = Some(response.status().as_u16());
    state.audit.record(event).await;
    response
}

type Answer = (String, Option<String>, oidc::UserInfo);

async fn answer(state: &AppState, headers: &HeaderMap) -> Result<Answer, Refusal> {
    let token = bearer(headers)?;
    let verified = state
        .access_tokens
        .verify(
            &state.signing_keys,
            token,
            &state.settings.public_url,
            state.clock.now(),
        )
        .map_err(|_| Refusal::InvalidToken)?;
    let claims = &verified.claims;
    let scopes = ScopeSet::parse(claims.scope.as_deref().unwrap_or_default().split(' '))
        .map_err(|_| Refusal::InvalidToken)?;
    if !scopes.contains(oidc::OPENID) {
        return Err(Refusal::InsufficientScope);
    }
    let sub = claims.sub.as_deref().ok_or(Refusal::InvalidToken)?;
    // A client credentials token names a client, not a user: no user, no claims.
    let user = match state.store.user(sub).await {
        Ok(Some(user)) if user.enabled => user,
        Ok(_) => return Err(Refusal::InvalidToken),
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed at userinfo");
            return Err(Refusal::Unavailable);
        }
    };
    Ok((
        user.id.clone(),
        claims.client_id.clone(),
        oidc::userinfo(&user, &scopes),
    ))
}

/// The token of `Authorization: Bearer`, exactly one (the one credential reader's rule).
fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    match credential::presented(headers, Schemes::Bearer) {
        Ok(Presented::Bearer(token)) if !token.is_empty() => Ok(token),
        Err(CredentialError::Ambiguous) => Err(Refusal::Ambiguous),
        // An API key names no user.
        Ok(Presented::ApiKey(_)) | Err(CredentialError::Missing) => Err(Refusal::Missing),
        Ok(Presented::Bearer(_) | Presented::Basic(_))
        | Err(CredentialError::WrongScheme | CredentialError::Unreadable) => {
            Err(Refusal::Malformed)
        }
    }
}

/// Why userinfo is refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Missing,
    Malformed,
    /// `Authorization` twice, or with `X-API-Key` (RFC 6750 §3.1: more than one method).
    Ambiguous,
    InvalidToken,
    InsufficientScope,
    Unavailable,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Self::Missing => "no_token",
            Self::Malformed => "malformed_authorization",
            Self::Ambiguous => "ambiguous_credential",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Unavailable => "store_unavailable",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        // RFC 6750 §3.1: no error code when no token was sent at all.
        let (status, challenge) = match self {
            Self::Missing => (StatusCode::UNAUTHORIZED, Challenge::Bearer),
            Self::Malformed | Self::Ambiguous => {
                (StatusCode::BAD_REQUEST, Challenge::InvalidRequest)
            }
            Self::InvalidToken => (StatusCode::UNAUTHORIZED, Challenge::InvalidToken(None)),
            Self::InsufficientScope => (
                StatusCode::FORBIDDEN,
                Challenge::InsufficientScope(gatehouse_core::oauth::oidc::OPENID),
            ),
            // Not the token's fault: no challenge, and a retry may succeed.
            Self::Unavailable => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        };
        let mut response = status.into_response();
        challenge.insert_into(response.headers_mut());
        response
    }
}
