//! `private_key_jwt` client authentication (RFC 7523): a client signs an assertion
//! with a key it registered; each assertion works once.

use crate::support::{START, TestApp, spawn_app};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use gatehouse_api::clients::{ClientWithSecret, TokenResponse};
use gatehouse_core::jose::{Alg, SigningKey};
use reqwest::Method;
use serde_json::{Value, json};

const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn key() -> SigningKey {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    SigningKey::from_pkcs8(Alg::Es256, der.as_ref()).unwrap()
}

async fn register(app: &TestApp, key: &SigningKey) -> String {
    let created: ClientWithSecret = app
        .post(
            "/admin/v1/clients",
            &json!({"name": "signer", "scope": "orders:read",
                    "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [key.public_jwk()]}}),
        )
        .await
        .expect(201)
        .json();
    assert!(created.client_secret.is_none(), "no secret to show");
    created.client.client_id
}

fn assertion(app: &TestApp, key: &SigningKey, client: &str, jti: &str, patch: Value) -> String {
    let now = START.as_millis() / 1000;
    let mut claims = json!({
        "iss": client, "sub": client, "jti": jti, "iat": now, "exp": now + 60,
        "aud": format!("{}/oauth/token", app.state().settings.public_url),
    });
    for (k, v) in patch.as_object().unwrap() {
        claims[k] = v.clone();
    }
    key.sign_jwt("JWT", &claims).unwrap()
}

async fn token(app: &TestApp, assertion: &str) -> crate::support::Reply {
    app.send(app.request(Method::POST, "/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", TYPE),
        ("client_assertion", assertion),
    ]))
    .await
}

fn refused(reply: &crate::support::Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json::<Value>()["error"], error, "{}", reply.text());
}

#[tokio::test]
async fn a_signed_assertion_gets_a_token_once() {
    let app = spawn_app().await;
    let k = key();
    let client = register(&app, &k).await;
    let a = assertion(&app, &k, &client, "one", json!({}));
    let issued: TokenResponse = token(&app, &a).await.expect(200).json();
    assert_eq!(issued.scope, "orders:read");
    refused(&token(&app, &a).await, 401, "invalid_client");
    // The issuer itself is an accepted audience too.
    let a = assertion(
        &app,
        &k,
        &client,
        "two",
        json!({"aud": app.state().settings.public_url}),
    );
    token(&app, &a).await.expect(200);
}

#[tokio::test]
async fn bad_assertions_are_refused_and_issue_nothing() {
    let app = spawn_app().await;
    let k = key();
    let client = register(&app, &k).await;
    let now = START.as_millis() / 1000;
    for (jti, patch) in [
        ("aud", json!({"aud": "https://elsewhere.example/token"})),
        ("exp", json!({"exp": now - 120})),
        ("long", json!({"exp": now + 7200})),
        ("sub", json!({"sub": "cli_other"})),
        ("iss", json!({"iss": "cli_other"})),
    ] {
        refused(
            &token(&app, &assertion(&app, &k, &client, jti, patch)).await,
            401,
            "invalid_client",
        );
    }
    // Signed by a key the client never registered.
    let stranger = assertion(&app, &key(), &client, "stranger", json!({}));
    refused(&token(&app, &stranger).await, 401, "invalid_client");
    // Wrong assertion type; assertion plus a secret.
    let good = assertion(&app, &k, &client, "good", json!({}));
    let reply = app
        .send(app.request(Method::POST, "/oauth/token").form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &good),
        ]))
        .await;
    refused(&reply, 400, "invalid_request");
    let reply = app
        .send(app.request(Method::POST, "/oauth/token").form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", TYPE),
            ("client_assertion", &good),
            ("client_secret", "gcs_x"),
        ]))
        .await;
    refused(&reply, 400, "invalid_request");
    let events = app.audit("action=oauth.token").await;
    assert!(events.iter().all(|e| e.outcome == "denied"), "{events:?}");
    // The untouched assertion still works: refusals did not consume it.
    token(&app, &good).await.expect(200);
}

#[tokio::test]
async fn registration_checks_the_keys() {
    let app = spawn_app().await;
    let k = key();
    let mut no_kid = serde_json::to_value(k.public_jwk()).unwrap();
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut with_private = serde_json::to_value(k.public_jwk()).unwrap();
    with_private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    for body in [
        json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}),
        json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [no_kid]}}),
        json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}}),
        json!({"name": "x", "jwks": {"keys": [k.public_jwk()]}}),
        json!({"name": "x", "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [with_private]}}),
    ] {
        let reply = app.post("/admin/v1/clients", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
    }
    let client = register(&app, &k).await;
    app.post(
        &format!("/admin/v1/clients/{client}/rotate-secret"),
        &json!({}),
    )
    .await
    .problem(400, "invalid_field");
}
