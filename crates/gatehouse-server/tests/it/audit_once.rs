//! SPEC §7: every admin request that authenticates is exactly one audit event —
//! allowed with its status, or denied with the problem's status and code as reason,
//! whether the refusal is a scope, a body the handler never parsed, an unknown id or a
//! conflict. Events are matched to requests by request id.

use crate::bad_input::raw;
use crate::support::{Reply, TestApp, spawn_app};
use gatehouse_api::audit::Event;
use reqwest::Method;
use serde_json::json;

/// Well formed, never issued.
const UNKNOWN_ID: &str = "key_0000000000000000000000000";

/// The events recorded for the request that got `reply`.
async fn events_of(app: &TestApp, reply: &Reply) -> Vec<Event> {
    let request_id = reply
        .header("x-gatehouse-request-id")
        .expect("every answer has a request id");
    app.audit("")
        .await
        .into_iter()
        .filter(|e| e.request_id == request_id)
        .collect()
}

/// Asserts that `reply` was recorded as exactly one denied `action` with its status
/// and `reason`, by the admin, aimed at `target`.
#[track_caller]
fn assert_one_denied(
    events: &[Event],
    action: &str,
    status: u16,
    reason: &str,
    target: Option<&str>,
) {
    assert_eq!(events.len(), 1, "{action} {reason}: {events:#?}");
    let e = &events[0];
    assert_eq!(
        (
            e.action.as_str(),
            e.outcome.as_str(),
            e.status,
            e.reason.as_deref()
        ),
        (action, "denied", Some(status), Some(reason)),
        "{e:#?}"
    );
    assert_eq!(e.target.as_deref(), target, "{e:#?}");
    assert_eq!(e.principal.as_deref(), Some("admin"), "{e:#?}");
}

#[tokio::test]
async fn showing_an_unknown_key_is_one_denied_event_naming_the_id() {
    let app = spawn_app().await;
    let reply = app.get(&format!("/admin/v1/keys/{UNKNOWN_ID}")).await;
    reply.problem(404, "not_found");
    let events = events_of(&app, &reply).await;
    assert_one_denied(&events, "key.show", 404, "not_found", Some(UNKNOWN_ID));
}

#[tokio::test]
async fn creating_a_key_with_an_invalid_scope_is_one_denied_event() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/admin/v1/keys",
            &json!({"name": "x", "scopes": ["bad scope"]}),
        )
        .await;
    reply.problem(400, "invalid_scope");
    let events = events_of(&app, &reply).await;
    assert_one_denied(&events, "key.create", 400, "invalid_scope", None);
}

#[tokio::test]
async fn a_patch_with_an_unknown_field_is_one_denied_event() {
    // The body is refused while it is extracted, before the handler's own code runs.
    let app = spawn_app().await;
    let key = app.create_key("patched", &[]).await;
    let reply = raw(
        &app,
        Method::PATCH,
        &format!("/admin/v1/keys/{}", key.info.id),
        r#"{"nmae":"typo"}"#,
    )
    .await;
    reply.problem(400, "invalid_field");
    let events = events_of(&app, &reply).await;
    assert_one_denied(
        &events,
        "key.update",
        400,
        "invalid_field",
        Some(&key.info.id),
    );
}

#[tokio::test]
async fn rotating_a_revoked_key_is_one_denied_event() {
    let app = spawn_app().await;
    let key = app.create_key("revoked", &[]).await;
    let path = format!("/admin/v1/keys/{}", key.info.id);
    app.post(&format!("{path}/revoke"), &json!({}))
        .await
        .expect(200);
    let reply = app.post(&format!("{path}/rotate"), &json!({})).await;
    reply.problem(409, "key_revoked");
    let events = events_of(&app, &reply).await;
    assert_one_denied(
        &events,
        "key.rotate",
        409,
        "key_revoked",
        Some(&key.info.id),
    );
}

#[tokio::test]
async fn a_successful_create_is_one_allowed_event_naming_the_new_key() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/admin/v1/keys",
            &json!({"name": "new", "scopes": ["a:read"]}),
        )
        .await
        .expect(201);
    let created: gatehouse_api::keys::CreatedKey = reply.json();
    let events = events_of(&app, &reply).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(
        (
            e.action.as_str(),
            e.outcome.as_str(),
            e.status,
            e.reason.as_deref()
        ),
        ("key.create", "allowed", Some(201), None),
        "{e:#?}"
    );
    assert_eq!(e.target.as_deref(), Some(created.info.id.as_str()));
}

#[tokio::test]
async fn a_rotation_is_one_event_for_each_key_it_touches() {
    let app = spawn_app().await;
    let old = app.create_key("old", &[]).await;
    let reply = app
        .post(
            &format!("/admin/v1/keys/{}/rotate", old.info.id),
            &json!({}),
        )
        .await
        .expect(201);
    let rotated: gatehouse_api::keys::RotatedKey = reply.json();
    let mut events: Vec<(String, Option<String>, String)> = events_of(&app, &reply)
        .await
        .into_iter()
        .map(|e| (e.action, e.target, e.outcome))
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("key.create".into(), Some(rotated.info.id), "allowed".into()),
            ("key.rotate".into(), Some(old.info.id), "allowed".into()),
        ]
    );
}

