//! Admin actions and their audit events (SPEC §7): one event per request, allowed or
//! denied, with the answered status and, for a refusal, the problem's stable code as
//! the reason.
//!
//! A handler runs its body through [`Caller::audited`], which records that one event
//! from the body's result. Handlers never record their own outcome, so no path records
//! twice and no refusal — scope, validation, unknown id, conflict, store failure —
//! records nothing. Extraction failures reach the body too: handlers take
//! `Result<ApiJson<T>, ApiError>` (and the same for paths and queries) and unwrap it
//! inside, after the scope check.

use super::error::ApiError;
use super::extract::Caller;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::policy;
use std::future::Future;

/// The target of an action learnt only while acting (a new key's id). A body returns it
/// with its answer, `(AuditTarget(id), answer)`, and [`Caller::audited`] records it in
/// place of the target known beforehand. It never reaches the client.
#[derive(Debug, Clone)]
pub struct AuditTarget(pub String);

impl IntoResponseParts for AuditTarget {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

impl Caller {
    /// An audit event for this caller.
    pub fn event(
        &self,
        state: &AppState,
        action: &str,
        outcome: Outcome,
        status: StatusCode,
    ) -> EventBody {
        let mut event = self
            .ctx
            .event(state.clock.now(), action, outcome, status.as_u16());
        event.attribute_to(&self.who);
        event
    }

    /// Records that `action` on `target` succeeded with `status`. For an action that
    /// is two in one (a rotation also creates a key); [`Caller::audited`] records the
    /// request's own event.
    pub async fn allowed(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
        status: StatusCode,
    ) {
        let mut event = self.event(state, action, Outcome::Allowed, status);
        event.target = target.map(Into::into);
        state.audit.record(event).await;
    }

    /// Records that `action` on `target` was refused with `error` (for handlers whose
    /// allowed events carry more than [`Caller::audited`] records, such as verify).
    pub async fn denied(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
        error: &ApiError,
    ) {
        let (status, code) = error.status_and_code();
        let mut event = self.event(state, action, Outcome::Denied, status);
        event.target = target.map(Into::into);
        event.reason = Some(code.into());
        state.audit.record(event).await;
    }

    /// Runs `body`, the work of `action` on `target`, and records one audit event from
    /// its result: allowed with the answered status (and an `AuditTarget` the body
    /// returned, if any), or denied with the problem's status and code.
    pub async fn audited<R: IntoResponse>(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
        body: impl Future<Output = Result<R, ApiError>>,
    ) -> Result<Response, ApiError> {
        match body.await {
            Ok(answer) => {
                let mut response = answer.into_response();
                let learnt = response.extensions_mut().remove::<AuditTarget>();
                let target = learnt.as_ref().map(|t| t.0.as_str()).or(target);
                self.allowed(state, action, target, response.status()).await;
                Ok(response)
            }
            Err(error) => {
                self.denied(state, action, target, &error).await;
                Err(error)
            }
        }
    }

    /// Requires `scope`, without recording anything: for bodies run by
    /// [`Caller::audited`], which records the refusal.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        policy::authorize(&self.who, scope)
            .map(|_| ())
            .map_err(ApiError::Forbidden)
    }
}
