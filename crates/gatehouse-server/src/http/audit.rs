//! `GET /admin/v1/audit`: the audit trail, filtered and paginated, and
//! `GET /admin/v1/audit/head`: where it starts and ends, and `GET /admin/v1/audit/verify`:
//! the server's own check of the whole trail (`gatehouse:audit:read`).

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::state::AppState;
use crate::{audit_integrity, audit_log};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_api::audit::{
    AuditCheckpoint, AuditHead, AuditProblem, AuditSegment, AuditVerification, Event,
};
use gatehouse_api::page::{DEFAULT_LIMIT, MAX_LIMIT};
use gatehouse_api::timestamp::{from_datetime, to_datetime};
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

/// `GET /admin/v1/audit/verify` — checks the whole stored trail with the server's keys
/// (`gatehouse:audit:read`): the keyed chain's MACs (only the master key can check
/// them), the plain SHA-256 part written before it, the store against the witness's
/// last checkpoint, and tampering recorded at earlier starts. Always 200: the answer is
/// the report; `ok` says whether it found nothing.
#[utoipa::path(get, path = "/admin/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerification), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "audit.verify", None, async {
            caller.require(AUDIT_READ)?;
            state.audit.flush().await;
            let store = state.store.as_ref();
            let check = audit_integrity::check_now(store, &state.audit_keys).await?;
            let recorded: Vec<AuditProblem> = audit_integrity::recorded_detections(store)
                .await?
                .iter()
                .map(|e| AuditProblem {
                    code: e.body.reason.as_deref().unwrap_or("UNKNOWN").to_owned(),
                    detail: e.body.target.as_deref().unwrap_or_default().to_owned(),
                    seq: Some(e.seq),
                })
                .collect();
            let problems: Vec<AuditProblem> = check
                .problems
                .iter()
                .map(|p| AuditProblem {
                    code: p.code().to_owned(),
                    detail: p.to_string(),
                    seq: None,
                })
                .collect();
            Ok(Json(AuditVerification {
                ok: problems.is_empty() && recorded.is_empty(),
                first_seq: check.first_seq,
                head_seq: check.head_seq,
                keyed_from: check.keyed_from,
                checked: check.checked,
                segments: segments(check.first_seq, check.keyed_from, check.head_seq),
                witnessed: check.witnessed.map(|c| AuditCheckpoint {
                    seq: c.seq,
                    hash: c.hash.to_hex(),
                    time: to_datetime(c.time),
                }),
                problems,
                recorded,
            }))
        })
        .await
}

/// The unkeyed part (events written before the keyed chain) and the keyed part of
/// the stored events `first..=head`.
fn segments(first: u64, keyed_from: u64, head: u64) -> Vec<AuditSegment> {
    let mut out = Vec::new();
    if head == 0 {
        return out;
    }
    if first < keyed_from {
        out.push(AuditSegment {
            from_seq: first,
            to_seq: head.min(keyed_from.saturating_sub(1)),
            chain: "sha256".into(),
            guarantee: "unkeyed SHA-256 chain, written before the keyed chain: detects edits \
                        only by someone who cannot recompute it (the formula is public)"
                .into(),
        });
    }
    if head >= keyed_from.max(first) {
        out.push(AuditSegment {
            from_seq: keyed_from.max(first),
            to_seq: head,
            chain: "hmac-sha256".into(),
            guarantee: "keyed chain (HMAC-SHA256 under a key derived from the master key): \
                        forging or recomputing it needs the master key"
                .into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn segments_split_at_the_keyed_boundary() {
        assert!(segments(1, 1, 0).is_empty());
        let keyed = segments(1, 1, 9);
        assert_eq!(keyed.len(), 1);
        assert_eq!((keyed[0].from_seq, keyed[0].to_seq), (1, 9));
        assert_eq!(keyed[0].chain, "hmac-sha256");
        let both = segments(1, 5, 9);
        assert_eq!(
            (both[0].from_seq, both[0].to_seq, both[0].chain.as_str()),
            (1, 4, "sha256")
        );
        assert_eq!((both[1].from_seq, both[1].to_seq), (5, 9));
        let pruned_past_boundary = segments(7, 5, 9);
        assert_eq!(pruned_past_boundary.len(), 1);
        assert_eq!(pruned_past_boundary[0].from_seq, 7);
        let unkeyed_only = segments(1, 10, 9);
        assert_eq!(unkeyed_only.len(), 1);
        assert_eq!(unkeyed_only[0].to_seq, 9);
    }
}
