//! `POST /oauth/token` (RFC 6749 §4.4, RFC 9068): client credentials for an access
//! token. Errors are RFC 6749 §5.2 JSON, not problem details; every answer carries
//! `Cache-Control: no-store`; every request is one audit event (`oauth.token`).

use super::client_auth::{FormCredentials, answer, authenticate};
use crate::state::{AppState, RequestContext};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gatehouse_api::clients::{OAuthErrorBody, TokenResponse};
use gatehouse_core::audit::Outcome;
use gatehouse_core::base62;
use gatehouse_core::oauth::{ClientRecord, GrantType, OAuthError, access_claims, granted_scopes};
use serde::Deserialize;
use std::sync::Arc;

const ACTION: &str = "oauth.token";

/// The form parameters read (others are ignored, RFC 6749 §3.2); a parameter given
/// twice is refused.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    #[serde(flatten)]
    credentials: FormCredentials,
}

/// `POST /oauth/token` — an access token for an authenticated client.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 6749 token request"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
pub async fn token(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), ACTION, Outcome::Denied, 0);
    let (client, result) = issue(&state, &headers, form);
    event.principal = client.as_ref().map(|c| c.id.clone());
    event.credential_id = event.principal.clone();
    event.auth_method = client.as_ref().map(|c| c.auth_method.as_str().to_owned());
    let result = result.map(|(body, jti)| {
        event.target = Some(jti);
        let scope = body.scope.clone();
        ((StatusCode::OK, Json(body)).into_response(), scope)
    });
    answer(&state, event, result).await
}

/// An issued token and its `jti` (for the audit event), or why not.
type Issued = Result<(TokenResponse, String), OAuthError>;

/// The token, or why not; and the client, once it is known who asks.
fn issue(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> (Option<Arc<ClientRecord>>, Issued) {
    let req = match form {
        Ok(Form(req)) => req,
        Err(e) => {
            let detail = match e {
                FormRejection::InvalidFormContentType(_) => {
                    "the body must be application/x-www-form-urlencoded".to_owned()
                }
                _ => "malformed or repeated form parameters".to_owned(),
            };
            return (None, Err(OAuthError::InvalidRequest(detail)));
        }
    };
    let client = match authenticate(state, headers, &req.credentials) {
        Ok(client) => client,
        Err(e) => return (None, Err(e)),
    };
    let result = grant(state, &client, &req);
    (Some(client), result)
}

fn grant(state: &AppState, client: &ClientRecord, req: &TokenRequest) -> Issued {
    let grant_type = req
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("grant_type is missing".into()))?;
    let grant = GrantType::from_name(grant_type).ok_or_else(|| {
        OAuthError::UnsupportedGrantType(format!("{grant_type:?} is not supported here"))
    })?;
    if !client.grant_types.contains(&grant) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use {grant_type}"
        )));
    }
    let scopes = granted_scopes(client, req.scope.as_deref())?;
    let now = state.clock.now();
    let tokens = state.settings.tokens;
    let ttl = client
        .access_ttl_secs
        .unwrap_or(tokens.access_ttl_secs)
        .min(tokens.max_access_ttl_secs);
    let jti = new_jti().map_err(|_| OAuthError::InvalidRequest("try again".into()))?;
    let claims = access_claims(
        &state.settings.public_url,
        client,
        &scopes,
        now,
        ttl,
        jti.clone(),
    );
    let signer = state
        .signing_keys
        .signer(now)
        .ok_or_else(|| OAuthError::InvalidRequest("no signing key is active".into()))?;
    let access_token = signer
        .signer
        .sign_jwt("at+jwt", &claims)
        .map_err(|_| OAuthError::InvalidRequest("the token could not be signed".into()))?;
    Ok((
        TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ttl,
            scope: scopes.to_space_separated(),
        },
        jti,
    ))
}

/// A token id: 22 random base62 characters (≈ 131 bits).
fn new_jti() -> Result<String, gatehouse_core::EntropyUnavailable> {
    let mut buf = [0u8; 22];
    base62::fill_random(&mut buf, &mut crate::entropy::OsEntropy)?;
    Ok(buf.iter().map(|&b| char::from(b)).collect())
}
