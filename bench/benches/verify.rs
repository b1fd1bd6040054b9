//! The API key hot path: parse + SHA-256 + index lookup + core decision, at 1 thousand
//! to 1 million stored keys. Target: ≤ 1 µs median, flat across sizes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::ApiKey;
use gatehouse_server::key_index::KeyIndex;
use std::hint::black_box;

/// The allocator the `gatehouse` binary uses, so the numbers match production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn verify_from_index(c: &mut Criterion) {
    let mut group = c.benchmark_group("api_key_verify");
    group.throughput(Throughput::Elements(1));
    let now = UnixTime::from_millis(1_800_000_000_000);
    for size in [1_000usize, 10_000, 100_000, 1_000_000] {
        let keys = gatehouse_bench::keys(size, 42).unwrap();
        let probes: Vec<String> = keys
            .iter()
            .step_by((size / 1000).max(1))
            .map(|(k, _)| k.reveal().to_owned())
            .collect();
        let records: Vec<_> = keys.into_iter().map(|(_, r)| r).collect();
        let index = KeyIndex::new(&records);
        drop(records);
        let mut i = 0;
        group.bench_with_input(
            BenchmarkId::new("parse_hash_lookup_decide", size),
            &size,
            |b, _| {
                b.iter(|| {
                    i = (i + 1) % probes.len();
                    let key = ApiKey::parse(black_box(&probes[i])).unwrap();
                    let lookup = index.verify(&key, &[], now);
                    black_box(lookup.decision.is_ok())
                });
            },
        );
    }
    group.finish();
}

fn parts(c: &mut Criterion) {
    let (key, _) = gatehouse_bench::keys(1, 7).unwrap().pop().unwrap();
    let text = key.reveal().to_owned();
    c.bench_function("api_key_parse", |b| {
        b.iter(|| ApiKey::parse(black_box(&text)).unwrap())
    });
    c.bench_function("api_key_sha256", |b| b.iter(|| black_box(&key).digest()));
}

criterion_group!(benches, verify_from_index, parts);
criterion_main!(benches);
