//! The audit trail's events and the chain that makes tampering evident.
//!
//! Each event's `hash` covers a domain tag, the previous event's hash, the event's
//! sequence number and every field, each length-prefixed so no two different events
//! encode alike. Changing, inserting or deleting an event inside the chain breaks every
//! later link; [`verify_chain`] names the first broken one.
//!
//! Two link formulas, told apart by the event's place relative to the trail's *keyed
//! boundary* (the first keyed event, which the server records once):
//!
//! - events before it (written by versions before the keyed chain) are linked by plain
//!   SHA-256. The formula is public, so anyone who can write the store can edit an event
//!   and recompute every later hash: this only shows edits by someone who cannot.
//! - events from it on are linked by HMAC-SHA256 under a [`MacKey`] the server derives
//!   from the master key: forging a link needs the master key, not just write access
//!   to the database.
//!
//! Keys and times are parameters: this module does no I/O.
//!
//! What a chain cannot show by itself: events cut off at the very end, or at the start.
//! Retention legitimately removes the oldest events, so the verifier is told where the
//! trail must start (the store's pruning watermark) and the caller compares the last
//! event with the head the writer reports ([`Chain::head`]).

use crate::time::UnixTime;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub mod checkpoint;

/// An HMAC-SHA256 key of the audit trail: the keyed chain's, or the checkpoints'. The
/// server derives each from the master key under its own label; core only uses them.
#[derive(Clone)]
pub struct MacKey(hmac::Key);

impl MacKey {
    /// A key from 32 secret bytes.
    pub fn new(secret: &crate::Secret<[u8; 32]>) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret.expose()))
    }

    /// A fresh MAC computation under this key.
    fn context(&self) -> hmac::Context {
        hmac::Context::with_key(&self.0)
    }
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

/// Whether the decision let the caller through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Allowed, or the action succeeded.
    Allowed,
    /// Denied, or the action was refused.
    Denied,
}

impl Outcome {
    /// The stable lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// What happened, before it is given a place in the chain. Never holds a secret.
///
/// Its text is `Arc<str>`: an event is built once on the request's thread and then only
/// read — chained, then bound into the store's INSERT, where sqlx takes an `Arc<str>`
/// as it is. As `String`s, the writer copied each field into a fresh `Arc<str>` for
/// sqlx, and those copies were most of its CPU (BENCHMARKS.md, ninth session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBody {
    /// When the decision was made.
    pub time: UnixTime,
    /// The request's id.
    pub request_id: Arc<str>,
    /// What was attempted, such as `key.create` or `key.verify`.
    pub action: Arc<str>,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Why, as a stable code (`REVOKED`, `insufficient_scope`, …).
    pub reason: Option<Arc<str>>,
    /// Who acted, when known.
    pub principal: Option<Arc<str>>,
    /// The credential the caller used (a key id), when known.
    pub credential_id: Option<Arc<str>>,
    /// How the caller authenticated.
    pub auth_method: Option<Arc<str>>,
    /// What was acted on (a key id, …).
    pub target: Option<Arc<str>>,
    /// The gateway route, for gateway decisions.
    pub route: Option<Arc<str>>,
    /// HTTP method.
    pub method: Option<Arc<str>>,
    /// Request path (without query string).
    pub path: Option<Arc<str>>,
    /// HTTP status answered.
    pub status: Option<u16>,
    /// The client's IP address.
    pub client_ip: Option<Arc<str>>,
    /// How long the request took to answer, in microseconds (gateway decisions).
    pub latency_us: Option<u64>,
}

impl EventBody {
    /// An event of `action` at `time` for request `request_id`, allowed, with every
    /// other field empty: callers fill in what they know.
    pub fn new(time: UnixTime, request_id: impl Into<Arc<str>>, action: &str) -> Self {
        Self {
            time,
            request_id: request_id.into(),
            action: action.into(),
            outcome: Outcome::Allowed,
            reason: None,
            principal: None,
            credential_id: None,
            auth_method: None,
            target: None,
            route: None,
            method: None,
            path: None,
            status: None,
            client_ip: None,
            latency_us: None,
        }
    }

