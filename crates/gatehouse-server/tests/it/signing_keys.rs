//! Token signing keys: the JWK Set, persistence, rotation (publish before signing, keep
//! after retiring), the schedule, and who may rotate.

use crate::support::{START, spawn_app};
use gatehouse_api::signing_keys::SigningKeyInfo;
use gatehouse_core::jose::{Alg, Expected, JwkSet, SigningKey, VerifyingKey, verify_jwt};
use serde_json::json;

const HOUR: i64 = 3_600_000;

async fn jwks(app: &crate::support::TestApp) -> JwkSet {
    let reply = app
        .send(app.request(reqwest::Method::GET, "/.well-known/jwks.json"))
        .await
        .expect(200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/jwk-set+json")
    );
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    assert!(!reply.text().contains("\"d\""), "{}", reply.text());
    reply.json()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys.iter().filter_map(|k| k.kid.clone()).collect()
}

async fn listed(app: &crate::support::TestApp) -> Vec<SigningKeyInfo> {
    app.get("/admin/v1/signing-keys").await.expect(200).json()
}

#[tokio::test]
async fn the_first_start_publishes_one_es256_key() {
    let app = spawn_app().await;
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 1);
    let jwk = &set.keys[0];
    assert_eq!(
        (jwk.kty.as_str(), jwk.alg.as_deref(), jwk.key_use.as_deref()),
        ("EC", Some("ES256"), Some("sig"))
    );
    assert_eq!(jwk.kid.as_deref(), Some(jwk.thumbprint().unwrap().as_str()));
    assert_eq!(VerifyingKey::from_jwk(jwk).unwrap().alg(), Alg::Es256);
    let keys = listed(&app).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].state, "active");
}

#[tokio::test]
async fn keys_survive_a_restart_and_are_encrypted_at_rest() {
    let mut app = spawn_app().await;
    let before = kids(&jwks(&app).await);
    app.restart().await;
    assert_eq!(kids(&jwks(&app).await), before);
    let stored = app.state().store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(SigningKey::from_pkcs8(Alg::Es256, &stored[0].encrypted_key).is_err());
    // The same key signs after the restart: the ring decrypted it.
    let signer = app.state().signing_keys.signer(START).unwrap();
    assert_eq!(signer.verifier.kid(), before[0]);
}

