//! Writing the audit trail: what one gateway decision costs the SQLite writer, linked
//! into the hash chain and committed in batches of 64, 256 and 1024 events (the writer
//! commits whatever gathered while it waited, so the batch grows with the load).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{Chain, EventBody, Outcome};
use gatehouse_store::Store;
use gatehouse_store_sqlite::SqliteStore;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn event(n: u64) -> EventBody {
    EventBody {
        time: UnixTime::from_millis(1_800_000_000_000 + i64::try_from(n).unwrap()),
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

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(SqliteStore::open(&dir.path().join("gatehouse.db")))
        .unwrap();
    let mut chain = Chain::new();
    let mut n = 0u64;
    let mut group = c.benchmark_group("audit_append_gateway_events");
    for batch in [64u64, 256, 1024] {
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, &batch| {
            b.iter(|| {
                let events: Vec<_> = (0..batch)
                    .map(|_| {
                        n += 1;
                        chain.append(event(n))
                    })
                    .collect();
                runtime.block_on(store.append_audit(&events)).unwrap();
            });
        });
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
