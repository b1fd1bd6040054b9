//! The one credential reader's rule, everywhere a credential is read: a repeated
//! `Authorization` or `X-API-Key` — with different keys or the same one — is refused as
//! ambiguous, never answered with the first copy.

use crate::gateway::spawn_gateway;
use crate::gateway::upstream::Upstream;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};

/// Two lines of `name`, `first` then `second`.
fn twice(name: &'static str, first: &str, second: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.append(name, HeaderValue::from_str(first).unwrap());
    headers.append(name, HeaderValue::from_str(second).unwrap());
    headers
}

#[tokio::test]
async fn a_repeated_credential_header_is_ambiguous_on_the_api_the_gateway_and_forward_auth() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let reader = app.create_key("reader", &["orders:read"]).await.key;
    let nobody = app.create_key("nobody", &[]).await.key;
    let bearer = |key: &str| format!("Bearer {key}");
    let cases = [
        twice("authorization", &bearer(&reader), &bearer(&nobody)),
        twice("authorization", &bearer(&reader), &bearer(&reader)),
        twice("x-api-key", &reader, &reader),
        twice("x-api-key", &reader, &nobody),
    ];
    for headers in cases {
        // The admin key first: the first copy alone would be allowed everywhere.
        let admin_first = {
            let mut h = headers.clone();
            let name = h.keys().next().unwrap().clone();
            let first = if name == "authorization" {
                bearer(&app.admin_key)
            } else {
                app.admin_key.clone()
            };
            let rest: Vec<HeaderValue> = h.get_all(&name).iter().skip(1).cloned().collect();
            h.remove(&name);
            h.append(name.clone(), HeaderValue::from_str(&first).unwrap());
            for v in rest {
                h.append(name.clone(), v);
            }
            h
        };
        let api = app
            .send(
                app.request(Method::GET, "/admin/v1/keys")
                    .headers(admin_first.clone()),
            )
            .await;
        api.problem(401, "invalid_credential");
        assert!(
            api.header("www-authenticate")
                .is_some_and(|c| c.contains("invalid_token"))
        );

        let gateway = app
            .via(app.through(Method::GET, "/orders").headers(headers.clone()))
            .await;
        gateway.problem(401, "invalid_credential");

        let forward = app
            .send(
                app.request(Method::GET, "/v1/forward-auth/orders")
                    .headers(headers.clone()),
            )
            .await;
        forward.problem(401, "invalid_credential");
    }
    assert_eq!(
        upstream.hits(),
        0,
        "an ambiguous request reached the upstream"
    );

    let denied = app.audit("action=gateway.request").await;
    assert!(!denied.is_empty());
    assert!(
        denied
            .iter()
            .all(|e| e.reason.as_deref() == Some("ambiguous_credential")),
        "{denied:?}"
    );
    let forward = app.audit("action=gateway.forward_auth").await;
    assert!(
        forward
            .iter()
            .all(|e| e.reason.as_deref() == Some("ambiguous_credential"))
    );
}

#[tokio::test]
async fn the_oauth_endpoints_refuse_a_repeated_authorization_as_invalid_request() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let issued = app.token("orders:read openid", "orders").await;
    let basic = |id: &str, secret: &str| {
        use base64::Engine;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        format!("Basic {pair}")
    };
    let good = basic(&issued.client_id, &issued.secret);
    let form = [("grant_type", "client_credentials")];
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        let reply = app
            .send(
                app.request(Method::POST, path)
                    .headers(twice("authorization", &good, &good))
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("token", &issued.token),
                    ]),
            )
            .await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        assert!(reply.text().contains("invalid_request"), "{path}");
    }
    // The same request with one Authorization is fine.
    app.send(
        app.request(Method::POST, "/oauth/token")
            .header("authorization", &good)
            .form(&form),
    )
    .await
    .expect(200);

    let bearer = format!("Bearer {}", issued.token);
    let reply = app
        .send(app.request(Method::GET, "/oauth/userinfo").headers(twice(
            "authorization",
            &bearer,
            &bearer,
        )))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|c| c.contains("invalid_request"))
    );
}
