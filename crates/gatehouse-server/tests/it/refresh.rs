//! Refresh tokens: rotation on every use, reuse revoking the family with its access
//! tokens, exactly one winner of a race, no scope escalation, idle and absolute
//! lifetimes, revocation (RFC 7009), and the events that end a user's grants.

use crate::code_flow::{Browser, CALLBACK, Setup, code_for, exchange, param, setup_with};
use crate::support::Reply;
use gatehouse_api::clients::TokenResponse;
use reqwest::Method;
use serde_json::{Value, json};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn setup() -> Setup {
    setup_with(
        &["authorization_code", "refresh_token"],
        "openid orders:read orders:write",
    )
    .await
}

/// Signs alice in, approves, and exchanges the code.
async fn tokens(s: &Setup) -> TokenResponse {
    let mut browser = Browser::new();
    let code = param(&code_for(s, &mut browser).await, "code").unwrap();
    exchange(s, &code, crate::code_flow::VERIFIER)
        .await
        .expect(200)
        .json()
}

async fn refresh(s: &Setup, token: &str, scope: Option<&str>) -> Reply {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    form.extend(scope.map(|scope| ("scope", scope)));
    s.app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&form),
        )
        .await
}

async fn introspect(s: &Setup, token: &str) -> Value {
    s.app
        .send(
            s.app
                .request(Method::POST, "/oauth/introspect")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[("token", token)]),
        )
        .await
        .expect(200)
        .json()
}

fn error_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 400, "{}", reply.text());
    reply.json::<Value>()["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_refresh_rotates_the_token_and_a_reused_one_revokes_the_family() {
    let s = setup().await;
    let first = tokens(&s).await;
    let r1 = first.refresh_token.clone().expect("a refresh token");
    assert!(r1.starts_with("grt_") && r1.len() == 4 + 46, "{r1}");

    let reply = refresh(&s, &r1, None).await.expect(200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let second: TokenResponse = reply.json();
    let r2 = second.refresh_token.clone().unwrap();
    assert_ne!(r2, r1);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.scope, first.scope);
    let verified = s
        .app
        .verify_published(&second.access_token, &s.app.base, "at+jwt")
        .await;
    assert_eq!(verified.claims.sub.as_deref(), Some(s.user_id.as_str()));
    assert_eq!(introspect(&s, &r2).await["active"], true);
    assert_eq!(introspect(&s, &r1).await["active"], false, "spent");

    // r1 again: a thief or a replay. The family ends: r2 and every access token it
    // issued stop working at once.
    assert_eq!(error_of(&refresh(&s, &r1, None).await), "invalid_grant");
    assert_eq!(error_of(&refresh(&s, &r2, None).await), "invalid_grant");
    assert_eq!(introspect(&s, &second.access_token).await["active"], false);
    assert_eq!(introspect(&s, &first.access_token).await["active"], false);
    let issued: Vec<String> = s
        .app
        .audit("action=oauth.token&outcome=allowed")
        .await
        .into_iter()
        .map(|e| e.reason.unwrap_or_default())
        .collect();
    let user = &s.user_id;
    assert_eq!(
        issued,
        [
            format!("authorization_code for {user}: orders:read"),
            format!("refresh_token for {user}: orders:read")
        ]
    );
    let reuse = s.app.audit("action=oauth.refresh_reuse").await;
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].principal.as_deref(), Some(s.user_id.as_str()));
    assert_eq!(reuse[0].outcome, "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    let s = setup().await;
    let token = tokens(&s).await.refresh_token.unwrap();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = s
            .app
            .request(Method::POST, "/oauth/token")
            .basic_auth(&s.client_id, Some(&s.secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)]);
        attempts.spawn(async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        });
    }
    let replies = attempts.join_all().await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.0).collect();
    let winners: Vec<&Value> = replies
        .iter()
        .filter(|r| r.0 == 200)
        .map(|r| &r.1)
        .collect();
    assert_eq!(winners.len(), 1, "{statuses:?}");
    for (status, body) in replies.iter().filter(|r| r.0 != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    // The losers were reuses: the winner's tokens are revoked with the family.
    let winner: TokenResponse = serde_json::from_value(winners[0].clone()).unwrap();
    assert_eq!(
        error_of(&refresh(&s, &winner.refresh_token.unwrap(), None).await),
        "invalid_grant"
    );
    assert_eq!(introspect(&s, &winner.access_token).await["active"], false);
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
    let s = setup().await;
    let first = tokens(&s).await;
    let granted = first.scope.clone();
    assert_eq!(granted, "orders:read", "authorize_url asks for orders:read");

    let escalation = refresh(
        &s,
        first.refresh_token.as_deref().unwrap(),
        Some("orders:write"),
    )
    .await;
    assert_eq!(error_of(&escalation), "invalid_scope");
    let escalation = refresh(
        &s,
        first.refresh_token.as_deref().unwrap(),
        Some("orders:read admin"),
    )
    .await;
    assert_eq!(error_of(&escalation), "invalid_scope");
    let issued = s.app.audit("action=oauth.token&outcome=allowed").await;
    assert_eq!(issued.len(), 1, "only the code exchange issued anything");

    // A refused request did not spend the token; narrowing works.
    let narrowed: TokenResponse = refresh(
        &s,
        first.refresh_token.as_deref().unwrap(),
        Some("orders:read"),
    )
    .await
    .expect(200)
    .json();
    assert_eq!(narrowed.scope, "orders:read");
}

