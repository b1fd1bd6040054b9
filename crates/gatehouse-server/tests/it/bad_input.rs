//! SPEC §10: malformed, oversized and hostile input gets a 4xx problem, never a 500,
//! and changes nothing.

use crate::support::{Reply, TestApp, spawn_app, with_bad_checksum};
use gatehouse_api::keys::Key;
use reqwest::Method;
use serde_json::json;

/// Every key as the admin sees it, usage included: equal snapshots mean nothing changed.
pub async fn snapshot(app: &TestApp) -> Vec<Key> {
    app.all_keys(1000).await
}

/// Sends `body` as JSON text (not re-encoded) with the admin key.
pub async fn raw(app: &TestApp, method: Method, path: &str, body: impl Into<Vec<u8>>) -> Reply {
    let request = app
        .request(method, path)
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(body.into());
    app.send(request).await
}

#[tokio::test]
async fn malformed_keys_sent_for_verification_are_400_and_consume_nothing() {
    let app = spawn_app().await;
    let metered = app
        .create(&json!({"name": "metered", "remaining": 5}))
        .await;
    let (prefix, body) = metered.key.split_once('_').unwrap();
    let before = snapshot(&app).await;
    for bad in [
        String::new(),
        "not-a-key".to_owned(),
        with_bad_checksum(&metered.key),
        metered.key.to_uppercase(),
        format!("{}_{body}", prefix.to_uppercase()),
        format!("{}_{body}", "a".repeat(17)),
        format!("{prefix}{body}"),
        format!("{}x", metered.key),
        metered.key[..metered.key.len() - 1].to_owned(),
        format!("{prefix}_{}é", &body[..45]),
        format!("{prefix}_{}", "A".repeat(9000)),
        format!(" {}", metered.key),
    ] {
        let reply = app
            .post("/v1/keys/verify", &json!({"key": bad, "scopes": []}))
            .await;
        let problem = reply.problem(400, "malformed_key");
        assert!(
            bad.is_empty() || !problem.detail.contains(&bad),
            "{problem:?}"
        );
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.verify(&metered.key, &[]).await.remaining, Some(4));
    app.assert_no_key_leaked();
}

