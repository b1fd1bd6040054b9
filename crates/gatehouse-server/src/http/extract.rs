//! Extractors: who is calling ([`Caller`]), the request's context, and JSON/query
//! bodies whose rejections become problem responses.
//!
//! [`Caller`] is the only way a handler learns who called, and it can only be built
//! from core's [`Authenticated`], which only core's verification makes.

use super::error::{ApiError, AuthFailure};
use crate::listener::Peer;
use crate::state::{AppState, RequestContext};
use crate::wire::credential::{self, CredentialError, Presented, Schemes};
use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{HeaderMap, StatusCode, request::Parts};
use gatehouse_api::page::{DEFAULT_LIMIT, MAX_LIMIT};
use gatehouse_core::api_key::{ApiKey, KeyAccess};
use gatehouse_core::audit::Outcome;
use gatehouse_core::auth::Authenticated;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub use crate::wire::credential::API_KEY_HEADER;

impl RequestContext {
    /// The context the request middleware attached (or one made up on the spot).
    pub fn of(parts: &Parts, state: &AppState) -> Self {
        if let Some(ctx) = parts.extensions.get::<RequestContext>() {
            return ctx.clone();
        }
        Self {
            request_id: state.request_ids.next(),
            client_ip: parts.extensions.get::<Peer>().map(|p| Arc::clone(&p.ip)),
            method: parts.method.as_str().into(),
            path: parts.uri.path().into(),
        }
    }
}

/// An authenticated caller of the API.
#[derive(Debug)]
pub struct Caller {
    /// Who, by which credential, with which scopes.
    pub who: Authenticated,
    /// The request.
    pub ctx: RequestContext,
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let ctx = RequestContext::of(parts, state);
        match authenticate(&parts.headers, state) {
            Ok(who) => Ok(Self { who, ctx }),
            Err((failure, known)) => {
                let error = ApiError::Unauthenticated(failure);
                let (status, _) = error.status_and_code();
                let mut event = ctx.event(
                    state.clock.now(),
                    "api.authenticate",
                    Outcome::Denied,
                    status.as_u16(),
                );
                event.reason = Some(failure.reason().into());
                event.auth_method = Some("api_key".into());
                if let Some(key) = known {
                    event.principal = Some(key.subject().into());
                    event.credential_id = Some(key.id().into());
                }
                state.audit.record(event).await;
                Err(error)
            }
        }
    }
}

/// A refusal, with the key's subject and id when the key exists (for the audit trail).
type Refusal = (AuthFailure, Option<KeyAccess>);

fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<Authenticated, Refusal> {
    let presented = presented_key(headers).map_err(|f| (f, None))?;
    let key = ApiKey::parse(presented).map_err(|e| (AuthFailure::Malformed(e), None))?;
    let lookup = state.keys.verify(&key, &[], state.clock.now());
    lookup
        .decision
        .map(|v| v.who)
        .map_err(|d| (AuthFailure::Denied(d), lookup.access))
}

/// The key from `Authorization: Bearer` or `X-API-Key`, exactly one of them, read by
/// the one credential reader.
fn presented_key(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    match credential::presented(headers, Schemes::Bearer) {
        Ok(Presented::Bearer(key) | Presented::ApiKey(key)) => Ok(key),
        // `Schemes::Bearer` never yields Basic; were it to, it is not a key.
        Ok(Presented::Basic(_)) | Err(CredentialError::WrongScheme) => {
            Err(AuthFailure::WrongScheme)
        }
        Err(CredentialError::Missing) => Err(AuthFailure::Missing),
        Err(CredentialError::Ambiguous) => Err(AuthFailure::Ambiguous),
        Err(CredentialError::Unreadable) => Err(AuthFailure::Malformed(
            gatehouse_core::api_key::ApiKeyError::BadAlphabet,
        )),
    }
}

/// A JSON body; rejections become problem responses.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Maps axum's JSON rejection to a problem, without echoing submitted values.
pub fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            ApiError::bad_request("invalid_field", redact(&e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request("malformed_json", redact(&e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e) => bytes_rejection(e),
        other => ApiError::bad_request("unreadable_body", redact(&other.body_text())),
    }
}

/// Maps a failure to read a raw body (over the size limit, or cut off) to a problem.
pub fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request("unreadable_body", redact(&rejection.body_text()))
    }
}

/// Query parameters; rejections become problem responses.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

/// Path parameters; a segment that cannot be decoded (such as invalid UTF-8) names no
/// resource, so it is a 404 problem like any other unknown id.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::NotFound("resource")),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", redact(&rejection.body_text()))
}

/// Replaces every double-quoted value in a parser message with `"…"`: serde quotes the
/// offending input, which may be a secret sent in the wrong field.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn quoted_input_is_not_echoed() {
        let msg = r#"scopes: invalid type: string "gk_secret", expected a sequence"#;
        assert_eq!(
            redact(msg),
            r#"scopes: invalid type: string "…", expected a sequence"#
        );
    }
}

/// Query of a paginated list (`GET /admin/v1/keys`, `/admin/v1/clients`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size asked for, checked.
    pub fn limit(&self) -> Result<u32, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be 1 to {MAX_LIMIT}"),
            ));
        }
        Ok(limit)
    }
}

/// The id in a path, and the audit target it names when it is a well-formed id of
/// type `kind` (`key`, `cli`): a malformed one is not copied into the trail.
pub fn id_path(
    kind: &str,
    path: Result<ApiPath<String>, ApiError>,
) -> (Result<String, ApiError>, Option<String>) {
    let id = path.map(|ApiPath(id)| id);
    let target = id
        .as_ref()
        .ok()
        .filter(|id| gatehouse_core::id::is_well_formed(kind, id))
        .cloned();
    (id, target)
}
