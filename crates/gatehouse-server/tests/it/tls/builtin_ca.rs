//! Gatehouse's own CA: created once, it issues client certificates whose holders get
//! the scopes given at issue; a certificate revoked while the server runs is refused
//! at the next request on an open connection and at the next handshake; curl and
//! openssl present an issued certificate like any client would.

use super::{Issued, Leaf, Setup, spiffe, write};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// An admin API call over HTTPS with the bootstrap key, through `client`.
async fn admin(
    s: &Setup,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client
        .request(method, s.api(path))
        .bearer_auth(&s.admin_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.expect("the API answers");
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// The issued certificate of an API answer, as a client would load it.
fn issued(answer: &Value) -> Issued {
    let pem = answer["certificate"].as_str().unwrap().to_owned();
    let der = pem_der(&pem);
    Issued {
        der,
        pem,
        key_pem: answer["private_key"].as_str().unwrap().to_owned(),
    }
}

fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[tokio::test]
async fn an_issued_certificate_carries_its_scopes_until_it_is_revoked() {
    let s = Setup::new("optional").await;
    let api = s.client(None);
    let (status, ca) = admin(&s, &api, Method::POST, "/admin/v1/ca", None).await;
    assert_eq!(status, 201, "{ca}");
    assert!(
        ca["certificate"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let (status, again) = admin(&s, &api, Method::POST, "/admin/v1/ca", None).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("ca_exists")));

    let request =
        json!({"subject": "spiffe://example.org/orders", "days": 7, "scopes": ["orders:read"]});
    let (status, answer) = admin(
        &s,
        &api,
        Method::POST,
        "/admin/v1/certificates",
        Some(request),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let cert = issued(&answer);
    assert_eq!(answer["subject"], "spiffe://example.org/orders");
    assert_eq!(
        answer["fingerprint"],
        hex::encode(Sha256::digest(&cert.der))
    );
    assert_eq!(answer["ca_certificate"], ca["certificate"]);
    assert!(cert.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));

    // Its holder has orders:read on the scoped route.
    let holder = s.client(Some(&cert));
    let reply = holder.get(s.gateway("/scoped/1")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let seen = s.upstream.last();
    assert_eq!(
        seen.header("x-gatehouse-subject"),
        Some("spiffe://example.org/orders")
    );
    assert_eq!(seen.header("x-gatehouse-scopes"), Some("orders:read"));
    // A certificate from the other trusted CA proves who, but grants no scope.
    let outsider =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/other")]));
    let reply = s
        .client(Some(&outsider))
        .get(s.gateway("/scoped/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);

    // Revoked while the server runs: the open connection's next request is refused…
    let serial = answer["serial"].as_str().unwrap();
    let (status, revoked) = admin(
        &s,
        &api,
        Method::POST,
        &format!("/admin/v1/certificates/{serial}/revoke"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_string());
    let hits = s.upstream.hits();
    let reply = holder.get(s.gateway("/scoped/2")).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(
        s.upstream.hits(),
        hits,
        "a revoked certificate reached the upstream"
    );
    // …and so is the next handshake, with the reason audited.
    let fresh = s.client(Some(&cert));
    assert!(fresh.get(s.gateway("/svc/3")).send().await.is_err());
    assert!(s.refusals(1).await.contains(&"revoked".to_owned()));
    let (_, list) = admin(&s, &api, Method::GET, "/admin/v1/certificates", None).await;
    assert_eq!(list[0]["serial"], serial);
    assert!(list[0]["revoked_at"].is_string());
}

#[tokio::test]
async fn bad_issue_and_revoke_requests_are_refused_with_a_reason() {
    let s = Setup::new("optional").await;
    let api = s.client(None);
    let issue = |body: Value| admin(&s, &api, Method::POST, "/admin/v1/certificates", Some(body));
    let (status, problem) = issue(json!({"subject": "svc"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("not_found")),
        "{problem}"
    );
    admin(&s, &api, Method::POST, "/admin/v1/ca", None).await;
    for (body, code) in [
        (json!({"subject": ""}), "invalid_subject"),
        (
            json!({"subject": "spiffe://Bad Domain/x"}),
            "invalid_subject",
        ),
        (json!({"subject": "svc", "days": 0}), "invalid_days"),
        (json!({"subject": "svc", "days": 398}), "invalid_days"),
        (json!({"subject": "svc", "serial": "01"}), "invalid_field"),
    ] {
        let (status, problem) = issue(body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    for serial in ["zz", "0123456789abcdef0123456789abcdef"] {
        let path = format!("/admin/v1/certificates/{serial}/revoke");
        let (status, _) = admin(&s, &api, Method::POST, &path, None).await;
        assert_eq!(status, 404, "{serial}");
    }
    let (_, list) = admin(&s, &api, Method::GET, "/admin/v1/certificates", None).await;
    assert_eq!(list, json!([]), "nothing was issued");
}

#[tokio::test]
async fn curl_and_openssl_present_an_issued_certificate() {
    let s = Setup::new("required").await;
    // On a listener that requires certificates, even the admin presents one.
    let admin_cert =
        s.ca.leaf(Leaf::client(vec![spiffe("spiffe://example.org/admin")]));
    let api = s.client(Some(&admin_cert));
    admin(&s, &api, Method::POST, "/admin/v1/ca", None).await;
    let request = json!({"subject": "billing.internal", "scopes": ["orders:read"]});
    let (status, answer) = admin(
        &s,
        &api,
        Method::POST,
        "/admin/v1/certificates",
        Some(request),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let dir = s.files.path();
    let cert = write(dir, "issued.pem", answer["certificate"].as_str().unwrap());
    let key = write(dir, "issued.key", answer["private_key"].as_str().unwrap());
    let server_ca = dir.join("server-ca.pem");

    let url = s.gateway("/scoped/curl");
    // Async processes: the server runs on this test's runtime and must keep serving.
    let curl = async |with_cert: bool| {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("--cacert")
        .arg(&server_ca);
        if with_cert {
            cmd.arg("--cert").arg(&cert).arg("--key").arg(&key);
        }
        cmd.arg(&url).output().await.expect("curl runs")
    };
    let out = curl(true).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{out:?}");
    assert_eq!(
        s.upstream.last().header("x-gatehouse-subject"),
        Some("billing.internal")
    );
    let out = curl(false).await;
    assert!(!out.status.success(), "no certificate, no answer: {out:?}");

    let addr = s.server().gateway_addr().unwrap().to_string();
    let openssl = async |with_cert: bool| {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-connect",
            &addr,
        ])
        .arg("-CAfile")
        .arg(&server_ca);
        if with_cert {
            cmd.arg("-cert").arg(&cert).arg("-key").arg(&key);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl runs");
        let request = "GET /scoped/openssl HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(request.as_bytes()).await.unwrap();
        // Kept open: closing it early makes s_client hang up before the answer.
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
                .await
                .expect("openssl finishes")
                .unwrap();
        drop(stdin);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let answer = openssl(true).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = openssl(false).await;
    assert!(!answer.contains("HTTP/1.1 200"), "{answer}");
    assert!(
        s.refusals(1)
            .await
            .contains(&"no_client_certificate".to_owned())
    );
}

#[tokio::test]
async fn the_ca_and_its_certificates_survive_a_restart_with_the_key_sealed() {
    let mut app = crate::support::spawn_app().await;
    let ca: Value = app
        .post("/admin/v1/ca", &json!({}))
        .await
        .expect(201)
        .json();
    let issued: Value = app
        .post(
            "/admin/v1/certificates",
            &json!({"subject": "svc.internal"}),
        )
        .await
        .expect(201)
        .json();
    let key_body: String = issued["private_key"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    app.restart().await;
    let again: Value = app.get("/admin/v1/ca").await.expect(200).json();
    assert_eq!(again, ca);
    let list: Value = app.get("/admin/v1/certificates").await.expect(200).json();
    assert_eq!(list[0]["serial"], issued["serial"]);
    // Neither the leaf's private key nor the CA's is readable in the data directory.
    app.stop().await;
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&key_body[..40]), "a leaf key was stored");
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key was stored in PEM"
        );
    }
}
