//! `/v1/forward-auth`: the gateway's decision for a proxy in front, reading the
//! original request from exactly the headers the configured proxy writes.

use super::spawn_gateway;
use super::upstream::Upstream;
use crate::support::TestApp;
use reqwest::{Method, RequestBuilder};

/// A server whose forward auth sits behind `proxy`.
async fn behind(upstream: &Upstream, proxy: &str) -> TestApp {
    spawn_gateway(upstream, &format!("[forward_auth]\nproxy = \"{proxy}\"")).await
}

/// A check as Traefik and Caddy send it.
fn traefik(app: &TestApp, method: &str, uri: &str) -> RequestBuilder {
    app.request(Method::GET, "/v1/forward-auth")
        .header("x-forwarded-method", method)
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-host", "api.example")
}

/// A check as the documented nginx `auth_request` configuration sends it.
fn nginx(app: &TestApp, method: &str, uri: &str) -> RequestBuilder {
    app.request(Method::GET, "/v1/forward-auth")
        .header("x-forwarded-method", method)
        .header("x-original-uri", uri)
        .header("x-forwarded-host", "api.example")
}

#[tokio::test]
async fn forward_auth_answers_with_identity_headers_or_a_refusal() {
    let upstream = Upstream::start().await;
    let app = behind(&upstream, "traefik").await;
    let key = app.create_key("billing", &["orders:read"]).await;
    let other = app.create_key("other", &["invoices:read"]).await;

    let reply = app
        .send(traefik(&app, "GET", "/orders/7?x=1").bearer_auth(&key.key))
        .await
        .expect(200);
    assert_eq!(reply.header("x-gatehouse-subject"), Some("billing"));
    assert_eq!(reply.header("x-gatehouse-auth"), Some("api_key"));
    assert_eq!(
        reply.header("x-gatehouse-credential"),
        Some(key.info.id.as_str())
    );
    assert_eq!(reply.header("x-gatehouse-scopes"), Some("orders:read"));

    let reply = app.send(traefik(&app, "GET", "/orders")).await;
    reply.problem(401, "missing_credential");
    assert!(reply.header("www-authenticate").is_some());
    app.send(traefik(&app, "GET", "/orders").bearer_auth(&other.key))
        .await
        .problem(403, "insufficient_scope");
    // No route: refused (403, so the proxy in front does not turn it into a 500).
    app.send(traefik(&app, "GET", "/elsewhere").bearer_auth(&key.key))
        .await
        .problem(403, "no_route");
    // Traversal in the original URI is no way around a route.
    app.send(traefik(&app, "GET", "/orders/../invoices").bearer_auth(&other.key))
        .await
        .expect(400);

    let events = app.audit("action=gateway.forward_auth").await;
    let outcomes: Vec<_> = events
        .iter()
        .map(|e| (e.outcome.as_str(), e.reason.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("allowed", ""),
            ("denied", "missing_credential"),
            ("denied", "insufficient_scope"),
            ("denied", "no_route"),
            ("denied", "path_traversal"),
        ]
    );
    assert_eq!(events[0].path.as_deref(), Some("/orders/7"));
    assert_eq!(upstream.hits(), 0, "forward auth never forwards");
}

