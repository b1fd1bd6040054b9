//! SPEC §7: one audit event per authentication decision and per admin action, with
//! its outcome, reason, target and caller.

use crate::support::{TestApp, spawn_app, unissued_key};
use gatehouse_api::audit::Event;
use reqwest::Method;
use serde_json::json;

async fn admin_id(app: &TestApp) -> String {
    let events = app.audit("action=key.create&principal=gatehouse").await;
    assert_eq!(events.len(), 1, "one bootstrap event");
    assert_eq!(events[0].reason.as_deref(), Some("bootstrap"));
    events[0]
        .target
        .clone()
        .expect("bootstrap event names the admin key")
}

#[tokio::test]
async fn every_verification_is_one_event_with_its_outcome_reason_target_and_caller() {
    let app = spawn_app().await;
    let verifier = app
        .create(&json!({"name": "edge", "subject": "edge-proxy", "scopes": ["gatehouse:verify"]}))
        .await;
    let good = app.create_key("good", &["a:read"]).await;
    let revoked = app.create_key("revoked", &[]).await;
    app.post(
        &format!("/admin/v1/keys/{}/revoke", revoked.info.id),
        &json!({}),
    )
    .await
    .expect(200);
    let disabled = app.create(&json!({"name": "off", "enabled": false})).await;
    let metered = app
        .create(&json!({"name": "metered", "remaining": 2}))
        .await;
    let unissued = unissued_key(4);
    let cases: [(&str, Option<&str>, &[&str]); 6] = [
        (&good.key, Some(&good.info.id), &["a:read"]),
        (&revoked.key, Some(&revoked.info.id), &[]),
        (&disabled.key, Some(&disabled.info.id), &[]),
        (&good.key, Some(&good.info.id), &["a:write"]),
        (&metered.key, Some(&metered.info.id), &[]),
        (&unissued, None, &[]),
    ];
    let mut expected = Vec::new();
    for i in 0..25 {
        let (key, target, scopes) = cases[i % cases.len()];
        let body = json!({"key": key, "scopes": scopes});
        let reply = app
            .call(Method::POST, "/v1/keys/verify", &verifier.key, Some(&body))
            .await
            .expect(200);
        let verdict: gatehouse_api::verify::Verdict = reply.json();
        let request_id = reply.header("x-gatehouse-request-id").unwrap().to_owned();
        expected.push((verdict.code, target.map(str::to_owned), request_id));
    }
    let codes: Vec<&str> = expected.iter().map(|e| e.0.as_str()).collect();
    for code in [
        "VALID",
        "REVOKED",
        "DISABLED",
        "INSUFFICIENT_SCOPE",
        "USAGE_EXCEEDED",
        "NOT_FOUND",
    ] {
        assert!(codes.contains(&code), "no {code} among {codes:?}");
    }

    let events = app
        .audit(&format!(
            "action=key.verify&credential_id={}",
            verifier.info.id
        ))
        .await;
    assert_eq!(events.len(), 25);
    for (event, (code, target, request_id)) in events.iter().zip(&expected) {
        let outcome = if code == "VALID" { "allowed" } else { "denied" };
        assert_eq!(event.outcome, outcome, "{event:?}");
        assert_eq!(event.reason.as_deref(), Some(code.as_str()));
        assert_eq!(&event.target, target);
        assert_eq!(&event.request_id, request_id);
        assert_eq!(event.principal.as_deref(), Some("edge-proxy"));
        assert_eq!(
            event.credential_id.as_deref(),
            Some(verifier.info.id.as_str())
        );
        assert_eq!(event.auth_method.as_deref(), Some("api_key"));
        assert_eq!(event.method.as_deref(), Some("POST"));
        assert_eq!(event.path.as_deref(), Some("/v1/keys/verify"));
        assert_eq!(event.status, Some(200));
        assert_eq!(event.client_ip.as_deref(), Some("127.0.0.1"));
    }
    let denied = app
        .audit(&format!(
            "action=key.verify&outcome=denied&credential_id={}",
            verifier.info.id
        ))
        .await;
    assert_eq!(
        denied.len(),
        codes.iter().filter(|c| **c != "VALID").count()
    );
}

