//! Scopes as the CLI meets them: a key that may manage keys and nothing else.

use crate::support::{Home, failure};

#[test]
fn a_keys_only_key_manages_keys_but_cannot_read_the_audit_trail() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let created = server.json(
        &admin,
        &[
            "keys",
            "create",
            "--name",
            "ops",
            "--scope",
            "gatehouse:keys",
        ],
    );
    let ops = created["key"].as_str().unwrap();
    let admin_id = server.json(&admin, &["keys", "list"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "bootstrap admin")
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .unwrap();
    server.ok(ops, &["keys", "list"]);
    server.ok(
        ops,
        &[
            "keys",
            "create",
            "--name",
            "child",
            "--scope",
            "gatehouse:keys",
        ],
    );
    let line = failure(&server.cli(ops, &["audit", "list"]));
    assert!(line.starts_with("error: 403 insufficient_scope"), "{line}");
    let line = failure(&server.cli(ops, &["keys", "verify", ops]));
    assert!(line.starts_with("error: 403 insufficient_scope"), "{line}");
    let line = failure(&server.cli(
        ops,
        &[
            "keys",
            "create",
            "--name",
            "up",
            "--scope",
            "gatehouse:admin",
        ],
    ));
    assert!(line.starts_with("error: 403 "), "{line}");
    let line = failure(&server.cli(ops, &["keys", "revoke", &admin_id]));
    assert!(line.starts_with("error: 403 "), "{line}");
    server.ok(&admin, &["keys", "list"]);
    server.stop();
}
