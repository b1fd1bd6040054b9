//! Writing the audit trail: what one gateway decision costs the SQLite writer, linked
//! into the keyed chain (HMAC-SHA256 under the key the server derives from the master
//! key) and committed in batches of 64, 256 and 1024 events (the writer commits
//! whatever gathered while it waited, so the batch grows with the load); the linking
//! alone; and one checkpoint appended and fsynced to the witness file (once a second
//! while events flow, not per event).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gatehouse_bench::gateway_event;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::Chain;
use gatehouse_server::audit_log::{chain_key, checkpoint_key};
use gatehouse_server::audit_witness::Witness;
use gatehouse_server::master_key::MasterKey;
use gatehouse_store::Store;
use gatehouse_store_sqlite::SqliteStore;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(SqliteStore::open(&dir.path().join("gatehouse.db")))
        .unwrap();
    let mut chain = Chain::new(key());
    let mut n = 0u64;
    let mut group = c.benchmark_group("audit_append_gateway_events");
    for batch in [64u64, 256, 1024] {
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, &batch| {
            b.iter(|| {
                let events: Vec<_> = (0..batch)
                    .map(|_| {
                        n += 1;
                        chain.append(gateway_event(n))
                    })
                    .collect();
                runtime.block_on(store.append_audit(&events)).unwrap();
            });
        });
    }
    group.finish();
}

fn key() -> gatehouse_core::audit::MacKey {
    chain_key(&MasterKey::from_hex(&"11".repeat(32), "bench").unwrap())
}

/// Linking only: the MAC (and the field encoding) per event, no store.
fn link(c: &mut Criterion) {
    let mut chain = Chain::new(key());
    let body = gateway_event(1);
    c.bench_function("audit_link_keyed_event", |b| {
        b.iter(|| chain.append(body.clone()));
    });
}

/// One checkpoint: a MAC'd line appended to the witness file and fsynced.
fn checkpoint(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::from_hex(&"11".repeat(32), "bench").unwrap();
    let witness =
        Witness::open(&dir.path().join("witness.log"), checkpoint_key(&master), 1).unwrap();
    let mut seq = 0u64;
    c.bench_function("audit_checkpoint_write", |b| {
        b.iter(|| {
            seq += 1;
            let head = Some((seq, gatehouse_core::audit::ChainHash([7; 32])));
            witness
                .write(head, UnixTime::from_millis(1_800_000_000_000))
                .unwrap();
        });
    });
}

criterion_group!(benches, append, link, checkpoint);
criterion_main!(benches);
