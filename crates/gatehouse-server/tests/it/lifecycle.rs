//! The key lifecycle through the admin API: create, list, show, update, revoke, delete.

use crate::support::{START, at, spawn_app};
use gatehouse_api::keys::{CreatedKey, Key, RateLimit};
use gatehouse_core::api_key::ApiKey;
use serde_json::json;

#[tokio::test]
async fn created_key_is_returned_once_with_location_and_no_store() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/admin/v1/keys",
            &json!({
                "name": "orders service",
                "subject": "svc-orders",
                "scopes": ["orders:read", "orders:write"],
                "metadata": {"team": "payments", "tier": 2},
            }),
        )
        .await
        .expect(201);
    let created: CreatedKey = reply.json();
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("location"),
        Some(format!("/admin/v1/keys/{}", created.info.id).as_str())
    );
    assert!(created.info.id.starts_with("key_"), "{}", created.info.id);
    assert!(created.key.starts_with("gk_"), "{}", created.key);
    assert!(ApiKey::parse(&created.key).is_ok(), "issued key must parse");
    assert!(created.key.starts_with(&created.info.start));
    assert_eq!(created.info.start.len(), "gk_".len() + 4);
    assert_eq!(created.info.name, "orders service");
    assert_eq!(created.info.subject, "svc-orders");
    assert_eq!(created.info.scopes, ["orders:read", "orders:write"]);
    assert_eq!(created.info.metadata["team"], "payments");
    assert!(created.info.enabled);
    assert_eq!(created.info.revoked_at, None);
    assert_eq!(
        gatehouse_api::timestamp::from_datetime(created.info.created_at),
        START
    );

    let show = app
        .get(&format!("/admin/v1/keys/{}", created.info.id))
        .await;
    let shown: Key = show.expect(200).json();
    assert_eq!(shown, created.info);
    let list = app.get("/admin/v1/keys").await.expect(200);
    assert!(list.text().contains(&created.info.id));
    app.assert_no_key_leaked();
}

#[tokio::test]
async fn subject_defaults_to_the_name_and_prefix_can_be_chosen() {
    let app = spawn_app().await;
    let created = app
        .create(&json!({"name": "billing", "prefix": "bill2", "scopes": []}))
        .await;
    assert_eq!(created.info.subject, "billing");
    assert_eq!(created.info.prefix, "bill2");
    assert!(created.key.starts_with("bill2_"), "{}", created.key);
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
}

#[tokio::test]
async fn listing_with_limit_one_walks_every_key_once_in_id_order() {
    let app = spawn_app().await;
    let mut expected = vec![app.all_keys(100).await[0].id.clone()];
    for i in 0..5 {
        let created = app.create_key(&format!("key {i}"), &[]).await;
        expected.push(created.info.id);
    }
    expected.sort();
    let walked: Vec<String> = app.all_keys(1).await.into_iter().map(|k| k.id).collect();
    assert_eq!(walked, expected);
    let by_two: Vec<String> = app.all_keys(2).await.into_iter().map(|k| k.id).collect();
    assert_eq!(by_two, expected);
    let first: gatehouse_api::Page<Key> = app.get("/admin/v1/keys?limit=1").await.json();
    assert_eq!(first.items.len(), 1);
    assert!(first.next_cursor.is_some());
    app.assert_no_key_leaked();
}

#[tokio::test]
async fn update_changes_every_setting_and_null_clears() {
    let app = spawn_app().await;
    let created = app.create_key("before", &["a:read"]).await;
    let path = format!("/admin/v1/keys/{}", created.info.id);
    app.advance_millis(1_000);
    let updated: Key = app
        .patch(
            &path,
            &json!({
                "name": "after",
                "scopes": ["a:read", "b:write"],
                "metadata": {"plan": "pro"},
                "expires_at": at(86_400_000),
                "enabled": false,
                "ratelimit": {"limit": 10, "duration_ms": 1000},
                "remaining": 7,
            }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(updated.name, "after");
    assert_eq!(updated.scopes, ["a:read", "b:write"]);
    assert_eq!(updated.metadata["plan"], "pro");
    assert_eq!(
        updated.expires_at.map(|t| t.unix_timestamp()),
        Some(1_800_086_400)
    );
    assert!(!updated.enabled);
    assert_eq!(
        updated.ratelimit,
        Some(RateLimit {
            limit: 10,
            duration_ms: 1000
        })
    );
    assert_eq!(updated.remaining, Some(7));
    assert!(updated.updated_at > created.info.updated_at);
    assert_eq!(app.show(&created.info.id).await, updated);
    assert_eq!(app.verify(&created.key, &[]).await.code, "DISABLED");

    // Absent fields are kept; `null` clears.
    let cleared: Key = app
        .patch(
            &path,
            &json!({"enabled": true, "expires_at": null, "ratelimit": null, "remaining": null}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(cleared.name, "after");
    assert_eq!(cleared.scopes, ["a:read", "b:write"]);
    assert_eq!(cleared.expires_at, None);
    assert_eq!(cleared.ratelimit, None);
    assert_eq!(cleared.remaining, None);
    let verdict = app.verify(&created.key, &["b:write"]).await;
    assert_eq!(verdict.code, "VALID");
    assert_eq!(verdict.remaining, None);
    assert_eq!(verdict.metadata.unwrap()["plan"], "pro");
    app.assert_no_key_leaked();
}

#[tokio::test]
async fn revoke_is_permanent_and_shown_on_the_key() {
    let app = spawn_app().await;
    let created = app.create_key("doomed", &[]).await;
    let path = format!("/admin/v1/keys/{}", created.info.id);
    let revoked: Key = app
        .post(&format!("{path}/revoke"), &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(
        revoked
            .revoked_at
            .map(gatehouse_api::timestamp::from_datetime),
        Some(START)
    );
    assert_eq!(app.verify(&created.key, &[]).await.code, "REVOKED");
    // Re-enabling or revoking again does not bring it back.
    app.patch(&path, &json!({"enabled": true}))
        .await
        .expect(200);
    app.post(&format!("{path}/revoke"), &json!({}))
        .await
        .expect(200);
    app.advance_millis(3_600_000);
    assert_eq!(app.verify(&created.key, &[]).await.code, "REVOKED");
    assert_eq!(
        app.show(&created.info.id)
            .await
            .revoked_at
            .map(gatehouse_api::timestamp::from_datetime),
        Some(START),
        "a second revoke must not move the revocation time"
    );
}

#[tokio::test]
async fn deleted_key_is_gone_from_show_list_and_verify() {
    let app = spawn_app().await;
    let created = app.create_key("temporary", &[]).await;
    let kept = app.create_key("kept", &[]).await;
    assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
    let path = format!("/admin/v1/keys/{}", created.info.id);
    let reply = app.delete(&path).await.expect(204);
    assert!(reply.body.is_empty());
    app.get(&path).await.problem(404, "not_found");
    app.delete(&path).await.problem(404, "not_found");
    let ids: Vec<String> = app.all_keys(100).await.into_iter().map(|k| k.id).collect();
    assert!(!ids.contains(&created.info.id));
    assert!(ids.contains(&kept.info.id));
    let verdict = app.verify(&created.key, &[]).await;
    assert_eq!(verdict.code, "NOT_FOUND");
    assert!(!verdict.valid);
    assert_eq!(verdict.key_id, None);
    assert_eq!(app.verify(&kept.key, &[]).await.code, "VALID");
}