#[tokio::test]
async fn another_client_cannot_use_a_refresh_token_and_unknown_ones_are_refused() {
    let s = setup().await;
    let token = tokens(&s).await.refresh_token.unwrap();
    let other: Value = s
        .app
        .post(
            "/admin/v1/clients",
            &json!({"name": "other", "grant_types": ["authorization_code", "refresh_token"],
                    "redirect_uris": [CALLBACK], "scope": "orders:read"}),
        )
        .await
        .expect(201)
        .json();
    let reply = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(
                    other["client_id"].as_str().unwrap(),
                    other["client_secret"].as_str(),
                )
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)]),
        )
        .await;
    assert_eq!(error_of(&reply), "invalid_grant");
    // Still good for its own client.
    refresh(&s, &token, None).await.expect(200);

    for bad in [
        "",
        "grt_short",
        "gk_notarefreshtoken",
        &token.replace("grt_", "gk_"),
    ] {
        let reply = refresh(&s, bad, None).await;
        assert!(reply.status == 400, "{bad}: {}", reply.status);
    }
    let missing = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[("grant_type", "refresh_token")]),
        )
        .await;
    assert_eq!(error_of(&missing), "invalid_request");
}

#[tokio::test]
async fn a_client_without_the_refresh_grant_gets_no_refresh_token() {
    let s = setup_with(&["authorization_code"], "orders:read").await;
    let mut browser = Browser::new();
    let code = param(&code_for(&s, &mut browser).await, "code").unwrap();
    let token: Value = exchange(&s, &code, crate::code_flow::VERIFIER)
        .await
        .expect(200)
        .json();
    assert!(token.get("refresh_token").is_none(), "{token}");
    assert!(token.get("id_token").is_none(), "no openid asked");
}