#[tokio::test]
async fn rotation_publishes_the_next_key_before_it_signs_and_keeps_the_old_one() {
    let app = spawn_app().await;
    let old = kids(&jwks(&app).await).remove(0);
    let ring = &app.state().signing_keys;
    let old_token = ring
        .signer(START)
        .unwrap()
        .signer
        .sign_jwt(
            "at+jwt",
            &json!({"iss": "gatehouse", "exp": START.as_millis() / 1000 + 7200}),
        )
        .unwrap();

    let next: SigningKeyInfo = app
        .post("/admin/v1/signing-keys/rotate", &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(next.state, "next");
    assert_ne!(next.kid, old);
    // Published now, not signing yet.
    assert_eq!(kids(&jwks(&app).await), vec![old.clone(), next.kid.clone()]);
    assert_eq!(ring.signer(START).unwrap().verifier.kid(), old);
    // Asking again while a key waits returns that key.
    let again: SigningKeyInfo = app
        .post("/admin/v1/signing-keys/rotate", &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(again.kid, next.kid);

    app.advance_millis(HOUR);
    let now = START.plus_millis(HOUR);
    assert_eq!(ring.signer(now).unwrap().verifier.kid(), next.kid);
    let states: Vec<_> = listed(&app).await.into_iter().map(|k| k.state).collect();
    assert_eq!(states, ["retired", "active"]);
    // The old key still verifies what it signed.
    let old_key = ring.verifier(&old, now).unwrap();
    let expected = Expected {
        issuer: "gatehouse",
        audience: None,
        typ: Some("at+jwt"),
        leeway_secs: 0,
        max_len: Expected::MAX_LEN,
    };
    let verified = verify_jwt(
        &old_token,
        |kid| (kid == old).then_some(&old_key.verifier),
        &expected,
        now,
    )
    .unwrap();
    assert_eq!(verified.kid, old);
    assert_eq!(jwks(&app).await.keys.len(), 2);

    // Gone once every token it could have signed has expired (1 h max + 1 min).
    app.advance_millis(HOUR + 60_000);
    assert_eq!(kids(&jwks(&app).await), vec![next.kid.clone()]);
    assert!(
        ring.verifier(&old, START.plus_millis(2 * HOUR + 60_000))
            .is_none()
    );
}

#[tokio::test]
async fn an_immediate_rotation_signs_at_once_and_drops_a_waiting_key() {
    let app = spawn_app().await;
    let old = kids(&jwks(&app).await).remove(0);
    let waiting: SigningKeyInfo = app
        .post("/admin/v1/signing-keys/rotate", &json!({}))
        .await
        .expect(200)
        .json();
    let now: SigningKeyInfo = app
        .post("/admin/v1/signing-keys/rotate", &json!({"immediate": true}))
        .await
        .expect(200)
        .json();
    assert_eq!(now.state, "active");
    let ring = &app.state().signing_keys;
    assert_eq!(ring.signer(START).unwrap().verifier.kid(), now.kid);
    let published = kids(&jwks(&app).await);
    assert!(!published.contains(&waiting.kid), "{published:?}");
    assert!(published.contains(&old), "tokens it signed still verify");
    // The dropped key never takes over later.
    app.advance_millis(2 * HOUR);
    assert_eq!(
        ring.signer(START.plus_millis(2 * HOUR))
            .unwrap()
            .verifier
            .kid(),
        now.kid
    );
}

#[tokio::test]
async fn the_schedule_rotates_a_key_when_it_is_due() {
    let app = spawn_app().await;
    let state = app.state();
    let old = kids(&jwks(&app).await).remove(0);
    // 30 days minus the publish lead: not yet.
    let early = START.plus_millis(30 * 24 * HOUR - HOUR - 1);
    assert_eq!(
        state
            .signing_keys
            .maintain(state.store.as_ref(), early)
            .await
            .unwrap(),
        None
    );
    let due = START.plus_millis(30 * 24 * HOUR - HOUR);
    let kid = state
        .signing_keys
        .maintain(state.store.as_ref(), due)
        .await
        .unwrap()
        .expect("a rotation");
    assert_ne!(kid, old);
    assert_eq!(
        state.signing_keys.signer(due).unwrap().verifier.kid(),
        old,
        "the new key waits for its publish lead"
    );
    assert_eq!(
        state
            .signing_keys
            .signer(due.plus_millis(HOUR))
            .unwrap()
            .verifier
            .kid(),
        kid
    );
    // Nothing more to do until the next one is due.
    assert_eq!(
        state
            .signing_keys
            .maintain(state.store.as_ref(), due.plus_millis(HOUR))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn only_an_admin_rotates_and_every_attempt_is_audited() {
    let app = spawn_app().await;
    let keys_admin = app.create_key("ops", &["gatehouse:keys"]).await;
    let reply = app
        .call(
            reqwest::Method::POST,
            "/admin/v1/signing-keys/rotate",
            &keys_admin.key,
            Some(&json!({})),
        )
        .await;
    reply.problem(403, "insufficient_scope");
    app.call(
        reqwest::Method::GET,
        "/admin/v1/signing-keys",
        &keys_admin.key,
        None,
    )
    .await
    .problem(403, "insufficient_scope");
    assert_eq!(jwks(&app).await.keys.len(), 1, "nothing rotated");

    app.post(
        "/admin/v1/signing-keys/rotate",
        &json!({"immediate": "yes"}),
    )
    .await
    .problem(400, "invalid_field");
    app.post("/admin/v1/signing-keys/rotate", &json!({"now": true}))
        .await
        .problem(400, "invalid_field");
    let rotated: SigningKeyInfo = app
        .post("/admin/v1/signing-keys/rotate", &json!({}))
        .await
        .expect(200)
        .json();

    let events = app.audit("action=signing_key.rotate").await;
    let outcomes: Vec<_> = events
        .iter()
        .map(|e| (e.outcome.as_str(), e.reason.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("denied", Some("insufficient_scope")),
            ("denied", Some("invalid_field")),
            ("denied", Some("invalid_field")),
            ("allowed", None),
        ]
    );
    assert_eq!(events[3].target.as_deref(), Some(rotated.kid.as_str()));
}

#[tokio::test]
async fn a_withdrawn_key_stops_verifying_its_tokens_at_once() {
    let app = spawn_app().await;
    let old = kids(&jwks(&app).await).remove(0);
    let client: gatehouse_api::clients::ClientWithSecret = app
        .post("/admin/v1/clients", &json!({"name": "c", "scope": "a:b"}))
        .await
        .expect(201)
        .json();
    let (id, secret) = (
        client.client.client_id.clone(),
        client.client_secret.clone().unwrap(),
    );
    let token: gatehouse_api::clients::TokenResponse = app
        .send(
            app.request(reqwest::Method::POST, "/oauth/token")
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
        .expect(200)
        .json();
    let introspect = || async {
        app.send(
            app.request(reqwest::Method::POST, "/oauth/introspect")
                .basic_auth(&id, Some(&secret))
                .form(&[("token", &token.access_token)]),
        )
        .await
        .expect(200)
        .json::<serde_json::Value>()["active"]
            .clone()
    };
    assert_eq!(introspect().await, true, "verified and now cached");

    app.delete(&format!("/admin/v1/signing-keys/{old}"))
        .await
        .problem(409, "active_signing_key");
    app.post("/admin/v1/signing-keys/rotate", &json!({"immediate": true}))
        .await
        .expect(200);
    app.delete(&format!("/admin/v1/signing-keys/{old}"))
        .await
        .expect(204);
    assert!(!kids(&jwks(&app).await).contains(&old));
    assert_eq!(
        introspect().await,
        false,
        "the cached verification is gone too"
    );
    app.delete(&format!("/admin/v1/signing-keys/{old}"))
        .await
        .problem(404, "not_found");
    let reasons: Vec<_> = app
        .audit("action=signing_key.withdraw")
        .await
        .into_iter()
        .map(|e| (e.outcome, e.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("denied".to_owned(), Some("active_signing_key".to_owned())),
            ("allowed".to_owned(), None),
            ("denied".to_owned(), Some("not_found".to_owned())),
        ]
    );
}
