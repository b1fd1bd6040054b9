//! Listeners: TLS on both, client certificates from a CA in a file — accepted,
//! refused in the handshake for each reason, required, and the CA file reloaded.

use super::{Ca, Leaf, Setup, spiffe, write};
use rcgen::ExtendedKeyUsagePurpose;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

#[tokio::test]
async fn the_api_and_gateway_speak_tls_and_a_client_certificate_authenticates_mtls_routes() {
    let s = Setup::new("optional").await;
    let anonymous = s.client(None);
    let health = anonymous.get(s.api("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // The issuer follows the listener: https.
    let meta: Value = anonymous
        .get(s.api("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // Plain HTTP on the TLS port gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", s.server().addr()))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // No certificate on an optional listener: served, but the route wants a credential.
    let reply = anonymous.get(s.gateway("/svc/a")).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(s.upstream.hits(), 0);

    let cert =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/orders")]));
    let holder = s.client(Some(&cert));
    let reply = holder.get(s.gateway("/svc/a")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let seen = s.upstream.last();
    assert_eq!(
        seen.header("x-gatehouse-subject"),
        Some("spiffe://example.org/orders")
    );
    assert_eq!(seen.header("x-gatehouse-auth"), Some("mtls"));
    let fingerprint = hex::encode(Sha256::digest(&cert.der));
    assert_eq!(
        seen.header("x-gatehouse-credential"),
        Some(fingerprint.as_str())
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    let state = s.server().state();
    state.audit.flush().await;
    let events = state
        .store
        .query_audit(&gatehouse_store::AuditQuery {
            action: Some("gateway.request".into()),
            outcome: Some(gatehouse_core::audit::Outcome::Allowed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].body.credential_id.as_deref(),
        Some(fingerprint.as_str())
    );
    assert_eq!(events[0].body.auth_method.as_deref(), Some("mtls"));
}

#[tokio::test]
async fn bad_client_certificates_are_refused_in_the_handshake_and_audited() {
    let s = Setup::new("optional").await;
    let cases = [
        (
            "expired",
            s.ca.leaf(Leaf {
                years: (2001, 2002),
                ..Leaf::client(vec![spiffe("spiffe://example.org/old")])
            }),
        ),
        (
            "not_yet_valid",
            s.ca.leaf(Leaf {
                years: (2090, 2095),
                ..Leaf::client(vec![spiffe("spiffe://example.org/future")])
            }),
        ),
        (
            "not_for_client_auth",
            s.ca.leaf(Leaf {
                usage: ExtendedKeyUsagePurpose::ServerAuth,
                ..Leaf::client(vec![spiffe("spiffe://example.org/server")])
            }),
        ),
        (
            "untrusted_issuer",
            Ca::new("Someone else").leaf(Leaf::client(vec![spiffe("spiffe://evil.example/x")])),
        ),
    ];
    for (reason, cert) in &cases {
        let reply = s.client(Some(cert)).get(s.gateway("/svc/a")).send().await;
        assert!(reply.is_err(), "{reason}: {:?}", reply.map(|r| r.status()));
    }
    assert_eq!(s.upstream.hits(), 0);
    let mut refusals = s.refusals(cases.len()).await;
    refusals.sort();
    let mut expected: Vec<&str> = cases.iter().map(|c| c.0).collect();
    expected.sort_unstable();
    assert_eq!(refusals, expected);
    // Each refusal names the certificate: its fingerprint and principal.
    let state = s.server().state();
    let events = state
        .store
        .query_audit(&gatehouse_store::AuditQuery {
            action: Some("tls.handshake".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let expired = events
        .iter()
        .find(|e| e.body.reason.as_deref() == Some("expired"))
        .unwrap();
    let fingerprint = hex::encode(Sha256::digest(&cases[0].1.der));
    assert_eq!(
        expired.body.credential_id.as_deref(),
        Some(fingerprint.as_str())
    );
    assert_eq!(
        expired.body.principal.as_deref(),
        Some("spiffe://example.org/old")
    );
}

#[tokio::test]
async fn a_required_certificate_is_required_and_the_ca_file_reloads_without_a_restart() {
    let s = Setup::new("required").await;
    let reply = s.client(None).get(s.api("/healthz")).send().await;
    assert!(reply.is_err(), "no certificate, no connection");
    assert_eq!(s.refusals(1).await, ["no_client_certificate"]);

    let other_ca = Ca::new("Second client CA");
    let cert = other_ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/new")]));
    assert!(
        s.client(Some(&cert))
            .get(s.api("/healthz"))
            .send()
            .await
            .is_err()
    );

    // Trust the second CA too: new handshakes pick it up, no restart.
    let both = format!("{}{}", s.ca.pem, other_ca.pem);
    // A different length guarantees a visible change even within the same second.
    write(s.files.path(), "clients.pem", &both);
    let client = s.client(Some(&cert));
    let mut status = None;
    for _ in 0..40 {
        if let Ok(reply) = client.get(s.api("/healthz")).send().await {
            status = Some(reply.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(200), "the new CA was not picked up");
    let state = s.server().state();
    state.audit.flush().await;
    let reloads = state
        .store
        .query_audit(&gatehouse_store::AuditQuery {
            action: Some("tls.reload".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!reloads.is_empty());
}

#[tokio::test]
async fn a_new_server_certificate_is_served_without_a_restart_or_dropping_connections() {
    let s = Setup::new("optional").await;
    let before = s.client(None);
    assert_eq!(
        before.get(s.api("/healthz")).send().await.unwrap().status(),
        200
    );

    // A certificate from another CA, which only a new client trusts.
    let new_ca = Ca::new("Second server CA");
    let renewed = new_ca.leaf(Leaf {
        sans: vec![rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap())],
        cn: "gatehouse-renewed",
        years: (2020, 2090),
        usage: ExtendedKeyUsagePurpose::ServerAuth,
    });
    let after = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(new_ca.pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert!(after.get(s.api("/healthz")).send().await.is_err());
    write(s.files.path(), "server.key", &renewed.key_pem);
    write(s.files.path(), "server.pem", &renewed.pem);
    let mut served = false;
    for _ in 0..40 {
        if after.get(s.api("/healthz")).send().await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the renewed certificate was not picked up");
    // The connection opened before the swap still works.
    assert_eq!(
        before.get(s.api("/healthz")).send().await.unwrap().status(),
        200
    );
}
