//! `/healthz`, `/readyz` and `/metrics`: for orchestrators and Prometheus. The first
//! two are unauthenticated (they tell nothing but "up"); `/metrics` is too when the
//! API listens on loopback only, and otherwise takes an API key holding
//! `gatehouse:metrics` (`[metrics] auth`).

use super::error::ApiError;
use super::extract::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gatehouse_core::scope::METRICS;
use serde_json::{Value, json};
use std::sync::Arc;

/// `GET /healthz` — the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz` — the store answers and the key index is loaded.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(json!({"status": "ready", "keys": state.keys.len()})))
}

/// `GET /metrics` — Prometheus text format. Unauthenticated with `[metrics] auth =
/// "none"`; otherwise [`metrics_with_key`] answers.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain"), (status = 401), (status = 403)))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    render(&state)
}

/// `GET /metrics` with `[metrics] auth = "api_key"` — needs `gatehouse:metrics`.
pub async fn metrics_with_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "metrics.read", None, async {
            caller.require(METRICS)?;
            Ok(render(&state))
        })
        .await
}

fn render(state: &AppState) -> Response {
    // Read at scrape time: keys are created and deleted after the start.
    state.metrics.keys_loaded.store(
        state.keys.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