#[tokio::test]
async fn admin_actions_are_audited_with_their_target() {
    let app = spawn_app().await;
    let admin = admin_id(&app).await;
    let key = app.create_key("audited", &[]).await;
    let path = format!("/admin/v1/keys/{}", key.info.id);
    app.patch(&path, &json!({"name": "renamed"}))
        .await
        .expect(200);
    let rotated: gatehouse_api::keys::RotatedKey = app
        .post(
            &format!("{path}/rotate"),
            &json!({"grace_period_seconds": 10}),
        )
        .await
        .expect(201)
        .json();
    app.post(&format!("{path}/revoke"), &json!({}))
        .await
        .expect(200);
    app.delete(&format!("/admin/v1/keys/{}", rotated.info.id))
        .await
        .expect(204);

    let events = app
        .audit(&format!("credential_id={admin}&outcome=allowed"))
        .await;
    let find = |action: &str, target: &str| -> &Event {
        events
            .iter()
            .find(|e| e.action == action && e.target.as_deref() == Some(target))
            .unwrap_or_else(|| panic!("no {action} event for {target}: {events:#?}"))
    };
    assert_eq!(find("key.create", &key.info.id).status, Some(201));
    assert_eq!(find("key.update", &key.info.id).status, Some(200));
    assert_eq!(find("key.rotate", &key.info.id).status, Some(201));
    assert_eq!(find("key.create", &rotated.info.id).status, Some(201));
    assert_eq!(find("key.revoke", &key.info.id).status, Some(200));
    let delete = find("key.delete", &rotated.info.id);
    assert_eq!(delete.status, Some(204));
    assert_eq!(delete.principal.as_deref(), Some("admin"));
    assert_eq!(delete.method.as_deref(), Some("DELETE"));
}

#[tokio::test]
async fn refused_requests_are_audited_as_denied() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    app.call(Method::GET, "/admin/v1/audit", &manager.key, None)
        .await
        .expect(403);
    let body = json!({"name": "x", "scopes": ["gatehouse:admin"]});
    app.call(Method::POST, "/admin/v1/keys", &manager.key, Some(&body))
        .await
        .expect(403);
    let gone = app.create_key("gone", &["gatehouse:admin"]).await;
    app.post(
        &format!("/admin/v1/keys/{}/revoke", gone.info.id),
        &json!({}),
    )
    .await
    .expect(200);
    app.call(Method::GET, "/admin/v1/keys", &gone.key, None)
        .await
        .expect(401);
    app.send(app.request(Method::GET, "/admin/v1/keys"))
        .await
        .expect(401);

    let denied = app
        .audit(&format!("credential_id={}&outcome=denied", manager.info.id))
        .await;
    let reasons: Vec<(&str, Option<&str>, Option<u16>)> = denied
        .iter()
        .map(|e| (e.action.as_str(), e.reason.as_deref(), e.status))
        .collect();
    assert_eq!(
        reasons,
        [
            ("audit.read", Some("insufficient_scope"), Some(403)),
            ("key.create", Some("scope_escalation"), Some(403)),
        ]
    );
    let revoked = app
        .audit(&format!(
            "credential_id={}&action=api.authenticate",
            gone.info.id
        ))
        .await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].outcome, "denied");
    assert_eq!(revoked[0].reason.as_deref(), Some("REVOKED"));
    assert_eq!(revoked[0].status, Some(401));
    let anonymous = app.audit("action=api.authenticate&outcome=denied").await;
    assert!(
        anonymous
            .iter()
            .any(|e| e.reason.as_deref() == Some("MISSING_CREDENTIAL") && e.principal.is_none()),
        "{anonymous:#?}"
    );
}
