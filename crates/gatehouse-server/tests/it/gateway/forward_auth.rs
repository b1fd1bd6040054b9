//! `/v1/forward-auth`: the gateway's decision for a proxy in front, in the header
//! dialects of nginx, Traefik/Caddy and Envoy.

use super::spawn_gateway;
use super::upstream::Upstream;
use reqwest::Method;

#[tokio::test]
async fn forward_auth_answers_with_identity_headers_or_a_refusal() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("billing", &["orders:read"]).await;
    let other = app.create_key("other", &["invoices:read"]).await;

    // Traefik / Caddy: X-Forwarded-Method, -Uri, -Host.
    let reply = app
        .send(
            app.request(Method::GET, "/v1/forward-auth")
                .bearer_auth(&key.key)
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-uri", "/orders/7?x=1")
                .header("x-forwarded-host", "api.example"),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("x-gatehouse-subject"), Some("billing"));
    assert_eq!(reply.header("x-gatehouse-auth"), Some("api_key"));
    assert_eq!(
        reply.header("x-gatehouse-credential"),
        Some(key.info.id.as_str())
    );
    assert_eq!(reply.header("x-gatehouse-scopes"), Some("orders:read"));

    // nginx auth_request: X-Original-URI.
    app.send(
        app.request(Method::GET, "/v1/forward-auth")
            .bearer_auth(&key.key)
            .header("x-original-uri", "/orders"),
    )
    .await
    .expect(200);

    // Envoy ext_authz (HTTP): the original method and path under the prefix.
    app.send(
        app.request(Method::DELETE, "/v1/forward-auth/orders/7")
            .bearer_auth(&key.key),
    )
    .await
    .expect(200);

    let reply = app
        .send(
            app.request(Method::GET, "/v1/forward-auth")
                .header("x-original-uri", "/orders"),
        )
        .await;
    reply.problem(401, "missing_credential");
    assert!(reply.header("www-authenticate").is_some());
    app.send(
        app.request(Method::GET, "/v1/forward-auth")
            .bearer_auth(&other.key)
            .header("x-original-uri", "/orders"),
    )
    .await
    .problem(403, "insufficient_scope");
    // No route: refused (403, so the proxy in front does not turn it into a 500).
    app.send(
        app.request(Method::GET, "/v1/forward-auth")
            .bearer_auth(&key.key)
            .header("x-original-uri", "/elsewhere"),
    )
    .await
    .problem(403, "no_route");
    // Traversal in the original URI is no way around a route.
    app.send(
        app.request(Method::GET, "/v1/forward-auth")
            .bearer_auth(&other.key)
            .header("x-original-uri", "/orders/../invoices"),
    )
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
            ("allowed", ""),
            ("allowed", ""),
            ("denied", "missing_credential"),
            ("denied", "insufficient_scope"),
            ("denied", "no_route"),
            ("denied", "path_traversal"),
        ]
    );
    assert_eq!(events[2].method.as_deref(), Some("DELETE"));
    assert_eq!(events[2].path.as_deref(), Some("/orders/7"));
    assert_eq!(upstream.hits(), 0, "forward auth never forwards");
}
