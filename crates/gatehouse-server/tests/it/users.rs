//! `/admin/v1/users`: the lifecycle of a user, its password hashed with Argon2id and
//! never shown, stored or audited in plaintext, and every refusal.

use crate::support::spawn_app;
use gatehouse_api::Page;
use gatehouse_api::users::User;
use gatehouse_core::Secret;
use gatehouse_core::user::password;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_user_is_created_changed_disabled_and_deleted() {
    let mut app = spawn_app().await;
    let reply = app
        .post(
            "/admin/v1/users",
            &json!({"username": "Alice", "password": PASSWORD, "display_name": "Alice A.",
                    "email": "alice@example.com", "scopes": ["orders:read", "openid"]}),
        )
        .await
        .expect(201);
    let user: User = reply.json();
    assert!(user.id.starts_with("usr_"));
    assert_eq!(user.username, "alice", "usernames fold case");
    assert!(user.has_password && user.enabled);
    assert_eq!(user.scopes, ["openid", "orders:read"]);
    assert!(user.password_changed_at.is_some());
    assert_eq!(
        reply.header("location"),
        Some(format!("/admin/v1/users/{}", user.id).as_str())
    );
    assert!(!reply.text().contains(PASSWORD) && !reply.text().contains("argon2"));

    // Stored as an Argon2id hash with OWASP's parameters, verifying the password.
    let stored = app.state().store.user(&user.id).await.unwrap().unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(password::verify(&Secret::new(PASSWORD.to_owned()), &hash).unwrap());

    let shown: User = app
        .get(&format!("/admin/v1/users/{}", user.id))
        .await
        .expect(200)
        .json();
    assert_eq!(shown, user);

    let changed: User = app
        .patch(
            &format!("/admin/v1/users/{}", user.id),
            &json!({"username": "alice2", "display_name": "", "scopes": ["orders:read"], "enabled": false}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(changed.username, "alice2");
    assert_eq!(changed.display_name, None);
    assert_eq!(changed.scopes, ["orders:read"]);
    assert!(!changed.enabled);
    assert_eq!(changed.email.as_deref(), Some("alice@example.com"));

    app.clock.advance_millis(1_000);
    let reset: User = app
        .post(
            &format!("/admin/v1/users/{}/password", user.id),
            &json!({"password": "another long passphrase"}),
        )
        .await
        .expect(200)
        .json();
    assert!(reset.password_changed_at > user.password_changed_at);
    let stored = app.state().store.user(&user.id).await.unwrap().unwrap();
    assert!(
        !password::verify(
            &Secret::new(PASSWORD.to_owned()),
            stored.password_hash.as_deref().unwrap()
        )
        .unwrap()
    );

    app.delete(&format!("/admin/v1/users/{}", user.id))
        .await
        .expect(204);
    app.get(&format!("/admin/v1/users/{}", user.id))
        .await
        .problem(404, "not_found");

    // Nothing anywhere holds the password: not the audit trail, not the database file.
    let audit = app.get("/admin/v1/audit?limit=1000").await.text();
    assert!(audit.contains("user.set_password"));
    assert!(!audit.contains(PASSWORD) && !audit.contains("another long passphrase"));
    app.stop().await;
    let db = std::fs::read(app.dir.path().join("gatehouse.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("gatehouse.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes())
        );
    }
}

#[tokio::test]
async fn users_list_by_page_in_creation_order_and_may_start_without_a_password() {
    let app = spawn_app().await;
    for name in ["u1", "u2", "u3"] {
        // Ids sort by creation time.
        app.clock.advance_millis(1_000);
        let user: User = app
            .post("/admin/v1/users", &json!({"username": name}))
            .await
            .expect(201)
            .json();
        assert!(!user.has_password);
        assert!(user.password_changed_at.is_none());
    }
    let first: Page<User> = app.get("/admin/v1/users?limit=2").await.expect(200).json();
    assert_eq!(first.items.len(), 2);
    let cursor = first.next_cursor.expect("a second page");
    let second: Page<User> = app
        .get(&format!("/admin/v1/users?limit=2&cursor={cursor}"))
        .await
        .expect(200)
        .json();
    let names: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(names, ["u1", "u2", "u3"]);
    assert!(second.next_cursor.is_none());
}

#[tokio::test]
async fn bad_users_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.post(
        "/admin/v1/users",
        &json!({"username": "bob", "password": PASSWORD}),
    )
    .await
    .expect(201);
    for (body, code) in [
        (
            json!({"username": "bob2", "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"username": "bob2", "password": "twelve chars\u{7}!"}),
            "invalid_password",
        ),
        (
            json!({"username": "bob2", "password": "x".repeat(1025)}),
            "invalid_password",
        ),
        (json!({"username": "bob 2"}), "invalid_username"),
        (json!({"username": "b\u{f6}b"}), "invalid_username"),
        (
            json!({"username": "bob2", "scopes": ["not a scope"]}),
            "invalid_scope",
        ),
        (
            json!({"username": "bob2", "passwd": PASSWORD}),
            "invalid_field",
        ),
    ] {
        let reply = app.post("/admin/v1/users", &body).await;
        reply.problem(400, code);
        assert!(!reply.text().contains(PASSWORD));
    }
    app.post("/admin/v1/users", &json!({"username": "BOB"}))
        .await
        .problem(409, "conflict");
    let page: Page<User> = app.get("/admin/v1/users").await.expect(200).json();
    assert_eq!(page.items.len(), 1, "nothing was created by a refusal");

    // Only gatehouse:admin manages users.
    let keys = app
        .create_key("ops", &["gatehouse:keys", "gatehouse:clients"])
        .await;
    app.call(reqwest::Method::GET, "/admin/v1/users", &keys.key, None)
        .await
        .problem(403, "insufficient_scope");
    app.get("/admin/v1/users/usr_nope")
        .await
        .problem(404, "not_found");
    app.post(
        "/admin/v1/users/usr_nope/password",
        &json!({"password": PASSWORD}),
    )
    .await
    .problem(404, "not_found");
}
