//! `/admin/v1/signing-keys`: list the token signing keys and rotate them
//! (`gatehouse:admin`).

use super::action::AuditTarget;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Caller};
use crate::signing_keys::{KeyState, Withdrawal};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_api::Problem;
use gatehouse_api::signing_keys::{RotateSigningKey, SigningKeyInfo};
use gatehouse_api::timestamp::to_datetime;
use gatehouse_core::scope::ADMIN;
use std::sync::Arc;

/// `GET /admin/v1/signing-keys` — every signing key and its state (`gatehouse:admin`).
#[utoipa::path(get, path = "/admin/v1/signing-keys", tag = "signing-keys",
    responses((status = 200, body = Vec<SigningKeyInfo>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "signing_key.list", None, async {
            caller.require(ADMIN)?;
            Ok(Json(infos(&state)))
        })
        .await
}

/// `POST /admin/v1/signing-keys/rotate` — publish a new signing key that takes over
/// after the publish lead, or at once with `immediate` (`gatehouse:admin`). A key
/// already waiting to take over is returned instead of making another.
#[utoipa::path(post, path = "/admin/v1/signing-keys/rotate", tag = "signing-keys",
    request_body = RotateSigningKey,
    responses((status = 200, body = SigningKeyInfo), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<ApiJson<RotateSigningKey>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "signing_key.rotate", None, async {
            caller.require(ADMIN)?;
            let ApiJson(req) = body?;
            let key = state
                .signing_keys
                .rotate(state.store.as_ref(), state.clock.now(), req.immediate)
                .await?;
            let kid = key.verifier.kid().to_owned();
            let info = infos(&state)
                .into_iter()
                .find(|i| i.kid == kid)
                .ok_or_else(|| anyhow::anyhow!("rotated key {kid} not listed"))?;
            Ok((StatusCode::OK, AuditTarget(kid), Json(info)))
        })
        .await
}

/// `DELETE /admin/v1/signing-keys/{kid}` — withdraw a key now, for a leaked key
/// (`gatehouse:admin`): it leaves the JWK Set and every token it signed stops
/// verifying here at once. The active key cannot be withdrawn: rotate with
/// `immediate` first.
#[utoipa::path(delete, path = "/admin/v1/signing-keys/{kid}", tag = "signing-keys",
    responses((status = 204), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn withdraw(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let kid = path.map(|ApiPath(kid)| kid);
    let target = kid.as_ref().ok().filter(|k| k.len() <= 64).cloned();
    caller
        .audited(&state, "signing_key.withdraw", target.as_deref(), async {
            caller.require(ADMIN)?;
            let kid = kid?;
            let store = state.store.as_ref();
            match state
                .signing_keys
                .withdraw(store, &kid, state.clock.now())
                .await?
            {
                Withdrawal::Done => {
                    state.access_tokens.forget_key(&kid);
                    Ok(StatusCode::NO_CONTENT)
                }
                Withdrawal::NotFound => Err(ApiError::NotFound("signing key")),
                Withdrawal::Active => Err(ApiError::Conflict {
                    code: "active_signing_key",
                    detail: "this key signs now: rotate with immediate first".into(),
                }),
            }
        })
        .await
}

fn infos(state: &AppState) -> Vec<SigningKeyInfo> {
    state
        .signing_keys
        .list(state.clock.now())
        .into_iter()
        .map(|(key, key_state)| SigningKeyInfo {
            kid: key.verifier.kid().to_owned(),
            alg: key.signer.alg().as_str().to_owned(),
            state: match key_state {
                KeyState::Next => "next",
                KeyState::Active => "active",
                KeyState::Retired => "retired",
                KeyState::Expired => "expired",
            }
            .to_owned(),
            created_at: to_datetime(key.created_at),
            active_at: to_datetime(key.active_at),
            expires_at: key.expires_at.map(to_datetime),
        })
        .collect()
}
