//! `POST /oauth/token` with client credentials, and the clients admin API behind it:
//! the happy paths, then every refusal — each with its RFC 6749 error, none issuing
//! a token, all audited.

use crate::support::{TestApp, spawn_app};
use gatehouse_api::Page;
use gatehouse_api::clients::{Client, ClientWithSecret, TokenResponse};
use reqwest::Method;
use serde_json::{Value, json};

async fn register(app: &TestApp, body: Value) -> ClientWithSecret {
    app.post("/admin/v1/clients", &body)
        .await
        .expect(201)
        .json()
}

fn secret(c: &ClientWithSecret) -> &str {
    c.client_secret
        .as_deref()
        .expect("a secret client shows its secret once")
}

async fn billing(app: &TestApp) -> ClientWithSecret {
    register(
        app,
        json!({"name": "billing", "scope": "orders:read orders:write", "audience": ["orders"]}),
    )
    .await
}

async fn basic(
    app: &TestApp,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> crate::support::Reply {
    app.send(
        app.request(Method::POST, "/oauth/token")
            .basic_auth(id, Some(secret))
            .form(form),
    )
    .await
}

async fn post(app: &TestApp, form: &[(&str, &str)]) -> crate::support::Reply {
    app.send(app.request(Method::POST, "/oauth/token").form(form))
        .await
}

/// Asserts an RFC 6749 error answer.
fn refused(reply: &crate::support::Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body: Value = reply.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
    assert!(body.get("access_token").is_none());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    if status == 401 {
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Basic realm=\"gatehouse\"")
        );
    }
}

async fn verified(
    app: &TestApp,
    token: &str,
    audience: &str,
) -> gatehouse_core::jose::VerifiedToken {
    app.verify_published(token, audience, "at+jwt").await
}

#[tokio::test]
async fn client_credentials_with_basic_authentication() {
    let app = spawn_app().await;
    let client = billing(&app).await;
    assert!(secret(&client).starts_with("gcs_"));
    let reply = basic(
        &app,
        &client.client.client_id,
        secret(&client),
        &[("grant_type", "client_credentials")],
    )
    .await
    .expect(200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let token: TokenResponse = reply.json();
    assert_eq!(
        (token.token_type.as_str(), token.expires_in),
        ("Bearer", 600)
    );
    assert_eq!(token.scope, "orders:read orders:write");
    let v = verified(&app, &token.access_token, "orders").await;
    let c = v.claims;
    assert_eq!(c.sub.as_deref(), Some(client.client.client_id.as_str()));
    assert_eq!(c.client_id, c.sub);
    assert_eq!(c.scope.as_deref(), Some("orders:read orders:write"));
    assert_eq!(c.exp - c.iat.unwrap(), 600);
    assert!(c.jti.as_deref().is_some_and(|j| j.len() == 22));

    // A narrower request is narrowed; the answer says what was granted.
    let reply = basic(
        &app,
        &client.client.client_id,
        secret(&client),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read gatehouse:admin"),
        ],
    )
    .await
    .expect(200);
    assert_eq!(reply.json::<TokenResponse>().scope, "orders:read");

    let events = app.audit("action=oauth.token").await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.outcome == "allowed"
        && e.principal.as_deref() == Some(client.client.client_id.as_str())));
    assert_eq!(
        events[0].target, c.jti,
        "the audit names the token id, never the token"
    );
    assert!(!app.audit("").await.iter().any(|e| {
        serde_json::to_string(e)
            .unwrap()
            .contains(&token.access_token)
    }));
}

