//! `POST /oauth/token` (RFC 6749 §4.4, RFC 9068): client credentials for an access
//! token. Errors are RFC 6749 §5.2 JSON, not problem details; every answer carries
//! `Cache-Control: no-store`; every request is one audit event (`oauth.token`).

use crate::state::{AppState, RequestContext};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use gatehouse_api::clients::{OAuthErrorBody, TokenResponse};
use gatehouse_core::audit::Outcome;
use gatehouse_core::base62;
use gatehouse_core::oauth::{
    ClientAuthMethod, ClientRecord, GrantType, OAuthError, SecretDigest, access_claims,
    granted_scopes,
};
use serde::Deserialize;
use std::sync::Arc;

const ACTION: &str = "oauth.token";

/// The form parameters read (others are ignored, RFC 6749 §3.2); a parameter given
/// twice is refused.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
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
    let response = match result {
        Ok((body, jti)) => {
            event.outcome = Outcome::Allowed;
            event.target = Some(jti);
            event.reason = Some(body.scope.clone());
            no_store((StatusCode::OK, Json(body)).into_response())
        }
        Err(error) => {
            event.reason = Some(error.code().to_owned());
            error_response(&error)
        }
    };
    event.status = Some(response.status().as_u16());
    state.audit.record(event).await;
    response
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
    let client = match authenticate(state, headers, &req) {
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

/// Client authentication (RFC 6749 §2.3): HTTP Basic or the form's `client_id` and
/// `client_secret`, exactly one of them, and the one the client registered.
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    req: &TokenRequest,
) -> Result<Arc<ClientRecord>, OAuthError> {
    let basic = basic_credentials(headers)?;
    let (id, secret, method) = match (basic, &req.client_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ));
        }
        (Some((id, secret)), None) => {
            if req
                .client_id
                .as_deref()
                .is_some_and(|form_id| form_id != id)
            {
                return Err(OAuthError::InvalidRequest(
                    "client_id differs from the authenticated client".into(),
                ));
            }
            (id, secret, ClientAuthMethod::ClientSecretBasic)
        }
        (None, Some(secret)) => {
            let id = req.client_id.clone().ok_or_else(|| {
                OAuthError::InvalidRequest("client_secret without client_id".into())
            })?;
            (id, secret.clone(), ClientAuthMethod::ClientSecretPost)
        }
        (None, None) => {
            return Err(OAuthError::InvalidClient(
                "client authentication is required".into(),
            ));
        }
    };
    let client = state.clients.get(&id);
    // The digest comparison runs for unknown clients too, so timing does not tell
    // which client ids exist.
    let digest = client
        .as_ref()
        .map_or(SecretDigest([0; 32]), |c| c.secret_digest);
    let secret_ok = digest.matches(&secret);
    match client {
        Some(client) if secret_ok && client.enabled && client.auth_method == method => Ok(client),
        Some(client) if secret_ok && client.enabled => Err(OAuthError::InvalidClient(format!(
            "this client authenticates with {}",
            client.auth_method.as_str()
        ))),
        _ => Err(OAuthError::InvalidClient(
            "unknown client, wrong secret, or client disabled".into(),
        )),
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient(
            "the token endpoint takes Basic client credentials".into(),
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((
        form_decode(id).ok_or_else(bad)?,
        form_decode(secret).ok_or_else(bad)?,
    )))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` and `%XX`).
fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// A token id: 22 random base62 characters (≈ 131 bits).
fn new_jti() -> Result<String, gatehouse_core::EntropyUnavailable> {
    let mut buf = [0u8; 22];
    base62::fill_random(&mut buf, &mut crate::entropy::OsEntropy)?;
    Ok(buf.iter().map(|&b| char::from(b)).collect())
}

fn error_response(error: &OAuthError) -> Response {
    let status = match error {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = OAuthErrorBody {
        error: error.code().to_owned(),
        error_description: error.description().to_owned(),
    };
    let mut response = no_store((status, Json(body)).into_response());
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6749 §5.2: a 401 names the scheme; Basic is the one offered.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\""),
        );
    }
    response
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%2Fc%3a").as_deref(), Some("a b/c:"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
    }
}
