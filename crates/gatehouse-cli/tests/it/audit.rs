//! `gatehouse audit list|export|verify`, and tampering with the stored trail.

use crate::support::{Home, Server, failure, sql, sql_count, wait_for};
use serde_json::Value;

/// A server with some history: a key created and verified `verifies` times.
fn busy_server(home: &mut Home, verifies: usize) -> (Server, String, String) {
    let (server, admin) = home.start_first();
    let created = server.json(&admin, &["keys", "create", "--name", "svc"]);
    let key = created["key"].as_str().unwrap().to_owned();
    for _ in 0..verifies {
        server.ok(&admin, &["keys", "verify", &key]);
    }
    let id = created["id"].as_str().unwrap().to_owned();
    (server, admin, id)
}

fn export(server: &Server, admin: &str, filter: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "export"];
    args.extend_from_slice(filter);
    server
        .ok(admin, &args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

#[test]
fn audit_list_shows_the_newest_events_first() {
    let mut home = Home::new();
    let (mut server, admin, id) = busy_server(&mut home, 2);
    let table = server.ok(&admin, &["audit", "list"]);
    let header = table.lines().next().unwrap();
    for column in ["SEQ", "TIME", "ACTION", "OUTCOME", "PRINCIPAL", "TARGET"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        table.contains("key.verify") && table.contains("key.create"),
        "{table}"
    );
    assert!(table.contains(&id), "{table}");
    let seqs: Vec<u64> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    let page = server.json(
        &admin,
        &["audit", "list", "--limit", "2", "--action", "key.verify"],
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|e| e["action"] == "key.verify" && e["reason"] == "VALID")
    );
    assert!(items.iter().all(|e| e["principal"] == "admin"), "{page}");
    let denied = server.json(&admin, &["audit", "list", "--outcome", "denied"]);
    assert_eq!(denied["items"].as_array().unwrap().len(), 0, "{denied}");
    server.stop();
}

#[test]
fn audit_export_prints_one_json_event_per_line_oldest_first() {
    const VERIFIES: usize = 5;
    let mut home = Home::new();
    let (mut server, admin, id) = busy_server(&mut home, VERIFIES);
    let events = export(&server, &admin, &[]);
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event, in order");
    assert_eq!(events[0]["action"], "key.create");
    assert_eq!(events[0]["reason"], "bootstrap");
    let verifies = events
        .iter()
        .filter(|e| e["action"] == "key.verify")
        .count();
    assert_eq!(verifies, VERIFIES);
    assert!(
        events.windows(2).all(|w| w[1]["prev_hash"] == w[0]["hash"]),
        "each event links to the one before"
    );

    let filtered = export(&server, &admin, &["--action", "key.verify"]);
    assert_eq!(filtered.len(), VERIFIES);
    let targeted = export(&server, &admin, &["--credential", "no_such_credential"]);
    assert!(targeted.is_empty());
    let created = events
        .iter()
        .filter(|e| e["action"] == "key.create" && e["target"] == Value::String(id.clone()))
        .count();
    assert_eq!(created, 1, "one key.create for {id}");
    server.stop();
}

#[test]
fn denied_decisions_are_recorded_with_their_reason() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 0);
    let created = server.json(&admin, &["keys", "create", "--name", "gone"]);
    let (gone_id, gone) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    server.ok(&admin, &["keys", "revoke", gone_id]);
    assert!(
        !server
            .cli(&admin, &["keys", "verify", gone])
            .status
            .success()
    );
    failure(&server.cli(gone, &["keys", "list"]));
    let denied = export(&server, &admin, &["--outcome", "denied"]);
    let verify = denied
        .iter()
        .find(|e| e["action"] == "key.verify")
        .unwrap_or_else(|| panic!("{denied:?}"));
    assert_eq!(verify["reason"], "REVOKED");
    assert_eq!(verify["target"], gone_id);
    let login = denied
        .iter()
        .find(|e| e["action"] == "api.authenticate")
        .unwrap_or_else(|| panic!("{denied:?}"));
    assert_eq!(login["reason"], "REVOKED");
    assert_eq!(login["credential_id"], gone_id);
    assert_eq!(login["status"], 401);
    server.stop();
}

