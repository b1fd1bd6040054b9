//! How the OAuth endpoints answer (RFC 6749 §5.1, §5.2): a success marked not
//! cacheable, or an error with its status, and one audit event either way. Shared by
//! token, introspection and revocation.

use crate::state::AppState;
use crate::wire::Challenge;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::clients::OAuthErrorBody;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::oauth::OAuthError;

/// Answers an OAuth request and records its one audit event: allowed with the
/// success's `reason`, or denied with the error's code; with the answered status.
pub async fn answer(
    state: &AppState,
    mut event: EventBody,
    result: Result<(Response, String), OAuthError>,
) -> Response {
    let response = match result {
        Ok((response, reason)) => {
            event.outcome = Outcome::Allowed;
            event.reason = Some(reason.into());
            no_store(response)
        }
        Err(error) => {
            event.outcome = Outcome::Denied;
            let reason = match error {
                OAuthError::Throttled { .. } => "throttled",
                _ => error.code(),
            };
            event.reason = Some(reason.into());
            oauth_error(&error)
        }
    };
    event.status = Some(response.status().as_u16());
    state.audit.record(event).await;
    response
}

/// An RFC 6749 §5.2 error answer.
pub fn oauth_error(error: &OAuthError) -> Response {
    // Exhaustive: a new kind of error must choose its status here.
    let status = match error {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OAuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        OAuthError::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthError::InvalidRequest(_)
        | OAuthError::UnauthorizedClient(_)
        | OAuthError::UnsupportedGrantType(_)
        | OAuthError::InvalidScope(_)
        | OAuthError::InvalidGrant(_) => StatusCode::BAD_REQUEST,
    };
    let body = OAuthErrorBody {
        error: error.code().to_owned(),
        error_description: error.description().to_owned(),
    };
    let mut response = no_store((status, Json(body)).into_response());
    if let OAuthError::Throttled { retry_after_secs } = error {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6749 §5.2: a 401 names the scheme; Basic is the one offered.
        Challenge::Basic.insert_into(response.headers_mut());
    }
    response
}

/// Marks an answer that carries or concerns credentials as not cacheable.
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