/// A request refused after authentication: method, path, JSON body, and the action,
/// status and reason its one event must have.
type Refused<'a> = (Method, &'a str, Option<&'a str>, (&'a str, u16, &'a str));

#[tokio::test]
async fn every_kind_of_refusal_after_authentication_is_exactly_one_event() {
    let app = spawn_app().await;
    let key = app.create_key("existing", &[]).await;
    let path = format!("/admin/v1/keys/{}", key.info.id);
    let rotate = format!("{path}/rotate");
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024));
    let past = r#"{"expires_at":"2000-01-01T00:00:00Z"}"#;
    let cases: [Refused; 9] = [
        (
            Method::POST,
            "/admin/v1/keys",
            Some("{"),
            ("key.create", 400, "malformed_json"),
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            Some(&huge),
            ("key.create", 413, "body_too_large"),
        ),
        (
            Method::GET,
            "/admin/v1/keys?limit=0",
            None,
            ("key.list", 400, "invalid_query"),
        ),
        (
            Method::GET,
            "/admin/v1/keys?colour=red",
            None,
            ("key.list", 400, "invalid_query"),
        ),
        (
            Method::GET,
            "/admin/v1/audit?order=up",
            None,
            ("audit.read", 400, "invalid_query"),
        ),
        (
            Method::DELETE,
            "/admin/v1/keys/not-an-id",
            None,
            ("key.delete", 404, "not_found"),
        ),
        (
            Method::POST,
            "/admin/v1/keys/%FF/revoke",
            None,
            ("key.revoke", 404, "not_found"),
        ),
        (
            Method::POST,
            &rotate,
            Some(r#"{"grace_period_seconds":-1}"#),
            ("key.rotate", 400, "invalid_field"),
        ),
        (
            Method::PATCH,
            &path,
            Some(past),
            ("key.update", 400, "invalid_field"),
        ),
    ];
    let mut replies = Vec::new();
    for (method, path, body, _) in &cases {
        let reply = match body {
            Some(body) => raw(&app, method.clone(), path, *body).await,
            None => app.call(method.clone(), path, &app.admin_key, None).await,
        };
        replies.push(reply);
    }
    for ((method, path, _, (action, status, reason)), reply) in cases.iter().zip(&replies) {
        reply.problem(*status, reason);
        let events = events_of(&app, reply).await;
        assert_eq!(events.len(), 1, "{method} {path}: {events:#?}");
        // Only an id-shaped path segment is recorded as the target.
        let target = path.contains(&key.info.id).then_some(key.info.id.as_str());
        assert_one_denied(&events, action, *status, reason, target);
    }
}

#[tokio::test]
async fn scope_refusals_are_recorded_once() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    let admin = app
        .all_keys(10)
        .await
        .into_iter()
        .find(|k| k.scopes == ["gatehouse:admin"])
        .expect("the bootstrap admin key");
    let cases = [
        (
            Method::GET,
            "/admin/v1/audit".to_owned(),
            "audit.read",
            "insufficient_scope",
            None,
        ),
        (
            Method::GET,
            "/admin/v1/audit/head".to_owned(),
            "audit.head",
            "insufficient_scope",
            None,
        ),
        (
            Method::POST,
            format!("/admin/v1/keys/{}/revoke", admin.id),
            "key.revoke",
            "scope_escalation",
            Some(admin.id.as_str()),
        ),
    ];
    for (method, path, action, reason, target) in cases {
        let reply = app.call(method, &path, &manager.key, None).await;
        reply.problem(403, reason);
        let events = events_of(&app, &reply).await;
        assert_eq!(events.len(), 1, "{path}: {events:#?}");
        let e = &events[0];
        assert_eq!(
            (
                e.action.as_str(),
                e.outcome.as_str(),
                e.status,
                e.reason.as_deref()
            ),
            (action, "denied", Some(403), Some(reason)),
        );
        assert_eq!(e.target.as_deref(), target);
        assert_eq!(e.credential_id.as_deref(), Some(manager.info.id.as_str()));
    }
}

#[tokio::test]
async fn every_refused_verification_is_one_denied_event_with_the_problem_code() {
    // The admin key holds gatehouse:verify through gatehouse:admin.
    let app = spawn_app().await;
    let key = app.create_key("checked", &["orders:read"]).await;
    let cases: [(Vec<u8>, &str); 3] = [
        (br#"{"key":"gk_short"}"#.to_vec(), "malformed_key"),
        (
            json!({"key": key.key, "scopes": ["bad scope"]})
                .to_string()
                .into_bytes(),
            "invalid_scope",
        ),
        (b"{not json".to_vec(), "malformed_json"),
    ];
    for (body, code) in cases {
        let reply = raw(&app, Method::POST, "/v1/keys/verify", body).await;
        reply.problem(400, code);
        let events = events_of(&app, &reply).await;
        assert_one_denied(&events, "key.verify", 400, code, None);
    }
}
