//! Whether the stored audit trail is the one this server wrote.
//!
//! What is checked:
//!
//! - the chain, events before the keyed boundary by plain SHA-256 and events from it on
//!   by their MAC under the chain key — an edit recomputed with SHA-256 fails;
//! - the store against the witness's last checkpoint — a trail cut short, emptied or
//!   rolled back to an older copy is behind it, or holds another event at its place;
//! - the boundary against the witness — moving it would pass keyed events off as
//!   unkeyed ones;
//! - that the witness is there at all once the trail has been witnessed.
//!
//! When: a start checks, before the writer continues the chain, everything but the
//! links up to the last checkpoint ([`check_at_start`]): the witness comparisons and
//! the links from the witnessed event to the head, anchored at the witnessed hash.
//! That is work bounded by what was written after the last checkpoint (about a second
//! of events), not by the trail: walking a million events takes about 8 s, and an
//! authentication gateway must not take minutes to come back. The links before the
//! checkpoint are then walked in the background ([`check_before_anchor`]), and found
//! tampering is reported the same way, seconds later. `GET /admin/v1/audit/verify`
//! walks everything on demand ([`check_now`]). A walk reads a page at a time: memory
//! holds one page.

use crate::audit_log;
use crate::audit_witness;
use gatehouse_core::audit::checkpoint::{Checkpoint, StoredTrail, Tamper, Witnessed, compare};
use gatehouse_core::audit::{AuditEvent, ChainBreak, ChainHash, Links, MacKey, verify_chain};
use gatehouse_store::{AuditQuery, Order, Store, StoreError};
use std::path::PathBuf;

/// The meta setting holding the first event of the keyed chain.
pub const KEYED_FROM: &str = "audit_keyed_from";
/// The action of the event recording a detection.
pub const TAMPER_DETECTED: &str = "audit.tamper_detected";
const PAGE: u32 = 1_000;

/// The keys and the witness a check uses.
#[derive(Debug, Clone)]
pub struct TrailKeys {
    /// The keyed chain's key.
    pub chain: MacKey,
    /// The checkpoints' key.
    pub checkpoint: MacKey,
    /// The witness file.
    pub witness_file: PathBuf,
}

/// What a check found.
#[derive(Debug, Clone)]
pub struct TrailCheck {
    /// The oldest event the trail must hold (the retention watermark).
    pub first_seq: u64,
    /// The newest stored event; 0 if none.
    pub head_seq: u64,
    /// The first keyed event.
    pub keyed_from: u64,
    /// Events whose links were checked.
    pub checked: u64,
    /// The last checkpoint witnessed, if any.
    pub witnessed: Option<Checkpoint>,
    /// A start's check: the witnessed event its walk started from (found as
    /// witnessed); the links up to it are [`check_before_anchor`]'s.
    pub anchor: Option<(u64, ChainHash)>,
    /// Everything that shows tampering; empty when the trail is intact.
    pub problems: Vec<Tamper>,
}

/// The keyed boundary as recorded in the store; `None` if absent or not a number.
pub async fn recorded_keyed_from(store: &dyn Store) -> Result<Option<u64>, StoreError> {
    // Garbage reads as no boundary, which the witness then reports as moved: refusing
    // to start over it would make overwriting one setting a denial of service.
    Ok(store
        .meta(KEYED_FROM)
        .await?
        .and_then(|value| value.parse().ok()))
}

/// The check at start; also settles the keyed boundary. The witness's boundary wins
/// when there is one: it is MAC'd, the store's is not, so a boundary moved or removed
/// in the store is reported and put back (and the events it tried to pass off as
/// unkeyed are checked as keyed). Without a witness and without a recorded boundary —
/// a trail written by a version before the keyed chain, or a new store — the boundary
/// is the event after the stored head (1 for a new store): every event written before
/// stays plain SHA-256, every later one is keyed.
///
/// Links are walked only from the last witnessed event (when the store still holds
/// it, with the witnessed hash) to the head; [`check_before_anchor`] walks the rest.
pub async fn check_at_start(store: &dyn Store, keys: &TrailKeys) -> anyhow::Result<TrailCheck> {
    let witness = read_witness(keys, audit_witness::read_tail).await?;
    let recorded = recorded_keyed_from(store).await?;
    let boundary = match (witness.last, recorded) {
        (Some(checkpoint), _) => checkpoint.keyed_from,
        (None, Some(recorded)) => recorded,
        (None, None) => store.audit_head().await?.map_or(1, |(seq, _)| seq + 1),
    };
    let check = check(store, witness, keys, boundary, recorded, Span::FromAnchor).await?;
    if recorded != Some(boundary) {
        store.set_meta(KEYED_FROM, &boundary.to_string()).await?;
    }
    Ok(check)
}

