//! OpenID Connect on the code flow: the ID token (signature, audience, nonce,
//! `at_hash`, `auth_time`), on refresh too; `/oauth/userinfo` and its refusals;
//! `prompt=none`.

use crate::code_flow::{
    Browser, Setup, VERIFIER, authorize_url, code_at, exchange, location, param, setup_with,
};
use crate::support::Reply;
use base64::Engine;
use gatehouse_api::clients::TokenResponse;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The scope most authorization requests of this file ask for.
const OIDC_SCOPE: &str = "&scope=openid%20profile%20email%20orders:read";

async fn setup() -> Setup {
    let s = setup_with(
        &["authorization_code", "refresh_token"],
        "openid profile email orders:read",
    )
    .await;
    s.app
        .patch(
            &format!("/admin/v1/users/{}", s.user_id),
            &json!({"display_name": "Alice Liddell", "email": "alice@example.com"}),
        )
        .await
        .expect(200);
    s
}

/// `authorize_url` asking for `scope` (it names its own, replaced here) plus `extra`.
fn with_scope(s: &Setup, scope: &str, extra: &str) -> String {
    let url = authorize_url(s, extra);
    let (start, rest) = url.split_once("&scope=").unwrap();
    let rest = rest.split_once('&').map_or("", |(_, r)| r);
    format!("{start}{scope}&{rest}")
}

/// Alice signs in for `scope` with `nonce`; the code is exchanged.
async fn sign_in(s: &Setup, scope: &str, nonce: &str) -> TokenResponse {
    let mut browser = Browser::new();
    let url = with_scope(s, scope, &format!("&nonce={nonce}"));
    let code = param(&code_at(s, &mut browser, &url).await, "code").unwrap();
    exchange(s, &code, VERIFIER).await.expect(200).json()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn at_hash(access_token: &str) -> String {
    let hash = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash[..16])
}

async fn userinfo(s: &Setup, authorization: Option<&str>) -> Reply {
    let mut request = s.app.request(Method::GET, "/oauth/userinfo");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    s.app.send(request).await
}

#[tokio::test]
async fn an_openid_grant_yields_an_id_token_bound_to_nonce_access_token_and_client() {
    let s = setup().await;
    let token = sign_in(&s, OIDC_SCOPE, "n-0S6_WzA2Mj").await;
    assert_eq!(token.scope, "email openid orders:read profile");
    let id_token = token.id_token.clone().expect("an ID token for openid");
    // Signed with a published key, for this client, typ JWT (not at+jwt).
    let verified = s.app.verify_published(&id_token, &s.client_id, "JWT").await;
    assert_eq!(verified.claims.sub.as_deref(), Some(s.user_id.as_str()));
    let c = claims(&id_token);
    assert_eq!(c["iss"], s.app.base.as_str());
    assert_eq!(c["aud"], s.client_id.as_str());
    assert_eq!(c["azp"], s.client_id.as_str());
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(c["at_hash"], at_hash(&token.access_token));
    assert_eq!(c["auth_time"], c["iat"], "signed in just now");
    // The access token is not an ID token, nor the other way round.
    assert_eq!(claims(&token.access_token).get("nonce"), None);

    // A refresh an hour later: a new ID token, same user and sign-in time, no nonce.
    s.app.advance_millis(60 * 60 * 1000);
    let refreshed: TokenResponse = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.refresh_token.as_deref().unwrap()),
                ]),
        )
        .await
        .expect(200)
        .json();
    let again = claims(refreshed.id_token.as_deref().unwrap());
    assert_eq!(again["sub"], c["sub"]);
    assert_eq!(again["auth_time"], c["auth_time"]);
    assert_eq!(
        again["iat"].as_i64().unwrap(),
        c["iat"].as_i64().unwrap() + 3600
    );
    assert!(again.get("nonce").is_none(), "{again}");
    assert_eq!(again["at_hash"], at_hash(&refreshed.access_token));

    // Without openid, no ID token.
    let plain = sign_in(&s, "&scope=orders:read", "x").await;
    assert!(plain.id_token.is_none());
}

