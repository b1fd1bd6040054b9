//! Tokens from an external issuer served on loopback: verified with its JWKS (fetched,
//! cached, refetched when it rotates), refused for the wrong audience, and a 503 — not
//! a 401 — when its keys cannot be fetched.

use super::upstream::Upstream;
use super::{config, spawn_gateway};
use crate::support::{START, spawn_app_with};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use gatehouse_core::jose::{Alg, JwkSet, SigningKey};
use reqwest::Method;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// An identity provider: a JWK Set that can change, served on loopback.
struct Idp {
    url: String,
    keys: Arc<Mutex<JwkSet>>,
}

impl Idp {
    async fn start() -> Self {
        let keys = Arc::new(Mutex::new(JwkSet { keys: Vec::new() }));
        let served = Arc::clone(&keys);
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let set = served.lock().unwrap().clone();
                async move { axum::Json(set) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, keys }
    }

    fn publish(&self, key: &SigningKey) {
        self.keys
            .lock()
            .unwrap()
            .keys
            .push(key.public_jwk().clone());
    }

    fn config(&self) -> String {
        format!(
            "\n[[jwt.issuers]]\nissuer = \"{url}\"\njwks_uri = \"{url}/jwks.json\"\naudiences = [\"orders\"]\nalgorithms = [\"ES256\"]\n",
            url = self.url
        )
    }
}

fn es256() -> SigningKey {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    SigningKey::from_pkcs8(Alg::Es256, der.as_ref()).unwrap()
}

fn token(key: &SigningKey, iss: &str, aud: &str, scope: &str) -> String {
    let now = START.as_millis() / 1000;
    key.sign_jwt(
        "JWT",
        &json!({"iss": iss, "sub": "alice@idp", "aud": aud, "exp": now + 300, "iat": now,
                "scope": scope, "azp": "web"}),
    )
    .unwrap()
}

#[tokio::test]
async fn an_external_issuers_tokens_pass_including_after_it_rotates_its_keys() {
    let upstream = Upstream::start().await;
    let idp = Idp::start().await;
    let first = es256();
    idp.publish(&first);
    let app = spawn_gateway(&upstream, &idp.config()).await;

    let t1 = token(&first, &idp.url, "orders", "orders:read");
    app.via(app.through(Method::GET, "/orders").bearer_auth(&t1))
        .await
        .expect(200);
    let seen = upstream.last();
    assert_eq!(seen.header("x-gatehouse-auth"), Some("jwt"));
    assert_eq!(seen.header("x-gatehouse-subject"), Some("alice@idp"));
    assert_eq!(seen.header("x-gatehouse-scopes"), Some("orders:read"));

    // The issuer rotates: a token signed by its new key makes the gateway refetch —
    // at most once per 10 s, so right after the first fetch it may take that long
    // before the new key is known.
    let second = es256();
    idp.publish(&second);
    let t2 = token(&second, &idp.url, "orders", "orders:read");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let reply = app
            .via(app.through(Method::GET, "/orders").bearer_auth(&t2))
            .await;
        if reply.status == 200 {
            break;
        }
        assert!(matches!(reply.status, 401 | 503), "{}", reply.text());
        assert!(
            std::time::Instant::now() < deadline,
            "the new key was never fetched"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    app.via(app.through(Method::GET, "/orders").bearer_auth(&t1))
        .await
        .expect(200);

    // Wrong audience, an issuer nobody configured, a key the issuer never published.
    let refusals = [
        token(&first, &idp.url, "billing", "orders:read"),
        token(&first, "https://other.example", "orders", "orders:read"),
        token(&es256(), &idp.url, "orders", "orders:read"),
    ];
    for t in &refusals {
        app.via(app.through(Method::GET, "/orders").bearer_auth(t))
            .await
            .problem(401, "invalid_credential");
    }
    let t = token(&first, &idp.url, "orders", "orders:write");
    app.via(app.through(Method::GET, "/orders").bearer_auth(&t))
        .await
        .problem(403, "insufficient_scope");
    assert_eq!(upstream.hits(), 3);
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_not_a_401() {
    let upstream = Upstream::start().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let extra = format!(
        "\n[[jwt.issuers]]\nissuer = \"{url}\"\njwks_uri = \"{url}/jwks.json\"\naudiences = [\"orders\"]\nalgorithms = [\"ES256\"]\n"
    );
    let app = spawn_app_with(&config(&upstream, &extra)).await;
    let t = token(&es256(), &url, "orders", "orders:read");
    let reply = app
        .via(app.through(Method::GET, "/orders").bearer_auth(&t))
        .await;
    reply.problem(503, "issuer_unavailable");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(upstream.hits(), 0);
}
