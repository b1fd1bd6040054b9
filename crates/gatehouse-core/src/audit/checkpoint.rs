//! Checkpoints of the audit trail's head, kept by a witness outside the store.
//!
//! The keyed chain shows edits by anyone without the master key, but not a trail cut
//! short at its end, emptied, or rolled back to an older copy: what is left is a valid
//! chain. So the server regularly writes a *checkpoint* — the head's sequence number
//! and hash, the keyed boundary and the time — MAC'd under a key of its own, to a
//! witness the store's attacker cannot rewrite (an append-only file, best on another
//! machine). A store whose head is behind the last checkpoint, or whose event at the
//! checkpoint's place has another hash, was tampered with or rolled back.
//!
//! A MAC rather than a signature: the only verifier is the server, which holds the
//! master key anyway, and a MAC needs no key pair stored and sealed. The cost is that a
//! third party cannot check a witness alone; it asks the server
//! (`GET /admin/v1/audit/verify`).
//!
//! Witness file format: one JSON object a line (`v`, `seq`, `hash`, `keyed_from`,
//! `time` in Unix milliseconds, `mac` in hex).

use super::{ChainBreak, ChainHash, MacKey};
use crate::time::UnixTime;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};

/// The head of the trail at one moment, as a witness keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The newest event committed; 0 for an empty trail.
    pub seq: u64,
    /// Its hash (all zeros for an empty trail).
    pub hash: ChainHash,
    /// The first event of the keyed chain.
    pub keyed_from: u64,
    /// When the checkpoint was taken.
    pub time: UnixTime,
}

/// A checkpoint line as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    v: u32,
    seq: u64,
    hash: ChainHash,
    keyed_from: u64,
    time: i64,
    mac: String,
}

const VERSION: u32 = 1;

impl Checkpoint {
    /// The witness line for this checkpoint, MAC'd under `key`, ending in `\n`.
    pub fn to_line(&self, key: &MacKey) -> String {
        let line = Line {
            v: VERSION,
            seq: self.seq,
            hash: self.hash,
            keyed_from: self.keyed_from,
            time: self.time.as_millis(),
            mac: crate::hex::encode(self.mac(key).as_ref()),
        };
        // A struct of numbers and hex strings always serializes.
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses one line (without its `\n`) and checks its MAC under `key`.
    pub fn parse_line(line: &str, key: &MacKey) -> Result<Self, CheckpointError> {
        let line: Line = serde_json::from_str(line).map_err(|_| CheckpointError::Malformed)?;
        if line.v != VERSION {
            return Err(CheckpointError::Malformed);
        }
        let checkpoint = Self {
            seq: line.seq,
            hash: line.hash,
            keyed_from: line.keyed_from,
            time: UnixTime::from_millis(line.time),
        };
        let mac = crate::hex::decode_32(&line.mac).ok_or(CheckpointError::Malformed)?;
        // `hmac::verify` compares in constant time.
        hmac::verify(&key.0, &checkpoint.signed_bytes(), &mac)
            .map_err(|_| CheckpointError::BadMac)?;
        Ok(checkpoint)
    }

    fn mac(&self, key: &MacKey) -> hmac::Tag {
        hmac::sign(&key.0, &self.signed_bytes())
    }

    /// What the MAC covers: fixed-width fields after a domain tag.
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(29 + 8 + 32 + 8 + 8);
        out.extend_from_slice(b"gatehouse-audit-checkpoint-v1");
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.hash.0);
        out.extend_from_slice(&self.keyed_from.to_be_bytes());
        out.extend_from_slice(&self.time.as_millis().to_be_bytes());
        out
    }
}

/// Why a witness line is not a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint line of a version this build writes.
    #[error("not a checkpoint line")]
    Malformed,
    /// Its MAC does not verify: forged, edited, or made under another master key.
    #[error("the checkpoint's MAC does not verify")]
    BadMac,
}

/// What a witness file holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Witnessed {
    /// The last line that verifies.
    pub last: Option<Checkpoint>,
    /// Checkpoint lines whose MAC does not verify: forged, edited, or another key's.
    pub invalid_lines: u64,
    /// Lines that are not checkpoints at all. Not evidence by themselves: a write cut
    /// short by a crash leaves a fragment (which the next start terminates with a
    /// `\n`), and garbage cannot pass for a checkpoint.
    pub unreadable_lines: u64,
}

