//! Argon2id with the parameters Gatehouse stores passwords with (OWASP: 19 MiB, 2
//! passes, 1 lane): what one password login costs in CPU, which bounds logins a second
//! at roughly cores ÷ this time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::Secret;
use gatehouse_core::user::password;
use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn argon2id(c: &mut Criterion) {
    let pw = Secret::new(String::from("correct horse battery staple"));
    let stored = password::hash(&pw, &[7; 16]).unwrap();
    let mut group = c.benchmark_group("password_argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter(|| password::hash(black_box(&pw), &[9; 16]).unwrap());
    });
    group.bench_function("verify", |b| {
        b.iter(|| assert!(password::verify(black_box(&pw), &stored).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, argon2id);
criterion_main!(benches);
