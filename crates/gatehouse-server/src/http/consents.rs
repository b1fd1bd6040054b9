//! `/admin/v1/users/{id}/consents`: what a user has approved for which client
//! (`gatehouse:admin`). Withdrawing a consent also revokes the client's refresh tokens
//! for that user and the access tokens they issued, so the client must ask again.

use super::error::ApiError;
use super::extract::{ApiPath, Caller, id_path};
use crate::refresh_tokens;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_api::Problem;
use gatehouse_api::users::UserConsent;
use gatehouse_core::scope::ADMIN;
use std::sync::Arc;

/// `GET /admin/v1/users/{id}/consents` — a user's consents, by client id.
#[utoipa::path(get, path = "/admin/v1/users/{id}/consents", tag = "users",
    responses((status = 200, body = Vec<UserConsent>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (user_id, target) = id_path("usr", path);
    caller
        .audited(&state, "user.consent.list", target.as_deref(), async {
            caller.require(ADMIN)?;
            let user_id = user_id?;
            state
                .store
                .user(&user_id)
                .await?
                .ok_or(ApiError::NotFound("user"))?;
            let consents = state.store.consents(&user_id).await?;
            let items: Vec<UserConsent> = consents.iter().map(UserConsent::from).collect();
            Ok(Json(items))
        })
        .await
}

/// `DELETE /admin/v1/users/{id}/consents/{client_id}` — withdraw a consent and end
/// what it allowed.
#[utoipa::path(delete, path = "/admin/v1/users/{id}/consents/{client_id}", tag = "users",
    responses((status = 204), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<(String, String)>, ApiError>,
) -> Result<Response, ApiError> {
    let ids = path.map(|ApiPath(ids)| ids);
    let target = ids
        .as_ref()
        .ok()
        .map(|(user, client)| format!("{user}/{client}"));
    caller
        .audited(&state, "user.consent.revoke", target.as_deref(), async {
            caller.require(ADMIN)?;
            let (user_id, client_id) = ids?;
            // Tokens first: a failure leaves the consent in place to retry, never
            // tokens alive behind a withdrawn consent.
            refresh_tokens::revoke_user(&state, &user_id, Some(&client_id))
                .await
                .map_err(ApiError::Internal)?;
            state.store.delete_consent(&user_id, &client_id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
        .await
}
