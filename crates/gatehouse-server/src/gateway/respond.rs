//! What the gateway and forward auth answer when they do not forward: problem+json
//! (RFC 9457) with a stable `code`, and the challenge headers RFC 6750 and the
//! RateLimit fields draft ask for.

use super::decision::Denied;
use crate::wire::{Challenge, problem};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use gatehouse_core::rate_limit::BucketState;
use gatehouse_proxy::forward::ForwardError;
use gatehouse_proxy::hygiene::Refusal;

/// The status and stable code of a refusal.
pub fn status_and_code(denied: &Denied) -> (StatusCode, &'static str) {
    match denied {
        Denied::Missing | Denied::NotAccepted(_) => {
            (StatusCode::UNAUTHORIZED, "missing_credential")
        }
        Denied::Ambiguous
        | Denied::InvalidKey(_)
        | Denied::InvalidToken(_)
        | Denied::InvalidCertificate(_) => (StatusCode::UNAUTHORIZED, "invalid_credential"),
        Denied::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
        Denied::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Denied::IssuerUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "issuer_unavailable"),
    }
}

/// The response to a refused request.
pub fn denied(denied: &Denied) -> Response {
    let (status, code) = status_and_code(denied);
    let mut headers = HeaderMap::new();
    let detail = match denied {
        Denied::Missing => {
            Challenge::Bearer.insert_into(&mut headers);
            "send a credential: `Authorization: Bearer <API key or token>` or `X-API-Key`".into()
        }
        Denied::NotAccepted(method) => {
            Challenge::Bearer.insert_into(&mut headers);
            format!("this route does not accept {} credentials", method.as_str())
        }
        Denied::Ambiguous => {
            Challenge::InvalidToken(Some("send one credential, not two")).insert_into(&mut headers);
            "send one credential in one header: not Authorization and X-API-Key, nor either twice"
                .into()
        }
        Denied::InvalidKey(reason) => {
            Challenge::InvalidToken(Some("the API key is not valid")).insert_into(&mut headers);
            format!("the API key is not valid ({reason})")
        }
        Denied::InvalidToken(reason) => {
            Challenge::InvalidToken(Some("the access token is not valid"))
                .insert_into(&mut headers);
            format!("the access token is not valid ({reason})")
        }
        Denied::InvalidCertificate(reason) => {
            // No Bearer challenge: the credential is the connection's certificate.
            format!("the client certificate is not accepted ({reason})")
        }
        Denied::InsufficientScope(scope) => {
            Challenge::InsufficientScope(scope.as_str()).insert_into(&mut headers);
            format!("this route requires the scope {}", scope.as_str())
        }
        Denied::RateLimited(bucket) => {
            let retry = bucket.retry_after_ms.unwrap_or(0).div_ceil(1000).max(1);
            insert(&mut headers, "retry-after", &retry.to_string());
            rate_limit_headers(&mut headers, bucket);
            "over the rate limit; retry later".into()
        }
        Denied::IssuerUnavailable => {
            insert(&mut headers, "retry-after", "5");
            "the token's issuer cannot be reached to check it; retry later".into()
        }
    };
    problem(status, code, detail, headers)
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers): the limit
/// and window, and what is left and when it resets, in seconds.
pub fn rate_limit_headers(headers: &mut HeaderMap, bucket: &BucketState) {
    let reset = bucket.reset_ms.div_ceil(1000);
    insert(
        headers,
        "ratelimit",
        &format!(
            "limit={}, remaining={}, reset={reset}",
            bucket.limit, bucket.remaining
        ),
    );
}

/// A request refused before routing (smuggling shapes, unsafe paths, oversized headers).
pub fn refused(refusal: Refusal) -> Response {
    let status = match refusal {
        Refusal::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut headers = HeaderMap::new();
    // A request framed ambiguously leaves the connection in doubt: close it.
    headers.insert("connection", HeaderValue::from_static("close"));
    problem(status, refusal.code(), refusal.to_string(), headers)
}

/// No route for this host, method and path.
pub fn no_route(status: StatusCode) -> Response {
    problem(
        status,
        "no_route",
        "no gateway route matches this request".into(),
        HeaderMap::new(),
    )
}

/// The upstream failed; its own error is logged, never shown.
pub fn upstream_failed(error: &ForwardError) -> Response {
    let detail = match error.status() {
        StatusCode::GATEWAY_TIMEOUT => "the upstream did not answer in time",
        _ => "the upstream could not be reached or answered badly",
    };
    problem(
        error.status(),
        error.code(),
        detail.into(),
        HeaderMap::new(),
    )
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
