//! `POST /v1/keys/verify`: every verdict code, driven by the manual clock.

use crate::support::{START, at, spawn_app, unissued_key};
use gatehouse_api::timestamp::from_datetime;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn valid_key_reports_its_id_subject_scopes_metadata_expiry_and_remaining() {
    let app = spawn_app().await;
    let verifier = app.create_key("edge", &["gatehouse:verify"]).await;
    let created = app
        .create(&json!({
            "name": "reports",
            "subject": "svc-reports",
            "scopes": ["reports:read", "reports:export"],
            "metadata": {"region": "eu", "limits": {"rows": 1000}},
            "expires_at": at(3_600_000),
            "remaining": 10,
        }))
        .await;
    let verdict = app
        .verify_as(&verifier.key, &created.key, &["reports:read"])
        .await;
    assert!(verdict.valid);
    assert_eq!(verdict.code, "VALID");
    assert_eq!(verdict.key_id.as_deref(), Some(created.info.id.as_str()));
    assert_eq!(verdict.subject.as_deref(), Some("svc-reports"));
    assert_eq!(verdict.scopes.unwrap(), ["reports:export", "reports:read"]);
    let metadata = verdict.metadata.unwrap();
    assert_eq!(metadata["region"], "eu");
    assert_eq!(metadata["limits"]["rows"], 1000);
    assert_eq!(
        verdict.expires_at.map(from_datetime),
        Some(START.plus_millis(3_600_000))
    );
    assert_eq!(verdict.remaining, Some(9));
    assert_eq!(verdict.ratelimit, None);
}

#[tokio::test]
async fn well_formed_key_never_issued_is_not_found() {
    let app = spawn_app().await;
    app.create_key("some key", &[]).await;
    for seed in [1, 2, 3] {
        let verdict = app.verify(&unissued_key(seed), &[]).await;
        assert!(!verdict.valid);
        assert_eq!(verdict.code, "NOT_FOUND");
        assert_eq!(verdict.key_id, None);
        assert_eq!(verdict.subject, None);
        assert_eq!(verdict.scopes, None);
        assert_eq!(verdict.metadata, None);
    }
}

#[tokio::test]
async fn revoked_key_is_rejected_on_the_very_next_verify() {
    let app = spawn_app().await;
    let created = app.create_key("leaked", &["orders:read"]).await;
    let path = format!("/admin/v1/keys/{}/revoke", created.info.id);
    for _ in 0..3 {
        let victim = app.create_key("victim", &[]).await;
        assert_eq!(app.verify(&victim.key, &[]).await.code, "VALID");
        app.post(
            &format!("/admin/v1/keys/{}/revoke", victim.info.id),
            &json!({}),
        )
        .await
        .expect(200);
        let verdict = app.verify(&victim.key, &[]).await;
        assert_eq!(verdict.code, "REVOKED");
        assert!(!verdict.valid);
        assert_eq!(verdict.key_id.as_deref(), Some(victim.info.id.as_str()));
    }
    assert_eq!(
        app.verify(&created.key, &["orders:read"]).await.code,
        "VALID"
    );
    app.post(&path, &json!({})).await.expect(200);
    assert_eq!(
        app.verify(&created.key, &["orders:read"]).await.code,
        "REVOKED"
    );
}

#[tokio::test]
async fn key_expires_when_the_clock_passes_its_expiry() {
    let app = spawn_app().await;
    let created = app
        .create(&json!({"name": "short-lived", "expires_at": at(60_000)}))
        .await;
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
    app.advance_millis(59_999);
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
    app.advance_millis(1);
    let verdict = app.verify(&created.key, &[]).await;
    assert_eq!(verdict.code, "EXPIRED");
    assert!(!verdict.valid);
    assert_eq!(
        verdict.expires_at.map(from_datetime),
        Some(START.plus_millis(60_000))
    );
    // Extending the expiry brings it back.
    app.patch(
        &format!("/admin/v1/keys/{}", created.info.id),
        &json!({"expires_at": at(120_000)}),
    )
    .await
    .expect(200);
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
}

#[tokio::test]
async fn disabled_key_is_refused_until_enabled_again() {
    let app = spawn_app().await;
    let created = app.create_key("toggled", &[]).await;
    let path = format!("/admin/v1/keys/{}", created.info.id);
    app.patch(&path, &json!({"enabled": false}))
        .await
        .expect(200);
    let verdict = app.verify(&created.key, &[]).await;
    assert_eq!(verdict.code, "DISABLED");
    assert!(!verdict.valid);
    app.patch(&path, &json!({"enabled": true}))
        .await
        .expect(200);
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
    let off = app
        .create(&json!({"name": "born disabled", "enabled": false}))
        .await;
    assert_eq!(app.verify(&off.key, &[]).await.code, "DISABLED");
}