/// Reads a witness file's text. A final line without its `\n` is a write cut short by
/// a crash and is skipped.
pub fn read_witness(text: &str, key: &MacKey) -> Witnessed {
    let mut witnessed = Witnessed::default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    for line in complete.split('\n').filter(|l| !l.is_empty()) {
        match Checkpoint::parse_line(line, key) {
            Ok(checkpoint) => witnessed.last = Some(checkpoint),
            Err(CheckpointError::BadMac) => witnessed.invalid_lines += 1,
            Err(CheckpointError::Malformed) => witnessed.unreadable_lines += 1,
        }
    }
    witnessed
}

/// Evidence that the stored trail is not the one the server wrote. Each has a stable
/// [`code`](Tamper::code), the reason of the `audit.tamper_detected` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// The store's newest event is older than the last one witnessed: events were
    /// deleted from the end (all of them, if `head` is 0), or the database was rolled
    /// back to an older copy.
    #[error(
        "the trail ends at event {head} but the witness saw event {witnessed}: \
         events were deleted from its end or the database was rolled back"
    )]
    BehindWitness {
        /// The store's newest event (0: none).
        head: u64,
        /// The newest event witnessed.
        witnessed: u64,
    },
    /// The event at the witnessed place is another one: the trail was rewritten.
    #[error("event {seq} is not the event the witness saw: the trail was rewritten")]
    DivergesFromWitness {
        /// The witnessed event.
        seq: u64,
    },
    /// The store's keyed boundary is not the one witnessed: moved (or removed) to pass
    /// keyed events off as unkeyed ones.
    #[error(
        "the keyed chain starts at event {} in the store but at event {witnessed} \
         in the witness", stored.map_or_else(|| "(none)".to_owned(), |s| s.to_string()))]
    BoundaryMoved {
        /// The boundary in the store.
        stored: Option<u64>,
        /// The boundary witnessed.
        witnessed: u64,
    },
    /// The store records a keyed boundary, so this version has run on it and written
    /// checkpoints, but the witness holds none: it was deleted or emptied (or moved
    /// without the configuration following).
    #[error("the witness holds no checkpoint, though the trail has been witnessed before")]
    WitnessMissing,
    /// Lines of the witness file do not verify: written by someone without the key.
    #[error("{lines} line(s) of the witness file are not valid checkpoints")]
    WitnessInvalid {
        /// How many.
        lines: u64,
    },
    /// Stored events after event `after` (0: from the start) cannot even be read as
    /// events: a field was overwritten with something no version writes.
    #[error("the events after event {after} cannot be read: {detail}")]
    Unreadable {
        /// The last event read.
        after: u64,
        /// What the store said.
        detail: String,
    },
    /// The chain itself is broken.
    #[error("the chain is broken: {0}")]
    ChainBroken(ChainBreak),
}

impl Tamper {
    /// The stable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BehindWitness { .. } => "BEHIND_WITNESS",
            Self::DivergesFromWitness { .. } => "DIVERGES_FROM_WITNESS",
            Self::BoundaryMoved { .. } => "BOUNDARY_MOVED",
            Self::WitnessMissing => "WITNESS_MISSING",
            Self::WitnessInvalid { .. } => "WITNESS_INVALID",
            Self::Unreadable { .. } => "EVENT_UNREADABLE",
            Self::ChainBroken(_) => "CHAIN_BROKEN",
        }
    }
}

/// The stored trail as the witness check needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTrail {
    /// The newest stored event; 0 if there is none.
    pub head_seq: u64,
    /// The stored event at the witnessed place, if the store has it (`None` also when
    /// retention has pruned it, which the caller knows from its watermark).
    pub hash_at_witnessed: Option<ChainHash>,
    /// Whether retention pruned the witnessed event (it is older than the watermark).
    pub witnessed_pruned: bool,
    /// The keyed boundary recorded in the store.
    pub keyed_from: Option<u64>,
}

