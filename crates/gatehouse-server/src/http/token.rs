//! `POST /oauth/token` (RFC 6749 §4.1.3 and §4.4, RFC 7636, RFC 9068): an access token
//! for client credentials, or for an authorization code and its PKCE verifier. Errors are RFC 6749 §5.2 JSON, not problem details; every answer carries
//! `Cache-Control: no-store`; every request is one audit event (`oauth.token`).

use super::client_auth::{FormCredentials, answer, authenticate};
use crate::authorization::codes::Redemption;
use crate::state::{AppState, RequestContext};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gatehouse_api::clients::{OAuthErrorBody, TokenResponse};
use gatehouse_core::audit::Outcome;
use gatehouse_core::base62;
use gatehouse_core::oauth::{
    ClientRecord, CodeVerifier, GrantType, OAuthError, access_claims, granted_scopes,
};
use gatehouse_core::scope::ScopeSet;
use serde::Deserialize;
use std::sync::Arc;

const ACTION: &str = "oauth.token";

/// The form parameters read (others are ignored, RFC 6749 §3.2); a parameter given
/// twice is refused.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
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
    let (client, result) = issue(&state, &headers, form).await;
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
async fn issue(
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
    let result = grant(state, &client, &req).await;
    (Some(client), result)
}

async fn grant(state: &AppState, client: &ClientRecord, req: &TokenRequest) -> Issued {
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
    match grant {
        GrantType::ClientCredentials => {
            let scopes = granted_scopes(client, req.scope.as_deref())?;
            sign(state, client, &scopes, None)
        }
        GrantType::AuthorizationCode => code_grant(state, client, req).await,
        GrantType::RefreshToken => Err(OAuthError::UnsupportedGrantType(
            "refresh tokens are not issued yet".into(),
        )),
    }
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.6: the code must be fresh, this client's, for the
/// same redirect URI, and answered by the verifier of its challenge. A code used twice
/// revokes the token its first use gave (RFC 6749 §4.1.2).
async fn code_grant(state: &AppState, client: &ClientRecord, req: &TokenRequest) -> Issued {
    let code = req
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("code is missing".into()))?;
    let verifier = CodeVerifier::parse(req.code_verifier.as_deref().unwrap_or_default())
        .map_err(|e| OAuthError::InvalidRequest(e.to_string()))?;
    let now = state.clock.now();
    let grant = match state.authorizations.codes.redeem(code, now) {
        Redemption::Fresh(grant) => grant,
        Redemption::Replayed { jtis } => {
            revoke_replayed(state, &jtis).await;
            return Err(OAuthError::InvalidGrant(
                "the code was already used; the token it gave is revoked".into(),
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
    let issued = sign(state, client, &grant.scopes, Some(&grant.user_id))?;
    let recorded = state
        .authorizations
        .codes
        .record_issued(code, issued.1.clone());
    if !recorded {
        // A replay arrived between redeeming and recording: it could not name this
        // token, so it is revoked here, and the code's grant ends as for any replay.
        revoke_replayed(state, std::slice::from_ref(&issued.1)).await;
        return Err(OAuthError::InvalidGrant(
            "the code was used twice at once; the token is revoked".into(),
        ));
    }
    Ok(issued)
}

/// Deny-lists the tokens a replayed code gave, for as long as any token can live (their
/// own expiry is not at hand).
async fn revoke_replayed(state: &AppState, jtis: &[String]) {
    let max_ttl_ms = i64::from(state.settings.tokens.max_access_ttl_secs) * 1000;
    let until = state.clock.now().plus_millis(max_ttl_ms);
    for jti in jtis {
        if let Err(e) = state
            .access_tokens
            .revoke_id(state.store.as_ref(), jti, until)
            .await
        {
            tracing::error!(error = %e, "could not revoke the token of a replayed code");
        }
    }
}

/// Signs an access token for `client` with `scopes`, on behalf of `user` if any.
fn sign(state: &AppState, client: &ClientRecord, scopes: &ScopeSet, user: Option<&str>) -> Issued {
    let now = state.clock.now();
    let tokens = state.settings.tokens;
    let ttl = client
        .access_ttl_secs
        .unwrap_or(tokens.access_ttl_secs)
        .min(tokens.max_access_ttl_secs);
    let jti = new_jti().map_err(|_| OAuthError::InvalidRequest("try again".into()))?;
    let mut claims = access_claims(
        &state.settings.public_url,
        client,
        scopes,
        now,
        ttl,
        jti.clone(),
    );
    if let Some(user) = user {
        claims.sub = Some(user.to_owned());
    }
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