#[test]
fn audit_verify_names_an_edited_event() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    let out = server.ok(&admin, &["audit", "verify"]);
    assert!(out.starts_with("audit chain ok: "), "{out}");
    server.stop();

    let changed = sql(
        &home.database(),
        &["UPDATE audit_events SET outcome = 'denied' WHERE seq = 3"],
    );
    assert_eq!(changed, [1]);
    let cmd = home.serve();
    let mut server = home.start(cmd);
    let line = failure(&server.cli(&admin, &["audit", "verify"]));
    assert!(line.contains("event 3 "), "{line}");
    assert!(line.contains("altered"), "{line}");
    server.stop();
}

#[test]
fn audit_verify_notices_an_edit_made_while_the_server_runs() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    server.ok(&admin, &["audit", "verify"]);
    let changed = sql(
        &home.database(),
        &["UPDATE audit_events SET principal = 'mallory' WHERE seq = 4"],
    );
    assert_eq!(changed, [1]);
    let line = failure(&server.cli(&admin, &["audit", "verify"]));
    assert!(line.contains("event 4 "), "{line}");
    server.stop();
}

#[test]
fn audit_verify_notices_a_deleted_event() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    server.ok(&admin, &["audit", "verify"]);
    let changed = sql(
        &home.database(),
        &["DELETE FROM audit_events WHERE seq = 2"],
    );
    assert_eq!(changed, [1]);
    let line = failure(&server.cli(&admin, &["audit", "verify"]));
    assert!(line.contains("missing before event 3"), "{line}");
    server.stop();
}

#[test]
fn audit_verify_notices_a_forged_replacement_event() {
    // Rewriting an event and recomputing nothing else: the next event no longer links.
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    server.stop();
    sql(
        &home.database(),
        &[
            "UPDATE audit_events SET hash = (SELECT hash FROM audit_events WHERE seq = 2) WHERE seq = 3",
        ],
    );
    let cmd = home.serve();
    let mut server = home.start(cmd);
    let line = failure(&server.cli(&admin, &["audit", "verify"]));
    assert!(
        line.contains("event 3 ") || line.contains("event 4 "),
        "{line}"
    );
    server.stop();
}

#[test]
fn audit_verify_notices_the_oldest_events_deleted() {
    // Without a record of where the trail starts, this would pass for retention.
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    server.ok(&admin, &["audit", "verify"]);
    let changed = sql(
        &home.database(),
        &["DELETE FROM audit_events WHERE seq <= 2"],
    );
    assert_eq!(changed, [2]);
    let line = failure(&server.cli(&admin, &["audit", "verify"]));
    assert!(line.contains("audit chain broken"), "{line}");
    assert!(line.contains("events 1 to 2 are missing"), "{line}");
    server.stop();
}

#[test]
fn audit_verify_accepts_retention_but_not_a_deletion_beyond_it() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    server.stop();
    // Ages the first three events past a one-day retention. Their hashes no longer
    // match, which does not matter: retention deletes them at the next start.
    sql(
        &home.database(),
        &["UPDATE audit_events SET time = time - 172800000 WHERE seq <= 3"],
    );
    let mut cmd = home.serve();
    cmd.env("GATEHOUSE_AUDIT__RETENTION_DAYS", "1");
    let mut server = home.start(cmd);
    let watermark = "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta \
                     WHERE name = 'audit_first_seq'), 0)";
    wait_for("retention records where the trail starts", || {
        sql_count(&home.database(), watermark) == 4
    });
    let out = server.ok(&admin, &["audit", "verify"]);
    assert!(out.starts_with("audit chain ok: "), "{out}");

    let changed = sql(
        &home.database(),
        &["DELETE FROM audit_events WHERE seq <= 5"],
    );
    assert_eq!(changed, [2]);
    let line = failure(&server.cli(&admin, &["audit", "verify"]));
    assert!(line.contains("events 4 to 5 are missing"), "{line}");
    server.stop();
}
