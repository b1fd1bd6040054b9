//! Headers a client sends to pass itself off as someone else, or to send the upstream
//! somewhere else: none reaches the upstream, in any spelling an upstream folds.

use super::config;
use super::upstream::Upstream;
use crate::support::spawn_app_with;
use reqwest::Method;

/// Identity headers in the spellings CGI, WSGI and PHP read as the real ones.
const FORGED_IDENTITY: [(&str, &str); 6] = [
    ("X_Gatehouse_Subject", "root"),
    ("X.Gatehouse.Scopes", "admin:all"),
    ("x_gatehouse_auth", "mtls"),
    ("X-Gatehouse_Credential", "key_forged"),
    ("x.gatehouse-identity", "eyJforged"),
    ("X-GATEHOUSE-REQUEST-ID", "forged"),
];

/// Routing and method-override headers a rewriting proxy or framework would obey.
const FORGED_ROUTING: [(&str, &str); 8] = [
    ("Forwarded", "for=10.0.0.1;host=admin.internal;proto=https"),
    ("X-Real-IP", "10.0.0.1"),
    ("X-Original-URL", "/admin/secret"),
    ("X-Rewrite-URL", "/admin/secret"),
    ("X-HTTP-Method-Override", "DELETE"),
    ("X-Method-Override", "DELETE"),
    ("X-HTTP-Method", "DELETE"),
    ("X.Original.URL", "/admin/secret"),
];

#[tokio::test]
async fn identity_headers_in_any_spelling_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    // Even on a route that lets underscored names through.
    let toml = config(&upstream, "headers_with_underscores = \"allow\"");
    let app = spawn_app_with(&toml).await;
    let key = app.create_key("billing", &["orders:read"]).await;

    let mut request = app
        .through(Method::GET, "/orders/1")
        .bearer_auth(&key.key)
        .header("x_tenant", "kept on this route");
    for (name, value) in FORGED_IDENTITY {
        request = request.header(name, value);
    }
    app.via(request).await.expect(200);

    let seen = upstream.last();
    let forged: Vec<_> = FORGED_IDENTITY
        .iter()
        .filter(|(name, value)| seen.header(name) == Some(*value))
        .collect();
    assert!(forged.is_empty(), "reached the upstream: {forged:?}");
    assert_eq!(seen.header("x-gatehouse-subject"), Some("billing"));
    assert_eq!(seen.header("x-gatehouse-scopes"), Some("orders:read"));
    assert!(seen.header("x_gatehouse_subject").is_none());
    assert!(seen.header("x.gatehouse.scopes").is_none());
    assert_eq!(seen.header("x_tenant"), Some("kept on this route"));
}

#[tokio::test]
async fn names_with_underscores_are_dropped_by_default() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&config(&upstream, "")).await;
    let key = app.create_key("billing", &["orders:read"]).await;
    app.via(
        app.through(Method::GET, "/orders/1")
            .bearer_auth(&key.key)
            .header("x_tenant", "a")
            .header("x-tenant", "b"),
    )
    .await
    .expect(200);
    let seen = upstream.last();
    assert!(seen.header("x_tenant").is_none());
    assert_eq!(seen.header("x-tenant"), Some("b"));
}

#[tokio::test]
async fn routing_and_method_override_headers_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&config(&upstream, "headers_with_underscores = \"allow\"")).await;
    let key = app.create_key("billing", &["orders:read"]).await;

    let mut request = app.through(Method::GET, "/orders/1").bearer_auth(&key.key);
    for (name, value) in FORGED_ROUTING {
        request = request.header(name, value);
    }
    app.via(request).await.expect(200);

    let seen = upstream.last();
    for (name, value) in FORGED_ROUTING {
        assert_ne!(
            seen.header(name),
            Some(value),
            "{name} reached the upstream"
        );
    }
    assert!(seen.header("forwarded").is_none());
    assert!(seen.header("x-original-url").is_none());
    assert!(seen.header("x-http-method-override").is_none());
    // X-Real-IP is the gateway's own word: the address the client connected from.
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.method, "GET");
}
