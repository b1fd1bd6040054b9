//! Who gets through a route: API keys and Gatehouse's own tokens, and every refusal
//! with its status and challenge — none of which reaches the upstream.

use super::upstream::Upstream;
use super::{config, spawn_gateway};
use crate::support::spawn_app_with;
use reqwest::Method;

#[tokio::test]
async fn an_api_key_reaches_the_upstream_as_an_identity_and_nothing_spoofed_does() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app
        .create_key("billing", &["orders:read", "orders:write"])
        .await;

    let reply = app
        .via(
            app.through(Method::GET, "/orders/42?expand=lines&x=%20y")
                .bearer_auth(&key.key)
                .header("x-gatehouse-subject", "admin")
                .header("X-Gatehouse-Scopes", "gatehouse:admin")
                .header("x-forwarded-client-cert", "Hash=forged")
                .header("client-cert", ":Zm9yZ2Vk:")
                .header("connection", "x-secret-hop")
                .header("x-secret-hop", "1")
                .header("x-kept", "yes"),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    assert!(reply.header("x-gatehouse-request-id").is_some());
    // Hop-by-hop headers of the upstream's answer do not come back either.
    assert!(reply.header("x-drop-me").is_none());

    let seen = upstream.last();
    assert_eq!(seen.uri, "/orders/42?expand=lines&x=%20y");
    assert_eq!(seen.header("x-gatehouse-subject"), Some("billing"));
    assert_eq!(seen.header("x-gatehouse-auth"), Some("api_key"));
    assert_eq!(
        seen.header("x-gatehouse-scopes"),
        Some("orders:read orders:write")
    );
    assert_eq!(
        seen.header("x-gatehouse-credential"),
        Some(key.info.id.as_str())
    );
    assert_eq!(
        seen.header("x-gatehouse-request-id"),
        reply.header("x-gatehouse-request-id")
    );
    assert_eq!(seen.headers.get_all("x-gatehouse-scopes").iter().count(), 1);
    assert!(
        seen.header("authorization").is_none(),
        "the credential was forwarded"
    );
    assert!(seen.header("x-forwarded-client-cert").is_none());
    assert!(seen.header("client-cert").is_none());
    assert!(seen.header("x-secret-hop").is_none());
    assert_eq!(seen.header("x-kept"), Some("yes"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    let gateway_host = app.gateway().trim_start_matches("http://").to_owned();
    assert_eq!(seen.header("x-forwarded-host"), Some(gateway_host.as_str()));
    assert_eq!(
        seen.header("host"),
        Some(upstream.addr.to_string().as_str())
    );
    assert!(seen.header("x-api-key").is_none());

    // The same key in X-API-Key works too.
    app.via(
        app.through(Method::POST, "/orders")
            .header("x-api-key", &key.key),
    )
    .await
    .expect(200);
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test]
async fn every_refusal_has_its_status_and_challenge_and_reaches_nothing() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let reader = app.create_key("reader", &["orders:read"]).await;
    let other = app.create_key("other", &["invoices:read"]).await;

    let reply = app.via(app.through(Method::GET, "/orders")).await;
    reply.problem(401, "missing_credential");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"gatehouse\"")
    );

    for bad in [
        "gk_garbage",
        "not-a-key",
        "a.b.c",
        &crate::support::unissued_key(3),
    ] {
        let reply = app
            .via(app.through(Method::GET, "/orders").bearer_auth(bad))
            .await;
        reply.problem(401, "invalid_credential");
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|c| c.contains("error=\"invalid_token\"")),
            "{bad}"
        );
    }

    let reply = app
        .via(
            app.through(Method::GET, "/orders")
                .bearer_auth(&reader.key)
                .header("x-api-key", &reader.key),
        )
        .await;
    reply.problem(401, "invalid_credential");

    let reply = app
        .via(
            app.through(Method::GET, "/orders")
                .basic_auth("u", Some("p")),
        )
        .await;
    reply.problem(401, "missing_credential");

    let reply = app
        .via(app.through(Method::GET, "/orders").bearer_auth(&other.key))
        .await;
    reply.problem(403, "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"gatehouse\", error=\"insufficient_scope\", scope=\"orders:read\"")
    );

    // Unmatched: no route, on a segment boundary, whatever the credential.
    for path in ["/", "/ordersx", "/admin/v1/keys", "/order"] {
        app.via(app.through(Method::GET, path).bearer_auth(&reader.key))
            .await
            .problem(404, "no_route");
    }
    assert_eq!(upstream.hits(), 0, "a refused request reached the upstream");

    // Revoked: the very next request is refused.
    app.via(app.through(Method::GET, "/orders").bearer_auth(&reader.key))
        .await
        .expect(200);
    app.post(
        &format!("/admin/v1/keys/{}/revoke", reader.info.id),
        &serde_json::json!({}),
    )
    .await
    .expect(200);
    app.via(app.through(Method::GET, "/orders").bearer_auth(&reader.key))
        .await
        .problem(401, "invalid_credential");
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn gatehouse_tokens_pass_until_revoked_or_expired_and_only_for_their_audience() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "audiences = [\"orders\"]").await;
    let issued = app.token("orders:read", "orders").await;
    let (token, client_id) = (issued.token.clone(), issued.client_id.clone());

    app.via(app.through(Method::GET, "/orders/1").bearer_auth(&token))
        .await
        .expect(200);
    let seen = upstream.last();
    assert_eq!(seen.header("x-gatehouse-auth"), Some("oauth"));
    assert_eq!(seen.header("x-gatehouse-subject"), Some(client_id.as_str()));
    assert_eq!(
        seen.header("x-gatehouse-credential"),
        Some(client_id.as_str())
    );
    assert_eq!(seen.header("x-gatehouse-scopes"), Some("orders:read"));

    // A token for another audience is refused here.
    let elsewhere = app.token("orders:read", "invoices").await.token;
    let reply = app
        .via(
            app.through(Method::GET, "/orders/1")
                .bearer_auth(&elsewhere),
        )
        .await;
    reply.problem(401, "invalid_credential");
    assert!(reply.text().contains("wrong_audience"), "{}", reply.text());

    // A token without the route's scope: 403.
    let narrow = app.token("orders:write", "orders").await.token;
    app.via(app.through(Method::GET, "/orders/1").bearer_auth(&narrow))
        .await
        .problem(403, "insufficient_scope");

    // Revoked: refused on the very next request.
    let revoked = app.token("orders:read", "orders").await;
    app.via(
        app.through(Method::GET, "/orders/1")
            .bearer_auth(&revoked.token),
    )
    .await
    .expect(200);
    app.revoke(&revoked).await;
    app.via(
        app.through(Method::GET, "/orders/1")
            .bearer_auth(&revoked.token),
    )
    .await
    .problem(401, "invalid_credential");

    // Expired: ten minutes later the first token is refused.
    app.advance_millis(601_000);
    let reply = app
        .via(app.through(Method::GET, "/orders/1").bearer_auth(&token))
        .await;
    reply.problem(401, "invalid_credential");
    assert!(reply.text().contains("expired"), "{}", reply.text());
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test]
async fn a_route_rate_limit_answers_429_with_retry_after_and_ratelimit() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "rate_limit = \"2/min\"").await;
    let key = app.create_key("svc", &["orders:read"]).await;
    let other = app.create_key("svc2", &["orders:read"]).await;
    for remaining in ["1", "0"] {
        let reply = app
            .via(app.through(Method::GET, "/orders").bearer_auth(&key.key))
            .await
            .expect(200);
        let ratelimit = reply.header("ratelimit").unwrap();
        assert!(
            ratelimit.contains(&format!("remaining={remaining}")),
            "{ratelimit}"
        );
    }
    let reply = app
        .via(app.through(Method::GET, "/orders").bearer_auth(&key.key))
        .await;
    reply.problem(429, "rate_limited");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(reply.header("ratelimit").unwrap().contains("remaining=0"));
    // Per credential: another key has its own bucket.
    app.via(app.through(Method::GET, "/orders").bearer_auth(&other.key))
        .await
        .expect(200);
    // And the bucket refills with time.
    app.advance_millis(30_000);
    app.via(app.through(Method::GET, "/orders").bearer_auth(&key.key))
        .await
        .expect(200);
    assert_eq!(upstream.hits(), 4);
}

