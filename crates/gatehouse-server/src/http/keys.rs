//! `/admin/v1/keys`: API key management. Every endpoint needs `gatehouse:keys`, and a
//! caller can only create or manage keys whose scopes it holds itself.
//! Each request is one audit event, recorded by [`Caller::audited`] from the result.

use super::action::AuditTarget;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, PageQuery, id_path};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::keys::{CreateKey, CreatedKey, Key, RotateKey, RotatedKey, UpdateKey};
use gatehouse_api::timestamp::from_datetime;
use gatehouse_api::{Page, Problem};
use gatehouse_core::api_key::{ApiKey, KeyRecord, Prefix, RateLimit};
use gatehouse_core::scope::{KEYS, ScopeSet};
use gatehouse_core::{UnixTime, display_text, id, policy};
use std::sync::Arc;

const MAX_NAME: usize = 200;
const MAX_GRACE_SECONDS: u64 = 30 * 86_400;

/// `POST /admin/v1/keys` — create a key (`gatehouse:keys`). The key is in the
/// response, this once.
#[utoipa::path(post, path = "/admin/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Result<ApiJson<CreateKey>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "key.create", None, async {
            caller.require(KEYS)?;
            let ApiJson(req) = req?;
            let now = state.clock.now();
            let prefix = match &req.prefix {
                Some(p) => Prefix::for_keys(p)
                    .map_err(|e| ApiError::bad_request("invalid_prefix", e.to_string()))?,
                None => state.settings.default_key_prefix.clone(),
            };
            let scopes = parse_scopes(&req.scopes)?;
            policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
            let name = checked_name(&req.name)?;
            let subject = match &req.subject {
                Some(s) => checked_text("subject", s)?,
                None => name.clone(),
            };
            let expires_at = req.expires_at.map(from_datetime);
            check_future(expires_at, now)?;
            let mut entropy = crate::entropy::OsEntropy;
            let key = ApiKey::generate(&prefix, &mut entropy)?;
            let mut record = KeyRecord::new(
                id::generate("key", now, &mut entropy)?,
                &key,
                name,
                subject,
                scopes,
                now,
            );
            record.metadata = checked_metadata(req.metadata.unwrap_or_default())?;
            record.expires_at = expires_at;
            record.enabled = req.enabled.unwrap_or(true);
            record.rate_limit = req.ratelimit.map(checked_rate).transpose()?;
            record.remaining = req.remaining.map(checked_remaining).transpose()?;
            {
                let _writing = state.key_writes.lock().await;
                state.store.insert_key(&record).await?;
                state.keys.upsert(&record, true);
            }
            let body = CreatedKey {
                info: Key::from_record(&record, record.remaining, None),
                key: key.reveal().to_owned(),
            };
            Ok((
                AuditTarget(record.id.clone()),
                created(&record.id, Json(body)),
            ))
        })
        .await
}

/// `GET /admin/v1/keys` — list keys by id, oldest first (`gatehouse:keys`).
#[utoipa::path(get, path = "/admin/v1/keys", tag = "keys", params(PageQuery),
    responses((status = 200, body = Page<Key>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<ApiQuery<PageQuery>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "key.list", None, async {
            caller.require(KEYS)?;
            let ApiQuery(q) = query?;
            let limit = q.limit()?;
            let records = state.store.list_keys(q.cursor.as_deref(), limit).await?;
            let next_cursor = (records.len() == limit as usize)
                .then(|| records.last().map(|r| r.id.clone()))
                .flatten();
            let items = records.iter().map(|r| view(&state, r)).collect();
            Ok(Json(Page { items, next_cursor }))
        })
        .await
}

/// `GET /admin/v1/keys/{id}` — one key (`gatehouse:keys`).
#[utoipa::path(get, path = "/admin/v1/keys/{id}", tag = "keys", params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = Key), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (key_id, target) = id_path("key", path);
    caller
        .audited(&state, "key.show", target.as_deref(), async {
            caller.require(KEYS)?;
            let record = find(&state, &key_id?).await?;
            Ok(Json(view(&state, &record)))
        })
        .await
}

/// `PATCH /admin/v1/keys/{id}` — change a key's settings (`gatehouse:keys`). Takes
/// effect on the next verification.
#[utoipa::path(patch, path = "/admin/v1/keys/{id}", tag = "keys", request_body = UpdateKey,
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = Key), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
    req: Result<ApiJson<UpdateKey>, ApiError>,
) -> Result<Response, ApiError> {
    let (key_id, target) = id_path("key", path);
    caller
        .audited(&state, "key.update", target.as_deref(), async {
            caller.require(KEYS)?;
            let key_id = key_id?;
            let ApiJson(req) = req?;
            let now = state.clock.now();
            let (_writing, mut record) = manage(&state, &caller, &key_id).await?;
            if let Some(name) = &req.name {
                record.name = checked_name(name)?;
            }
            if let Some(scopes) = &req.scopes {
                let scopes = parse_scopes(scopes)?;
                policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
                record.scopes = scopes;
            }
            if let Some(metadata) = req.metadata {
                record.metadata = checked_metadata(metadata)?;
            }
            if let Some(expires_at) = req.expires_at {
                let expires_at = expires_at.map(from_datetime);
                check_future(expires_at, now)?;
                record.expires_at = expires_at;
            }
            if let Some(enabled) = req.enabled {
                record.enabled = enabled;
            }
            if let Some(rate) = req.ratelimit {
                record.rate_limit = rate.map(checked_rate).transpose()?;
            }
            let reset_usage = req.remaining.is_some();
            if let Some(remaining) = req.remaining {
                record.remaining = remaining.map(checked_remaining).transpose()?;
            }
            record.updated_at = now;
            state.store.update_key(&record).await?;
            state.keys.upsert(&record, reset_usage);
            Ok(Json(view(&state, &record)))
        })
        .await
}

