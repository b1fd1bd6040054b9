//! The audit writer: events are queued by handlers and group-committed by one task,
//! off the request path.
//!
//! One task owns the chain head, so events are linked in the order they are written.
//! A batch is everything queued while the previous batch was being written (up to
//! [`MAX_BATCH`]), so under load many events share one transaction and when idle each
//! is written at once — the crash window is one write, well under a second. A failed
//! write is retried until it succeeds: the queue is bounded, so a store outage slows
//! requests down instead of losing their events.
//!
//! Events are linked by the keyed chain (HMAC-SHA256 under [`chain_key`], derived from
//! the master key) here, in the writer's task: the MAC costs the request path nothing.
//! After each commit the writer publishes the committed head, which the checkpoint
//! task (`audit_witness`) writes to the witness.
//!
//! Retention deletes the oldest events and records where the trail now starts (a
//! watermark in the store's meta), so that deleting old events any other way is evident
//! to `gatehouse audit verify` rather than passing as retention.

use crate::master_key::MasterKey;
use crate::metrics::Metrics;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Chain, ChainHash, EventBody, MacKey};
use gatehouse_store::{Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Events in one transaction, at most.
pub const MAX_BATCH: usize = 4096;
/// How long the writer lets a batch gather after its first event: far inside the
/// one-second crash window of SPEC §7, and long enough for big batches under load —
/// SQLite writes 64-event batches at a third of the rate of 1024-event ones
/// (`cargo bench -p gatehouse-bench --bench audit`). Nobody waits for it: handlers only
/// queue, and readers of the trail flush first.
const GATHER: Duration = Duration::from_millis(20);
/// Events waiting to be written before handlers wait for room.
const QUEUE: usize = 65_536;
/// The meta setting holding the pruning watermark: the oldest event retention kept.
pub const FIRST_SEQ: &str = "audit_first_seq";

/// The newest event linked: its sequence number and hash.
pub type Head = Option<(u64, ChainHash)>;

/// The keyed chain's key: HMAC-SHA256(master key, its own label), so recomputing the
/// chain after an edit needs the master key, not only write access to the store.
pub fn chain_key(master: &MasterKey) -> MacKey {
    MacKey::new(&master.subkey("gatehouse-audit-chain-v2"))
}

/// The checkpoints' key, apart from the chain's: what one reveals says nothing of the
/// other.
pub fn checkpoint_key(master: &MasterKey) -> MacKey {
    MacKey::new(&master.subkey("gatehouse-audit-checkpoint-v1"))
}

enum Message {
    Event(Box<EventBody>),
    /// Answered with the head once everything queued before it is committed.
    Flush(oneshot::Sender<Head>),
}

/// A handle to queue events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Message>,
    committed: watch::Receiver<Head>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event(e) => write!(f, "Event({})", e.action),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl AuditLog {
    /// Starts the writer, continuing the chain from the store's newest event, linking
    /// every new event under `key`.
    pub async fn start(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        key: MacKey,
    ) -> Result<(Self, JoinHandle<()>), StoreError> {
        let chain = head(store.as_ref(), &key).await?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let (publish, committed) = watch::channel(chain.head());
        let task = tokio::spawn(write_loop(store, metrics, chain, rx, publish));
        Ok((Self { queue, committed }, task))
    }

    /// The head as last committed, changing as batches commit; for the checkpoints.
    pub fn committed(&self) -> watch::Receiver<Head> {
        self.committed.clone()
    }

    /// Queues an event. Waits only when the queue is full (the store is behind).
    pub async fn record(&self, event: EventBody) {
        if self
            .queue
            .send(Message::Event(Box::new(event)))
            .await
            .is_err()
        {
            tracing::error!("audit writer has stopped; event not recorded");
        }
    }

    /// Returns once every event queued before this call is committed.
    pub async fn flush(&self) {
        let _ = self.head().await;
    }

    /// The chain's head once every event queued before this call is committed. It is
    /// the writer's own, so events deleted from the end of the stored trail do not
    /// move it.
    pub async fn head(&self) -> Result<Head, StoreError> {
        let (done, wait) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the audit writer has stopped".into());
        self.queue
            .send(Message::Flush(done))
            .await
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())
    }
}