/// Compares the stored trail with the last checkpoint witnessed: everything that does
/// not match, empty if the store is consistent with it.
pub fn compare(witnessed: &Checkpoint, stored: &StoredTrail) -> Vec<Tamper> {
    let mut found = Vec::new();
    if stored.keyed_from != Some(witnessed.keyed_from) {
        found.push(Tamper::BoundaryMoved {
            stored: stored.keyed_from,
            witnessed: witnessed.keyed_from,
        });
    }
    if stored.head_seq < witnessed.seq {
        found.push(Tamper::BehindWitness {
            head: stored.head_seq,
            witnessed: witnessed.seq,
        });
    } else if witnessed.seq > 0
        && !stored.witnessed_pruned
        && stored.hash_at_witnessed != Some(witnessed.hash)
    {
        found.push(Tamper::DivergesFromWitness { seq: witnessed.seq });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MacKey {
        MacKey::new(&crate::Secret::new([byte; 32]))
    }

    fn checkpoint(seq: u64) -> Checkpoint {
        Checkpoint {
            seq,
            hash: ChainHash([seq as u8; 32]),
            keyed_from: 1,
            time: UnixTime::from_millis(1_000 + seq as i64),
        }
    }

    fn stored(head_seq: u64, hash: Option<ChainHash>) -> StoredTrail {
        StoredTrail {
            head_seq,
            hash_at_witnessed: hash,
            witnessed_pruned: false,
            keyed_from: Some(1),
        }
    }

    #[test]
    fn a_line_reads_back_under_its_key_only() {
        let line = checkpoint(7).to_line(&key(1));
        assert!(line.ends_with('\n'));
        let text = line.trim_end();
        assert_eq!(Checkpoint::parse_line(text, &key(1)), Ok(checkpoint(7)));
        assert_eq!(
            Checkpoint::parse_line(text, &key(2)),
            Err(CheckpointError::BadMac)
        );
        let edited = text.replace("\"seq\":7", "\"seq\":9");
        assert_eq!(
            Checkpoint::parse_line(&edited, &key(1)),
            Err(CheckpointError::BadMac)
        );
        assert_eq!(
            Checkpoint::parse_line("{\"v\":1}", &key(1)),
            Err(CheckpointError::Malformed)
        );
    }

    #[test]
    fn the_witness_is_its_last_valid_line_and_a_torn_last_line_is_skipped() {
        let k = key(1);
        let text = [
            checkpoint(3).to_line(&k),
            checkpoint(5).to_line(&k),
            "garbage\n".to_owned(),
            checkpoint(8).to_line(&key(2)),
            checkpoint(9).to_line(&k),
            checkpoint(10).to_line(&k)[..20].to_owned(),
        ]
        .concat();
        assert_eq!(
            read_witness(&text, &k),
            Witnessed {
                last: Some(checkpoint(9)),
                invalid_lines: 1,
                unreadable_lines: 1,
            }
        );
        assert_eq!(read_witness("", &k), Witnessed::default());
    }

    #[test]
    fn a_trail_at_or_past_the_witness_with_the_same_event_is_consistent() {
        let cp = checkpoint(5);
        assert_eq!(compare(&cp, &stored(5, Some(cp.hash))), Vec::new());
        assert_eq!(compare(&cp, &stored(9, Some(cp.hash))), Vec::new());
        let pruned = StoredTrail {
            witnessed_pruned: true,
            ..stored(9, None)
        };
        assert_eq!(compare(&cp, &pruned), Vec::new());
        assert_eq!(compare(&checkpoint(0), &stored(0, None)), Vec::new());
    }

    #[test]
    fn a_trail_behind_the_witness_is_truncated_wiped_or_rolled_back() {
        let cp = checkpoint(5);
        assert_eq!(
            compare(&cp, &stored(3, None)),
            vec![Tamper::BehindWitness {
                head: 3,
                witnessed: 5
            }]
        );
        let wiped = compare(&cp, &stored(0, None)).remove(0);
        assert_eq!(wiped.code(), "BEHIND_WITNESS");
        assert!(wiped.to_string().contains("ends at event 0"), "{wiped}");
    }

    #[test]
    fn another_event_at_the_witnessed_place_is_a_rewrite() {
        let cp = checkpoint(5);
        assert_eq!(
            compare(&cp, &stored(6, Some(ChainHash([0xee; 32])))),
            vec![Tamper::DivergesFromWitness { seq: 5 }]
        );
        assert_eq!(
            compare(&cp, &stored(6, None)),
            vec![Tamper::DivergesFromWitness { seq: 5 }]
        );
    }

    #[test]
    fn a_moved_or_removed_boundary_is_evident() {
        let cp = checkpoint(5);
        for keyed_from in [None, Some(6)] {
            let moved = StoredTrail {
                keyed_from,
                ..stored(5, Some(cp.hash))
            };
            assert_eq!(
                compare(&cp, &moved),
                vec![Tamper::BoundaryMoved {
                    stored: keyed_from,
                    witnessed: 1
                }]
            );
        }
        // Removed along with every event: both are reported.
        let wiped = StoredTrail {
            keyed_from: None,
            ..stored(0, None)
        };
        let codes: Vec<_> = compare(&cp, &wiped).iter().map(Tamper::code).collect();
        assert_eq!(codes, ["BOUNDARY_MOVED", "BEHIND_WITNESS"]);
    }
}
