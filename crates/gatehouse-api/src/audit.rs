//! The audit trail: `/admin/v1/audit` and `/admin/v1/audit/head`.

use gatehouse_core::audit::{AuditEvent, ChainHash, EventBody, Outcome};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::timestamp::{self, from_datetime, to_datetime};

/// One audit event as the API shows it. Carries its chain links, so anyone holding an
/// export can check it (`gatehouse audit verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Position in the chain.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "timestamp::required")]
    pub time: OffsetDateTime,
    /// Request id.
    pub request_id: String,
    /// What was attempted (`key.create`, `key.verify`, `api.authenticate`, …).
    pub action: String,
    /// `allowed` or `denied`.
    pub outcome: String,
    /// Reason code.
    pub reason: Option<String>,
    /// Who acted.
    pub principal: Option<String>,
    /// The credential used.
    pub credential_id: Option<String>,
    /// How the caller authenticated.
    pub auth_method: Option<String>,
    /// What was acted on.
    pub target: Option<String>,
    /// Gateway route.
    pub route: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// Request path.
    pub path: Option<String>,
    /// HTTP status answered.
    pub status: Option<u16>,
    /// Client IP address.
    pub client_ip: Option<String>,
    /// Time to answer, in microseconds (gateway decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// Hash of the previous event (hex).
    pub prev_hash: String,
    /// This event's hash (hex).
    pub hash: String,
}

impl From<&AuditEvent> for Event {
    fn from(e: &AuditEvent) -> Self {
        let b = &e.body;
        Self {
            seq: e.seq,
            time: to_datetime(b.time),
            request_id: b.request_id.to_string(),
            action: b.action.to_string(),
            outcome: b.outcome.as_str().to_owned(),
            reason: b.reason.as_deref().map(str::to_owned),
            principal: b.principal.as_deref().map(str::to_owned),
            credential_id: b.credential_id.as_deref().map(str::to_owned),
            auth_method: b.auth_method.as_deref().map(str::to_owned),
            target: b.target.as_deref().map(str::to_owned),
            route: b.route.as_deref().map(str::to_owned),
            method: b.method.as_deref().map(str::to_owned),
            path: b.path.as_deref().map(str::to_owned),
            status: b.status,
            client_ip: b.client_ip.as_deref().map(str::to_owned),
            latency_us: b.latency_us,
            prev_hash: e.prev_hash.to_hex(),
            hash: e.hash.to_hex(),
        }
    }
}

/// Where the trail must start and where it ends: `GET /admin/v1/audit/head`. A
/// verifier checks that the events it fetched run from `first_seq` to at least
/// `head_seq`, and that event `head_seq` has `head_hash`: deleting the oldest or the
/// newest events then shows, which the hash chain alone cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    /// The oldest event the trail holds: 1, or the oldest one retention kept.
    pub first_seq: u64,
    /// The newest event written; 0 if there is none.
    pub head_seq: u64,
    /// That event's hash (hex); all zeros if there is none.
    pub head_hash: String,
}

/// What the server found checking the whole trail with its keys and witness:
/// `GET /admin/v1/audit/verify`. A client cannot check the keyed chain's MACs itself
/// (they need the master key), so it asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditVerification {
    /// No problem now and no tampering ever recorded in the trail.
    pub ok: bool,
    /// The oldest event the trail must hold.
    pub first_seq: u64,
    /// The newest stored event; 0 if none.
    pub head_seq: u64,
    /// The first event of the keyed chain: events before it are plain SHA-256.
    pub keyed_from: u64,
    /// Events checked.
    pub checked: u64,
    /// Which guarantee covers which part of the trail, oldest first.
    pub segments: Vec<AuditSegment>,
    /// The last checkpoint in the witness file, if any.
    pub witnessed: Option<AuditCheckpoint>,
    /// What shows tampering now.
    pub problems: Vec<AuditProblem>,
    /// Tampering found at earlier starts, as recorded in the trail
    /// (`audit.tamper_detected` events).
    pub recorded: Vec<AuditProblem>,
}

/// A run of events under one guarantee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSegment {
    /// First event.
    pub from_seq: u64,
    /// Last event.
    pub to_seq: u64,
    /// `sha256` (unkeyed, written before the keyed chain) or `hmac-sha256` (keyed).
    pub chain: String,
    /// What that guarantees, in words.
    pub guarantee: String,
}

/// A checkpoint of the head, as the witness holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {
    /// The event witnessed.
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
    /// When.
    #[serde(with = "timestamp::required")]
    pub time: OffsetDateTime,
}

/// One sign of tampering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditProblem {
    /// Stable code: `CHAIN_BROKEN`, `BEHIND_WITNESS`, `DIVERGES_FROM_WITNESS`,
    /// `BOUNDARY_MOVED`, `WITNESS_MISSING`, `WITNESS_INVALID` or `EVENT_UNREADABLE`.
    pub code: String,
    /// What was found.
    pub detail: String,
    /// The `audit.tamper_detected` event that recorded it, for recorded ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// Why an API event cannot be read back as a chain link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {seq}: {what}")]
pub struct MalformedEvent {
    /// The event.
    pub seq: u64,
    /// What is wrong with it.
    pub what: &'static str,
}

impl TryFrom<&Event> for AuditEvent {
    type Error = MalformedEvent;

    fn try_from(e: &Event) -> Result<Self, Self::Error> {
        let bad = |what| MalformedEvent { seq: e.seq, what };
        Ok(Self {
            seq: e.seq,
            body: EventBody {
                time: from_datetime(e.time),
                request_id: e.request_id.as_str().into(),
                action: e.action.as_str().into(),
                outcome: Outcome::parse(&e.outcome).ok_or_else(|| bad("unknown outcome"))?,
                reason: e.reason.as_deref().map(Into::into),
                principal: e.principal.as_deref().map(Into::into),
                credential_id: e.credential_id.as_deref().map(Into::into),
                auth_method: e.auth_method.as_deref().map(Into::into),
                target: e.target.as_deref().map(Into::into),
                route: e.route.as_deref().map(Into::into),
                method: e.method.as_deref().map(Into::into),
                path: e.path.as_deref().map(Into::into),
                status: e.status,
                client_ip: e.client_ip.as_deref().map(Into::into),
                latency_us: e.latency_us,
            },
            prev_hash: ChainHash::from_hex(&e.prev_hash)
                .ok_or_else(|| bad("prev_hash is not 64 hex digits"))?,
            hash: ChainHash::from_hex(&e.hash).ok_or_else(|| bad("hash is not 64 hex digits"))?,
        })
    }
}
