//! The state every handler reaches through axum's `State`: no globals.

use crate::access_tokens::AccessTokens;
use crate::audit_log::AuditLog;
use crate::authorization::Authorizations;
use crate::clients::Clients;
use crate::clock::Clock;
use crate::config::Settings;
use crate::gateway::Gateway;
use crate::key_index::KeyIndex;
use crate::listener::{OnRefused, Refused};
use crate::metrics::Metrics;
use crate::passwords::Passwords;
use crate::signing_keys::SigningKeys;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared server state.
pub struct AppState {
    /// Validated configuration.
    pub settings: Settings,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Every API key, in memory.
    pub keys: KeyIndex,
    /// Verified-token cache and the deny-list of revoked tokens.
    pub access_tokens: AccessTokens,
    /// Every OAuth client, in memory.
    pub clients: Clients,
    /// Token signing keys, decrypted at start.
    pub signing_keys: SigningKeys,
    /// Serializes writes of key records with the usage flusher, so a flush never
    /// writes back counters older than an admin change.
    pub key_writes: tokio::sync::Mutex<()>,
    /// The gateway's routes, issuers and rate limits (also used by forward auth).
    pub gateway: Gateway,
    /// The authorization code flow's pending requests, sessions, codes and login
    /// throttle.
    pub authorizations: Authorizations,
    /// Argon2id hashing, bounded.
    pub passwords: Passwords,
    /// The audit writer.
    pub audit: AuditLog,
    /// The audit trail's keys and witness, for `GET /admin/v1/audit/verify`.
    pub audit_keys: crate::audit_integrity::TrailKeys,
    /// HTTPS on both listeners, when `[tls]` is configured.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// The built-in CA and the client certificates it issued.
    pub certificates: Arc<crate::ca::Certificates>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The caps on open connections, shared by both listeners.
    pub connections: Arc<crate::listener::ConnectionLimits>,
    /// Source of request ids.
    pub request_ids: RequestIds,
}

impl AppState {
    /// The listeners' hook for requests they refuse by their head (a bare LF, two
    /// `Host`s, a length beside chunked): one denied event each, `gateway.request` on
    /// the gateway as for its other refusals, `http.request` on the API, with the
    /// refusal's code as the reason, queued before the refusal is answered.
    pub fn audit_refusals(self: &Arc<Self>) -> OnRefused {
        let state = Arc::clone(self);
        Arc::new(move |refused: Refused<'_>| {
            let ctx = RequestContext {
                request_id: state.request_ids.next(),
                client_ip: Some(Arc::clone(refused.client_ip)),
                method: refused.method.into(),
                path: refused.path.into(),
            };
            let action = match refused.listener {
                "gateway" => "gateway.request",
                _ => "http.request",
            };
            let mut event = ctx.into_event(state.clock.now(), action, Outcome::Denied, 400);
            event.reason = Some(refused.refusal.code().into());
            let state = Arc::clone(&state);
            Box::pin(async move { state.audit.record(event).await })
        })
    }

    /// An audit event for something Gatehouse did on its own (bootstrap, a scheduled
    /// rotation): principal `gatehouse`, and no method, path, status or client.
    pub fn system_event(&self, action: &str, reason: &str, target: &str) -> EventBody {
        let mut event = EventBody::new(self.clock.now(), self.request_ids.next(), action);
        event.reason = Some(reason.into());
        event.principal = Some("gatehouse".into());
        event.target = Some(target.into());
        event
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("listen", &self.settings.listen)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// Request ids: `req_` + a random per-process part + a counter. Unique, cheap, and not
/// meant to be secret.
#[derive(Debug)]
pub struct RequestIds {
    boot: String,
    counter: AtomicU64,
}

impl RequestIds {
    /// A source seeded with `boot`, a random string fixed for the process.
    pub fn new(boot: String) -> Self {
        Self {
            boot,
            counter: AtomicU64::new(0),
        }
    }

    /// The next id: `req_`, the boot string, then the counter in at least ten digits.
    /// Not `format!`: its zero padding was about 1% of a verify request's
    /// instructions, and every request takes an id. Written in a buffer kept per
    /// thread, so the id costs one allocation, the `Arc` its audit event shares.
    pub fn next(&self) -> Arc<str> {
        thread_local! {
            static ID: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut buffer = itoa::Buffer::new();
        let digits = buffer.format(n);
        let zeros = 10usize.saturating_sub(digits.len());
        ID.with_borrow_mut(|id| {
            id.clear();
            id.push_str("req_");
            id.push_str(&self.boot);
            id.extend(std::iter::repeat_n('0', zeros));
            id.push_str(digits);
            Arc::from(id.as_str())
        })
    }
}

/// Who made a request and how, for the audit trail. Cheap to clone: its text is
/// shared, as in the events it becomes.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request's id.
    pub request_id: Arc<str>,
    /// The client's IP address.
    pub client_ip: Option<Arc<str>>,
    /// HTTP method.
    pub method: Arc<str>,
    /// Request path, without the query string.
    pub path: Arc<str>,
}

impl RequestContext {
    /// An audit event for this request.
    pub fn event(
        &self,
        now: gatehouse_core::UnixTime,
        action: &str,
        outcome: Outcome,
        status: u16,
    ) -> EventBody {
        self.clone().into_event(now, action, outcome, status)
    }

    /// The one audit event for this request, taking the context's strings over.
    pub fn into_event(
        self,
        now: gatehouse_core::UnixTime,
        action: &str,
        outcome: Outcome,
        status: u16,
    ) -> EventBody {
        let mut event = EventBody::new(now, self.request_id, action);
        event.outcome = outcome;
        event.method = Some(self.method);
        event.path = Some(self.path);
        event.status = Some(status);
        event.client_ip = self.client_ip;
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_pad_the_counter_to_ten_digits_and_grow_past_them() {
        let ids = RequestIds::new("ab12".into());
        assert_eq!(&*ids.next(), "req_ab120000000000");
        assert_eq!(&*ids.next(), "req_ab120000000001");
        for n in [9_999_999_999, 10_000_000_000, u64::MAX] {
            ids.counter.store(n, Ordering::Relaxed);
            assert_eq!(*ids.next(), format!("req_ab12{n:010}"));
        }
    }
}