async fn head(store: &dyn Store, key: &MacKey) -> Result<Chain, StoreError> {
    Ok(match store.audit_head().await? {
        Some((seq, hash)) => Chain::after(seq, hash, key.clone()),
        None => Chain::new(key.clone()),
    })
}

async fn write_loop(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    mut chain: Chain,
    mut rx: mpsc::Receiver<Message>,
    publish: watch::Sender<Head>,
) {
    // Linked as they arrive; reused from batch to batch.
    let mut batch: Vec<AuditEvent> = Vec::new();
    let mut waiting: Vec<oneshot::Sender<Head>> = Vec::new();
    while let Some(first) = rx.recv().await {
        // Let the batch gather for a moment: while this task sleeps, senders do not wake
        // it once per event, which under load cost a context switch per request.
        if matches!(first, Message::Event(_)) {
            tokio::time::sleep(GATHER).await;
        }
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Event(e) => batch.push(chain.append(*e)),
                Message::Flush(done) => waiting.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            chain = commit(store.as_ref(), &metrics, chain, &mut batch).await;
            batch.clear();
            publish.send_replace(chain.head());
        }
        for done in waiting.drain(..) {
            let _ = done.send(chain.head());
        }
    }
}

/// Writes `batch`, linked up to `chain`, retrying until the store takes it; returns
/// the head after it.
async fn commit(
    store: &dyn Store,
    metrics: &Metrics,
    mut chain: Chain,
    batch: &mut [AuditEvent],
) -> Chain {
    let mut backoff = Duration::from_millis(50);
    loop {
        match store.append_audit(batch).await {
            Ok(()) => {
                metrics
                    .audit_events_written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return chain;
            }
            Err(e) => {
                metrics.audit_write_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, events = batch.len(), "audit write failed; retrying");
                // Another writer may have advanced the chain: continue from the store's head.
                if let Ok(fresh) = head(store, chain.key()).await {
                    chain = fresh;
                    chain.relink(batch);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Deletes events older than `retention_days` once an hour, if retention is set.
pub fn spawn_retention(
    store: Arc<dyn Store>,
    clock: Arc<dyn crate::clock::Clock>,
    retention_days: u32,
) -> Option<JoinHandle<()>> {
    if retention_days == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = UnixTime::from_millis(
                clock.now().as_millis() - i64::from(retention_days) * 86_400_000,
            );
            match prune(store.as_ref(), cutoff).await {
                Ok(n) if n > 0 => {
                    tracing::info!(deleted = n, "audit retention: deleted old events")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "audit retention failed"),
            }
        }
    }))
}

/// One retention run: deletes events older than `cutoff`, then moves the watermark to
/// just past the newest event it deleted; returns how many were deleted.
///
/// The watermark comes from what retention deleted, never from the oldest event left:
/// otherwise the next run would pass off any deletion of the oldest events as pruning.
/// It is written after the delete, so a crash in between leaves it behind the trail —
/// `verify` then reports the pruned events as missing, a false alarm the next run that
/// deletes clears, never the other way round. It only moves up.
pub async fn prune(store: &dyn Store, cutoff: UnixTime) -> Result<u64, StoreError> {
    let pruned = store.prune_audit(cutoff).await?;
    if let Some(start) = pruned.starts_at
        && start > first_seq(store).await?
    {
        store.set_meta(FIRST_SEQ, &start.to_string()).await?;
    }
    Ok(pruned.deleted)
}

/// Where the trail must start: the pruning watermark, or 1 if retention never ran.
pub async fn first_seq(store: &dyn Store) -> Result<u64, StoreError> {
    match store.meta(FIRST_SEQ).await? {
        None => Ok(1),
        Some(value) => value
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{FIRST_SEQ} is not a sequence number"))),
    }
}
