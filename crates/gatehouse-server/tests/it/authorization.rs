//! SPEC §5: every endpoint names its scope, and no credential mints more than it holds.
//! Plus authentication of the caller itself: missing, malformed, revoked credentials.

use crate::support::{TestApp, spawn_app, unissued_key, with_bad_checksum};
use reqwest::Method;
use serde_json::json;

async fn key_count(app: &TestApp) -> usize {
    app.all_keys(1000).await.len()
}

async fn admin_key_id(app: &TestApp) -> String {
    app.all_keys(1000)
        .await
        .into_iter()
        .find(|k| k.scopes == ["gatehouse:admin"] && k.subject == "admin")
        .expect("the bootstrap admin key is listed")
        .id
}

#[tokio::test]
async fn keys_scope_manages_keys_but_cannot_read_the_audit_trail() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    let k = &manager.key;
    app.call(
        Method::POST,
        "/admin/v1/keys",
        k,
        Some(&json!({"name": "child"})),
    )
    .await
    .expect(201);
    app.call(Method::GET, "/admin/v1/keys", k, None)
        .await
        .expect(200);
    let reply = app.call(Method::GET, "/admin/v1/audit", k, None).await;
    let problem = reply.problem(403, "insufficient_scope");
    assert!(
        problem.detail.contains("gatehouse:audit:read"),
        "{problem:?}"
    );
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("insufficient_scope"),
        "{challenge}"
    );
    assert!(challenge.contains("gatehouse:audit:read"), "{challenge}");
}

#[tokio::test]
async fn keys_scope_cannot_mint_admin_or_scopes_it_lacks() {
    let app = spawn_app().await;
    let manager = app
        .create_key("manager", &["gatehouse:keys", "orders:read"])
        .await;
    let before = key_count(&app).await;
    for scopes in [
        json!(["gatehouse:admin"]),
        json!(["orders:write"]),
        json!(["orders:read", "gatehouse:verify"]),
        json!(["gatehouse:audit:read"]),
    ] {
        let body = json!({"name": "escalation", "scopes": scopes});
        app.call(Method::POST, "/admin/v1/keys", &manager.key, Some(&body))
            .await
            .problem(403, "scope_escalation");
    }
    assert_eq!(key_count(&app).await, before, "a refused create made a key");
    // What it holds, it may hand out.
    let body = json!({"name": "child", "scopes": ["orders:read", "gatehouse:keys"]});
    app.call(Method::POST, "/admin/v1/keys", &manager.key, Some(&body))
        .await
        .expect(201);
    assert_eq!(key_count(&app).await, before + 1);
}

#[tokio::test]
async fn keys_scope_cannot_widen_a_key_by_update_nor_itself() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    let child = app.create_key("child", &[]).await;
    for target in [&child.info.id, &manager.info.id] {
        let path = format!("/admin/v1/keys/{target}");
        let body = json!({"scopes": ["gatehouse:keys", "gatehouse:admin"]});
        app.call(Method::PATCH, &path, &manager.key, Some(&body))
            .await
            .problem(403, "scope_escalation");
    }
    assert!(app.show(&child.info.id).await.scopes.is_empty());
    assert_eq!(app.show(&manager.info.id).await.scopes, ["gatehouse:keys"]);
    // The manager still cannot read the audit trail.
    app.call(Method::GET, "/admin/v1/audit", &manager.key, None)
        .await
        .problem(403, "insufficient_scope");
}

#[tokio::test]
async fn keys_scope_cannot_touch_the_admin_key() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    let admin_id = admin_key_id(&app).await;
    let path = format!("/admin/v1/keys/{admin_id}");
    let k = &manager.key;
    app.call(Method::POST, &format!("{path}/revoke"), k, None)
        .await
        .problem(403, "scope_escalation");
    app.call(Method::POST, &format!("{path}/rotate"), k, None)
        .await
        .problem(403, "scope_escalation");
    app.call(Method::DELETE, &path, k, None)
        .await
        .problem(403, "scope_escalation");
    app.call(Method::PATCH, &path, k, Some(&json!({"enabled": false})))
        .await
        .problem(403, "scope_escalation");
    let admin = app.show(&admin_id).await;
    assert_eq!(admin.revoked_at, None);
    assert!(admin.enabled);
    app.get("/admin/v1/audit").await.expect(200);
}

