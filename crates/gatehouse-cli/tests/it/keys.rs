//! `gatehouse keys …` against a running server.

use crate::support::{Home, Server, failure, gatehouse, is_gk_key, run, stdout};
use serde_json::json;

fn create(server: &Server, admin: &str, name: &str) -> (String, String) {
    let created = server.json(admin, &["keys", "create", "--name", name]);
    (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    )
}

/// `keys verify`: the exit status and the verdict's code.
fn verify(server: &Server, admin: &str, key: &str) -> (bool, String) {
    let out = server.cli(admin, &["keys", "verify", key, "--json"]);
    let verdict: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(verdict["valid"].as_bool(), Some(out.status.success()));
    (
        out.status.success(),
        verdict["code"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn create_prints_a_table_and_the_key_once() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let out = server.ok(
        &admin,
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--scope",
            "a",
            "--scope",
            "b",
            "--remaining",
            "5",
            "--ratelimit",
            "10/60s",
            "--metadata",
            r#"{"t":1}"#,
        ],
    );
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for column in ["ID", "NAME", "START", "SCOPES", "STATE", "REMAINING"] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with("key_"), "{row}");
    for cell in ["x", "a b", "enabled", "5"] {
        assert!(row.split("  ").any(|c| c.trim() == cell), "{cell} in {row}");
    }
    let keys: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("key: "))
        .collect();
    assert_eq!(keys.len(), 1, "{out}");
    assert!(is_gk_key(keys[0]), "{}", keys[0]);
    assert_eq!(out.matches(keys[0]).count(), 1, "{out}");
    let start = row.split_whitespace().nth(2).unwrap();
    assert!(keys[0].starts_with(start), "start {start} of {}", keys[0]);

    let created = server.json(
        &admin,
        &[
            "keys",
            "create",
            "--name",
            "y",
            "--scope",
            "a",
            "--remaining",
            "5",
            "--ratelimit",
            "10/60s",
            "--metadata",
            r#"{"t":1}"#,
            "--prefix",
            "acme",
        ],
    );
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("acme_") && key.len() == 5 + 46, "{key}");
    assert_eq!(created["name"], "y");
    assert_eq!(created["scopes"], json!(["a"]));
    assert_eq!(created["metadata"], json!({"t": 1}));
    assert_eq!(
        created["ratelimit"],
        json!({"limit": 10, "duration_ms": 60000})
    );
    assert_eq!(created["remaining"], 5);
    assert_eq!(created["enabled"], true);

    let shown = server.json(&admin, &["keys", "show", created["id"].as_str().unwrap()]);
    assert_eq!(shown["id"], created["id"]);
    assert_eq!(shown["metadata"], json!({"t": 1}));
    assert!(
        shown.get("key").is_none(),
        "show never returns the key: {shown}"
    );
    let table = server.ok(&admin, &["keys", "show", created["id"].as_str().unwrap()]);
    assert!(!table.contains(key), "{table}");
    server.stop();
}

#[test]
fn usage_limit_counts_down_to_usage_exceeded() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let created = server.json(
        &admin,
        &["keys", "create", "--name", "x", "--remaining", "2"],
    );
    let key = created["key"].as_str().unwrap();
    assert_eq!(verify(&server, &admin, key), (true, "VALID".into()));
    assert_eq!(verify(&server, &admin, key), (true, "VALID".into()));
    assert_eq!(
        verify(&server, &admin, key),
        (false, "USAGE_EXCEEDED".into())
    );
    server.stop();
}

#[test]
fn list_shows_every_key_and_pages_with_a_cursor() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let ids: Vec<String> = (0..3)
        .map(|i| create(&server, &admin, &format!("k{i}")).0)
        .collect();
    let table = server.ok(&admin, &["keys", "list"]);
    for id in &ids {
        assert!(table.contains(id.as_str()), "{id} in {table}");
    }
    assert!(table.contains("bootstrap admin"), "{table}");
    let first = server.json(&admin, &["keys", "list", "--limit", "2"]);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = server.json(
        &admin,
        &["keys", "list", "--limit", "2", "--cursor", cursor],
    );
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    let mut all: Vec<String> = [&first, &rest]
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter())
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "{all:?}");
    let more = server.ok(&admin, &["keys", "list", "--limit", "2"]);
    assert!(more.contains("more: --cursor "), "{more}");
    server.stop();
}

#[test]
fn a_disabled_key_fails_verification_until_enabled_again() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let (id, key) = create(&server, &admin, "x");
    let shown = server.ok(
        &admin,
        &["keys", "update", &id, "--disable", "--name", "renamed"],
    );
    assert!(
        shown.contains("disabled") && shown.contains("renamed"),
        "{shown}"
    );
    let out = server.cli(&admin, &["keys", "verify", &key]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("DISABLED"), "{out:?}");
    server.ok(&admin, &["keys", "update", &id, "--enable"]);
    assert_eq!(verify(&server, &admin, &key), (true, "VALID".into()));
    server.stop();
}