#[tokio::test]
async fn key_lacking_a_requested_scope_is_insufficient() {
    let app = spawn_app().await;
    let created = app.create_key("reader", &["orders:read"]).await;
    assert_eq!(
        app.verify(&created.key, &["orders:read"]).await.code,
        "VALID"
    );
    let verdict = app
        .verify(&created.key, &["orders:read", "orders:write"])
        .await;
    assert_eq!(verdict.code, "INSUFFICIENT_SCOPE");
    assert!(!verdict.valid);
    assert_eq!(verdict.scopes.unwrap(), ["orders:read"]);
    // Application scopes are never implied, not even by the admin scope.
    let admin_like = app.create_key("admin-like", &["gatehouse:admin"]).await;
    assert_eq!(
        app.verify(&admin_like.key, &["orders:read"]).await.code,
        "INSUFFICIENT_SCOPE"
    );
}

#[tokio::test]
async fn usage_limit_counts_down_then_is_exceeded() {
    let app = spawn_app().await;
    let created = app
        .create(&json!({"name": "metered", "remaining": 2}))
        .await;
    assert_eq!(created.info.remaining, Some(2));
    let first = app.verify(&created.key, &[]).await;
    assert_eq!((first.code.as_str(), first.remaining), ("VALID", Some(1)));
    let second = app.verify(&created.key, &[]).await;
    assert_eq!((second.code.as_str(), second.remaining), ("VALID", Some(0)));
    for _ in 0..2 {
        let third = app.verify(&created.key, &[]).await;
        assert_eq!(third.code, "USAGE_EXCEEDED");
        assert!(!third.valid);
        assert_eq!(third.remaining, Some(0));
    }
    assert_eq!(app.show(&created.info.id).await.remaining, Some(0));
    // Refused verifications do not consume usage: a refill starts from the new value.
    app.patch(
        &format!("/admin/v1/keys/{}", created.info.id),
        &json!({"remaining": 3}),
    )
    .await
    .expect(200);
    assert_eq!(app.verify(&created.key, &[]).await.remaining, Some(2));
}

#[tokio::test]
async fn rate_limited_key_recovers_as_the_clock_moves() {
    let app = spawn_app().await;
    let created = app
        .create(&json!({"name": "throttled", "ratelimit": {"limit": 2, "duration_ms": 60000}}))
        .await;
    let first = app.verify(&created.key, &[]).await;
    assert_eq!(first.code, "VALID");
    assert_eq!(first.ratelimit.unwrap().remaining, 1);
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
    let third = app.verify(&created.key, &[]).await;
    assert_eq!(third.code, "RATE_LIMITED");
    assert!(!third.valid);
    let state = third.ratelimit.unwrap();
    assert_eq!((state.limit, state.remaining), (2, 0));
    assert!(state.reset_ms > 0 && state.reset_ms <= 60_000, "{state:?}");

    app.advance_millis(29_999);
    assert_eq!(app.verify(&created.key, &[]).await.code, "RATE_LIMITED");
    app.advance_millis(1);
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
    assert_eq!(app.verify(&created.key, &[]).await.code, "RATE_LIMITED");
}

#[tokio::test]
async fn x_api_key_header_authenticates_the_verify_caller() {
    let app = spawn_app().await;
    let verifier = app.create_key("edge", &["gatehouse:verify"]).await;
    let target = app.create_key("target", &[]).await;
    let reply = app
        .send(
            app.request(Method::POST, "/v1/keys/verify")
                .header("x-api-key", &verifier.key)
                .json(&json!({"key": target.key})),
        )
        .await
        .expect(200);
    let verdict: gatehouse_api::verify::Verdict = reply.json();
    assert_eq!(verdict.code, "VALID");
    app.assert_no_key_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_never_overspend_a_usage_limit() {
    let app = spawn_app().await;
    let metered = app
        .create(&json!({"name": "contended", "remaining": 50}))
        .await;
    let url = format!("{}/v1/keys/verify", app.base);
    let mut tasks = Vec::new();
    for _ in 0..80 {
        let (client, url) = (app.client.clone(), url.clone());
        let (admin, key) = (app.admin_key.clone(), metered.key.clone());
        tasks.push(tokio::spawn(async move {
            let reply = client
                .post(url)
                .bearer_auth(admin)
                .json(&json!({"key": key}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
            reply
                .json::<gatehouse_api::verify::Verdict>()
                .await
                .unwrap()
        }));
    }
    let mut remaining = Vec::new();
    let mut exceeded = 0;
    for task in tasks {
        let verdict = task.await.unwrap();
        match verdict.code.as_str() {
            "VALID" => remaining.push(verdict.remaining.unwrap()),
            "USAGE_EXCEEDED" => exceeded += 1,
            other => panic!("unexpected {other}"),
        }
    }
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..50).collect::<Vec<u64>>(),
        "each use counted once"
    );
    assert_eq!(exceeded, 30);
    assert_eq!(app.show(&metered.info.id).await.remaining, Some(0));
}