#[tokio::test]
async fn key_without_verify_scope_cannot_call_verify() {
    let app = spawn_app().await;
    let manager = app
        .create_key("manager", &["gatehouse:keys", "orders:read"])
        .await;
    let target = app.create_key("target", &[]).await;
    let body = json!({"key": target.key});
    let reply = app
        .call(Method::POST, "/v1/keys/verify", &manager.key, Some(&body))
        .await;
    reply.problem(403, "insufficient_scope");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("gatehouse:verify")
    );
    // A verify-only key verifies, and can do nothing else.
    let verifier = app.create_key("verifier", &["gatehouse:verify"]).await;
    assert_eq!(
        app.verify_as(&verifier.key, &target.key, &[]).await.code,
        "VALID"
    );
    app.call(Method::GET, "/admin/v1/keys", &verifier.key, None)
        .await
        .problem(403, "insufficient_scope");
}

#[tokio::test]
async fn missing_credential_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/admin/v1/keys"),
        (Method::POST, "/v1/keys/verify"),
        (Method::GET, "/admin/v1/audit"),
    ] {
        let reply = app.send(app.request(method, path)).await;
        reply.problem(401, "missing_credential");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"gatehouse\"")
        );
    }
    let basic = app
        .send(
            app.request(Method::GET, "/admin/v1/keys")
                .basic_auth("admin", Some(&app.admin_key)),
        )
        .await;
    assert_eq!(basic.status, 401);
}

#[tokio::test]
async fn malformed_forged_or_revoked_credentials_are_401_invalid_credential() {
    let app = spawn_app().await;
    let second_admin = app.create_key("second admin", &["gatehouse:admin"]).await;
    app.post(
        &format!("/admin/v1/keys/{}/revoke", second_admin.info.id),
        &json!({}),
    )
    .await
    .expect(200);
    let disabled = app
        .create(&json!({"name": "off", "scopes": ["gatehouse:keys"], "enabled": false}))
        .await;
    for credential in [
        "not-a-key".to_owned(),
        format!("{}x", app.admin_key),
        with_bad_checksum(&app.admin_key),
        app.admin_key.to_uppercase(),
        unissued_key(9),
        second_admin.key.clone(),
        disabled.key.clone(),
    ] {
        let reply = app
            .call(Method::GET, "/admin/v1/keys", &credential, None)
            .await;
        let problem = reply.problem(401, "invalid_credential");
        assert!(!problem.detail.contains(&credential), "{problem:?}");
        let challenge = reply.header("www-authenticate").unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    app.get("/admin/v1/keys").await.expect(200);
}

#[tokio::test]
async fn x_api_key_works_like_bearer_but_not_both_at_once() {
    let app = spawn_app().await;
    let with_header = app
        .send(
            app.request(Method::GET, "/admin/v1/keys")
                .header("x-api-key", &app.admin_key),
        )
        .await
        .expect(200);
    let with_bearer = app.get("/admin/v1/keys").await.expect(200);
    assert_eq!(with_header.body, with_bearer.body);
    let both = app
        .send(
            app.request(Method::GET, "/admin/v1/keys")
                .bearer_auth(&app.admin_key)
                .header("x-api-key", &app.admin_key),
        )
        .await;
    both.problem(401, "invalid_credential");
}

#[tokio::test]
async fn rate_limited_caller_is_429_with_retry_after() {
    let app = spawn_app().await;
    let body = json!({"name": "slow admin", "scopes": ["gatehouse:keys"],
        "ratelimit": {"limit": 1, "duration_ms": 10000}});
    let slow = app.create(&body).await;
    app.call(Method::GET, "/admin/v1/keys", &slow.key, None)
        .await
        .expect(200);
    let reply = app
        .call(Method::GET, "/admin/v1/keys", &slow.key, None)
        .await;
    reply.problem(429, "rate_limited");
    assert_eq!(reply.header("retry-after"), Some("10"));
    assert!(reply.header("ratelimit").unwrap().contains("remaining=0"));
    app.advance_millis(10_000);
    app.call(Method::GET, "/admin/v1/keys", &slow.key, None)
        .await
        .expect(200);
}
