//! `/admin/v1/ca` and `/admin/v1/certificates`: the built-in CA and the client
//! certificates it issues (`gatehouse:admin`). A certificate's holder gets the scopes
//! given at issue (the caller must hold them); its private key is in the answer once
//! and nowhere else. A revocation is stored, then refuses the certificate at its next
//! handshake and at the next request on a connection already open.

use super::action::AuditTarget;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Caller};
use super::keys::parse_scopes;
use crate::ca::authority::{DEFAULT_DAYS, MAX_DAYS};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_api::Problem;
use gatehouse_api::certificates::{
    CaCertificate, Certificate, IssueCertificate, IssuedCertificate,
};
use gatehouse_core::mtls;
use gatehouse_core::policy;
use gatehouse_core::scope::ADMIN;
use std::sync::Arc;

/// `POST /admin/v1/ca` — create the CA (once).
#[utoipa::path(post, path = "/admin/v1/ca", tag = "certificates",
    responses((status = 201, body = CaCertificate), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn init(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "ca.init", None, async {
            caller.require(ADMIN)?;
            let created = state
                .certificates
                .create_authority(state.store.as_ref(), state.clock.now())
                .await?
                .ok_or_else(|| ApiError::Conflict {
                    code: "ca_exists",
                    detail: "the CA exists already".into(),
                })?;
            if let Some(tls) = &state.tls {
                // The new CA becomes a trust anchor for client certificates.
                tls.rebuild("ca_created").await;
            }
            let body = CaCertificate {
                certificate: created.cert_pem.clone(),
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        })
        .await
}

/// `GET /admin/v1/ca` — the CA certificate.
#[utoipa::path(get, path = "/admin/v1/ca", tag = "certificates",
    responses((status = 200, body = CaCertificate), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "ca.read", None, async {
            caller.require(ADMIN)?;
            let authority = state
                .certificates
                .authority()
                .ok_or(ApiError::NotFound("ca"))?;
            Ok(Json(CaCertificate {
                certificate: authority.cert_pem.clone(),
            }))
        })
        .await
}

/// `POST /admin/v1/certificates` — issue a client certificate.
#[utoipa::path(post, path = "/admin/v1/certificates", tag = "certificates", request_body = IssueCertificate,
    responses((status = 201, body = IssuedCertificate), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn issue(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Result<ApiJson<IssueCertificate>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "certificate.issue", None, async {
            caller.require(ADMIN)?;
            let ApiJson(req) = req?;
            let scopes = parse_scopes(&req.scopes)?;
            policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
            let days = req.days.unwrap_or(DEFAULT_DAYS);
            if !(1..=MAX_DAYS).contains(&days) {
                return Err(ApiError::bad_request(
                    "invalid_days",
                    format!("days must be between 1 and {MAX_DAYS}"),
                ));
            }
            mtls::subject_placement(&req.subject).map_err(|_| {
                ApiError::bad_request(
                    "invalid_subject",
                    "the subject must be a SPIFFE ID, a DNS name or a printable name of at most 255 characters",
                )
            })?;
            let authority = state.certificates.authority().ok_or(ApiError::NotFound("ca"))?;
            let issued = authority.issue(&req.subject, days, scopes, state.clock.now())?;
            state.store.insert_certificate(&issued.record).await?;
            state.certificates.put(issued.record.clone());
            let body = IssuedCertificate {
                certificate: Certificate::from(&issued.record),
                private_key: issued.private_key.expose().clone(),
                ca_certificate: authority.cert_pem.clone(),
            };
            let target = AuditTarget(issued.record.serial.clone());
            Ok((target, (StatusCode::CREATED, Json(body)).into_response()))
        })
        .await
}

/// `GET /admin/v1/certificates` — every issued certificate, by serial.
#[utoipa::path(get, path = "/admin/v1/certificates", tag = "certificates",
    responses((status = 200, body = Vec<Certificate>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "certificate.list", None, async {
            caller.require(ADMIN)?;
            let all: Vec<Certificate> = state
                .certificates
                .list()
                .iter()
                .map(|c| Certificate::from(c.as_ref()))
                .collect();
            Ok(Json(all))
        })
        .await
}

/// `POST /admin/v1/certificates/{serial}/revoke` — revoke a certificate at once.
#[utoipa::path(post, path = "/admin/v1/certificates/{serial}/revoke", tag = "certificates",
    responses((status = 200, body = Certificate), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let serial = path.map(|ApiPath(serial)| serial);
    let target = serial
        .as_ref()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .cloned();
    caller
        .audited(&state, "certificate.revoke", target.as_deref(), async {
            caller.require(ADMIN)?;
            let serial = target.clone().ok_or(ApiError::NotFound("certificate"))?;
            let mut record = state
                .certificates
                .by_serial(&serial.to_ascii_lowercase())
                .ok_or(ApiError::NotFound("certificate"))?
                .as_ref()
                .clone();
            let now = state.clock.now();
            state.store.revoke_certificate(&record.serial, now).await?;
            record.revoked_at.get_or_insert(now);
            state.certificates.put(record.clone());
            Ok(Json(Certificate::from(&record)))
        })
        .await
}
