//! `GET /admin/v1/audit`: the audit trail, filtered and paginated, and
//! `GET /admin/v1/audit/head`: where it starts and ends (`gatehouse:audit:read`).

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::audit_log;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_api::audit::{AuditHead, Event};
use gatehouse_api::page::{DEFAULT_LIMIT, MAX_LIMIT};
use gatehouse_api::timestamp::from_datetime;
use gatehouse_api::{Page, Problem};
use gatehouse_core::audit::{ChainHash, Outcome};
use gatehouse_core::scope::AUDIT_READ;
use gatehouse_store::{AuditQuery, Order};
use serde::Deserialize;
use std::sync::Arc;
use time::OffsetDateTime;

/// Filters of `GET /admin/v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only this principal's events.
    principal: Option<String>,
    /// Only events with this credential id.
    credential_id: Option<String>,
    /// Only this action, e.g. `key.verify`.
    action: Option<String>,
    /// `allowed` or `denied`.
    outcome: Option<String>,
    /// From this time on (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    since: Option<OffsetDateTime>,
    /// Before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    until: Option<OffsetDateTime>,
    /// `desc` (newest first, default) or `asc`.
    order: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// `GET /admin/v1/audit` — audit events (`gatehouse:audit:read`). Every event of a
/// request answered before this one is included.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditFilter),
    responses((status = 200, body = Page<Event>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    filter: Result<ApiQuery<AuditFilter>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "audit.read", None, async {
            caller.require(AUDIT_READ)?;
            let ApiQuery(f) = filter?;
            let query = parse_filter(f)?;
            // Read-your-writes: what was answered before this request is in the trail.
            state.audit.flush().await;
            let events = state.store.query_audit(&query).await?;
            let next_cursor = (events.len() == query.limit as usize)
                .then(|| events.last().map(|e| e.seq.to_string()))
                .flatten();
            Ok(Json(Page {
                items: events.iter().map(Event::from).collect(),
                next_cursor,
            }))
        })
        .await
}

/// `GET /admin/v1/audit/head` — where the trail must start and where it ends
/// (`gatehouse:audit:read`): the oldest event retention kept (1 if it never pruned)
/// and the newest event written, including every event of a request answered before
/// this one. The head comes from the audit writer, not from the stored events, so a
/// trail cut short in the store does not match it.
#[utoipa::path(get, path = "/admin/v1/audit/head", tag = "audit",
    responses((status = 200, body = AuditHead), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn head(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "audit.head", None, async {
            caller.require(AUDIT_READ)?;
            let first_seq = audit_log::first_seq(state.store.as_ref()).await?;
            let (head_seq, head_hash) =
                state.audit.head().await?.unwrap_or((0, ChainHash::GENESIS));
            Ok(Json(AuditHead {
                first_seq,
                head_seq,
                head_hash: head_hash.to_hex(),
            }))
        })
        .await
}

fn parse_filter(f: AuditFilter) -> Result<AuditQuery, ApiError> {
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    let order = match f.order.as_deref() {
        None | Some("desc") => Order::Descending,
        Some("asc") => Order::Ascending,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "order is `asc` or `desc`",
            ));
        }
    };
    let outcome = match f.outcome.as_deref() {
        None => None,
        Some(s) => Some(Outcome::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "outcome is `allowed` or `denied`")
        })?),
    };
    let after_seq = match f.cursor.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            ApiError::bad_request("invalid_query", "cursor is not one this API issued")
        })?),
    };
    Ok(AuditQuery {
        principal: f.principal,
        credential_id: f.credential_id,
        action: f.action,
        outcome,
        since: f.since.map(from_datetime),
        until: f.until.map(from_datetime),
        after_seq,
        order,
        limit,
    })
}
