//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).

use crate::support::{Reply, TestApp, spawn_app};
use gatehouse_api::clients::{ClientWithSecret, TokenResponse};
use reqwest::Method;
use serde_json::{Value, json};

struct Registered {
    id: String,
    secret: String,
}

async fn register(app: &TestApp, name: &str) -> Registered {
    register_with(app, name, "orders:read", &["orders"]).await
}

async fn token_for(app: &TestApp, c: &Registered) -> String {
    let reply = app
        .send(
            app.request(Method::POST, "/oauth/token")
                .basic_auth(&c.id, Some(&c.secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
        .expect(200);
    reply.json::<TokenResponse>().access_token
}

async fn introspect(app: &TestApp, c: &Registered, token: &str) -> Value {
    let reply = app
        .send(
            app.request(Method::POST, "/oauth/introspect")
                .basic_auth(&c.id, Some(&c.secret))
                .form(&[("token", token)]),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    reply.json()
}

async fn revoke(app: &TestApp, c: &Registered, token: &str) -> Reply {
    app.send(
        app.request(Method::POST, "/oauth/revoke")
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("token", token), ("token_type_hint", "access_token")]),
    )
    .await
}

#[tokio::test]
async fn an_active_token_introspects_with_its_claims() {
    let app = spawn_app().await;
    let c = register(&app, "billing").await;
    let token = token_for(&app, &c).await;
    let body = introspect(&app, &c, &token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], c.id.as_str());
    assert_eq!(body["sub"], c.id.as_str());
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(body["aud"], "orders");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["exp"].is_i64() && body["jti"].is_string());

    // A resource server may introspect with an API key holding gatehouse:verify.
    let verifier = app.create_key("orders-api", &["gatehouse:verify"]).await;
    let reply = app
        .send(
            app.request(Method::POST, "/oauth/introspect")
                .bearer_auth(&verifier.key)
                .form(&[("token", &token)]),
        )
        .await
        .expect(200);
    assert_eq!(reply.json::<Value>()["active"], true);

    // Anyone else may not.
    let other = app.create_key("reader", &["gatehouse:keys"]).await;
    for request in [
        app.request(Method::POST, "/oauth/introspect")
            .bearer_auth(&other.key)
            .form(&[("token", &token)]),
        app.request(Method::POST, "/oauth/introspect")
            .form(&[("token", &token)]),
        app.request(Method::POST, "/oauth/introspect")
            .basic_auth(&c.id, Some("gcs_wrong"))
            .form(&[("token", &token)]),
    ] {
        let reply = app.send(request).await;
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert_eq!(reply.json::<Value>()["error"], "invalid_client");
    }
}

#[tokio::test]
async fn anything_not_valid_is_simply_inactive() {
    let app = spawn_app().await;
    let c = register(&app, "billing").await;
    let token = token_for(&app, &c).await;
    let (head, _) = token.rsplit_once('.').unwrap();
    for bad in [
        "garbage".to_owned(),
        String::new(),
        format!("{head}.AAAA"),
        format!("{head}.{}", "A".repeat(86)),
        "x".repeat(20_000),
    ] {
        assert_eq!(
            introspect(&app, &c, &bad).await,
            json!({"active": false}),
            "{bad:.40}"
        );
    }
    app.advance_millis(600_000);
    assert_eq!(introspect(&app, &c, &token).await, json!({"active": false}));
    let missing = app
        .send(
            app.request(Method::POST, "/oauth/introspect")
                .basic_auth(&c.id, Some(&c.secret))
                .form(&[("token_type_hint", "access_token")]),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json::<Value>()["error"], "invalid_request");
}

#[tokio::test]
async fn a_revoked_token_is_inactive_at_once_and_stays_revoked() {
    let mut app = spawn_app().await;
    let owner = register(&app, "billing").await;
    let other = register(&app, "shipping").await;
    let token = token_for(&app, &owner).await;
    assert_eq!(introspect(&app, &owner, &token).await["active"], true);

    // Only the client it was issued to may revoke it; another is answered as for an
    // unknown token (RFC 7009 §2.1), so it learns nothing, and nothing is revoked.
    let reply = revoke(&app, &other, &token).await.expect(200);
    assert_eq!(reply.text(), revoke(&app, &other, "garbage").await.text());
    assert_eq!(introspect(&app, &owner, &token).await["active"], true);

    let reply = revoke(&app, &owner, &token).await.expect(200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        introspect(&app, &owner, &token).await,
        json!({"active": false})
    );
    // Revoking again, or revoking garbage, is not an error (RFC 7009 §2.2).
    revoke(&app, &owner, &token).await.expect(200);
    revoke(&app, &owner, "garbage").await.expect(200);
    // A new token of the same client is unaffected.
    let fresh = token_for(&app, &owner).await;
    assert_eq!(introspect(&app, &owner, &fresh).await["active"], true);

    app.restart().await;
    assert_eq!(
        introspect(&app, &owner, &token).await,
        json!({"active": false})
    );
    assert_eq!(introspect(&app, &owner, &fresh).await["active"], true);

    let events = app.audit("action=oauth.revoke").await;
    let reasons: Vec<_> = events
        .iter()
        .map(|e| e.reason.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        reasons,
        [
            "not_permitted",
            "not_active",
            "revoked",
            "not_active",
            "not_active"
        ]
    );
    assert!(app.audit("action=oauth.introspect").await.len() >= 5);
}

