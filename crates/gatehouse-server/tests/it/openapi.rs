//! The OpenAPI document, health endpoints and metrics.

use crate::support::{spawn_app, unissued_key};
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_the_endpoints() {
    let app = spawn_app().await;
    let reply = app
        .send(app.request(Method::GET, "/admin/v1/openapi.json"))
        .await
        .expect(200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        reply.header("content-type")
    );
    let doc: Value = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/admin/v1/keys",
        "/admin/v1/keys/{id}",
        "/admin/v1/keys/{id}/revoke",
        "/admin/v1/keys/{id}/rotate",
        "/admin/v1/audit",
        "/admin/v1/audit/head",
        "/v1/keys/verify",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/admin/v1/keys"]["post"].is_object());
    assert!(paths["/admin/v1/keys"]["get"].is_object());
    assert!(paths["/admin/v1/keys/{id}"]["patch"].is_object());
    assert!(paths["/admin/v1/keys/{id}"]["delete"].is_object());
    assert!(paths["/v1/keys/verify"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["schemas"]["AuditHead"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn health_and_readiness_answer_without_credentials() {
    let app = spawn_app().await;
    let health = app
        .send(app.request(Method::GET, "/healthz"))
        .await
        .expect(200);
    assert_eq!(health.json::<Value>()["status"], "ok");
    let ready = app
        .send(app.request(Method::GET, "/readyz"))
        .await
        .expect(200);
    let ready: Value = ready.json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["keys"], 1);
    assert!(
        health
            .header("x-gatehouse-request-id")
            .unwrap()
            .starts_with("req_")
    );
}

#[tokio::test]
async fn metrics_count_verifications_by_code() {
    let app = spawn_app().await;
    let key = app.create_key("counted", &["a:read"]).await;
    for _ in 0..3 {
        app.verify(&key.key, &["a:read"]).await;
    }
    app.verify(&key.key, &["a:write"]).await;
    app.verify(&unissued_key(7), &[]).await;
    app.verify(&unissued_key(8), &[]).await;
    let reply = app
        .send(app.request(Method::GET, "/metrics"))
        .await
        .expect(200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = reply.text();
    for line in [
        "gatehouse_key_verifications_total{code=\"VALID\"} 3",
        "gatehouse_key_verifications_total{code=\"INSUFFICIENT_SCOPE\"} 1",
        "gatehouse_key_verifications_total{code=\"NOT_FOUND\"} 2",
        "gatehouse_key_verifications_total{code=\"REVOKED\"} 0",
        "gatehouse_keys_loaded 2",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    assert!(!text.contains(&key.key) && !text.contains(&app.admin_key));
}

#[tokio::test]
async fn metrics_configured_for_api_keys_need_gatehouse_metrics() {
    let app = crate::support::spawn_app_with("[metrics]\nauth = \"api_key\"\n").await;
    let scrape = |key: Option<&str>| {
        let request = app.request(Method::GET, "/metrics");
        match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    };
    app.send(scrape(None))
        .await
        .problem(401, "missing_credential");
    let reader = app.create_key("reader", &["a:read"]).await;
    app.send(scrape(Some(&reader.key)))
        .await
        .problem(403, "insufficient_scope");
    let prometheus = app.create_key("prometheus", &["gatehouse:metrics"]).await;
    let text = app
        .send(scrape(Some(&prometheus.key)))
        .await
        .expect(200)
        .text();
    assert!(text.contains("gatehouse_keys_loaded"), "{text}");
    let events = app.audit("action=metrics.read").await;
    let outcomes: Vec<_> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["denied", "allowed"]);
}
