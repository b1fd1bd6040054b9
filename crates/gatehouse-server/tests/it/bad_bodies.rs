//! SPEC §10 for request bodies: broken JSON and invalid values are 400 problems with a
//! stable code, and a refused request applies none of its changes.

use crate::bad_input::{raw, snapshot};
use crate::support::{at, spawn_app};
use reqwest::Method;

/// Bodies for `POST /v1/keys/verify` and the code each must get.
const VERIFY: &[(&str, &str)] = &[
    (r#"{"key":"#, "malformed_json"),
    ("", "malformed_json"),
    ("not json", "malformed_json"),
    ("{}", "invalid_field"),
    (r#"{"key":5}"#, "invalid_field"),
    (r#"{"key":"x","scopes":"a"}"#, "invalid_field"),
    (r#"{"key":"x","extra":1}"#, "invalid_field"),
    ("[]", "invalid_field"),
    (r#"{"key":"gk_x","scopes":["bad scope"]}"#, "malformed_key"),
];

/// Bodies for `POST /admin/v1/keys`.
const CREATE: &[(&str, &str)] = &[
    (r#"{"name":"a","#, "malformed_json"),
    (r#"{"name":"a","colour":"red"}"#, "invalid_field"),
    (r#"{"name":7}"#, "invalid_field"),
    (r#"{"scopes":[]}"#, "invalid_field"),
    (r#"{"name":"a","scopes":"a:read"}"#, "invalid_field"),
    (r#"{"name":"a","metadata":"x"}"#, "invalid_field"),
    (r#"{"name":"a","remaining":-1}"#, "invalid_field"),
    (r#"{"name":"a","remaining":1.5}"#, "invalid_field"),
    // Above what the store holds exactly.
    (
        r#"{"name":"a","remaining":18446744073709551615}"#,
        "invalid_field",
    ),
    // Faster than one request a microsecond.
    (
        r#"{"name":"a","ratelimit":{"limit":5000,"duration_ms":1}}"#,
        "invalid_field",
    ),
    (r#"{"name":"a","enabled":"yes"}"#, "invalid_field"),
    (r#"{"name":"a","expires_at":"tomorrow"}"#, "invalid_field"),
    (
        r#"{"name":"a","ratelimit":{"limit":-1,"duration_ms":5}}"#,
        "invalid_field",
    ),
    (r#"{"name":"a","ratelimit":{"limit":1}}"#, "invalid_field"),
    (
        r#"{"name":"a","ratelimit":{"limit":0,"duration_ms":1000}}"#,
        "invalid_field",
    ),
    (
        r#"{"name":"a","ratelimit":{"limit":1,"duration_ms":0}}"#,
        "invalid_field",
    ),
    (r#"{"name":""}"#, "invalid_field"),
    (r#"{"name":"   "}"#, "invalid_field"),
    (r#"{"name":"bell\u0007"}"#, "invalid_field"),
    (r#"{"name":"a","subject":"line\nbreak"}"#, "invalid_field"),
    (r#"{"name":"a","scopes":["has space"]}"#, "invalid_scope"),
    (r#"{"name":"a","scopes":[""]}"#, "invalid_scope"),
    (r#"{"name":"a","scopes":["quo\"te"]}"#, "invalid_scope"),
    (r#"{"name":"a","scopes":["é"]}"#, "invalid_scope"),
    (r#"{"name":"a","prefix":"GK"}"#, "invalid_prefix"),
    (r#"{"name":"a","prefix":""}"#, "invalid_prefix"),
    (r#"{"name":"a","prefix":"1ab"}"#, "invalid_prefix"),
    (r#"{"name":"a","prefix":"g_k"}"#, "invalid_prefix"),
    (
        r#"{"name":"a","prefix":"abcdefghijklmnopq"}"#,
        "invalid_prefix",
    ),
];

/// Bodies for `PATCH /admin/v1/keys/{id}`.
const UPDATE: &[(&str, &str)] = &[
    ("{", "malformed_json"),
    (r#"{"nmae":"typo"}"#, "invalid_field"),
    (r#"{"scopes":"a:read"}"#, "invalid_field"),
    (r#"{"name":"ok","remaining":"many"}"#, "invalid_field"),
    (r#"{"name":""}"#, "invalid_field"),
    (r#"{"scopes":["bad scope"]}"#, "invalid_scope"),
    (
        r#"{"ratelimit":{"limit":0,"duration_ms":1}}"#,
        "invalid_field",
    ),
    // Refused halfway through: the valid fields before the bad one are not applied.
    (
        r#"{"name":"renamed","scopes":["bad scope"]}"#,
        "invalid_scope",
    ),
    (
        r#"{"enabled":false,"ratelimit":{"limit":0,"duration_ms":1}}"#,
        "invalid_field",
    ),
];

/// Bodies for `POST /admin/v1/keys/{id}/rotate`.
const ROTATE: &[(&str, &str)] = &[
    (r#"{"grace_period_seconds":-5}"#, "invalid_field"),
    (r#"{"grace_period_seconds":2592001}"#, "invalid_field"),
    (r#"{"grace":60}"#, "invalid_field"),
    ("{", "invalid_field"),
];

#[tokio::test]
async fn broken_or_invalid_bodies_are_400_problems_that_change_nothing() {
    let app = spawn_app().await;
    let key = app.create_key("existing", &["a:read"]).await;
    let show = format!("/admin/v1/keys/{}", key.info.id);
    let rotate = format!("{show}/rotate");
    let before = snapshot(&app).await;
    let endpoints = [
        (Method::POST, "/v1/keys/verify", VERIFY),
        (Method::POST, "/admin/v1/keys", CREATE),
        (Method::PATCH, show.as_str(), UPDATE),
        (Method::POST, rotate.as_str(), ROTATE),
    ];
    for (method, path, cases) in endpoints {
        for (body, code) in cases {
            let reply = raw(&app, method.clone(), path, *body).await;
            assert_eq!(
                reply.status,
                400,
                "{method} {path} {body}: {}",
                reply.text()
            );
            reply.problem(400, code);
        }
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.verify(&key.key, &["a:read"]).await.code, "VALID");
}

#[tokio::test]
async fn computed_bad_values_are_400_problems_that_change_nothing() {
    let app = spawn_app().await;
    let key = app.create_key("existing", &["a:read"]).await;
    let show = format!("/admin/v1/keys/{}", key.info.id);
    let before = snapshot(&app).await;
    let many: Vec<String> = (0..101).map(|i| format!("\"s:{i}\"")).collect();
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let cases = [
        (
            Method::POST,
            "/admin/v1/keys",
            format!(r#"{{"name":"{}"}}"#, "x".repeat(201)),
            "invalid_field",
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            format!(r#"{{"name":"a","expires_at":"{}"}}"#, at(-1000)),
            "invalid_field",
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            format!(r#"{{"name":"a","expires_at":"{}"}}"#, at(0)),
            "invalid_field",
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            format!(r#"{{"name":"a","scopes":["{}"]}}"#, "s".repeat(129)),
            "invalid_scope",
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            format!(r#"{{"name":"a","scopes":[{}]}}"#, many.join(",")),
            "invalid_scope",
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            format!(r#"{{"name":"deep","metadata":{{"a":{deep}}}}}"#),
            "malformed_json",
        ),
        (
            Method::PATCH,
            &show,
            format!(r#"{{"expires_at":"{}"}}"#, at(-1)),
            "invalid_field",
        ),
        (
            Method::PATCH,
            &show,
            format!(r#"{{"enabled":false,"expires_at":"{}"}}"#, at(-5)),
            "invalid_field",
        ),
        (
            Method::POST,
            "/v1/keys/verify",
            format!(r#"{{"key":"{}","scopes":["bad scope"]}}"#, key.key),
            "invalid_scope",
        ),
        (
            Method::POST,
            "/v1/keys/verify",
            format!(r#"{{"key":"{}","scopes":[""]}}"#, key.key),
            "invalid_scope",
        ),
    ];
    for (method, path, body, code) in cases {
        let reply = raw(&app, method.clone(), path, body.clone()).await;
        assert_eq!(
            reply.status,
            400,
            "{method} {path} {body}: {}",
            reply.text()
        );
        reply.problem(400, code);
    }
    let binary = raw(
        &app,
        Method::POST,
        "/v1/keys/verify",
        vec![0xff, 0xfe, 0x00],
    )
    .await;
    binary.problem(400, "malformed_json");
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.verify(&key.key, &["a:read"]).await.code, "VALID");
    app.assert_no_key_leaked();
}