/// `POST /admin/v1/keys/{id}/revoke` — revoke a key now, permanently
/// (`gatehouse:keys`). The next verification of it answers `REVOKED`.
#[utoipa::path(post, path = "/admin/v1/keys/{id}/revoke", tag = "keys", params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = Key), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (key_id, target) = id_path("key", path);
    caller
        .audited(&state, "key.revoke", target.as_deref(), async {
            caller.require(KEYS)?;
            let key_id = key_id?;
            let now = state.clock.now();
            let (_writing, mut record) = manage(&state, &caller, &key_id).await?;
            if !record.is_revoked_at(now) {
                // Brings a rotation's grace period to an end too.
                record.revoked_at = Some(now);
                record.updated_at = now;
                state.store.update_key(&record).await?;
                state.keys.upsert(&record, false);
            }
            Ok(Json(view(&state, &record)))
        })
        .await
}

/// `POST /admin/v1/keys/{id}/rotate` — a new key with the same settings; the old one
/// keeps working for `grace_period_seconds` (default 0), then is revoked
/// (`gatehouse:keys`). The body is optional. A key with a usage limit rotates only
/// without a grace period (409 `usage_limited`), so its budget cannot be spent twice.
#[utoipa::path(post, path = "/admin/v1/keys/{id}/rotate", tag = "keys", request_body = Option<RotateKey>,
    params(("id" = String, Path, description = "Key id")),
    responses((status = 201, body = RotatedKey), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (key_id, target) = id_path("key", path);
    caller
        .audited(&state, "key.rotate", target.as_deref(), async {
            caller.require(KEYS)?;
            let key_id = key_id?;
            let body = body.map_err(super::extract::bytes_rejection)?;
            let req = optional_json::<RotateKey>(&headers, &body)?;
            if req.grace_period_seconds > MAX_GRACE_SECONDS {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "grace_period_seconds is at most 2592000 (30 days)",
                ));
            }
            let now = state.clock.now();
            let (_writing, mut old) = manage(&state, &caller, &key_id).await?;
            if old.is_revoked_at(now) {
                return Err(ApiError::Conflict {
                    code: "key_revoked",
                    detail: "a revoked key cannot be rotated".into(),
                });
            }
            // Both keys would spend the same budget twice during the grace period: refuse
            // rather than silently double a usage limit.
            if old.remaining.is_some() && req.grace_period_seconds > 0 {
                return Err(ApiError::Conflict {
                    code: "usage_limited",
                    detail: "a key with a usage limit can only be rotated without a grace period"
                        .into(),
                });
            }
            let mut entropy = crate::entropy::OsEntropy;
            let key = ApiKey::generate(&old.prefix, &mut entropy)?;
            let new = KeyRecord {
                id: id::generate("key", now, &mut entropy)?,
                digest: key.digest(),
                start: key.start(),
                created_at: now,
                updated_at: now,
                last_used_at: None,
                ..old.clone()
            };
            let grace_ends =
                now.plus_millis(i64::try_from(req.grace_period_seconds * 1000).unwrap_or(i64::MAX));
            old.revoked_at = Some(old.revoked_at.map_or(grace_ends, |t| t.min(grace_ends)));
            old.updated_at = now;
            state.store.rotate_key(&old, &new).await?;
            state.keys.upsert(&old, false);
            state.keys.upsert(&new, true);
            // A rotation is two actions: the new key's creation gets its own event.
            caller
                .allowed(&state, "key.create", Some(&new.id), StatusCode::CREATED)
                .await;
            let body = RotatedKey {
                info: Key::from_record(&new, new.remaining, None),
                key: key.reveal().to_owned(),
                previous: view(&state, &old),
            };
            Ok(created(&new.id, Json(body)))
        })
        .await
}

