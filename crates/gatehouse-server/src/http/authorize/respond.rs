//! The answers the authorization pages share: redirects back to the client, cookies,
//! and the error pages of an expired request, a malformed form or a store failure.

use super::pages;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::audit::EventBody;
use gatehouse_core::oauth::authorize::with_query;

/// A 303 to the client's redirect URI with `pairs`, `state` and `iss` (RFC 9207).
pub(super) fn redirect_to_client(
    state: &AppState,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    client_state: Option<&str>,
) -> Response {
    let mut all: Vec<(&str, &str)> = pairs.to_vec();
    if let Some(s) = client_state {
        all.push(("state", s));
    }
    all.push(("iss", &state.settings.public_url));
    see_other(&with_query(redirect_uri, &all))
}

pub(super) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn set_cookie(
    response: &mut Response,
    name: &str,
    value: &str,
    path: &str,
    state: &AppState,
) {
    // Lax, not Strict: the flow starts with a top-level navigation from the client's
    // site, which must carry the session. Secure whenever the issuer is https.
    let secure = if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

pub(super) fn expired() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This sign-in request has expired",
        "Start again from the app you were signing in to.",
    )
}

pub(super) fn malformed_form(event: &mut EventBody) -> Response {
    event.reason = Some("malformed_form".into());
    pages::error(
        StatusCode::BAD_REQUEST,
        "Malformed form",
        "The form could not be read.",
    )
}

pub(super) fn unavailable(event: &mut EventBody) -> Response {
    event.reason = Some("unavailable".into());
    pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "Gatehouse cannot complete this request right now.",
    )
}

pub(super) async fn finish(state: &AppState, mut event: EventBody, response: Response) -> Response {
    event.status = Some(response.status().as_u16());
    state.audit.record(event).await;
    response
}