    /// Names `who` as the event's principal, credential and auth method.
    pub fn attribute_to(&mut self, who: &crate::auth::Authenticated) {
        self.principal = Some(who.principal().into());
        self.credential_id = Some(who.credential_id().into());
        self.auth_method = Some(who.method().as_str().into());
    }
}

/// A link hash: SHA-256, shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The previous-hash of the first event ever written.
    pub const GENESIS: Self = Self([0; 32]);

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        crate::api_key::KeyDigest::from_hex(s).map(|d| Self(d.0))
    }
}

impl std::fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex characters"))
    }
}

/// An event in its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub body: EventBody,
    /// The previous event's hash.
    pub prev_hash: ChainHash,
    /// This event's hash.
    pub hash: ChainHash,
}

/// The head of the chain: where the next event goes. Every event it links is keyed.
#[derive(Debug, Clone)]
pub struct Chain {
    next_seq: u64,
    last_hash: ChainHash,
    key: MacKey,
}

impl PartialEq for Chain {
    /// Two chains are at the same place; the key is not compared (it cannot be read).
    fn eq(&self, other: &Self) -> bool {
        self.next_seq == other.next_seq && self.last_hash == other.last_hash
    }
}

impl Chain {
    /// An empty chain linked under `key`.
    pub fn new(key: MacKey) -> Self {
        Self {
            next_seq: 1,
            last_hash: ChainHash::GENESIS,
            key,
        }
    }

    /// The key it links under.
    pub fn key(&self) -> &MacKey {
        &self.key
    }

    /// The chain continuing after the event `seq` whose hash is `hash`, linked under
    /// `key` from here on (whatever linked `seq` itself).
    pub fn after(seq: u64, hash: ChainHash, key: MacKey) -> Self {
        Self {
            next_seq: seq + 1,
            last_hash: hash,
            key,
        }
    }

    /// The last event linked: its sequence number and hash; `None` for an empty chain.
    pub const fn head(&self) -> Option<(u64, ChainHash)> {
        if self.next_seq > 1 {
            Some((self.next_seq - 1, self.last_hash))
        } else {
            None
        }
    }

    /// Links `body` into the chain.
    pub fn append(&mut self, body: EventBody) -> AuditEvent {
        let (seq, prev_hash, hash) = self.link(&body);
        AuditEvent {
            seq,
            body,
            prev_hash,
            hash,
        }
    }

    /// Links already linked `events` again, in order, after this chain's head: for a
    /// batch whose place in the chain was taken before it could be written.
    pub fn relink(&mut self, events: &mut [AuditEvent]) {
        for event in events {
            (event.seq, event.prev_hash, event.hash) = self.link(&event.body);
        }
    }

    /// The next event's sequence number, previous hash and hash; moves the head to it.
    fn link(&mut self, body: &EventBody) -> (u64, ChainHash, ChainHash) {
        let seq = self.next_seq;
        let prev_hash = self.last_hash;
        let hash = keyed_link_hash(&self.key, &prev_hash, seq, body);
        self.next_seq += 1;
        self.last_hash = hash;
        (seq, prev_hash, hash)
    }
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The event's content does not match its hash: it was edited.
    #[error("event {seq} was altered: its hash does not match its content")]
    Altered {
        /// The event.
        seq: u64,
    },
    /// The event does not point at the event before it.
    #[error("event {seq} does not follow the event before it")]
    Unlinked {
        /// The event.
        seq: u64,
    },
    /// Sequence numbers skip: events are missing.
    #[error("events are missing before event {seq} (expected {expected})")]
    Gap {
        /// The event after the gap.
        seq: u64,
        /// The sequence number that should have come.
        expected: u64,
    },
    /// The trail starts after the event it should start with: its oldest events were
    /// deleted other than by retention.
    #[error("{} missing: the trail should start at event {expected} but starts at event {seq}",
        missing_range(*.expected, *.seq))]
    MissingStart {
        /// The first event present.
        seq: u64,
        /// The event the trail should start with.
        expected: u64,
    },
    /// The trail holds events from before the point retention says it pruned to: the
    /// recorded start was moved.
    #[error("event {seq} precedes the recorded start of the trail (event {expected})")]
    BeforeStart {
        /// The first event present.
        seq: u64,
        /// The event the trail should start with.
        expected: u64,
    },
}

