//! The HTTP surface: routes, the per-request frame (request id, header limit,
//! metrics), and body limits. Handlers live in one module per resource.

mod action;
mod audit;
mod authorize;
mod ca;
mod client_auth;
mod clients;
mod consents;
mod error;
mod extract;
mod forward_auth;
mod health;
mod introspection;
mod keys;
mod oauth_answer;
mod openapi;
mod pages;
mod signing_keys;
mod token;
mod userinfo;
mod users;
mod verify;
mod well_known;

pub use error::{ApiError, AuthFailure};
pub use extract::{API_KEY_HEADER, Caller};

use crate::config::MetricsAuth;
use crate::listener::Peer;
use crate::state::{AppState, RequestContext};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body as _;
use std::sync::Arc;
use std::time::Duration;

pub use crate::wire::{MAX_BODY, MAX_HEADERS, problem};

/// The application's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let admin = Router::new()
        .route("/keys", get(keys::list).post(keys::create))
        .route(
            "/keys/{id}",
            get(keys::show).patch(keys::update).delete(keys::delete),
        )
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/keys/{id}/rotate", post(keys::rotate))
        .route("/audit", get(audit::list))
        .route("/audit/head", get(audit::head))
        .route("/audit/verify", get(audit::verify))
        .route("/clients", get(clients::list).post(clients::create))
        .route(
            "/clients/{id}",
            get(clients::show)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route("/clients/{id}/rotate-secret", post(clients::rotate_secret))
        .route("/signing-keys", get(signing_keys::list))
        .route("/signing-keys/rotate", post(signing_keys::rotate))
        .route(
            "/signing-keys/{kid}",
            axum::routing::delete(signing_keys::withdraw),
        )
        .route("/users", get(users::list).post(users::create))
        .route(
            "/users/{id}",
            get(users::show).patch(users::update).delete(users::delete),
        )
        .route("/users/{id}/password", post(users::set_password))
        .route("/ca", get(ca::show).post(ca::init))
        .route("/certificates", get(ca::list).post(ca::issue))
        .route("/certificates/{serial}/revoke", post(ca::revoke))
        .route("/users/{id}/consents", get(consents::list))
        .route(
            "/users/{id}/consents/{client_id}",
            axum::routing::delete(consents::revoke),
        )
        .route("/openapi.json", get(openapi::document));
    let metrics = match state.settings.metrics_auth {
        MetricsAuth::None => get(health::metrics),
        MetricsAuth::ApiKey => get(health::metrics_with_key),
    };
    Router::new()
        .nest("/admin/v1", admin)
        .route("/v1/keys/verify", post(verify::verify))
        .route(forward_auth::PATH, any(forward_auth::forward_auth))
        .route("/v1/forward-auth/{*path}", any(forward_auth::forward_auth))
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(well_known::oauth_metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(well_known::openid_configuration),
        )
        .route("/oauth/authorize", get(authorize::authorize))
        .route("/oauth/authorize/login", post(authorize::login))
        .route(
            "/oauth/authorize/consent",
            get(authorize::consent_form).post(authorize::consent),
        )
        .route("/oauth/token", post(token::token))
        .route("/oauth/introspect", post(introspection::introspect))
        .route("/oauth/revoke", post(introspection::revoke))
        .route(
            "/oauth/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", metrics)
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), frame))
        .with_state(state)
}

/// Wraps every request: refuses oversized headers, reads the whole body (at most 64
/// KiB, within `server.body_timeout_secs`), assigns the request id (echoed in
/// `X-Gatehouse-Request-Id`), and counts the response.
async fn frame(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let ctx = RequestContext {
        request_id: state.request_ids.next(),
        client_ip: req.extensions().get::<Peer>().map(|p| Arc::clone(&p.ip)),
        method: req.method().as_str().into(),
        path: req.uri().path().into(),
    };
    let request_id = HeaderValue::from_str(&ctx.request_id).ok();
    let mut response = if header_bytes > MAX_HEADERS {
        ApiError::HeadersTooLarge.into_response()
    } else {
        match whole_body(req, state.settings.body_timeout).await {
            Ok(mut req) => {
                req.extensions_mut().insert(ctx);
                next.run(req).await
            }
            Err(error) => error.into_response(),
        }
    };
    if let Some(id) = request_id {
        response.headers_mut().insert("x-gatehouse-request-id", id);
    }
    state.metrics.response(response.status().as_u16());
    response
}

/// The request with its body read whole: at most `MAX_BODY` bytes, all of it within
/// `deadline` (else 408). Every API body is small, so reading it here bounds how long
/// any request can hold a connection with a trickled body.
///
/// A body over the limit (known before reading a byte when `Content-Length` says so):
/// a form is answered 413 here, as the form handlers cannot tell a body too large from
/// a malformed one; any other body is passed on as one that fails with the length
/// limit, so the JSON endpoints answer their own 413 and record it like any other
/// refusal after authentication.
async fn whole_body(req: Request, deadline: Duration) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, body));
    }
    let too_large = |parts: axum::http::request::Parts| {
        let form = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|t| {
                t.as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            });
        if form {
            return Err(ApiError::PayloadTooLarge);
        }
        let over_limit = Limited::new(Full::new(Bytes::from_static(b" ")), 0);
        Ok(Request::from_parts(
            parts,
            axum::body::Body::new(over_limit),
        ))
    };
    if body.size_hint().lower() > MAX_BODY as u64 {
        return too_large(parts);
    }
    let reading = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(deadline, reading).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(
            parts,
            axum::body::Body::from(collected.to_bytes()),
        )),
        Ok(Err(e)) if e.is::<LengthLimitError>() => too_large(parts),
        Ok(Err(_)) => Err(ApiError::bad_request(
            "unreadable_body",
            "the request body could not be read",
        )),
        Err(_elapsed) => Err(ApiError::BodyTimeout),
    }
}