#[tokio::test]
async fn routes_match_by_host_method_and_longest_prefix_and_strip_it() {
    let upstream = Upstream::start().await;
    let extra = format!(
        r#"
[[gateway.routes]]
name = "orders-admin"
path_prefix = "/orders/admin"
methods = ["POST"]
upstream = "{url}/internal"
strip_prefix = true
auth = ["api_key"]
require_scopes = ["orders:admin"]

[[gateway.routes]]
name = "partner"
host = "partner.example"
path_prefix = "/orders"
upstream = "{url}"
auth = ["api_key"]
require_scopes = ["partner"]
"#,
        url = upstream.url()
    );
    let app = spawn_app_with(&(config(&upstream, "") + &extra)).await;
    let admin = app
        .create_key("ops", &["orders:admin", "orders:read"])
        .await;
    let partner = app.create_key("partner", &["partner"]).await;

    app.via(
        app.through(Method::POST, "/orders/admin/purge?all=1")
            .bearer_auth(&admin.key),
    )
    .await
    .expect(200);
    assert_eq!(upstream.last().uri, "/internal/purge?all=1");
    assert_eq!(upstream.last().method, "POST");
    // GET is not among that route's methods: the shorter prefix takes it.
    app.via(
        app.through(Method::GET, "/orders/admin/purge")
            .bearer_auth(&admin.key),
    )
    .await
    .expect(200);
    assert_eq!(upstream.last().uri, "/orders/admin/purge");
    // A host-specific route wins over a host-less one of the same prefix.
    app.via(
        app.through(Method::GET, "/orders/1")
            .header("host", "partner.example")
            .bearer_auth(&partner.key),
    )
    .await
    .expect(200);
    app.via(
        app.through(Method::GET, "/orders/1")
            .bearer_auth(&partner.key),
    )
    .await
    .problem(403, "insufficient_scope");
    let events = app.audit("action=gateway.request").await;
    let routes: Vec<_> = events
        .iter()
        .map(|e| e.route.clone().unwrap_or_default())
        .collect();
    assert_eq!(routes, ["orders-admin", "orders", "partner", "orders"]);
}