/// How [`verify_chain`] checks each event's own hash.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    keyed_from: u64,
    key: Option<&'a MacKey>,
}

impl<'a> Links<'a> {
    /// Events from `keyed_from` on are checked against their MAC under `key`, those
    /// before it against plain SHA-256.
    pub const fn keyed(keyed_from: u64, key: &'a MacKey) -> Self {
        Self {
            keyed_from,
            key: Some(key),
        }
    }

    /// Without the key (a client of the admin API): events before `keyed_from` are
    /// checked in full, keyed ones only for their links (sequence and previous hash);
    /// their MACs only the server can check.
    pub const fn without_key(keyed_from: u64) -> Self {
        Self {
            keyed_from,
            key: None,
        }
    }

    /// A trail written before the keyed chain: every event is plain SHA-256.
    pub const fn unkeyed() -> Self {
        Self {
            keyed_from: u64::MAX,
            key: None,
        }
    }

    /// Whether `event`'s hash is what its content gives (`true` for a keyed event when
    /// there is no key to check it with). Compared in constant time: a MAC checker
    /// must not say how much of a guess was right.
    fn hold_for(&self, event: &AuditEvent) -> bool {
        let expected = if event.seq < self.keyed_from {
            link_hash(&event.prev_hash, event.seq, &event.body)
        } else {
            match self.key {
                Some(key) => keyed_link_hash(key, &event.prev_hash, event.seq, &event.body),
                None => return true,
            }
        };
        expected.0.ct_eq(&event.hash.0).into()
    }
}

/// Checks a run of consecutive events, oldest first, that must start with event
/// `expected_first`, each hash checked as `links` says, and returns how many it
/// checked.
///
/// `expected_first` is 1 for a trail never pruned, else the store's pruning watermark:
/// without it, deleting the oldest events would look like retention. Event 1 must link
/// to the genesis hash; a later first event is trusted to link to the pruned one
/// before it. An empty run checks nothing: whether events should be there is for the
/// caller to compare with the writer's head.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
    expected_first: u64,
    links: &Links<'_>,
) -> Result<u64, ChainBreak> {
    let mut previous: Option<(u64, ChainHash)> = None;
    let mut checked = 0;
    for event in events {
        match previous {
            None if event.seq > expected_first => {
                return Err(ChainBreak::MissingStart {
                    seq: event.seq,
                    expected: expected_first,
                });
            }
            None if event.seq < expected_first => {
                return Err(ChainBreak::BeforeStart {
                    seq: event.seq,
                    expected: expected_first,
                });
            }
            Some((seq, _)) if event.seq != seq + 1 => {
                return Err(ChainBreak::Gap {
                    seq: event.seq,
                    expected: seq + 1,
                });
            }
            Some((_, hash)) if event.prev_hash != hash => {
                return Err(ChainBreak::Unlinked { seq: event.seq });
            }
            None if event.seq == 1 && event.prev_hash != ChainHash::GENESIS => {
                return Err(ChainBreak::Unlinked { seq: 1 });
            }
            _ => {}
        }
        if !links.hold_for(event) {
            return Err(ChainBreak::Altered { seq: event.seq });
        }
        previous = Some((event.seq, event.hash));
        checked += 1;
    }
    Ok(checked)
}

/// `events 1 to 4 are`, or `event 3 is` for a single one.
fn missing_range(from: u64, next: u64) -> String {
    let to = next.saturating_sub(1);
    if to <= from {
        format!("event {from} is")
    } else {
        format!("events {from} to {to} are")
    }
}

/// The plain SHA-256 link of events written before the keyed chain (v1). Public and
/// unkeyed: kept only to verify those events.
fn link_hash(prev: &ChainHash, seq: u64, body: &EventBody) -> ChainHash {
    let mut h = Sha256::new();
    h.update(b"gatehouse-audit-v1");
    encode_link(prev, seq, body, |bytes| h.update(bytes));
    ChainHash(h.finalize().into())
}

