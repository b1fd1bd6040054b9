//! Shared fixtures for Gatehouse's benchmarks: realistic key records made fast and
//! deterministically, so every run measures the same thing.
//!
//! The criterion benches are in `benches/`; `src/bin/memory.rs` measures resident memory
//! with a million keys loaded; `run-http.sh` drives the HTTP load test with `wrk`;
//! `src/bin/flow_load.rs` drives refresh grants and password logins for `run-flows.sh`;
//! `src/bin/floor.rs` is the bare HTTP stack that `run-gateway.sh` and `run-token.sh`
//! measure beside Gatehouse; `src/bin/audit_trail.rs` writes a long audit trail.

use gatehouse_core::api_key::{ApiKey, KeyRecord, Prefix};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::{Entropy, EntropyUnavailable, UnixTime, id};

/// A fast deterministic byte stream (xorshift); for fixtures only, never for secrets.
#[derive(Debug, Clone)]
pub struct Xorshift(pub u64);

impl Entropy for Xorshift {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
        for chunk in dest.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// `n` keys and their records, shaped like production ones: a name, a subject, two
/// scopes, a small metadata object.
pub fn keys(n: usize, seed: u64) -> Result<Vec<(ApiKey, KeyRecord)>, EntropyUnavailable> {
    let mut rng = Xorshift(seed | 1);
    let prefix = Prefix::default_prefix();
    let scopes = ScopeSet::parse(["orders:read", "orders:write"]).unwrap_or_default();
    let now = UnixTime::from_millis(1_800_000_000_000);
    (0..n)
        .map(|i| {
            let key = ApiKey::generate(&prefix, &mut rng)?;
            let mut metadata = serde_json::Map::new();
            metadata.insert("tenant".into(), serde_json::Value::from(i % 1000));
            let mut record = KeyRecord::new(
                id::generate("key", now, &mut rng)?,
                &key,
                format!("service {i}"),
                format!("svc-{}", i % 5000),
                scopes.clone(),
                now,
            );
            record.metadata = metadata;
            Ok((key, record))
        })
        .collect()
}

/// The audit event of the `n`th allowed gateway request, with every field a real one
/// has (for the audit benches and the long-trail fixture).
pub fn gateway_event(n: u64) -> gatehouse_core::audit::EventBody {
    use gatehouse_core::audit::{EventBody, Outcome};
    EventBody {
        time: UnixTime::from_millis(1_800_000_000_000 + i64::try_from(n).unwrap_or(i64::MAX)),
        request_id: format!("req_0a1b2c3d4e5f{n:010}").into(),
        action: "gateway.request".into(),
        outcome: Outcome::Allowed,
        reason: None,
        principal: Some(format!("svc-{}", n % 100).into()),
        credential_id: Some(format!("key_00VcHFEKljAdc6dAdFlU7n{:03}", n % 100).into()),
        auth_method: Some("api_key".into()),
        target: None,
        route: Some("orders".into()),
        method: Some("GET".into()),
        path: Some(format!("/orders/{n}").into()),
        status: Some(200),
        client_ip: Some("127.0.0.1".into()),
        latency_us: Some(180),
    }
}
