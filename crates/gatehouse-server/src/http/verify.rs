//! `POST /v1/keys/verify`: is this API key good for these scopes? Answered from the
//! in-memory index; the caller needs `gatehouse:verify`.

use super::error::ApiError;
use super::extract::{ApiJson, Caller};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_api::Problem;
use gatehouse_api::timestamp::to_datetime;
use gatehouse_api::verify::{RateLimitStatus, Verdict, VerifyKey};
use gatehouse_core::api_key::{ApiKey, Denial};
use gatehouse_core::audit::Outcome;
use gatehouse_core::policy;
use gatehouse_core::scope::VERIFY;
use std::sync::Arc;

const ACTION: &str = "key.verify";

/// `POST /v1/keys/verify` — verify an API key (`gatehouse:verify`). Always 200 with a
/// verdict for a well-formed key; 400 for a malformed one. Every request is one audit
/// event: allowed or denied as the verdict says, or denied with the problem's code.
#[utoipa::path(post, path = "/v1/keys/verify", tag = "verify", request_body = VerifyKey,
    responses((status = 200, body = Verdict), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<ApiJson<VerifyKey>, ApiError>,
) -> Result<Json<Verdict>, ApiError> {
    match decide(&state, &caller, body) {
        Ok(verdict) => {
            let outcome = if verdict.valid {
                Outcome::Allowed
            } else {
                Outcome::Denied
            };
            let mut event = caller.event(&state, ACTION, outcome, StatusCode::OK);
            event.reason = Some(verdict.code.as_str().into());
            event.target = verdict.key_id.as_deref().map(Into::into);
            state.audit.record(event).await;
            Ok(Json(verdict))
        }
        Err(error) => {
            caller.denied(&state, ACTION, None, &error).await;
            Err(error)
        }
    }
}

/// The verdict for one request, or why there is none.
fn decide(
    state: &AppState,
    caller: &Caller,
    body: Result<ApiJson<VerifyKey>, ApiError>,
) -> Result<Verdict, ApiError> {
    caller.require(VERIFY)?;
    let ApiJson(req) = body?;
    let key = ApiKey::parse(&req.key)
        .map_err(|e| ApiError::bad_request("malformed_key", e.to_string()))?;
    let required = policy::required_scopes(req.scopes.iter().map(String::as_str))
        .map_err(|e| ApiError::bad_request("invalid_scope", e.to_string()))?;
    let lookup = state.keys.verify(&key, &required, state.clock.now());
    let code = match &lookup.decision {
        Ok(_) => "VALID",
        Err(denial) => denial.code(),
    };
    state.metrics.verification(code);
    let rate = match &lookup.decision {
        Ok(v) => v.rate,
        Err(Denial::RateLimited(state)) => Some(*state),
        Err(_) => None,
    };
    let access = lookup.access.as_ref();
    Ok(Verdict {
        valid: lookup.decision.is_ok(),
        code: code.to_owned(),
        key_id: access.map(|a| a.id().to_owned()),
        subject: access.map(|a| a.subject().to_owned()),
        scopes: access.map(|a| a.scopes.iter().map(|s| s.as_str().to_owned()).collect()),
        // Kept as JSON text in memory (compact at a million keys); parsed per answer.
        metadata: access
            .and_then(|a| a.metadata())
            .and_then(|m| serde_json::from_str(m).ok()),
        expires_at: access.and_then(|a| a.expires_at).map(to_datetime),
        remaining: lookup.remaining,
        ratelimit: rate.map(|s| RateLimitStatus {
            limit: s.limit,
            remaining: s.remaining,
            reset_ms: s.reset_ms,
        }),
    })
}