#[test]
fn a_revoked_key_fails_on_the_next_verification() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let (id, key) = create(&server, &admin, "x");
    assert_eq!(verify(&server, &admin, &key), (true, "VALID".into()));
    let shown = server.ok(&admin, &["keys", "revoke", &id]);
    assert!(shown.contains("revoked"), "{shown}");
    let out = server.cli(&admin, &["keys", "verify", &key]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("REVOKED"), "{out:?}");
    // Permanent: enabling it does not bring it back.
    server.ok(&admin, &["keys", "update", &id, "--enable"]);
    assert_eq!(verify(&server, &admin, &key), (false, "REVOKED".into()));
    server.stop();
}

#[test]
fn rotation_issues_a_new_key_and_revokes_the_old_one() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let created = server.json(&admin, &["keys", "create", "--name", "x", "--scope", "a"]);
    let (id, old) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let out = server.ok(&admin, &["keys", "rotate", id, "--grace", "0"]);
    let new: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("key: "))
        .collect();
    assert_eq!(new.len(), 1, "{out}");
    assert!(is_gk_key(new[0]) && new[0] != old, "{out}");
    assert!(
        out.contains(&format!("previous key {id} is revoked at ")),
        "{out}"
    );
    assert_eq!(verify(&server, &admin, old), (false, "REVOKED".into()));
    assert_eq!(verify(&server, &admin, new[0]), (true, "VALID".into()));

    let line = failure(&server.cli(&admin, &["keys", "rotate", id]));
    assert!(line.starts_with("error: 409 key_revoked"), "{line}");

    // With a grace period both work, and --json carries the previous key.
    let new_id = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(new_id.starts_with("key_") && new_id != id, "{out}");
    let rotated = server.json(&admin, &["keys", "rotate", new_id, "--grace", "3600"]);
    let newer = rotated["key"].as_str().unwrap();
    assert_eq!(rotated["scopes"], json!(["a"]));
    assert!(rotated["previous"]["revoked_at"].is_string(), "{rotated}");
    assert_eq!(verify(&server, &admin, new[0]), (true, "VALID".into()));
    assert_eq!(verify(&server, &admin, newer), (true, "VALID".into()));
    server.stop();
}

#[test]
fn a_deleted_key_is_gone() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let (id, key) = create(&server, &admin, "x");
    let out = server.ok(&admin, &["keys", "delete", &id]);
    assert_eq!(out.trim(), format!("deleted {id}"));
    let line = failure(&server.cli(&admin, &["keys", "show", &id]));
    assert!(line.starts_with("error: 404 not_found"), "{line}");
    assert_eq!(verify(&server, &admin, &key), (false, "NOT_FOUND".into()));
    let line = failure(&server.cli(&admin, &["keys", "delete", &id]));
    assert!(line.contains("404"), "{line}");
    server.stop();
}

#[test]
fn failures_are_one_line_on_stderr_with_a_non_zero_exit() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let line = failure(&server.cli(&admin, &["keys", "show", "key_doesnotexist"]));
    assert!(line.starts_with("error: 404 not_found"), "{line}");
    let line = failure(&server.cli(&admin, &["keys", "show", "../audit"]));
    assert!(line.contains("not a key id"), "{line}");
    let line = failure(&server.cli(
        &admin,
        &["keys", "create", "--name", "x", "--metadata", "[1]"],
    ));
    assert!(line.contains("--metadata"), "{line}");
    let line = failure(&server.cli(
        &admin,
        &["keys", "create", "--name", "x", "--ratelimit", "9"],
    ));
    assert!(line.contains("rate limit"), "{line}");
    let line = failure(&server.cli(
        &admin,
        &["keys", "create", "--name", "x", "--prefix", "Bad"],
    ));
    assert!(line.starts_with("error: 400 invalid_prefix"), "{line}");
    let line = failure(&server.cli(&admin, &["keys", "verify", "not-a-key"]));
    assert!(line.starts_with("error: 400 malformed_key"), "{line}");

    // An unknown (well-formed) admin key, and a malformed one, are 401s.
    let (id, key) = create(&server, &admin, "x");
    server.ok(&admin, &["keys", "delete", &id]);
    let line = failure(&server.cli(&key, &["keys", "list"]));
    assert!(line.starts_with("error: 401 "), "{line}");
    let line = failure(&server.cli("nonsense", &["keys", "list"]));
    assert!(line.starts_with("error: 401 "), "{line}");

    // No admin key at all: said before any request.
    let mut cmd = gatehouse(home.path());
    cmd.args(["keys", "list"])
        .env("GATEHOUSE_URL", server.url());
    let line = failure(&run(cmd));
    assert!(line.contains("GATEHOUSE_ADMIN_KEY"), "{line}");
    let line = failure(&server.cli("", &["keys", "list"]));
    assert!(line.contains("GATEHOUSE_ADMIN_KEY"), "{line}");

    server.stop();
    // The server is gone: a clear one-line reason.
    let line = failure(&server.cli(&admin, &["keys", "list"]));
    assert!(line.contains("cannot reach"), "{line}");
}