#[tokio::test]
async fn an_unreachable_or_slow_upstream_is_a_502_or_504_without_its_details() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let upstream = Upstream::start().await;
    let extra = format!(
        "\n[[gateway.routes]]\nname = \"dead\"\npath_prefix = \"/dead\"\nupstream = \"{dead_url}\"\nauth = [\"api_key\"]\n"
    );
    let app = spawn_app_with(&(config(&upstream, "") + &extra)).await;
    let key = app.create_key("svc", &["orders:read"]).await;
    let reply = app
        .via(app.through(Method::GET, "/dead").bearer_auth(&key.key))
        .await;
    reply.problem(502, "upstream_unreachable");
    assert!(!reply.text().contains("refused"), "{}", reply.text());
    // The upstream's /slow answers after 3 s; the route waits 1 s.
    let reply = app
        .via(
            app.through(Method::GET, "/orders/slow")
                .bearer_auth(&key.key),
        )
        .await;
    reply.problem(504, "upstream_timeout");
    let events = app.audit("action=gateway.request").await;
    let statuses: Vec<_> = events.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(502), Some(504)]);
}

#[tokio::test]
async fn every_decision_is_one_audit_event_with_route_reason_status_and_latency() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("svc", &["orders:read"]).await;
    app.via(app.through(Method::GET, "/orders/1").bearer_auth(&key.key))
        .await
        .expect(200);
    app.via(app.through(Method::GET, "/orders/2"))
        .await
        .expect(401);
    app.via(app.through(Method::GET, "/nowhere"))
        .await
        .expect(404);
    let events = app.audit("action=gateway.request").await;
    assert_eq!(events.len(), 3);
    let allowed = &events[0];
    assert_eq!(allowed.outcome, "allowed");
    assert_eq!(allowed.route.as_deref(), Some("orders"));
    assert_eq!(allowed.principal.as_deref(), Some("svc"));
    assert_eq!(allowed.credential_id.as_deref(), Some(key.info.id.as_str()));
    assert_eq!(allowed.auth_method.as_deref(), Some("api_key"));
    assert_eq!(allowed.path.as_deref(), Some("/orders/1"));
    assert_eq!(allowed.status, Some(200));
    assert!(allowed.latency_us.is_some_and(|l| l > 0));
    assert_eq!(
        (
            events[1].outcome.as_str(),
            events[1].reason.as_deref(),
            events[1].status
        ),
        ("denied", Some("missing_credential"), Some(401))
    );
    assert_eq!(
        (events[2].reason.as_deref(), events[2].route.as_deref()),
        (Some("no_route"), None)
    );
    // The trail never holds the credential.
    let text = app.get("/admin/v1/audit?limit=1000").await.text();
    assert!(!text.contains(&key.key));
}

#[tokio::test]
async fn a_signed_identity_reaches_the_upstream_and_verifies_with_the_jwks() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "identity_jwt = true").await;
    let key = app.create_key("billing", &["orders:read"]).await;
    app.via(app.through(Method::GET, "/orders").bearer_auth(&key.key))
        .await
        .expect(200);
    let seen = upstream.last();
    let identity = seen
        .header("x-gatehouse-identity")
        .expect("a signed identity");
    let verified = app
        .verify_published(identity, "orders", "gatehouse-identity+jwt")
        .await;
    let claims = verified.claims;
    assert_eq!(claims.sub.as_deref(), Some("billing"));
    assert_eq!(claims.scope.as_deref(), Some("orders:read"));
    assert_eq!(claims.exp - claims.iat.unwrap(), 60);
    assert_eq!(claims.jti.as_deref(), seen.header("x-gatehouse-request-id"));
    // It is not an access token: the gateway refuses it as one.
    app.via(app.through(Method::GET, "/orders").bearer_auth(identity))
        .await
        .problem(401, "invalid_credential");
    // A client-sent identity never reaches the upstream: only Gatehouse's own.
    app.via(
        app.through(Method::GET, "/orders")
            .bearer_auth(&key.key)
            .header("x-gatehouse-identity", "forged"),
    )
    .await
    .expect(200);
    let forwarded: Vec<_> = upstream
        .last()
        .headers
        .get_all("x-gatehouse-identity")
        .iter()
        .cloned()
        .collect();
    assert_eq!(forwarded.len(), 1);
    assert_ne!(forwarded[0], "forged");
}
