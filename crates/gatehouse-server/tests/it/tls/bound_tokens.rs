//! RFC 8705: a client authenticates at the token endpoint with its certificate
//! (`tls_client_auth`, by subject or by fingerprint), and its access tokens are bound
//! to that certificate: the gateway accepts one only on a connection presenting it.

use super::{Leaf, Setup, spiffe};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn register(s: &Setup, binding: Value) -> String {
    let mut body = json!({"name": "batch", "grant_types": ["client_credentials"],
                          "scope": "orders:read", "token_endpoint_auth_method": "tls_client_auth"});
    body.as_object_mut()
        .unwrap()
        .extend(binding.as_object().unwrap().clone());
    let reply = s
        .client(None)
        .request(Method::POST, s.api("/admin/v1/clients"))
        .bearer_auth(&s.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let client: Value = reply.json().await.unwrap();
    assert!(client.get("client_secret").is_none(), "{client}");
    client["client_id"].as_str().unwrap().to_owned()
}

async fn token(client: &reqwest::Client, s: &Setup, client_id: &str) -> (u16, Value) {
    let reply = client
        .post(s.api("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_certificate_authenticates_the_client_and_binds_its_tokens() {
    let s = Setup::new("optional").await;
    let cert =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/batch")]));
    let id = register(
        &s,
        json!({"tls_client_auth_subject": "spiffe://example.org/batch"}),
    )
    .await;
    let holder = s.client(Some(&cert));

    let (status, body) = token(&holder, &s, &id).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    use base64::Engine;
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&cert.der));
    assert_eq!(claims(&access)["cnf"]["x5t#S256"], thumbprint.as_str());

    // With its certificate, through the gateway: accepted.
    let reply = holder
        .get(s.gateway("/scoped/bound"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(s.upstream.last().header("x-gatehouse-auth"), Some("oauth"));
    // Without a certificate, or with another valid one: refused, never forwarded.
    let hits = s.upstream.hits();
    let other =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/batch")]));
    for client in [s.client(None), s.client(Some(&other))] {
        let reply = client
            .get(s.gateway("/scoped/bound"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        let challenge = reply.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    assert_eq!(s.upstream.hits(), hits);

    // The token endpoint refuses the client without its certificate, and a
    // certificate naming someone else.
    let (status, body) = token(&s.client(None), &s, &id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let stranger =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/other")]));
    let (status, _) = token(&s.client(Some(&stranger)), &s, &id).await;
    assert_eq!(status, 401);
    // Introspection shows the binding; the metadata advertises it.
    let introspected: Value = holder
        .post(s.api("/oauth/introspect"))
        .form(&[("token", access.as_str()), ("client_id", id.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["cnf"]["x5t#S256"], thumbprint.as_str());
    let meta: Value = holder
        .get(s.api("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["tls_client_certificate_bound_access_tokens"], true);
    assert!(
        meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("tls_client_auth"))
    );
}

#[tokio::test]
async fn a_client_registered_by_fingerprint_accepts_only_that_certificate() {
    let s = Setup::new("optional").await;
    let cert =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/batch")]));
    let twin =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/batch")]));
    let fingerprint = hex::encode(Sha256::digest(&cert.der)).to_uppercase();
    let id = register(&s, json!({"tls_client_auth_sha256": fingerprint})).await;
    let (status, _) = token(&s.client(Some(&cert)), &s, &id).await;
    assert_eq!(status, 200);
    let (status, _) = token(&s.client(Some(&twin)), &s, &id).await;
    assert_eq!(status, 401, "same subject, another certificate");
    // On an mtls route, the registered certificate carries the client's scopes
    // (SPEC §4); its twin proves who but holds none.
    let reply = s
        .client(Some(&cert))
        .get(s.gateway("/scoped/fp"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        s.upstream.last().header("x-gatehouse-scopes"),
        Some("orders:read")
    );
    let reply = s
        .client(Some(&twin))
        .get(s.gateway("/scoped/fp"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);

    // Both bindings at once, or one for another method: refused at registration.
    for body in [
        json!({"name": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_subject": "a", "tls_client_auth_sha256": "00"}),
        json!({"name": "x", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth"}),
        json!({"name": "x", "grant_types": ["client_credentials"], "tls_client_auth_subject": "a"}),
    ] {
        let reply = s
            .client(None)
            .post(s.api("/admin/v1/clients"))
            .bearer_auth(&s.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{body}");
    }
}