/// The links the start left out: from the oldest kept event up to the anchor it
/// walked from (the whole trail when there was none). Only what a walk finds — a
/// broken link, an unreadable event — since the start reported the rest.
pub async fn check_before_anchor(
    store: &dyn Store,
    keys: &TrailKeys,
    start: &TrailCheck,
) -> Result<Vec<Tamper>, StoreError> {
    let first_seq = audit_log::first_seq(store).await?;
    let links = Links::keyed(start.keyed_from, &keys.chain);
    let until = start.anchor.map(|(seq, _)| seq);
    let walked = walk_chain(store, first_seq, None, until, &links).await?;
    Ok(walk_findings(&walked).into_iter().collect())
}

/// The check as `GET /admin/v1/audit/verify` runs it: every link.
pub async fn check_now(store: &dyn Store, keys: &TrailKeys) -> anyhow::Result<TrailCheck> {
    // The witness first: a checkpoint written while the store is read names an event
    // already committed, never one past what the store is then found to hold.
    let witness = read_witness(keys, audit_witness::read).await?;
    let recorded = recorded_keyed_from(store).await?;
    let boundary = recorded.unwrap_or(u64::MAX);
    check(store, witness, keys, boundary, recorded, Span::Whole).await
}

/// Reads the witness with `read`, on the blocking pool.
async fn read_witness(
    keys: &TrailKeys,
    read: fn(&std::path::Path, &MacKey) -> std::io::Result<Witnessed>,
) -> anyhow::Result<Witnessed> {
    let (path, key) = (keys.witness_file.clone(), keys.checkpoint.clone());
    let read = tokio::task::spawn_blocking(move || read(&path, &key)).await?;
    read.map_err(|e| anyhow::anyhow!("audit witness {}: {e}", keys.witness_file.display()))
}

/// Which links a check walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// From the oldest kept event to the head.
    Whole,
    /// From the last witnessed event to the head, when the store holds it as
    /// witnessed; none otherwise.
    FromAnchor,
}

/// The check of the store against `witness`, read before the store.
async fn check(
    store: &dyn Store,
    witness: Witnessed,
    keys: &TrailKeys,
    keyed_from: u64,
    recorded_keyed_from: Option<u64>,
    span: Span,
) -> anyhow::Result<TrailCheck> {
    let first_seq = audit_log::first_seq(store).await?;
    let mut problems = Vec::new();
    if witness.invalid_lines > 0 {
        problems.push(Tamper::WitnessInvalid {
            lines: witness.invalid_lines,
        });
    }
    let hash_at_witnessed = match witness.last {
        // An event that cannot be read is not the witnessed one.
        Some(checkpoint) => match hash_at(store, checkpoint.seq).await {
            Err(StoreError::Corrupt(_)) => None,
            other => other?,
        },
        None => None,
    };
    let anchor = witness
        .last
        .filter(|checkpoint| hash_at_witnessed == Some(checkpoint.hash))
        .map(|checkpoint| (checkpoint.seq, checkpoint.hash));
    let links = Links::keyed(keyed_from, &keys.chain);
    let walked = match (span, anchor) {
        (Span::Whole, _) => walk_chain(store, first_seq, None, None, &links).await?,
        (Span::FromAnchor, Some(anchor)) => {
            walk_chain(store, first_seq, Some(anchor), None, &links).await?
        }
        (Span::FromAnchor, None) => Walked {
            checked: 0,
            head_seq: store.audit_head().await?.map_or(0, |(seq, _)| seq),
            result: Ok(()),
        },
    };
    problems.extend(walk_findings(&walked));
    if witness.last.is_none() && recorded_keyed_from.is_some() {
        // The boundary is recorded at the start that first writes a checkpoint.
        problems.push(Tamper::WitnessMissing);
    }
    if let Some(checkpoint) = witness.last {
        let stored = StoredTrail {
            head_seq: walked.head_seq,
            hash_at_witnessed,
            witnessed_pruned: checkpoint.seq < first_seq,
            keyed_from: recorded_keyed_from,
        };
        problems.extend(compare(&checkpoint, &stored));
    }
    Ok(TrailCheck {
        first_seq,
        head_seq: walked.head_seq,
        keyed_from,
        checked: walked.checked,
        witnessed: witness.last,
        anchor: match span {
            Span::Whole => None,
            Span::FromAnchor => anchor,
        },
        problems,
    })
}