async fn register_with(app: &TestApp, name: &str, scope: &str, audience: &[&str]) -> Registered {
    let c: ClientWithSecret = app
        .post(
            "/admin/v1/clients",
            &json!({"name": name, "scope": scope, "audience": audience}),
        )
        .await
        .expect(201)
        .json();
    Registered {
        id: c.client.client_id,
        secret: c.client_secret.unwrap(),
    }
}

#[tokio::test]
async fn an_unrelated_client_learns_nothing_about_another_client_s_token() {
    let app = spawn_app().await;
    let a = register(&app, "orders app").await;
    let b = register_with(&app, "misc app", "misc:read", &["misc"]).await;
    let token = token_for(&app, &a).await;

    // Exactly what an unknown token gets: no sub, scope or client_id.
    assert_eq!(introspect(&app, &b, &token).await, json!({"active": false}));
    assert_eq!(introspect(&app, &a, &token).await["active"], true);
    let events = app.audit("action=oauth.introspect").await;
    let refused = events
        .iter()
        .find(|e| e.principal.as_deref() == Some(b.id.as_str()))
        .unwrap();
    assert_eq!(refused.reason.as_deref(), Some("not_permitted"));
}

/// A client registered as the resource server for `serves` (and nothing else).
async fn register_resource_server(app: &TestApp, name: &str, serves: &[&str]) -> Registered {
    let c: ClientWithSecret = app
        .post(
            "/admin/v1/clients",
            &json!({"name": name, "scope": "misc:read", "resource_server_audiences": serves}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(c.client.resource_server_audiences, serves);
    Registered {
        id: c.client.client_id,
        secret: c.client_secret.unwrap(),
    }
}

#[tokio::test]
async fn the_resource_server_a_token_is_for_and_an_introspection_client_may_introspect_it() {
    let app = spawn_app().await;
    let resource_server = register_resource_server(&app, "orders api", &["orders"]).await;
    let a = register_with(&app, "orders app", "orders:read", &["orders"]).await;
    let introspector = register_with(&app, "gateway", "gatehouse:introspect", &[]).await;
    let token = token_for(&app, &a).await;
    for caller in [&resource_server, &introspector] {
        let body = introspect(&app, caller, &token).await;
        assert_eq!(body["active"], true, "{}", caller.id);
        assert_eq!(body["client_id"], a.id.as_str());
        assert_eq!(body["aud"], "orders");
        assert_eq!(body["scope"], "orders:read");
    }
}

#[tokio::test]
async fn a_resource_server_learns_only_about_tokens_for_the_audiences_it_serves() {
    let mut app = spawn_app().await;
    let orders_api = register_resource_server(&app, "orders api", &["orders"]).await;
    let orders_app = register_with(&app, "orders app", "orders:read", &["orders"]).await;
    let billing_app = register_with(&app, "billing app", "billing:read", &["billing"]).await;
    let unrelated = register_with(&app, "misc app", "misc:read", &["misc"]).await;
    let orders_token = token_for(&app, &orders_app).await;
    let billing_token = token_for(&app, &billing_app).await;

    let body = introspect(&app, &orders_api, &orders_token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], orders_app.id.as_str());
    assert_eq!(body["sub"], orders_app.id.as_str());
    assert_eq!(body["aud"], "orders");
    assert_eq!(body["scope"], "orders:read");
    assert!(body["exp"].is_i64() && body["jti"].is_string(), "{body}");
    // Exactly what an unknown token gets: the billing token is not its business.
    assert_eq!(
        introspect(&app, &orders_api, &billing_token).await,
        json!({"active": false})
    );
    for token in [&orders_token, &billing_token] {
        assert_eq!(
            introspect(&app, &unrelated, token).await,
            json!({"active": false})
        );
    }
    // A client whose id is the audience is not thereby its resource server: the old
    // rule is gone.
    let named_by_id = register_with(&app, "id as audience", "misc:read", &[]).await;
    let pointed = register_with(&app, "points at id", "orders:read", &[&named_by_id.id]).await;
    let pointed_token = token_for(&app, &pointed).await;
    assert_eq!(
        introspect(&app, &named_by_id, &pointed_token).await,
        json!({"active": false})
    );

    // Re-registered for billing, it is told about billing tokens at once and no
    // longer about orders tokens; and that survives a restart.
    app.patch(
        &format!("/admin/v1/clients/{}", orders_api.id),
        &json!({"resource_server_audiences": ["billing"]}),
    )
    .await
    .expect(200);
    for restarted in [false, true] {
        if restarted {
            app.restart().await;
        }
        let billing = introspect(&app, &orders_api, &billing_token).await;
        assert_eq!(billing["active"], true, "restarted: {restarted}: {billing}");
        assert_eq!(billing["client_id"], billing_app.id.as_str());
        assert_eq!(
            introspect(&app, &orders_api, &orders_token).await,
            json!({"active": false}),
            "restarted: {restarted}"
        );
    }

    let events = app.audit("action=oauth.introspect").await;
    let refused = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("not_permitted"))
        .count();
    assert_eq!(refused, 6, "{events:?}");
}
