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
mod openapi;
mod pages;
mod signing_keys;
mod token;
mod userinfo;
mod users;
mod verify;
mod well_known;

pub use error::{ApiError, AuthFailure, problem};
pub use extract::{API_KEY_HEADER, Caller};

use crate::listener::Peer;
use crate::state::{AppState, RequestContext};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use std::sync::Arc;

/// Largest JSON body accepted (SPEC §10).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest total size of request headers (SPEC §10).
pub const MAX_HEADERS: usize = 16 * 1024;

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
        .route("/metrics", get(health::metrics))
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), frame))
        .with_state(state)
}

/// Wraps every request: refuses oversized headers, assigns the request id (echoed in
/// `X-Gatehouse-Request-Id`), and counts the response.
async fn frame(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
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
        req.extensions_mut().insert(ctx);
        next.run(req).await
    };
    if let Some(id) = request_id {
        response.headers_mut().insert("x-gatehouse-request-id", id);
    }
    state.metrics.response(response.status().as_u16());
    response
}