#[tokio::test]
async fn behind_nginx_the_original_request_comes_from_x_original_uri_alone() {
    let upstream = Upstream::start().await;
    let app = behind(&upstream, "nginx").await;
    let key = app.create_key("billing", &["orders:read"]).await;

    app.send(nginx(&app, "GET", "/orders/1").bearer_auth(&key.key))
        .await
        .expect(200);
    // The bypass: nginx passes the client's own X-Forwarded-Uri into the check.
    app.send(
        nginx(&app, "GET", "/admin/secret")
            .bearer_auth(&key.key)
            .header("x-forwarded-uri", "/orders/1"),
    )
    .await
    .problem(400, "conflicting_forwarded_headers");
    // In any spelling, and for the method too.
    app.send(
        nginx(&app, "GET", "/admin/secret")
            .bearer_auth(&key.key)
            .header("x_forwarded_uri", "/orders/1"),
    )
    .await
    .problem(400, "conflicting_forwarded_headers");
    app.send(
        nginx(&app, "DELETE", "/orders/1")
            .bearer_auth(&key.key)
            .header("x-original-method", "GET"),
    )
    .await
    .problem(400, "conflicting_forwarded_headers");
    // Repeated: which one did the proxy write?
    app.send(
        nginx(&app, "GET", "/admin/secret")
            .bearer_auth(&key.key)
            .header("x-original-uri", "/orders/1"),
    )
    .await
    .problem(400, "repeated_forwarded_header");
    // A proxy that does not send what nginx's documented configuration sends.
    app.send(
        app.request(Method::GET, "/v1/forward-auth")
            .bearer_auth(&key.key)
            .header("x-original-uri", "/orders/1"),
    )
    .await
    .problem(400, "missing_forwarded_header");
    app.send(nginx(&app, "GET", "http://elsewhere.example/orders/1").bearer_auth(&key.key))
        .await
        .problem(400, "malformed_forwarded_header");

    let reasons: Vec<_> = app
        .audit("action=gateway.forward_auth&outcome=denied")
        .await
        .into_iter()
        .map(|e| (e.status, e.reason.unwrap_or_default()))
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert!(reasons.iter().all(|(status, _)| *status == Some(400)));
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn by_default_the_original_request_is_the_check_request_itself() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("billing", &["orders:read"]).await;

    // Envoy ext_authz (HTTP): the original method and path under the prefix.
    app.send(
        app.request(Method::DELETE, "/v1/forward-auth/orders/7")
            .bearer_auth(&key.key),
    )
    .await
    .expect(200);
    app.send(
        app.request(Method::GET, "/v1/forward-auth/admin/secret")
            .bearer_auth(&key.key),
    )
    .await
    .problem(403, "no_route");
    // No header names another request.
    for (name, value) in [
        ("x-forwarded-uri", "/orders/1"),
        ("x-original-uri", "/orders/1"),
        ("x-forwarded-method", "GET"),
        ("x-forwarded-host", "api.example"),
        ("x-original-url", "/orders/1"),
    ] {
        app.send(
            app.request(Method::GET, "/v1/forward-auth/admin/secret")
                .bearer_auth(&key.key)
                .header(name, value),
        )
        .await
        .problem(400, "conflicting_forwarded_headers");
    }
    let events = app.audit("action=gateway.forward_auth").await;
    assert_eq!(events[0].method.as_deref(), Some("DELETE"));
    assert_eq!(events[0].path.as_deref(), Some("/orders/7"));
}

#[tokio::test]
async fn a_check_carrying_an_identity_header_in_any_spelling_is_refused() {
    let upstream = Upstream::start().await;
    let app = behind(&upstream, "traefik").await;
    let key = app.create_key("billing", &["orders:read"]).await;
    let spellings = [
        ("X-Gatehouse-Credential", "key_forged"),
        ("X-Gatehouse-Identity", "eyJforged"),
        ("x-gatehouse-subject", "root"),
        ("X_Gatehouse_Subject", "root"),
        ("X.Gatehouse.Scopes", "admin:all"),
        ("x-gatehouse-anything-new", "x"),
    ];
    for (name, value) in spellings {
        let reply = app
            .send(
                traefik(&app, "GET", "/orders/1")
                    .bearer_auth(&key.key)
                    .header(name, value),
            )
            .await;
        reply.problem(400, "client_sent_identity_header");
        assert!(reply.header("x-gatehouse-subject").is_none(), "{name}");
    }
    let events = app
        .audit("action=gateway.forward_auth&outcome=denied")
        .await;
    assert_eq!(events.len(), spellings.len());
    assert!(
        events
            .iter()
            .all(|e| e.reason.as_deref() == Some("client_sent_identity_header"))
    );
}
