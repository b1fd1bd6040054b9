//! `/.well-known/…` documents: the JWK Set (RFC 7517).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::Arc;

/// How long verifiers may cache the JWK Set; the signing key publish lead
/// (`signing.publish_lead_secs`, at least 300) is never shorter.
const JWKS_MAX_AGE: &str = "public, max-age=300";

/// `GET /.well-known/jwks.json` — the public keys that verify Gatehouse's tokens: the
/// active key, the next one (published before it signs) and retired ones still inside
/// their tokens' lifetime.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "RFC 7517 JWK Set", content_type = "application/jwk-set+json")))]
pub async fn jwks(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let set = state.signing_keys.jwks(state.clock.now());
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, JWKS_MAX_AGE),
        ],
        Json(set),
    )
}
