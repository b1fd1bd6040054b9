//! The one place where errors become HTTP responses: RFC 9457 problem details.
//!
//! Every [`ApiError`] variant is mapped by an exhaustive `match` without a wildcard, so
//! a new variant forces a decision. Bodies say what is wrong for the caller, never
//! internals: store errors are logged and answered with a generic detail.

use crate::wire::{Challenge, problem};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::api_key::{ApiKeyError, Denial};
use gatehouse_core::policy::{Escalation, Forbidden};
use gatehouse_store::StoreError;

/// Why the caller's own credential was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential presented.
    Missing,
    /// A credential in a scheme other than Bearer / X-API-Key.
    WrongScheme,
    /// Both `Authorization` and `X-API-Key`, or either of them twice, so which one
    /// counts is unclear.
    Ambiguous,
    /// Not a well-formed key.
    Malformed(ApiKeyError),
    /// A well-formed key that core refused.
    Denied(Denial),
}

impl AuthFailure {
    /// The reason code for the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "MISSING_CREDENTIAL",
            Self::WrongScheme => "UNSUPPORTED_SCHEME",
            Self::Ambiguous => "AMBIGUOUS_CREDENTIAL",
            Self::Malformed(_) => "MALFORMED_KEY",
            Self::Denied(d) => d.code(),
        }
    }
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// 401 (or 429 for a rate-limited caller).
    Unauthenticated(AuthFailure),
    /// 403: the caller lacks the endpoint's scope.
    Forbidden(Forbidden),
    /// 403: the caller tried to grant scopes it does not hold.
    Escalation(Escalation),
    /// 404: the named resource does not exist.
    NotFound(&'static str),
    /// 404: no such endpoint.
    NoRoute,
    /// 405.
    MethodNotAllowed,
    /// 400 with a stable code.
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// 409 with a stable code.
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// 413.
    PayloadTooLarge,
    /// 408: the body did not arrive in time; the connection is closed.
    BodyTimeout,
    /// 415.
    UnsupportedMediaType,
    /// 431.
    HeadersTooLarge,
    /// The store failed.
    Store(StoreError),
    /// No randomness for new secrets.
    EntropyUnavailable,
    /// A server-side failure that is not the request's fault (logged, never shown).
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(store) => Self::Store(store),
            Err(other) => Self::Internal(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<gatehouse_core::EntropyUnavailable> for ApiError {
    fn from(_: gatehouse_core::EntropyUnavailable) -> Self {
        Self::EntropyUnavailable
    }
}

impl ApiError {
    /// A 400 with `code` and `detail`.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }
}

impl ApiError {
    /// The HTTP status and the problem's stable `code`: what the caller is answered and
    /// what the audit trail records as the reason of a refusal.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthenticated(failure) => match failure {
                AuthFailure::Denied(Denial::RateLimited(_)) => {
                    (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
                }
                AuthFailure::Missing | AuthFailure::WrongScheme => {
                    (StatusCode::UNAUTHORIZED, "missing_credential")
                }
                AuthFailure::Ambiguous | AuthFailure::Malformed(_) | AuthFailure::Denied(_) => {
                    (StatusCode::UNAUTHORIZED, "invalid_credential")
                }
            },
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
            Self::Escalation(_) => (StatusCode::FORBIDDEN, "scope_escalation"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            Self::Store(e) => match e {
                StoreError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                StoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                StoreError::Unavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
                }
                StoreError::Corrupt(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_corrupt"),
            },
            Self::EntropyUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "entropy_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut headers = HeaderMap::new();
        let detail: String = match self {
            Self::Unauthenticated(failure) => match failure {
                AuthFailure::Denied(Denial::RateLimited(state)) => {
                    let retry = state.retry_after_ms.unwrap_or(0).div_ceil(1000).max(1);
                    insert(&mut headers, "retry-after", &retry.to_string());
                    insert(
                        &mut headers,
                        "ratelimit",
                        &format!("limit={}, remaining=0, reset={retry}", state.limit),
                    );
                    "this API key is over its rate limit".into()
                }
                AuthFailure::Missing | AuthFailure::WrongScheme => {
                    Challenge::Bearer.insert_into(&mut headers);
                    "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`".into()
                }
                AuthFailure::Ambiguous => {
                    Challenge::InvalidToken(None).insert_into(&mut headers);
                    "send the API key in one header, once".into()
                }
                AuthFailure::Malformed(e) => {
                    Challenge::InvalidToken(None).insert_into(&mut headers);
                    format!("the API key is malformed: {e}")
                }
                AuthFailure::Denied(d) => {
                    Challenge::InvalidToken(None).insert_into(&mut headers);
                    format!("the API key is not valid ({})", d.code())
                }
            },
            Self::Forbidden(f) => {
                Challenge::InsufficientScope(&f.needed.to_string()).insert_into(&mut headers);
                f.to_string()
            }
            Self::Escalation(e) => e.to_string(),
            Self::NotFound(what) => format!("no such {what}"),
            Self::NoRoute => "no endpoint at this path".into(),
            Self::MethodNotAllowed => "this endpoint does not take this method".into(),
            Self::BadRequest { detail, .. } | Self::Conflict { detail, .. } => detail,
            Self::PayloadTooLarge => "the request body is over 64 KiB".into(),
            Self::BodyTimeout => {
                // The rest of the body may still be on its way: the connection cannot
                // carry another request.
                insert(&mut headers, "connection", "close");
                "the request body did not arrive in time".into()
            }
            Self::UnsupportedMediaType => {
                "send the body as `Content-Type: application/json`".into()
            }
            Self::HeadersTooLarge => "the request headers are over 16 KiB".into(),
            Self::Store(e) => {
                tracing::error!(error = %e, "store error");
                match e {
                    StoreError::NotFound => "no such resource".into(),
                    StoreError::Conflict(_) => {
                        "the resource changed or exists already; retry".into()
                    }
                    StoreError::Unavailable(_) => "the store is unavailable; retry".into(),
                    StoreError::Corrupt(_) => "stored data could not be read".into(),
                }
            }
            Self::EntropyUnavailable => "the system random number generator is unavailable".into(),
            Self::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "the server could not complete the request; its log has the details".into()
            }
        };
        problem(status, code, detail, headers)
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
