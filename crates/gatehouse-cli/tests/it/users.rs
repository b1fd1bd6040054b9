//! `gatehouse users …` against a running server; passwords only through stdin.

use crate::support::{Home, failure, stdout};

#[test]
fn users_are_managed_from_the_cli_with_passwords_on_stdin() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let out = server.cli_with_input(
        &admin,
        &[
            "users",
            "create",
            "--username",
            "Carol",
            "--display-name",
            "Carol C",
            "--scope",
            "orders:read",
            "--password-stdin",
            "--json",
        ],
        "a long enough passphrase\n",
    );
    assert!(out.status.success(), "{out:?}");
    let created: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let user = &created[0];
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["username"], "carol");
    assert_eq!(user["has_password"], true);

    let table = server.ok(&admin, &["users", "list"]);
    assert!(
        table.contains("USERNAME") && table.contains("carol") && table.contains("set"),
        "{table}"
    );

    let out = server.cli_with_input(&admin, &["users", "set-password", &id], "short\n");
    assert!(failure(&out).contains("12 characters"), "{out:?}");
    let out = server.cli_with_input(
        &admin,
        &["users", "set-password", &id],
        "another long passphrase\n",
    );
    assert!(out.status.success(), "{out:?}");

    let disabled = server.json(&admin, &["users", "disable", &id]);
    assert_eq!(disabled[0]["enabled"], false);
    let enabled = server.json(
        &admin,
        &[
            "users",
            "update",
            &id,
            "--enable",
            "--email",
            "c@example.com",
        ],
    );
    assert_eq!(
        (enabled[0]["enabled"].clone(), enabled[0]["email"].clone()),
        (true.into(), "c@example.com".into())
    );
    server.ok(&admin, &["users", "delete", &id]);
    let line = failure(&server.cli(&admin, &["users", "show", &id]));
    assert!(
        line.contains("not_found") || line.contains("no such user"),
        "{line}"
    );

    // No password ever reached the server's logs.
    server.stop();
    let logs = server.stderr() + &server.stdout();
    assert!(
        !logs.contains("a long enough passphrase") && !logs.contains("another long passphrase")
    );
}