/// `DELETE /admin/v1/keys/{id}` — delete a key and its record (`gatehouse:keys`).
#[utoipa::path(delete, path = "/admin/v1/keys/{id}", tag = "keys", params(("id" = String, Path, description = "Key id")),
    responses((status = 204), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (key_id, target) = id_path("key", path);
    caller
        .audited(&state, "key.delete", target.as_deref(), async {
            caller.require(KEYS)?;
            let key_id = key_id?;
            let (_writing, record) = manage(&state, &caller, &key_id).await?;
            state.store.delete_key(&record.id).await?;
            state.keys.remove(&record.digest);
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// The key id in the path, and the audit target it names: the id if it is shaped like
/// one, so that whatever else was typed there is not recorded as a key id.
async fn find(state: &AppState, key_id: &str) -> Result<KeyRecord, ApiError> {
    if !id::is_well_formed("key", key_id) {
        return Err(ApiError::NotFound("key"));
    }
    state
        .store
        .key(key_id)
        .await?
        .ok_or(ApiError::NotFound("key"))
}

/// Starts a change of the key `key_id`: takes the key-write lock (so the usage flusher
/// cannot interleave), fetches the record, checks the caller may manage it (holds all
/// its scopes), and puts the live usage into it so writing it back rolls no counter
/// back. The change ends when the guard is dropped.
async fn manage<'a>(
    state: &'a AppState,
    caller: &Caller,
    key_id: &str,
) -> Result<(tokio::sync::MutexGuard<'a, ()>, KeyRecord), ApiError> {
    let writing = state.key_writes.lock().await;
    let mut record = find(state, key_id).await?;
    policy::may_manage(caller.who.scopes(), &record.scopes).map_err(ApiError::Escalation)?;
    if let Some((remaining, last_used)) = state.keys.usage(&record.digest) {
        record.remaining = remaining;
        record.last_used_at = last_used;
    }
    Ok((writing, record))
}

/// The admin view of a record, with live usage from the index.
fn view(state: &AppState, record: &KeyRecord) -> Key {
    let (remaining, last_used) = state
        .keys
        .usage(&record.digest)
        .unwrap_or((record.remaining, record.last_used_at));
    Key::from_record(record, remaining, last_used)
}

pub(super) fn parse_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<ScopeSet, ApiError> {
    if scopes.len() > 100 {
        return Err(ApiError::bad_request("invalid_scope", "at most 100 scopes"));
    }
    ScopeSet::parse(scopes.iter().map(AsRef::as_ref))
        .map_err(|e| ApiError::bad_request("invalid_scope", e.to_string()))
}

pub(super) fn checked_name(name: &str) -> Result<String, ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name must not be empty",
        ));
    }
    checked_text("name", name)
}

/// Metadata whose keys are display text (they are shown as labels in the console
/// and CLI); the values are the caller's data and pass as they are.
fn checked_metadata(
    metadata: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    for key in metadata.keys() {
        display_text::check(key)
            .map_err(|e| ApiError::bad_request("invalid_field", format!("a metadata key: {e}")))?;
    }
    Ok(metadata)
}

/// A name, subject or label: at most [`MAX_NAME`] characters, none that changes how
/// the text around it displays (core's `display_text` rule: controls, line
/// separators, bidirectional controls).
pub(super) fn checked_text(field: &str, value: &str) -> Result<String, ApiError> {
    if value.chars().count() > MAX_NAME {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must be at most {MAX_NAME} printable characters"),
        ));
    }
    display_text::check(value)
        .map_err(|e| ApiError::bad_request("invalid_field", format!("{field}: {e}")))?;
    Ok(value.to_owned())
}

fn check_future(expires_at: Option<UnixTime>, now: UnixTime) -> Result<(), ApiError> {
    match expires_at {
        Some(t) if t <= now => Err(ApiError::bad_request(
            "invalid_field",
            "expires_at must be in the future",
        )),
        _ => Ok(()),
    }
}

fn checked_rate(rate: gatehouse_api::keys::RateLimit) -> Result<RateLimit, ApiError> {
    // At most one request a microsecond: the bucket's resolution.
    let too_fast = u64::from(rate.limit) > rate.duration_ms.saturating_mul(1000);
    match std::num::NonZeroU32::new(rate.limit) {
        Some(limit) if (1..=86_400_000 * 366).contains(&rate.duration_ms) && !too_fast => {
            Ok(RateLimit {
                limit,
                duration_ms: rate.duration_ms,
            })
        }
        _ => Err(ApiError::bad_request(
            "invalid_field",
            "ratelimit needs 1 ≤ limit ≤ duration_ms × 1000 and 1 ≤ duration_ms ≤ one year",
        )),
    }
}

/// A usage limit the store can hold exactly (its integers are signed 64-bit).
fn checked_remaining(n: u64) -> Result<u64, ApiError> {
    if i64::try_from(n).is_err() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "remaining is at most 9223372036854775807",
        ));
    }
    Ok(n)
}

/// An optional JSON body: empty means the default.
fn optional_json<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_field", super::extract::redact(&e.to_string())))
}

/// A 201 with `Location` and `Cache-Control: no-store` (the body holds a secret).
fn created(key_id: &str, body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::CREATED, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(location) = HeaderValue::from_str(&format!("/admin/v1/keys/{key_id}")) {
        headers.insert(header::LOCATION, location);
    }
    response
}
