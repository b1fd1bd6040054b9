//! Rotation: a new key with the same settings, the old one kept for a grace period.

use crate::support::{START, spawn_app};
use gatehouse_api::keys::RotatedKey;
use gatehouse_api::timestamp::from_datetime;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn rotation_with_grace_keeps_both_keys_until_the_grace_ends() {
    let app = spawn_app().await;
    let old = app
        .create(&json!({
            "name": "rotating",
            "subject": "svc-a",
            "scopes": ["a:read"],
            "metadata": {"k": "v"},
        }))
        .await;
    let reply = app
        .post(
            &format!("/admin/v1/keys/{}/rotate", old.info.id),
            &json!({"grace_period_seconds": 60}),
        )
        .await
        .expect(201);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let rotated: RotatedKey = reply.json();
    assert_eq!(
        reply.header("location"),
        Some(format!("/admin/v1/keys/{}", rotated.info.id).as_str())
    );
    assert_ne!(rotated.info.id, old.info.id);
    assert_ne!(rotated.key, old.key);
    assert_eq!(rotated.info.name, "rotating");
    assert_eq!(rotated.info.subject, "svc-a");
    assert_eq!(rotated.info.scopes, ["a:read"]);
    assert_eq!(rotated.info.metadata["k"], "v");
    assert_eq!(rotated.previous.id, old.info.id);
    assert_eq!(
        rotated.previous.revoked_at.map(from_datetime),
        Some(START.plus_millis(60_000))
    );

    assert_eq!(app.verify(&old.key, &["a:read"]).await.code, "VALID");
    assert_eq!(app.verify(&rotated.key, &["a:read"]).await.code, "VALID");
    app.advance_millis(59_000);
    assert_eq!(app.verify(&old.key, &[]).await.code, "VALID");
    assert_eq!(app.verify(&rotated.key, &[]).await.code, "VALID");
    app.advance_millis(1_001);
    assert_eq!(app.verify(&old.key, &[]).await.code, "REVOKED");
    assert_eq!(app.verify(&rotated.key, &[]).await.code, "VALID");
    app.assert_no_key_leaked();
}

#[tokio::test]
async fn rotation_without_a_body_revokes_the_old_key_at_once() {
    let app = spawn_app().await;
    let old = app.create_key("rotating", &[]).await;
    let reply = app
        .send(
            app.request(
                Method::POST,
                &format!("/admin/v1/keys/{}/rotate", old.info.id),
            )
            .bearer_auth(&app.admin_key),
        )
        .await
        .expect(201);
    let rotated: RotatedKey = reply.json();
    assert_eq!(rotated.previous.revoked_at.map(from_datetime), Some(START));
    assert_eq!(app.verify(&old.key, &[]).await.code, "REVOKED");
    assert_eq!(app.verify(&rotated.key, &[]).await.code, "VALID");
    // A revoked key cannot be rotated again.
    app.post(
        &format!("/admin/v1/keys/{}/rotate", old.info.id),
        &json!({}),
    )
    .await
    .problem(409, "key_revoked");
}

#[tokio::test]
async fn revoking_during_the_grace_period_ends_it_at_once() {
    let app = spawn_app().await;
    let old = app.create_key("rotating", &[]).await;
    let rotated: RotatedKey = app
        .post(
            &format!("/admin/v1/keys/{}/rotate", old.info.id),
            &json!({"grace_period_seconds": 3600}),
        )
        .await
        .expect(201)
        .json();
    app.advance_millis(10_000);
    assert_eq!(app.verify(&old.key, &[]).await.code, "VALID");
    app.post(
        &format!("/admin/v1/keys/{}/revoke", old.info.id),
        &json!({}),
    )
    .await
    .expect(200);
    assert_eq!(app.verify(&old.key, &[]).await.code, "REVOKED");
    assert_eq!(app.verify(&rotated.key, &[]).await.code, "VALID");
    assert_eq!(
        app.show(&old.info.id).await.revoked_at.map(from_datetime),
        Some(START.plus_millis(10_000))
    );
}

#[tokio::test]
async fn rotation_carries_over_limits_and_remaining_usage() {
    let app = spawn_app().await;
    let old = app
        .create(&json!({
            "name": "metered",
            "remaining": 5,
            "ratelimit": {"limit": 100, "duration_ms": 1000},
        }))
        .await;
    app.verify(&old.key, &[]).await;
    app.verify(&old.key, &[]).await;
    let rotated: RotatedKey = app
        .post(
            &format!("/admin/v1/keys/{}/rotate", old.info.id),
            &json!({"grace_period_seconds": 0}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(rotated.info.remaining, Some(3));
    assert_eq!(rotated.info.ratelimit, old.info.ratelimit);
    assert_eq!(app.verify(&rotated.key, &[]).await.remaining, Some(2));
}

#[tokio::test]
async fn a_usage_limited_key_cannot_be_rotated_with_a_grace_period() {
    // Both keys would spend the same budget during the grace: refused, nothing changed.
    let app = spawn_app().await;
    let old = app
        .create(&json!({"name": "metered", "remaining": 5}))
        .await;
    let keys_before = app.all_keys(1000).await.len();
    app.post(
        &format!("/admin/v1/keys/{}/rotate", old.info.id),
        &json!({"grace_period_seconds": 60}),
    )
    .await
    .problem(409, "usage_limited");
    assert_eq!(app.all_keys(1000).await.len(), keys_before);
    let verdict = app.verify(&old.key, &[]).await;
    assert_eq!(
        (verdict.code.as_str(), verdict.remaining),
        ("VALID", Some(4))
    );
    assert_eq!(app.show(&old.info.id).await.revoked_at, None);
}
