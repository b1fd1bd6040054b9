//! Access tokens in process: signing (ES256, EdDSA, RS256), a full verification
//! (signature, header and claim checks), and a repeated token answered from the
//! verified-token cache. The HTTP side is `bench/run-token.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::UnixTime;
use gatehouse_core::jose::{Alg, Expected, SigningKey, VerifyingKey, verify_jwt};
use gatehouse_server::MasterKey;
use gatehouse_server::access_tokens::AccessTokens;
use gatehouse_server::config::{SigningSettings, TokenSettings};
use gatehouse_server::signing_keys::SigningKeys;
use serde_json::json;
use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NOW: UnixTime = UnixTime::from_millis(1_800_000_000_000);
const ISSUER: &str = "https://auth.example";

fn key(alg: Alg) -> SigningKey {
    let rng = SystemRandom::new();
    let der: Vec<u8> = match alg {
        Alg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec(),
        Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
            .unwrap()
            .as_ref()
            .to_vec(),
        Alg::Rs256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .unwrap()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
    };
    SigningKey::from_pkcs8(alg, &der).unwrap()
}

fn claims() -> serde_json::Value {
    let now = NOW.as_millis() / 1000;
    json!({"iss": ISSUER, "sub": "cli_0RtZcHh8y2hBq3xYt7aKfWm1", "aud": "orders",
           "exp": now + 600, "iat": now, "nbf": now, "jti": "Xk3b9QpL2mN7vR4tY8wZ1a",
           "client_id": "cli_0RtZcHh8y2hBq3xYt7aKfWm1", "scope": "orders:read orders:write"})
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        audience: Some("orders"),
        typ: Some("at+jwt"),
        leeway_secs: 0,
        max_len: Expected::MAX_LEN,
    }
}

fn sign_and_verify(c: &mut Criterion) {
    for alg in [Alg::Es256, Alg::EdDsa, Alg::Rs256] {
        let signer = key(alg);
        let verifier = VerifyingKey::from_jwk(signer.public_jwk()).unwrap();
        let claims = claims();
        c.bench_function(&format!("jwt_sign/{alg}"), |b| {
            b.iter(|| black_box(signer.sign_jwt("at+jwt", black_box(&claims)).unwrap()));
        });
        let token = signer.sign_jwt("at+jwt", &claims).unwrap();
        let expected = expected();
        c.bench_function(&format!("jwt_verify/{alg}"), |b| {
            b.iter(|| {
                let verified = verify_jwt(
                    black_box(&token),
                    |kid| (kid == verifier.kid()).then_some(&verifier),
                    &expected,
                    NOW,
                );
                black_box(verified.unwrap())
            });
        });
    }
}

/// A token seen before: SHA-256 of the token, a cache lookup, the time and
/// revocation checks — no signature.
fn cached(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(gatehouse_store_sqlite::SqliteStore::open(
            &dir.path().join("g.db"),
        ))
        .unwrap();
    let master = MasterKey::from_hex(&"42".repeat(32), "bench").unwrap();
    let signing = SigningSettings {
        alg: Alg::Es256,
        rotate_after_days: 30,
        publish_lead_secs: 3600,
    };
    let tokens = TokenSettings {
        access_ttl_secs: 600,
        max_access_ttl_secs: 3600,
        refresh: gatehouse_core::oauth::refresh::Lifetimes::default(),
    };
    let keys = runtime
        .block_on(SigningKeys::load(&store, &master, &signing, &tokens, NOW))
        .unwrap();
    let token = keys
        .signer(NOW)
        .unwrap()
        .signer
        .sign_jwt("at+jwt", &claims())
        .unwrap();
    let access = AccessTokens::default();
    access.verify(&keys, &token, ISSUER, NOW).unwrap();
    c.bench_function("access_token_cached", |b| {
        b.iter(|| {
            black_box(
                access
                    .verify(&keys, black_box(&token), ISSUER, NOW)
                    .unwrap(),
            )
        });
    });
}

criterion_group!(benches, sign_and_verify, cached);
criterion_main!(benches);