/// What a walk found wrong, if anything.
fn walk_findings(walked: &Walked) -> Option<Tamper> {
    match &walked.result {
        Ok(()) => None,
        Err(Broken::Chain(broken)) => Some(Tamper::ChainBroken(*broken)),
        Err(Broken::Unreadable(detail)) => Some(Tamper::Unreadable {
            after: walked.head_seq,
            detail: detail.clone(),
        }),
    }
}

struct Walked {
    checked: u64,
    /// The last event read (the stored head, unless `result` is unreadable).
    head_seq: u64,
    result: Result<(), Broken>,
}

enum Broken {
    Chain(ChainBreak),
    /// A page did not decode: the walk stops there. Reported rather than failing the
    /// start, so that overwriting a field with garbage is not a way to stop the server.
    Unreadable(String),
}

/// Verifies the stored trail a page at a time: from `first_seq`, or from just after
/// `start` (an event known good, and its hash), up to `until` (inclusive) or the head.
async fn walk_chain(
    store: &dyn Store,
    first_seq: u64,
    start: Option<(u64, ChainHash)>,
    until: Option<u64>,
    links: &Links<'_>,
) -> Result<Walked, StoreError> {
    let mut checked = 0;
    let mut last: Option<(u64, ChainHash)> = start;
    let mut result = Ok(());
    loop {
        let page = store
            .query_audit(&AuditQuery {
                after_seq: last.map(|(seq, _)| seq),
                order: Order::Ascending,
                limit: PAGE,
                ..AuditQuery::default()
            })
            .await;
        let mut page = match page {
            Ok(page) => page,
            Err(StoreError::Corrupt(detail)) => {
                result = Err(Broken::Unreadable(detail));
                break;
            }
            Err(e) => return Err(e),
        };
        let full = page.len() == PAGE as usize;
        let past_until = until.is_some_and(|until| page.last().is_some_and(|e| e.seq >= until));
        if let Some(until) = until {
            page.retain(|event| event.seq <= until);
        }
        if result.is_ok() {
            result = verify_page(&page, first_seq, last, links)
                .map(|n| checked += n)
                .map_err(Broken::Chain);
        }
        match page.last() {
            Some(event) => last = Some((event.seq, event.hash)),
            None => break,
        }
        if !full || past_until {
            break;
        }
    }
    Ok(Walked {
        checked,
        head_seq: last.map_or(0, |(seq, _)| seq),
        result,
    })
}

/// One page, continuing after `previous` (the last event of the page before).
fn verify_page(
    page: &[AuditEvent],
    first_seq: u64,
    previous: Option<(u64, ChainHash)>,
    links: &Links<'_>,
) -> Result<u64, ChainBreak> {
    let Some(first) = page.first() else {
        return Ok(0);
    };
    let expected_first = match previous {
        None => first_seq,
        Some((seq, hash)) => {
            if first.seq == seq + 1 && first.prev_hash != hash {
                return Err(ChainBreak::Unlinked { seq: first.seq });
            }
            if first.seq != seq + 1 {
                return Err(ChainBreak::Gap {
                    seq: first.seq,
                    expected: seq + 1,
                });
            }
            first.seq
        }
    };
    verify_chain(page, expected_first, links)
}

async fn hash_at(store: &dyn Store, seq: u64) -> Result<Option<ChainHash>, StoreError> {
    if seq == 0 {
        return Ok(None);
    }
    let found = store
        .query_audit(&AuditQuery {
            after_seq: Some(seq - 1),
            order: Order::Ascending,
            limit: 1,
            ..AuditQuery::default()
        })
        .await?;
    Ok(found.first().filter(|e| e.seq == seq).map(|e| e.hash))
}

/// Past detections recorded in the trail: each `audit.tamper_detected` event.
pub async fn recorded_detections(store: &dyn Store) -> Result<Vec<AuditEvent>, StoreError> {
    store
        .query_audit(&AuditQuery {
            action: Some(TAMPER_DETECTED.to_owned()),
            order: Order::Ascending,
            limit: PAGE,
            ..AuditQuery::default()
        })
        .await
}
