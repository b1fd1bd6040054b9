//! `gatehouse audit list|export|verify`, and tampering with the stored trail.

use crate::support::{Home, MASTER_KEY, Server, failure, sql, sql_count, wait_for, with_db};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::checkpoint::Checkpoint;
use gatehouse_core::audit::{Chain, EventBody, Outcome};
use gatehouse_server::audit_log::{chain_key, checkpoint_key};
use gatehouse_server::master_key::MasterKey;
use serde_json::Value;

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// Makes events `1..=n` two days older and links the whole trail again under the test
/// master key's chain key, and witnesses the new head under its checkpoint key — what
/// only a holder of the master key can do, so the keyed chain and the witness hold.
fn age_events_as_the_key_holder(home: &Home, n: i64) {
    let master = MasterKey::from_hex(MASTER_KEY, "test").unwrap();
    let key = chain_key(&master);
    let head = with_db(&home.database(), |pool| async move {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, time, request_id, action, outcome, reason, principal, credential_id, \
             auth_method, target, route, method, path, status, client_ip, latency_us \
             FROM audit_events ORDER BY seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut chain = Chain::new(key);
        for row in rows {
            let aged = if row.0 <= n {
                row.1 - 172_800_000
            } else {
                row.1
            };
            let body = EventBody {
                time: UnixTime::from_millis(aged),
                request_id: row.2.into(),
                action: row.3.into(),
                outcome: Outcome::parse(&row.4).unwrap(),
                reason: row.5.map(Into::into),
                principal: row.6.map(Into::into),
                credential_id: row.7.map(Into::into),
                auth_method: row.8.map(Into::into),
                target: row.9.map(Into::into),
                route: row.10.map(Into::into),
                method: row.11.map(Into::into),
                path: row.12.map(Into::into),
                status: row.13.map(|s| u16::try_from(s).unwrap()),
                client_ip: row.14.map(Into::into),
                latency_us: row.15.map(|l| u64::try_from(l).unwrap()),
            };
            let event = chain.append(body);
            assert_eq!(i64::try_from(event.seq).unwrap(), row.0);
            sqlx::query("UPDATE audit_events SET time = ?, prev_hash = ?, hash = ? WHERE seq = ?")
                .bind(aged)
                .bind(event.prev_hash.to_hex())
                .bind(event.hash.to_hex())
                .bind(row.0)
                .execute(&pool)
                .await
                .unwrap();
        }
        chain.head().unwrap()
    });
    let checkpoint = Checkpoint {
        seq: head.0,
        hash: head.1,
        keyed_from: 1,
        time: UnixTime::from_millis(0),
    };
    std::fs::write(
        home.data_dir().join("audit-witness.log"),
        checkpoint.to_line(&checkpoint_key(&master)),
    )
    .unwrap();
}

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
    // Ages the first three events past a one-day retention.
    age_events_as_the_key_holder(&home, 3);
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

#[test]
fn audit_verify_fails_after_a_start_that_found_the_trail_cut_short() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 3);
    server.stop();
    let changed = sql(
        &home.database(),
        &["DELETE FROM audit_events WHERE seq > 2"],
    );
    assert!(changed[0] >= 2, "{changed:?}");
    let cmd = home.serve();
    let mut server = home.start(cmd);
    assert!(
        server.stderr().contains("AUDIT TRAIL TAMPERING DETECTED"),
        "{}",
        server.stderr()
    );
    let out = server.cli(&admin, &["audit", "verify"]);
    let line = failure(&out);
    assert!(line.contains("the witness saw event"), "{line}");
    let details = String::from_utf8_lossy(&out.stdout);
    assert!(details.contains("BEHIND_WITNESS"), "{details}");
    server.stop();
}

#[test]
fn audit_verify_says_which_guarantee_covers_the_trail() {
    let mut home = Home::new();
    let (mut server, admin, _id) = busy_server(&mut home, 1);
    let out = server.ok(&admin, &["audit", "verify"]);
    assert!(out.starts_with("audit chain ok: "), "{out}");
    assert!(
        out.contains("seq 1..") && out.contains("keyed chain"),
        "{out}"
    );
    assert!(out.contains("witness: last checkpoint at seq"), "{out}");
    server.stop();
}