/// The keyed link: HMAC-SHA256 under `key` over the same encoding as v1, under its own
/// domain tag.
fn keyed_link_hash(key: &MacKey, prev: &ChainHash, seq: u64, body: &EventBody) -> ChainHash {
    let mut mac = key.context();
    mac.update(b"gatehouse-audit-v2-keyed");
    encode_link(prev, seq, body, |bytes| mac.update(bytes));
    let mut out = [0u8; 32];
    out.copy_from_slice(mac.sign().as_ref());
    ChainHash(out)
}

/// Feeds what a link covers to `update`: the previous hash, the sequence number and
/// every field, length-prefixed.
fn encode_link(prev: &ChainHash, seq: u64, body: &EventBody, mut update: impl FnMut(&[u8])) {
    update(&prev.0);
    update(&seq.to_be_bytes());
    update(&body.time.as_millis().to_be_bytes());
    let status = body.status.map(|s| s.to_string());
    let fields: [Option<&str>; 13] = [
        Some(&body.request_id),
        Some(&body.action),
        Some(body.outcome.as_str()),
        body.reason.as_deref(),
        body.principal.as_deref(),
        body.credential_id.as_deref(),
        body.auth_method.as_deref(),
        body.target.as_deref(),
        body.route.as_deref(),
        body.method.as_deref(),
        body.path.as_deref(),
        status.as_deref(),
        body.client_ip.as_deref(),
    ];
    for field in fields {
        match field {
            // Absent and empty must hash differently.
            None => update(&u64::MAX.to_be_bytes()),
            Some(s) => {
                update(&(s.len() as u64).to_be_bytes());
                update(s.as_bytes());
            }
        }
    }
    // Added after v1: hashed only when present, so events written before keep their
    // hashes, and an event with a latency never hashes like one without.
    if let Some(latency) = body.latency_us {
        update(b"latency_us");
        update(&latency.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: i64) -> EventBody {
        EventBody {
            time: UnixTime::from_millis(n),
            request_id: format!("req_{n}").into(),
            action: "key.verify".into(),
            outcome: Outcome::Allowed,
            reason: Some("VALID".into()),
            principal: Some("svc".into()),
            credential_id: Some("key_1".into()),
            auth_method: Some("api_key".into()),
            target: None,
            route: None,
            method: Some("POST".into()),
            path: Some("/v1/keys/verify".into()),
            status: Some(200),
            client_ip: Some("127.0.0.1".into()),
            latency_us: None,
        }
    }

    fn key(byte: u8) -> MacKey {
        MacKey::new(&crate::Secret::new([byte; 32]))
    }

    fn links(key: &MacKey) -> Links<'_> {
        Links::keyed(1, key)
    }

    fn chain_of(n: i64) -> Vec<AuditEvent> {
        let mut chain = Chain::new(key(7));
        (0..n).map(|i| chain.append(body(i))).collect()
    }

    /// A chain of `n` events as versions before the keyed chain wrote it.
    fn unkeyed_chain_of(n: i64) -> Vec<AuditEvent> {
        let mut prev = ChainHash::GENESIS;
        (0..n)
            .map(|i| {
                let seq = i as u64 + 1;
                let body = body(i);
                let hash = link_hash(&prev, seq, &body);
                let event = AuditEvent {
                    seq,
                    body,
                    prev_hash: prev,
                    hash,
                };
                prev = hash;
                event
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain(&chain_of(5), 1, &links(&key(7))), Ok(5));
    }

    #[test]
    fn a_relinked_batch_follows_the_new_head_as_if_appended_there() {
        let mut chain = Chain::new(key(7));
        let first = chain.append(body(0));
        // A batch linked after `first`, whose place another writer then took.
        let mut batch: Vec<_> = (1..4).map(|i| chain.append(body(i))).collect();
        let mut other = Chain::after(first.seq, first.hash, key(7));
        let taken = other.append(body(99));
        let mut expected = other.clone();
        let appended: Vec<_> = (1..4).map(|i| expected.append(body(i))).collect();
        other.relink(&mut batch);
        assert_eq!(batch, appended);
        assert_eq!(other, expected);
        let trail = [vec![first, taken], batch].concat();
        assert_eq!(verify_chain(&trail, 1, &links(&key(7))), Ok(5));
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut events = chain_of(5);
        events[2].body.outcome = Outcome::Denied;
        assert_eq!(
            verify_chain(&events, 1, &links(&key(7))),
            Err(ChainBreak::Altered { seq: 3 })
        );
    }

    #[test]
    fn a_deleted_event_is_a_gap() {
        let mut events = chain_of(5);
        events.remove(1);
        assert_eq!(
            verify_chain(&events, 1, &links(&key(7))),
            Err(ChainBreak::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_link() {
        let mut events = unkeyed_chain_of(5);
        events[1].body.principal = Some("mallory".into());
        events[1].hash = link_hash(&events[1].prev_hash, 2, &events[1].body);
        assert_eq!(
            verify_chain(&events, 1, &Links::unkeyed()),
            Err(ChainBreak::Unlinked { seq: 3 })
        );
    }

    #[test]
    fn a_keyed_chain_recomputed_with_plain_sha256_is_altered_at_the_first_edit() {
        let mut events = chain_of(5);
        events[1].body.principal = Some("mallory".into());
        let mut prev = events[0].hash;
        for event in &mut events[1..] {
            event.prev_hash = prev;
            event.hash = link_hash(&prev, event.seq, &event.body);
            prev = event.hash;
        }
        assert_eq!(
            verify_chain(&events, 1, &links(&key(7))),
            Err(ChainBreak::Altered { seq: 2 })
        );
        // Or recomputed from the first event, claiming the whole trail is unkeyed: only
        // a boundary moved past the head lets it pass, which the server never records.
        let forged = {
            let mut all = chain_of(5);
            let mut prev = ChainHash::GENESIS;
            for event in &mut all {
                event.prev_hash = prev;
                event.hash = link_hash(&prev, event.seq, &event.body);
                prev = event.hash;
            }
            all
        };
        assert_eq!(
            verify_chain(&forged, 1, &links(&key(7))),
            Err(ChainBreak::Altered { seq: 1 })
        );
    }

    #[test]
    fn a_chain_recomputed_under_another_key_is_altered() {
        let mut forger = Chain::new(key(8));
        let forged: Vec<_> = (0..3).map(|i| forger.append(body(i))).collect();
        assert_eq!(
            verify_chain(&forged, 1, &links(&key(7))),
            Err(ChainBreak::Altered { seq: 1 })
        );
    }

    #[test]
    fn an_unkeyed_trail_continued_by_the_keyed_chain_verifies_across_the_boundary() {
        let old = unkeyed_chain_of(3);
        let mut chain = Chain::after(3, old[2].hash, key(7));
        let new: Vec<_> = (3..6).map(|i| chain.append(body(i))).collect();
        let trail = [old, new].concat();
        assert_eq!(verify_chain(&trail, 1, &Links::keyed(4, &key(7))), Ok(6));
        // A boundary placed too early asks the old events for a MAC they never had.
        assert_eq!(
            verify_chain(&trail, 1, &Links::keyed(3, &key(7))),
            Err(ChainBreak::Altered { seq: 3 })
        );
        // Without the key, the old part is checked in full and the new one for links.
        assert_eq!(verify_chain(&trail, 1, &Links::without_key(4)), Ok(6));
        let mut edited = trail.clone();
        edited[1].body.action = "key.delete".into();
        assert_eq!(
            verify_chain(&edited, 1, &Links::without_key(4)),
            Err(ChainBreak::Altered { seq: 2 })
        );
        let mut relinked = trail;
        relinked[4].prev_hash = ChainHash([9; 32]);
        assert_eq!(
            verify_chain(&relinked, 1, &Links::without_key(4)),
            Err(ChainBreak::Unlinked { seq: 5 })
        );
    }

    #[test]
    fn the_keyed_link_is_pinned() {
        assert_eq!(
            keyed_link_hash(&key(7), &ChainHash::GENESIS, 1, &body(1)).to_hex(),
            V2_MAC_OF_BODY_1
        );
    }

    const V2_MAC_OF_BODY_1: &str =
        "77026ddad118983c80a3010c7230eaab19b93119d27db2aea0c580f877bffc3d";

    #[test]
    fn an_edited_latency_is_detected_and_an_absent_one_keeps_the_v1_hash() {
        let mut events = chain_of(3);
        events[1].body.latency_us = Some(1);
        assert_eq!(
            verify_chain(&events, 1, &links(&key(7))),
            Err(ChainBreak::Altered { seq: 2 })
        );
        // Pinned: the hash of an event without latency, as written before the field existed.
        assert_eq!(
            link_hash(&ChainHash::GENESIS, 1, &body(1)).to_hex(),
            V1_HASH_OF_BODY_1
        );
    }

    const V1_HASH_OF_BODY_1: &str =
        "8224ecfe61c67caceb8ed9f975b94d95487de577d5d6372f168e8ccf5b9e3575";

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let mut a = body(1);
        a.reason = None;
        let mut b = body(1);
        b.reason = Some("".into());
        assert_ne!(
            link_hash(&ChainHash::GENESIS, 1, &a),
            link_hash(&ChainHash::GENESIS, 1, &b)
        );
    }

    #[test]
    fn a_chain_resumed_after_retention_verifies_from_its_first_event() {
        let events = chain_of(6);
        assert_eq!(verify_chain(&events[3..], 4, &links(&key(7))), Ok(3));
        let mut resumed = Chain::after(events[5].seq, events[5].hash, key(7));
        let next = resumed.append(body(9));
        assert_eq!(
            verify_chain(events[3..].iter().chain([&next]), 4, &links(&key(7))),
            Ok(4)
        );
    }

    #[test]
    fn deleting_the_oldest_events_is_a_missing_start_not_retention() {
        let events = chain_of(6);
        assert_eq!(
            verify_chain(&events[2..], 1, &links(&key(7))),
            Err(ChainBreak::MissingStart {
                seq: 3,
                expected: 1
            })
        );
        // Past the watermark too: retention kept 2 onwards, and 2 is gone.
        assert_eq!(
            verify_chain(&events[2..], 2, &links(&key(7))),
            Err(ChainBreak::MissingStart {
                seq: 3,
                expected: 2
            })
        );
        let message = verify_chain(&events[2..], 1, &links(&key(7)))
            .unwrap_err()
            .to_string();
        assert!(message.contains("events 1 to 2 are missing"), "{message}");
    }

    #[test]
    fn events_before_the_recorded_start_mean_the_start_was_moved() {
        assert_eq!(
            verify_chain(&chain_of(6), 3, &links(&key(7))),
            Err(ChainBreak::BeforeStart {
                seq: 1,
                expected: 3
            })
        );
    }

    #[test]
    fn a_first_event_that_does_not_start_from_genesis_is_unlinked() {
        let mut events = chain_of(3);
        events[0].prev_hash = events[2].hash;
        events[0].hash = keyed_link_hash(&key(7), &events[0].prev_hash, 1, &events[0].body);
        assert_eq!(
            verify_chain(&events, 1, &links(&key(7))),
            Err(ChainBreak::Unlinked { seq: 1 })
        );
    }

    #[test]
    fn an_empty_run_checks_nothing_wherever_it_should_start() {
        assert_eq!(verify_chain(&[], 1, &links(&key(7))), Ok(0));
        assert_eq!(verify_chain(&[], 7, &links(&key(7))), Ok(0));
    }

    #[test]
    fn the_head_is_the_last_linked_event() {
        let mut chain = Chain::new(key(7));
        assert_eq!(chain.head(), None);
        let first = chain.append(body(1));
        let second = chain.append(body(2));
        assert_eq!(chain.head(), Some((2, second.hash)));
        assert_eq!(
            Chain::after(1, first.hash, key(7)).head(),
            Some((1, first.hash))
        );
    }
}