#[tokio::test]
async fn unused_tokens_die_after_the_idle_lifetime_and_families_after_the_absolute_one() {
    let s = setup().await;
    let idle = tokens(&s).await.refresh_token.unwrap();
    s.app.advance_millis(7 * DAY_MS);
    assert_eq!(error_of(&refresh(&s, &idle, None).await), "invalid_grant");

    // Used every six days, a family still ends thirty days after the code exchange.
    let mut current = tokens(&s).await.refresh_token.unwrap();
    for _ in 0..4 {
        s.app.advance_millis(6 * DAY_MS);
        let next: TokenResponse = refresh(&s, &current, None).await.expect(200).json();
        current = next.refresh_token.unwrap();
    }
    s.app.advance_millis(6 * DAY_MS);
    assert_eq!(
        error_of(&refresh(&s, &current, None).await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_only_its_client_may() {
    let s = setup().await;
    let first = tokens(&s).await;
    let token = first.refresh_token.unwrap();
    let revoke = |client: (&str, &str)| {
        s.app
            .request(Method::POST, "/oauth/revoke")
            .basic_auth(client.0, Some(client.1))
            .form(&[
                ("token", token.as_str()),
                ("token_type_hint", "refresh_token"),
            ])
    };
    let other: Value = s
        .app
        .post(
            "/admin/v1/clients",
            &json!({"name": "other", "grant_types": ["client_credentials"], "scope": "orders:read"}),
        )
        .await
        .expect(201)
        .json();
    let other_id = other["client_id"].as_str().unwrap();
    let other_secret = other["client_secret"].as_str().unwrap();
    // Another client is answered as for an unknown token and revokes nothing.
    s.app
        .send(revoke((other_id, other_secret)))
        .await
        .expect(200);
    assert_eq!(introspect(&s, &token).await["active"], true);

    s.app
        .send(revoke((&s.client_id, &s.secret)))
        .await
        .expect(200);
    assert_eq!(introspect(&s, &token).await["active"], false);
    assert_eq!(introspect(&s, &first.access_token).await["active"], false);
    assert_eq!(error_of(&refresh(&s, &token, None).await), "invalid_grant");
    // Revoking again is fine (RFC 7009 §2.2).
    s.app
        .send(revoke((&s.client_id, &s.secret)))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_password_change_a_disabled_user_or_a_withdrawn_consent_ends_refresh_tokens() {
    let s = setup().await;
    let user = format!("/admin/v1/users/{}", s.user_id);

    let token = tokens(&s).await.refresh_token.unwrap();
    s.app
        .post(
            &format!("{user}/password"),
            &json!({"password": "another long passphrase"}),
        )
        .await
        .expect(200);
    assert_eq!(error_of(&refresh(&s, &token, None).await), "invalid_grant");
    s.app
        .post(
            &format!("{user}/password"),
            &json!({"password": crate::code_flow::PASSWORD}),
        )
        .await
        .expect(200);

    let token = tokens(&s).await.refresh_token.unwrap();
    s.app
        .patch(&user, &json!({"enabled": false}))
        .await
        .expect(200);
    assert_eq!(error_of(&refresh(&s, &token, None).await), "invalid_grant");
    s.app
        .patch(&user, &json!({"enabled": true}))
        .await
        .expect(200);

    let token = tokens(&s).await;
    let consents: Value = s
        .app
        .get(&format!("{user}/consents"))
        .await
        .expect(200)
        .json();
    assert_eq!(consents[0]["client_id"], s.client_id.as_str());
    assert_eq!(consents[0]["scopes"], json!(["orders:read"]));
    s.app
        .delete(&format!("{user}/consents/{}", s.client_id))
        .await
        .expect(204);
    let refresh_token = token.refresh_token.unwrap();
    assert_eq!(
        error_of(&refresh(&s, &refresh_token, None).await),
        "invalid_grant"
    );
    assert_eq!(introspect(&s, &token.access_token).await["active"], false);
    let consents: Value = s
        .app
        .get(&format!("{user}/consents"))
        .await
        .expect(200)
        .json();
    assert_eq!(consents, json!([]));
    s.app
        .delete(&format!("{user}/consents/{}", s.client_id))
        .await
        .expect(404);
    // The consent page is asked again, not skipped as remembered.
    let approvals = || async {
        s.app
            .audit("action=oauth.consent&outcome=allowed")
            .await
            .into_iter()
            .map(|e| e.reason.unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let before = approvals().await;
    let mut browser = Browser::new();
    let back = code_for(&s, &mut browser).await;
    assert!(param(&back, "code").is_some());
    let after = approvals().await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(
        after.last().map(String::as_str),
        Some("approved: orders:read")
    );
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_digests() {
    let mut s = setup().await;
    let token = tokens(&s).await.refresh_token.unwrap();
    let next: TokenResponse = refresh(&s, &token, None).await.expect(200).json();
    let next = next.refresh_token.unwrap();
    s.app.stop().await;
    for entry in std::fs::read_dir(s.app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for secret in [&token, &next] {
            let body = &secret[4..];
            assert!(
                !bytes.windows(body.len()).any(|w| w == body.as_bytes()),
                "{} holds a refresh token",
                path.display()
            );
        }
    }
    // And they survive a restart.
    s.app.restart().await;
    refresh(&s, &next, None).await.expect(200);
}

/// Runs `sql` on the running server's database through a connection of its own.
async fn behind_the_server(s: &Setup, sql: &'static str) {
    let url = format!(
        "sqlite://{}",
        s.app.dir.path().join("gatehouse.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open database");
    sqlx::query(sql).execute(&pool).await.expect(sql);
    pool.close().await;
}

#[tokio::test]
async fn a_store_failure_during_a_token_request_is_a_server_error_not_the_client_s() {
    let s = setup().await;
    let refresh_token = tokens(&s).await.refresh_token.expect("a refresh token");
    // The store fails under the running server: the refresh tokens' table is gone.
    behind_the_server(
        &s,
        "ALTER TABLE refresh_tokens RENAME TO refresh_tokens_away",
    )
    .await;
    let reply = s
        .app
        .send_during_a_fault(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.as_str()),
                ]),
        )
        .await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    let body: Value = reply.json();
    assert_eq!(body["error"], "server_error");
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap()
            .contains("refresh_tokens"),
        "the store's error stays in the server's log: {body}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let failed: Vec<_> = s
        .app
        .audit("action=oauth.token&outcome=denied")
        .await
        .into_iter()
        .filter(|e| e.status == Some(500))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].reason.as_deref(), Some("server_error"));

    // The request was fine: once the store is back, the same token works.
    behind_the_server(
        &s,
        "ALTER TABLE refresh_tokens_away RENAME TO refresh_tokens",
    )
    .await;
    refresh(&s, &refresh_token, None).await.expect(200);
}
