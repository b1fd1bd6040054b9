//! External issuers against a real HTTP identity provider on loopback; no mocks of the
//! HTTP client.

mod checks;
mod fetching;
mod idp;

use super::key_set::Timing;
use super::{ExternalRejection, Issuer, IssuerSettings, Issuers};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::UnixTime;
use gatehouse_core::jose::{Alg, SigningKey, TokenError};
use serde_json::{Value, json};
use std::time::Duration;

const NOW_SECS: i64 = 1_800_000_000;
const NOW: UnixTime = UnixTime::from_millis(NOW_SECS * 1000);
const ISSUER: &str = "https://idp.example";

/// Fetches whenever a token asks, but keeps keys fresh as in production.
const IMPATIENT: Timing = Timing {
    refetch: Duration::ZERO,
    ..Timing::DEFAULT
};

/// Keys are stale as soon as fetched; fetches are not rate-limited.
const ALWAYS_STALE: Timing = Timing {
    refetch: Duration::ZERO,
    fresh_min: Duration::ZERO,
    fresh_max: Duration::ZERO,
    fresh_default: Duration::ZERO,
    ..Timing::DEFAULT
};

fn es256() -> SigningKey {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    SigningKey::from_pkcs8(Alg::Es256, der.as_ref()).unwrap()
}

fn eddsa() -> SigningKey {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    SigningKey::from_pkcs8(Alg::EdDsa, der.as_ref()).unwrap()
}

fn rs256() -> SigningKey {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    SigningKey::from_pkcs8(Alg::Rs256, pair.as_der().unwrap().as_ref()).unwrap()
}

/// Claims a typical IdP access token for the `api` audience carries.
fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": ["api", "other"], "exp": NOW_SECS + 600,
        "iat": NOW_SECS, "nbf": NOW_SECS, "scope": "orders:read"
    })
}

/// `claims()` with `changes` merged in (a `null` removes the claim).
fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    key.sign_jwt("JWT", claims).unwrap()
}

/// A well-formed ES256 token naming `kid`, with a signature nobody made.
fn token_with_kid(kid: &str) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims().to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

fn settings(jwks_uri: Option<String>) -> IssuerSettings {
    IssuerSettings {
        issuer: ISSUER.into(),
        jwks_uri,
        audiences: vec!["api".into()],
        algorithms: vec![Alg::Es256, Alg::Rs256],
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn issuers(settings: IssuerSettings) -> Issuers {
    Issuers::new(vec![settings], http())
}

fn issuers_timed(settings: IssuerSettings, timing: Timing) -> Issuers {
    Issuers::with_timing(vec![settings], http(), timing)
}

/// The one configured issuer.
fn only(issuers: &Issuers) -> &Issuer {
    issuers.issuers.first().unwrap()
}

fn invalid(error: TokenError) -> Result<(), ExternalRejection> {
    Err(ExternalRejection::Invalid(error))
}

/// The outcome of verifying, without the verified token.
async fn outcome(issuer: &Issuer, token: &str) -> Result<(), ExternalRejection> {
    issuer.verify(token, NOW).await.map(drop)
}
