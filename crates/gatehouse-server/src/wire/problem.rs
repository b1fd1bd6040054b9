//! Problem details (RFC 9457): how every refusal is written, whoever answers it.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::Problem;

/// A problem+json response.
pub fn problem(status: StatusCode, code: &str, detail: String, mut headers: HeaderMap) -> Response {
    let body = Problem {
        kind: String::from("about:blank"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(gatehouse_api::problem::CONTENT_TYPE),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (status, headers, json).into_response()
}