#[tokio::test]
async fn userinfo_answers_what_the_scopes_allow_about_the_user() {
    let s = setup().await;
    let full = sign_in(&s, OIDC_SCOPE, "n1").await;
    let reply = userinfo(&s, Some(&format!("Bearer {}", full.access_token)))
        .await
        .expect(200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.json::<Value>(),
        json!({"sub": s.user_id, "name": "Alice Liddell", "preferred_username": "alice",
               "email": "alice@example.com"})
    );
    // POST works too (OIDC Core §5.3.1).
    let posted: Value = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/userinfo")
                .bearer_auth(&full.access_token),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(posted["sub"], s.user_id.as_str());

    let bare = sign_in(&s, "&scope=openid", "n2").await;
    let reply = userinfo(&s, Some(&format!("Bearer {}", bare.access_token)))
        .await
        .expect(200);
    assert_eq!(reply.json::<Value>(), json!({"sub": s.user_id}));
    let events = s.app.audit("action=oauth.userinfo&outcome=allowed").await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].principal.as_deref(), Some(s.user_id.as_str()));
}

#[tokio::test]
async fn userinfo_refuses_missing_malformed_foreign_revoked_and_unscoped_tokens() {
    let s = setup().await;
    let challenge = |r: &Reply| r.header("www-authenticate").unwrap_or_default().to_owned();

    let reply = userinfo(&s, None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(challenge(&reply), r#"Bearer realm="gatehouse""#);
    let reply = userinfo(&s, Some("Basic YWxpY2U6cHc=")).await;
    assert_eq!(reply.status, 400);
    assert!(challenge(&reply).contains(r#"error="invalid_request""#));
    for garbage in [
        "Bearer x",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
        "Bearer gk_notatoken",
    ] {
        let reply = userinfo(&s, Some(garbage)).await;
        assert_eq!(reply.status, 401, "{garbage}");
        assert!(challenge(&reply).contains(r#"error="invalid_token""#));
    }

    // A token without openid: 403 insufficient_scope.
    let plain = sign_in(&s, "&scope=orders:read", "n").await;
    let reply = userinfo(&s, Some(&format!("Bearer {}", plain.access_token))).await;
    assert_eq!(reply.status, 403);
    assert!(challenge(&reply).contains(r#"error="insufficient_scope""#));

    // A client's own token names no user, even with openid.
    let machine: Value = s
        .app
        .post(
            "/admin/v1/clients",
            &json!({"name": "m", "grant_types": ["client_credentials"], "scope": "openid"}),
        )
        .await
        .expect(201)
        .json();
    let machine_token: TokenResponse = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(
                    machine["client_id"].as_str().unwrap(),
                    machine["client_secret"].as_str(),
                )
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
        .expect(200)
        .json();
    let reply = userinfo(&s, Some(&format!("Bearer {}", machine_token.access_token))).await;
    assert_eq!(reply.status, 401);

    // Revoked, then a deleted user: refused at once.
    let token = sign_in(&s, OIDC_SCOPE, "n").await;
    s.app
        .send(
            s.app
                .request(Method::POST, "/oauth/revoke")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[("token", token.access_token.as_str())]),
        )
        .await
        .expect(200);
    let reply = userinfo(&s, Some(&format!("Bearer {}", token.access_token))).await;
    assert_eq!(reply.status, 401);
    let token = sign_in(&s, OIDC_SCOPE, "n").await;
    s.app
        .delete(&format!("/admin/v1/users/{}", s.user_id))
        .await
        .expect(204);
    let reply = userinfo(&s, Some(&format!("Bearer {}", token.access_token))).await;
    assert_eq!(reply.status, 401);
    let refused = s.app.audit("action=oauth.userinfo&outcome=denied").await;
    assert_eq!(refused.len(), 9);
}

#[tokio::test]
async fn prompt_none_never_shows_a_page() {
    let s = setup().await;
    let mut browser = Browser::new();
    let back = location(&browser.get(&authorize_url(&s, "&prompt=none")).await);
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-42"));

    // Signed in, but this scope was never approved: consent_required.
    let back = code_at(&s, &mut browser, &authorize_url(&s, "")).await;
    assert!(param(&back, "code").is_some());
    let wider = with_scope(&s, OIDC_SCOPE, "&prompt=none");
    let back = location(&browser.get(&wider).await);
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    // Approved before: a code with no page.
    let back = location(&browser.get(&authorize_url(&s, "&prompt=none")).await);
    assert!(param(&back, "code").is_some(), "{back}");
    let reply = browser
        .get(&authorize_url(&s, "&prompt=none%20login"))
        .await;
    let back = location(&reply);
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
}