#[tokio::test]
async fn oversized_bodies_and_headers_are_refused() {
    let app = spawn_app().await;
    let key = app.create_key("target", &[]).await;
    let before = snapshot(&app).await;
    let huge = format!(r#"{{"key":"{}"}}"#, "a".repeat(1 << 20));
    raw(&app, Method::POST, "/v1/keys/verify", huge)
        .await
        .problem(413, "body_too_large");
    let huge_name = format!(r#"{{"name":"{}"}}"#, "a".repeat(1 << 20));
    raw(&app, Method::POST, "/admin/v1/keys", huge_name)
        .await
        .problem(413, "body_too_large");
    let path = format!("/admin/v1/keys/{}", key.info.id);
    let huge_patch = format!(r#"{{"name":"{}"}}"#, "a".repeat(1 << 20));
    raw(&app, Method::PATCH, &path, huge_patch)
        .await
        .problem(413, "body_too_large");
    let huge_grace = format!(r#"{{"grace_period_seconds":{}}}"#, "1".repeat(1 << 20));
    raw(&app, Method::POST, &format!("{path}/rotate"), huge_grace)
        .await
        .problem(413, "body_too_large");
    let big_headers = app
        .request(Method::GET, "/admin/v1/keys")
        .bearer_auth(&app.admin_key)
        .header("x-padding", "p".repeat(17 * 1024));
    app.send(big_headers)
        .await
        .problem(431, "headers_too_large");
    let many_headers = (0..40).fold(app.request(Method::GET, "/healthz"), |r, i| {
        r.header(format!("x-pad-{i}"), "q".repeat(500))
    });
    app.send(many_headers)
        .await
        .problem(431, "headers_too_large");
    assert_eq!(snapshot(&app).await, before);
    // Just under the limits is fine.
    let fits = format!(
        r#"{{"name":"fits","metadata":{{"pad":"{}"}}}}"#,
        "b".repeat(60_000)
    );
    raw(&app, Method::POST, "/admin/v1/keys", fits)
        .await
        .expect(201);
    assert_eq!(snapshot(&app).await.len(), before.len() + 1);
}

#[tokio::test]
async fn wrong_content_type_routes_methods_and_queries_are_4xx_problems() {
    let app = spawn_app().await;
    let key = app.create_key("existing", &[]).await;
    let before = snapshot(&app).await;
    let body = serde_json::to_vec(&json!({"key": key.key})).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .request(Method::POST, "/v1/keys/verify")
            .bearer_auth(&app.admin_key)
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        app.send(request)
            .await
            .problem(415, "unsupported_media_type");
    }
    let rotate = app
        .request(
            Method::POST,
            &format!("/admin/v1/keys/{}/rotate", key.info.id),
        )
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body("{}");
    app.send(rotate)
        .await
        .problem(415, "unsupported_media_type");

    app.get("/nope").await.problem(404, "no_route");
    app.get("/admin/v1/nope").await.problem(404, "no_route");
    app.get("/admin/v1/keys/not-a-key-id")
        .await
        .problem(404, "not_found");
    app.get("/admin/v1/keys/key_0000000000000000000000000")
        .await
        .problem(404, "not_found");
    app.get("/admin/v1/keys/%00%ff")
        .await
        .problem(404, "not_found");
    let put = app
        .call(Method::PUT, "/admin/v1/keys", &app.admin_key, None)
        .await;
    put.problem(405, "method_not_allowed");
    assert_eq!(put.header("allow"), Some("GET,HEAD,POST"));
    app.get("/v1/keys/verify")
        .await
        .problem(405, "method_not_allowed");
    app.delete("/admin/v1/audit")
        .await
        .problem(405, "method_not_allowed");

    for query in [
        "limit=0",
        "limit=5000",
        "limit=-1",
        "limit=abc",
        "colour=red",
    ] {
        app.get(&format!("/admin/v1/keys?{query}"))
            .await
            .problem(400, "invalid_query");
    }
    for query in [
        "limit=0",
        "limit=1001",
        "order=sideways",
        "outcome=maybe",
        "cursor=abc",
        "since=yesterday",
        "until=2027-13-45T00:00:00Z",
        "colour=red",
    ] {
        app.get(&format!("/admin/v1/audit?{query}"))
            .await
            .problem(400, "invalid_query");
    }
    assert_eq!(snapshot(&app).await, before);
    app.assert_no_key_leaked();
}

#[tokio::test]
async fn random_bytes_never_cause_a_server_error() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces: [&[u8]; 12] = [
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"key\"",
        b"\"name\"",
        b":",
        b",",
        b"null",
        b"\"gk_",
        b"\\u0000",
        b"1e999",
    ];
    for i in 0..120 {
        let mut body = Vec::new();
        for _ in 0..(next() % 16) {
            if next() % 3 == 0 {
                body.push((next() % 256) as u8);
            } else {
                body.extend_from_slice(pieces[(next() % 12) as usize]);
            }
        }
        let path = ["/v1/keys/verify", "/admin/v1/keys"][i % 2];
        let reply = raw(&app, Method::POST, path, body.clone()).await;
        assert!(
            (400..500).contains(&reply.status),
            "{path} {:?} answered {}",
            String::from_utf8_lossy(&body),
            reply.status
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn names_and_subjects_with_bidi_controls_or_line_separators_are_refused() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    for bad in [
        "invoice\u{202E}fdp.exe",
        "a\u{2028}b",
        "a\u{2029}b",
        "\u{2066}x\u{2069}",
        "x\u{200F}",
        "x\u{061C}",
        "x\u{85}",
    ] {
        let attempts = [
            ("/admin/v1/keys", json!({"name": bad, "scopes": ["a:read"]})),
            (
                "/admin/v1/keys",
                json!({"name": "ok", "subject": bad, "scopes": ["a:read"]}),
            ),
            (
                "/admin/v1/keys",
                json!({"name": "ok", "scopes": ["a:read"], "metadata": {bad: 1}}),
            ),
            ("/admin/v1/clients", json!({"name": bad, "scope": "a:read"})),
            (
                "/admin/v1/users",
                json!({"username": "zoe", "password": "correct horse battery staple",
                       "display_name": bad, "scopes": ["a:read"]}),
            ),
        ];
        for (path, body) in attempts {
            let problem = app.post(path, &body).await.problem(400, "invalid_field");
            assert!(problem.detail.contains("U+"), "{path}: {}", problem.detail);
        }
    }
    assert_eq!(snapshot(&app).await, before);
    let clients: serde_json::Value = app.get("/admin/v1/clients").await.expect(200).json();
    assert_eq!(clients["items"], json!([]));
    let users: serde_json::Value = app.get("/admin/v1/users").await.expect(200).json();
    assert_eq!(users["items"], json!([]));
    // Any script is fine.
    app.post(
        "/admin/v1/keys",
        &json!({"name": "חשבוניות — Zoë", "scopes": ["a:read"]}),
    )
    .await
    .expect(201);
}
