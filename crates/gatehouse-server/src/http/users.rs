//! `/admin/v1/users`: people who log in (`gatehouse:admin`). A caller can give a user
//! only scopes it holds. Passwords are hashed with Argon2id off the async threads and
//! never returned, logged or audited.

use super::action::AuditTarget;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, PageQuery, id_path};
use super::keys::{checked_text, parse_scopes};
use crate::passwords::HashingError;
use crate::refresh_tokens;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::users::{CreateUser, SetPassword, UpdateUser, User};
use gatehouse_api::{Page, Problem};
use gatehouse_core::scope::ADMIN;
use gatehouse_core::user::{UserRecord, Username};
use gatehouse_core::{Secret, id, policy};
use std::sync::Arc;

/// `POST /admin/v1/users` — create a user (`gatehouse:admin`).
#[utoipa::path(post, path = "/admin/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Result<ApiJson<CreateUser>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "user.create", None, async {
            caller.require(ADMIN)?;
            let ApiJson(req) = req?;
            let scopes = parse_scopes(&req.scopes)?;
            policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
            let username = username(&req.username)?;
            let password_hash = match req.password {
                Some(password) => Some(hash(&state, password).await?),
                None => None,
            };
            let now = state.clock.now();
            let record = UserRecord {
                id: id::generate("usr", now, &mut crate::entropy::OsEntropy)?,
                username,
                display_name: optional_text("display_name", req.display_name)?,
                email: optional_text("email", req.email)?,
                password_changed_at: password_hash.is_some().then_some(now),
                password_hash,
                scopes,
                enabled: true,
                created_at: now,
                updated_at: now,
            };
            state.store.insert_user(&record).await?;
            let mut response = (StatusCode::CREATED, Json(User::from(&record))).into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/admin/v1/users/{}", record.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok((AuditTarget(record.id.clone()), response))
        })
        .await
}

/// `GET /admin/v1/users` — users by id, oldest first (`gatehouse:admin`).
#[utoipa::path(get, path = "/admin/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Page<User>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<ApiQuery<PageQuery>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "user.list", None, async {
            caller.require(ADMIN)?;
            let ApiQuery(q) = query?;
            let limit = q.limit()?;
            let users = state.store.list_users(q.cursor.as_deref(), limit).await?;
            let items: Vec<User> = users.iter().map(User::from).collect();
            let next_cursor = (items.len() == limit as usize)
                .then(|| items.last().map(|u| u.id.clone()))
                .flatten();
            Ok(Json(Page { items, next_cursor }))
        })
        .await
}

/// `GET /admin/v1/users/{id}` — one user (`gatehouse:admin`).
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "users",
    responses((status = 200, body = User), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (user_id, target) = id_path("usr", path);
    caller
        .audited(&state, "user.read", target.as_deref(), async {
            caller.require(ADMIN)?;
            let user = find(&state, &user_id?).await?;
            Ok(Json(User::from(&user)))
        })
        .await
}

/// `PATCH /admin/v1/users/{id}` — change a user, or disable one with
/// `{"enabled": false}` (`gatehouse:admin`).
#[utoipa::path(patch, path = "/admin/v1/users/{id}", tag = "users", request_body = UpdateUser,
    responses((status = 200, body = User), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
    req: Result<ApiJson<UpdateUser>, ApiError>,
) -> Result<Response, ApiError> {
    let (user_id, target) = id_path("usr", path);
    caller
        .audited(&state, "user.update", target.as_deref(), async {
            caller.require(ADMIN)?;
            let mut user = manage(&state, &caller, &user_id?).await?;
            let ApiJson(req) = req?;
            if let Some(name) = &req.username {
                user.username = username(name)?;
            }
            if let Some(name) = req.display_name {
                user.display_name = optional_text("display_name", Some(name))?;
            }
            if let Some(email) = req.email {
                user.email = optional_text("email", Some(email))?;
            }
            if let Some(scopes) = &req.scopes {
                let scopes = parse_scopes(scopes)?;
                policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
                user.scopes = scopes;
            }
            let disabling = user.enabled && req.enabled == Some(false);
            if let Some(enabled) = req.enabled {
                user.enabled = enabled;
            }
            user.updated_at = state.clock.now();
            state.store.update_user(&user).await?;
            if disabling {
                sign_out(&state, &user.id).await?;
            }
            Ok(Json(User::from(&user)))
        })
        .await
}

/// `POST /admin/v1/users/{id}/password` — set a user's password (`gatehouse:admin`).
#[utoipa::path(post, path = "/admin/v1/users/{id}/password", tag = "users", request_body = SetPassword,
    responses((status = 200, body = User), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn set_password(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
    req: Result<ApiJson<SetPassword>, ApiError>,
) -> Result<Response, ApiError> {
    let (user_id, target) = id_path("usr", path);
    caller
        .audited(&state, "user.set_password", target.as_deref(), async {
            caller.require(ADMIN)?;
            let mut user = manage(&state, &caller, &user_id?).await?;
            let ApiJson(req) = req?;
            user.password_hash = Some(hash(&state, req.password).await?);
            let now = state.clock.now();
            user.password_changed_at = Some(now);
            user.updated_at = now;
            state.store.update_user(&user).await?;
            sign_out(&state, &user.id).await?;
            Ok(Json(User::from(&user)))
        })
        .await
}

/// `DELETE /admin/v1/users/{id}` — delete a user (`gatehouse:admin`).
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "users",
    responses((status = 204), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (user_id, target) = id_path("usr", path);
    caller
        .audited(&state, "user.delete", target.as_deref(), async {
            caller.require(ADMIN)?;
            let user = manage(&state, &caller, &user_id?).await?;
            // Signed out first, so the access tokens of their refresh tokens are
            // deny-listed before the store forgets which they were.
            sign_out(&state, &user.id).await?;
            state.store.delete_user(&user.id).await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// Ends everything a user's password bought — browser sessions, refresh tokens and
/// the access tokens these issued — when the account is disabled or deleted or the
/// password changes (it may have been stolen).
async fn sign_out(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    state.authorizations.sessions.remove_user(user_id);
    refresh_tokens::revoke_user(state, user_id, None)
        .await
        .map_err(ApiError::Internal)
}

async fn find(state: &AppState, user_id: &str) -> Result<UserRecord, ApiError> {
    state
        .store
        .user(user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))
}

/// The user to change, if the caller holds all of its scopes.
async fn manage(state: &AppState, caller: &Caller, user_id: &str) -> Result<UserRecord, ApiError> {
    let user = find(state, user_id).await?;
    policy::may_manage(caller.who.scopes(), &user.scopes).map_err(ApiError::Escalation)?;
    Ok(user)
}

fn username(name: &str) -> Result<Username, ApiError> {
    Username::parse(name).map_err(|e| ApiError::bad_request("invalid_username", e.to_string()))
}

/// An optional text field; `""` means none.
fn optional_text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !v.is_empty() => checked_text(field, &v).map(Some),
        _ => Ok(None),
    }
}

async fn hash(state: &AppState, password: String) -> Result<String, ApiError> {
    match state.passwords.hash(Secret::new(password)).await {
        Ok(hash) => Ok(hash),
        Err(HashingError::Password(e)) => {
            Err(ApiError::bad_request("invalid_password", e.to_string()))
        }
        Err(HashingError::Entropy) => Err(ApiError::EntropyUnavailable),
        Err(e @ HashingError::Interrupted) => Err(ApiError::Internal(e.into())),
    }
}