#[tokio::test]
async fn client_credentials_with_post_authentication_and_lifetimes() {
    let app = spawn_app().await;
    let client = register(
        &app,
        json!({"name": "cron", "scope": "jobs:run", "token_endpoint_auth_method": "client_secret_post",
               "access_token_ttl": 86400}),
    )
    .await;
    let id = client.client.client_id.as_str();
    let reply = post(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret(&client)),
        ],
    )
    .await
    .expect(200);
    let token: TokenResponse = reply.json();
    assert_eq!(token.expires_in, 3600, "capped by tokens.max_access_ttl");
    let issuer = app.state().settings.public_url.clone();
    let v = verified(&app, &token.access_token, &issuer).await;
    assert_eq!(v.claims.exp - v.claims.iat.unwrap(), 3600);

    // The same client with Basic: it registered post.
    let reply = basic(
        &app,
        id,
        secret(&client),
        &[("grant_type", "client_credentials")],
    )
    .await;
    refused(&reply, 401, "invalid_client");
}

#[tokio::test]
async fn every_refusal_has_its_rfc_error_and_issues_nothing() {
    let app = spawn_app().await;
    let client = billing(&app).await;
    let id = client.client.client_id.as_str();
    let secret = secret(&client);
    let cc = ("grant_type", "client_credentials");

    refused(
        &basic(&app, "cli_nobody", secret, &[cc]).await,
        401,
        "invalid_client",
    );
    refused(
        &basic(&app, id, "gcs_wrong", &[cc]).await,
        401,
        "invalid_client",
    );
    refused(
        &basic(&app, id, &secret[..secret.len() - 1], &[cc]).await,
        401,
        "invalid_client",
    );
    refused(&post(&app, &[cc]).await, 401, "invalid_client");
    refused(
        &post(&app, &[cc, ("client_id", id), ("client_secret", secret)]).await,
        401,
        "invalid_client",
    );
    refused(
        &basic(&app, id, secret, &[cc, ("client_secret", secret)]).await,
        400,
        "invalid_request",
    );
    refused(&basic(&app, id, secret, &[]).await, 400, "invalid_request");
    refused(
        &basic(&app, id, secret, &[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
    );
    refused(
        &basic(&app, id, secret, &[cc, ("scope", "gatehouse:admin")]).await,
        400,
        "invalid_scope",
    );
    refused(
        &basic(&app, id, secret, &[cc, ("scope", "bad\"scope")]).await,
        400,
        "invalid_scope",
    );
    refused(
        &basic(
            &app,
            id,
            secret,
            &[cc, ("grant_type", "client_credentials")],
        )
        .await,
        400,
        "invalid_request",
    );
    // A credential parameter given twice (RFC 6749 §3.2), whichever comes first.
    let post_client = register(
        &app,
        json!({"name": "poster", "scope": "orders:read", "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let post_id = post_client.client.client_id.as_str();
    let post_secret = post_client.client_secret.as_deref().unwrap();
    for secrets in [[post_secret, "gcs_wrong"], ["gcs_wrong", post_secret]] {
        let reply = post(
            &app,
            &[
                cc,
                ("client_id", post_id),
                ("client_secret", secrets[0]),
                ("client_secret", secrets[1]),
            ],
        )
        .await;
        refused(&reply, 400, "invalid_request");
    }
    let json_body = app
        .send(
            app.request(Method::POST, "/oauth/token")
                .basic_auth(id, Some(secret))
                .json(&json!({"grant_type": "client_credentials"})),
        )
        .await;
    refused(&json_body, 400, "invalid_request");
    let bearer = app
        .send(
            app.request(Method::POST, "/oauth/token")
                .bearer_auth(secret)
                .form(&[cc]),
        )
        .await;
    refused(&bearer, 401, "invalid_client");
    let garbage = app
        .send(
            app.request(Method::POST, "/oauth/token")
                .header("authorization", "Basic !!!")
                .form(&[cc]),
        )
        .await;
    refused(&garbage, 401, "invalid_client");

    // Disabled, then deleted.
    app.patch(
        &format!("/admin/v1/clients/{id}"),
        &json!({"enabled": false}),
    )
    .await
    .expect(200);
    refused(&basic(&app, id, secret, &[cc]).await, 401, "invalid_client");
    app.delete(&format!("/admin/v1/clients/{id}"))
        .await
        .expect(204);
    refused(&basic(&app, id, secret, &[cc]).await, 401, "invalid_client");

    let events = app.audit("action=oauth.token").await;
    assert_eq!(events.len(), 18);
    assert!(
        events
            .iter()
            .all(|e| e.outcome == "denied" && e.target.is_none())
    );
    let reasons: Vec<_> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert!(reasons.contains(&"invalid_scope") && reasons.contains(&"unsupported_grant_type"));
}

#[tokio::test]
async fn rotating_a_secret_retires_the_old_one_at_once() {
    let app = spawn_app().await;
    let client = billing(&app).await;
    let id = client.client.client_id.clone();
    let rotated: ClientWithSecret = app
        .post(&format!("/admin/v1/clients/{id}/rotate-secret"), &json!({}))
        .await
        .expect(200)
        .json();
    assert_ne!(secret(&rotated), secret(&client));
    let cc = [("grant_type", "client_credentials")];
    refused(
        &basic(&app, &id, secret(&client), &cc).await,
        401,
        "invalid_client",
    );
    basic(&app, &id, secret(&rotated), &cc).await.expect(200);
}

#[tokio::test]
async fn the_clients_api_checks_scopes_and_never_shows_a_secret_again() {
    let mut app = spawn_app().await;
    let client = billing(&app).await;
    let id = client.client.client_id.clone();
    let shown: Client = app
        .get(&format!("/admin/v1/clients/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(shown, client.client);
    let listed = app.get("/admin/v1/clients").await.expect(200);
    assert!(!listed.text().contains(secret(&client)));
    assert!(!listed.text().contains("\"client_secret\""));

    let clerk = app.create_key("clerk", &["gatehouse:clients"]).await;
    let reply = app
        .call(
            Method::POST,
            "/admin/v1/clients",
            &clerk.key,
            Some(&json!({"name": "x", "scope": "orders:read"})),
        )
        .await;
    reply.problem(403, "scope_escalation");
    app.call(
        Method::DELETE,
        &format!("/admin/v1/clients/{id}"),
        &clerk.key,
        None,
    )
    .await
    .problem(403, "scope_escalation");
    let keys_only = app.create_key("keys", &["gatehouse:keys"]).await;
    app.call(Method::GET, "/admin/v1/clients", &keys_only.key, None)
        .await
        .problem(403, "insufficient_scope");

    for bad in [
        json!({"name": "x", "grant_types": ["password"]}),
        json!({"name": "x", "grant_types": []}),
        json!({"name": "x", "token_endpoint_auth_method": "none"}),
        json!({"name": "x", "access_token_ttl": 0}),
        json!({"name": "", "scope": "a"}),
        json!({"name": "x", "client_secret": "chosen"}),
        json!({"name": "x", "scope": "bad\"scope"}),
    ] {
        let reply = app.post("/admin/v1/clients", &bad).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text());
    }
    assert_eq!(
        app.get("/admin/v1/clients")
            .await
            .json::<Page<Client>>()
            .items
            .len(),
        1
    );

    // Persisted, and the store holds only the secret's digest.
    app.restart().await;
    let cc = [("grant_type", "client_credentials")];
    basic(&app, &id, secret(&client), &cc).await.expect(200);
    app.stop().await;
    let secret = secret(&client).as_bytes();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    }
}

#[tokio::test]
async fn metadata_lists_exactly_what_is_served() {
    let app = spawn_app().await;
    let issuer = app.state().settings.public_url.clone();
    // Listening on port 0, the default issuer names the port actually bound.
    let port = app.state().settings.listen.port();
    assert!(!issuer.ends_with(":0") && port == 0, "{issuer}");
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta: Value = app
            .send(app.request(Method::GET, path))
            .await
            .expect(200)
            .json();
        assert_eq!(meta["issuer"], issuer.as_str());
        assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth/token"));
        assert_eq!(meta["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
        assert_eq!(
            meta["grant_types_supported"],
            json!(["client_credentials", "authorization_code", "refresh_token"])
        );
        assert_eq!(meta["response_types_supported"], json!(["code"]));
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            meta["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none"
            ])
        );
        assert_eq!(
            meta["authorization_endpoint"],
            format!("{issuer}/oauth/authorize")
        );
        if path.contains("openid") {
            assert_eq!(
                meta["userinfo_endpoint"],
                format!("{issuer}/oauth/userinfo")
            );
            assert_eq!(meta["subject_types_supported"], json!(["public"]));
            assert_eq!(
                meta["id_token_signing_alg_values_supported"],
                json!(["ES256"])
            );
            assert_eq!(meta["request_uri_parameter_supported"], false);
            assert_eq!(
                meta["scopes_supported"],
                json!(["openid", "profile", "email"])
            );
        } else {
            assert!(meta.get("userinfo_endpoint").is_none(), "OIDC only");
        }
        // Nothing advertised that is not served.
        for field in [
            "userinfo_endpoint",
            "token_endpoint",
            "jwks_uri",
            "introspection_endpoint",
            "revocation_endpoint",
        ] {
            let Some(url) = meta[field].as_str() else {
                continue;
            };
            let path = url.strip_prefix(&issuer).unwrap();
            let method = if matches!(field, "jwks_uri" | "userinfo_endpoint") {
                Method::GET
            } else {
                Method::POST
            };
            let status = app.send(app.request(method, path)).await.status;
            assert_ne!(status, 404, "{url}");
        }
    }
}

#[tokio::test]
async fn clients_are_listed_a_page_at_a_time() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(register(&app, json!({"name": name})).await.client.client_id);
    }
    let first: Page<Client> = app
        .get("/admin/v1/clients?limit=2")
        .await
        .expect(200)
        .json();
    let cursor = first.next_cursor.clone().expect("a second page");
    let second: Page<Client> = app
        .get(&format!("/admin/v1/clients?limit=2&cursor={cursor}"))
        .await
        .expect(200)
        .json();
    let listed: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|c| c.client_id.clone())
        .collect();
    // By id: the clock stands still here, so the ids' random part orders them.
    ids.sort();
    assert_eq!(listed, ids);
    assert_eq!(second.next_cursor, None);
    app.get("/admin/v1/clients?limit=0")
        .await
        .problem(400, "invalid_query");
    app.get("/admin/v1/clients?page=2")
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn a_burst_of_wrong_secrets_gets_twenty_checks_then_429_even_for_the_right_one() {
    let app = spawn_app().await;
    let c = billing(&app).await;
    let id = c.client.client_id.clone();
    let url = format!("{}/oauth/token", app.base);
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..150 {
        let request = app
            .client
            .post(&url)
            .basic_auth(&id, Some(format!("gcs_wrong{i}")))
            .form(&[("grant_type", "client_credentials")]);
        burst.spawn(async move {
            let response = request.send().await.unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        });
    }
    let (mut checked, mut throttled) = (0, 0);
    while let Some(answer) = burst.join_next().await {
        let (status, retry_after, body) = answer.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
        match status {
            401 => checked += 1,
            429 => {
                throttled += 1;
                let secs: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
                assert!((1..=300).contains(&secs), "{secs}");
            }
            other => panic!("status {other}: {body}"),
        }
    }
    assert_eq!((checked, throttled), (20, 130));

    // The right secret, within the lock, is refused unchecked too.
    let reply = basic(
        &app,
        &id,
        secret(&c),
        &[("grant_type", "client_credentials")],
    )
    .await;
    refused(&reply, 429, "invalid_client");
    assert!(reply.header("retry-after").is_some());
    let events = app.audit("action=oauth.token&outcome=denied").await;
    let throttled_events = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("throttled"))
        .count();
    assert_eq!(throttled_events, 131);

    // Once the lock is over, the right secret works again.
    app.advance_millis(5 * 60 * 1000);
    basic(
        &app,
        &id,
        secret(&c),
        &[("grant_type", "client_credentials")],
    )
    .await
    .expect(200);
}
