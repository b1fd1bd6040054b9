//! Tampering with the SQLite file between a stop and a start: cutting the trail short,
//! emptying it, editing an event and recomputing the chain with the public SHA-256
//! formula, restoring an older copy of the database. Each is found at the next start
//! (an `audit.tamper_detected` event, the metric) and by `GET /admin/v1/audit/verify`;
//! an untouched restart and a trail written before the keyed chain verify.

use crate::support::{TestApp, spawn_app};
use gatehouse_api::audit::AuditVerification;
use gatehouse_core::audit::{AuditEvent, ChainHash, EventBody};
use gatehouse_store::{AuditQuery, Order, Store};
use gatehouse_store_sqlite::SqliteStore;
use reqwest::Method;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn database(app: &TestApp) -> PathBuf {
    app.dir.path().join("gatehouse.db")
}

fn witness(app: &TestApp) -> PathBuf {
    app.dir.path().join("audit-witness.log")
}

/// A server with some history, stopped.
async fn stopped_app_with_events() -> TestApp {
    let mut app = spawn_app().await;
    for i in 0..4 {
        let key = app.create_key(&format!("k{i}"), &[]).await;
        app.verify(&key.key, &[]).await;
    }
    app.stop().await;
    app
}

/// Runs `sql` on the stopped server's database with a connection of its own.
async fn execute(app: &TestApp, sql: &'static str) {
    let url = format!("sqlite://{}", database(app).display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open database");
    sqlx::query(sql).execute(&pool).await.expect(sql);
    pool.close().await;
}

/// Every stored event, oldest first, read through the store.
async fn stored_events(app: &TestApp) -> Vec<AuditEvent> {
    let store = SqliteStore::open(&database(app)).await.expect("store");
    let events = store
        .query_audit(&AuditQuery {
            order: Order::Ascending,
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .expect("events");
    store.close().await;
    events
}

/// The audit link of versions before the keyed chain, as anyone can read it in the
/// source: SHA-256 over a tag, the previous hash, the sequence number and the fields.
fn sha256_link(prev: &ChainHash, seq: u64, body: &EventBody) -> ChainHash {
    let mut h = Sha256::new();
    h.update(b"gatehouse-audit-v1");
    h.update(prev.0);
    h.update(seq.to_be_bytes());
    h.update(body.time.as_millis().to_be_bytes());
    let status = body.status.map(|s| s.to_string());
    let fields: [Option<&str>; 13] = [
        Some(&body.request_id),
        Some(&body.action),
        Some(body.outcome.as_str()),
        body.reason.as_deref(),
        body.principal.as_deref(),
        body.credential_id.as_deref(),
        body.auth_method.as_deref(),
        body.target.as_deref(),
        body.route.as_deref(),
        body.method.as_deref(),
        body.path.as_deref(),
        status.as_deref(),
        body.client_ip.as_deref(),
    ];
    for field in fields {
        match field {
            None => h.update(u64::MAX.to_be_bytes()),
            Some(s) => {
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    if let Some(latency) = body.latency_us {
        h.update(b"latency_us");
        h.update(latency.to_be_bytes());
    }
    ChainHash(h.finalize().into())
}

/// Rewrites the stored trail from event `from` on with plain SHA-256 links, after
/// `edit` changed that event's principal: what someone with write access to the
/// database and the public formula, but not the master key, can do.
async fn rehash_with_sha256(app: &TestApp, from: u64, principal: &str) {
    let mut events = stored_events(app).await;
    let mut prev = events
        .iter()
        .find(|e| e.seq + 1 == from)
        .map_or(ChainHash::GENESIS, |e| e.hash);
    let url = format!("sqlite://{}", database(app).display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open database");
    for event in events.iter_mut().filter(|e| e.seq >= from) {
        if event.seq == from {
            event.body.principal = Some(principal.into());
        }
        event.prev_hash = prev;
        event.hash = sha256_link(&prev, event.seq, &event.body);
        prev = event.hash;
        sqlx::query("UPDATE audit_events SET principal = ?, prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(event.body.principal.as_deref())
            .bind(event.prev_hash.to_hex())
            .bind(event.hash.to_hex())
            .bind(i64::try_from(event.seq).unwrap())
            .execute(&pool)
            .await
            .expect("rewrite event");
    }
    pool.close().await;
}

async fn verification(app: &TestApp) -> AuditVerification {
    app.get("/admin/v1/audit/verify").await.expect(200).json()
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .send(app.request(Method::GET, "/metrics"))
        .await
        .expect(200)
        .text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .expect("the metric is exported")
        .parse()
        .expect("a number")
}

async fn tamper_metric(app: &TestApp) -> u64 {
    metric(app, "gatehouse_audit_tamper_detected").await
}

/// Starts the stopped server again and waits for the background walk of the links
/// before the last checkpoint that follows every start.
async fn restart(app: &mut TestApp) {
    app.start_again().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metric(app, "gatehouse_audit_trail_checked").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the trail was not checked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The start that followed the tampering found it: an `audit.tamper_detected` event
/// with `code`, the metric, and a failing verification naming it.
async fn assert_detected(app: &TestApp, code: &str) -> AuditVerification {
    let events = app.audit("action=audit.tamper_detected").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some(code) && e.outcome == "denied"),
        "no audit.tamper_detected event with {code}: {events:?}"
    );
    assert!(tamper_metric(app).await >= 1);
    let report = verification(app).await;
    assert!(!report.ok, "{report:?}");
    assert!(report.recorded.iter().any(|p| p.code == code), "{report:?}");
    report
}

#[tokio::test]
async fn an_untouched_restart_is_a_keyed_trail_that_verifies() {
    let mut app = stopped_app_with_events().await;
    restart(&mut app).await;
    assert_eq!(tamper_metric(&app).await, 0);
    let report = verification(&app).await;
    assert!(report.ok, "{report:?}");
    assert!(report.problems.is_empty() && report.recorded.is_empty());
    assert_eq!(report.keyed_from, 1);
    assert_eq!(report.segments.len(), 1);
    assert_eq!(report.segments[0].chain, "hmac-sha256");
    assert_eq!(report.segments[0].from_seq, 1);
    let witnessed = report.witnessed.expect("a checkpoint");
    assert!(
        witnessed.seq >= 9,
        "the stop checkpointed its head: {witnessed:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(witness(&app))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn events_deleted_from_the_end_while_stopped_are_found_at_start() {
    let mut app = stopped_app_with_events().await;
    execute(&app, "DELETE FROM audit_events WHERE seq > 7").await;
    restart(&mut app).await;
    let report = assert_detected(&app, "BEHIND_WITNESS").await;
    // The trail now continues past 7; the witness still holds the head it had.
    assert!(report.head_seq > 7);
}

#[tokio::test]
async fn an_emptied_trail_is_found_at_start() {
    let mut app = stopped_app_with_events().await;
    execute(&app, "DELETE FROM audit_events").await;
    restart(&mut app).await;
    let events = app.audit("action=audit.tamper_detected").await;
    assert!(
        events[0]
            .target
            .as_deref()
            .unwrap()
            .contains("ends at event 0"),
        "{events:?}"
    );
    assert_detected(&app, "BEHIND_WITNESS").await;
}

#[tokio::test]
async fn an_event_edited_and_rehashed_with_sha256_is_found_at_start() {
    let mut app = stopped_app_with_events().await;
    rehash_with_sha256(&app, 3, "mallory").await;
    restart(&mut app).await;
    assert_detected(&app, "CHAIN_BROKEN").await;
    assert_detected(&app, "DIVERGES_FROM_WITNESS").await;
    let events = app.audit("action=audit.tamper_detected").await;
    assert!(
        events
            .iter()
            .any(|e| e.target.as_deref().unwrap().contains("event 3 was altered")),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_event_edited_before_the_last_checkpoint_is_found_by_the_walk_after_start() {
    // Not rehashed: the witnessed head still matches, so the start's own check (from
    // the last checkpoint on) passes it; the walk of the older links that follows
    // every start finds it.
    let mut app = stopped_app_with_events().await;
    execute(
        &app,
        "UPDATE audit_events SET principal = 'mallory' WHERE seq = 3",
    )
    .await;
    restart(&mut app).await;
    let report = assert_detected(&app, "CHAIN_BROKEN").await;
    assert!(
        report.recorded.iter().all(|p| p.code == "CHAIN_BROKEN"),
        "only the walk found something: {report:?}"
    );
}

#[tokio::test]
async fn a_database_rolled_back_to_an_older_copy_is_found_at_start() {
    let mut app = stopped_app_with_events().await;
    let copy = app.dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let files = ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"];
    for name in files {
        let from = app.dir.path().join(name);
        if from.exists() {
            std::fs::copy(&from, copy.join(name)).unwrap();
        }
    }
    restart(&mut app).await;
    let key = app.create_key("after-the-copy", &[]).await;
    app.verify(&key.key, &[]).await;
    app.stop().await;
    for name in files {
        let to = app.dir.path().join(name);
        let _ = std::fs::remove_file(&to);
        if copy.join(name).exists() {
            std::fs::copy(copy.join(name), &to).unwrap();
        }
    }
    restart(&mut app).await;
    assert_detected(&app, "BEHIND_WITNESS").await;
}

#[tokio::test]
async fn a_trail_written_before_the_keyed_chain_keeps_verifying_and_says_so() {
    let mut app = stopped_app_with_events().await;
    // What an older version left: every event linked by plain SHA-256, no keyed
    // boundary recorded, no witness.
    rehash_with_sha256(&app, 1, "gatehouse").await;
    execute(&app, "DELETE FROM meta WHERE name = 'audit_keyed_from'").await;
    std::fs::remove_file(witness(&app)).unwrap();
    let old_head = stored_events(&app).await.last().unwrap().seq;

    restart(&mut app).await;
    assert_eq!(tamper_metric(&app).await, 0);
    // Events written from now on are keyed.
    app.create_key("after-the-upgrade", &[]).await;
    let report = verification(&app).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.keyed_from, old_head + 1);
    let chains: Vec<_> = report
        .segments
        .iter()
        .map(|s| (s.from_seq, s.to_seq, s.chain.as_str()))
        .collect();
    assert_eq!(chains[0], (1, old_head, "sha256"));
    assert_eq!(chains[1].0, old_head + 1);
    assert_eq!(chains[1].2, "hmac-sha256");
    assert!(report.segments[0].guarantee.contains("unkeyed"));

    // And across another restart, the boundary stays where it was put.
    app.restart().await;
    let again = verification(&app).await;
    assert!(again.ok, "{again:?}");
    assert_eq!(again.keyed_from, old_head + 1);
}

#[tokio::test]
async fn moving_the_keyed_boundary_past_a_rehashed_trail_is_found() {
    let mut app = stopped_app_with_events().await;
    // Rehash everything with SHA-256 and claim it was all written before the keyed
    // chain; the witness still names the real boundary.
    rehash_with_sha256(&app, 1, "gatehouse").await;
    execute(
        &app,
        "UPDATE meta SET value = '1000' WHERE name = 'audit_keyed_from'",
    )
    .await;
    restart(&mut app).await;
    let report = assert_detected(&app, "BOUNDARY_MOVED").await;
    // The witnessed boundary is put back, so the rehashed events still fail.
    assert_eq!(report.keyed_from, 1);
    assert!(
        report.problems.iter().any(|p| p.code == "CHAIN_BROKEN"),
        "{report:?}"
    );
}

#[tokio::test]
async fn removing_the_keyed_boundary_is_found() {
    let mut app = stopped_app_with_events().await;
    execute(&app, "DELETE FROM meta WHERE name = 'audit_keyed_from'").await;
    restart(&mut app).await;
    let report = assert_detected(&app, "BOUNDARY_MOVED").await;
    assert_eq!(report.keyed_from, 1);
    assert!(report.problems.is_empty(), "{report:?}");
}

#[tokio::test]
async fn verifying_needs_the_audit_scope() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    app.call(Method::GET, "/admin/v1/audit/verify", &manager.key, None)
        .await
        .problem(403, "insufficient_scope");
}

/// The seq of the witness's last valid checkpoint, read as the server would.
fn witnessed_seq(app: &TestApp) -> Option<u64> {
    let key = gatehouse_server::audit_log::checkpoint_key(&crate::support::master_key());
    let text = std::fs::read_to_string(witness(app)).ok()?;
    gatehouse_core::audit::checkpoint::read_witness(&text, &key)
        .last
        .map(|c| c.seq)
}

#[tokio::test]
async fn checkpoints_follow_the_head_while_events_flow_and_a_cut_is_found_at_once() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create_key(&format!("k{i}"), &[]).await;
    }
    let head: gatehouse_api::audit::AuditHead =
        app.get("/admin/v1/audit/head").await.expect(200).json();
    // The checkpoint task runs every second on the real clock: the file is the signal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while witnessed_seq(&app).is_none_or(|seq| seq < head.head_seq) {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint reached {} within 10 s",
            head.head_seq
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let url = format!("sqlite://{}", database(&app).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM audit_events WHERE seq > 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let report = verification(&app).await;
    assert!(!report.ok);
    assert!(
        report.problems.iter().any(|p| p.code == "BEHIND_WITNESS"),
        "{report:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn checkpoints_also_go_to_the_configured_syslog_socket() {
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("log");
    let syslog = tokio::net::UnixDatagram::bind(&socket).unwrap();
    let app = crate::support::spawn_app_with(&format!(
        "version = 1\n[audit]\nwitness_syslog = \"{}\"\n",
        socket.display()
    ))
    .await;
    // The checkpoint written at start arrives first.
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), syslog.recv(&mut buffer))
        .await
        .expect("a checkpoint within 10 s")
        .unwrap();
    let datagram = std::str::from_utf8(&buffer[..n]).unwrap();
    let line = datagram
        .strip_prefix("<37>gatehouse-audit: ")
        .unwrap_or_else(|| panic!("{datagram:?}"));
    let key = gatehouse_server::audit_log::checkpoint_key(&crate::support::master_key());
    let checkpoint = gatehouse_core::audit::checkpoint::Checkpoint::parse_line(line, &key)
        .expect("a valid checkpoint");
    assert_eq!(checkpoint.keyed_from, 1);
    // The same line as the file's.
    let file = std::fs::read_to_string(witness(&app)).unwrap();
    assert!(file.lines().any(|l| l == line), "{file}");
}

#[tokio::test]
async fn checkpoints_are_also_posted_to_the_configured_endpoint() {
    use std::sync::{Arc, Mutex};
    let bodies: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (got, got_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let receiver = axum::Router::new().route(
        "/checkpoints",
        axum::routing::post({
            let bodies = Arc::clone(&bodies);
            move |headers: axum::http::HeaderMap, body: String| async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                bodies.lock().unwrap().push((kind, body));
                let _ = got.send(());
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let app = crate::support::spawn_app_with(&format!(
        "version = 1\n[audit]\nwitness_url = \"http://{addr}/checkpoints\"\n"
    ))
    .await;
    // The checkpoint written at start is posted before the server answers.
    let mut got_rx = got_rx;
    tokio::time::timeout(std::time::Duration::from_secs(10), got_rx.recv())
        .await
        .expect("a checkpoint POSTed within 10 s");
    let (kind, body) = bodies.lock().unwrap()[0].clone();
    assert_eq!(kind, "application/json");
    let key = gatehouse_server::audit_log::checkpoint_key(&crate::support::master_key());
    gatehouse_core::audit::checkpoint::Checkpoint::parse_line(&body, &key)
        .expect("a valid checkpoint");
    let file = std::fs::read_to_string(witness(&app)).unwrap();
    assert!(file.lines().any(|l| l == body), "{file}");
}

#[tokio::test]
async fn a_deleted_witness_is_found_even_when_the_trail_was_cut_to_match() {
    let mut app = stopped_app_with_events().await;
    execute(&app, "DELETE FROM audit_events WHERE seq > 5").await;
    std::fs::remove_file(witness(&app)).unwrap();
    restart(&mut app).await;
    assert_detected(&app, "WITNESS_MISSING").await;
}

#[tokio::test]
async fn an_event_overwritten_with_garbage_is_reported_and_does_not_stop_the_start() {
    let mut app = stopped_app_with_events().await;
    execute(
        &app,
        "UPDATE audit_events SET outcome = 'maybe' WHERE seq = 3",
    )
    .await;
    restart(&mut app).await;
    let events = app.audit("action=audit.tamper_detected").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("EVENT_UNREADABLE")),
        "{events:?}"
    );
    assert!(tamper_metric(&app).await >= 1);
}

#[tokio::test]
async fn a_boundary_overwritten_with_garbage_is_moved_not_a_refusal_to_start() {
    let mut app = stopped_app_with_events().await;
    execute(
        &app,
        "UPDATE meta SET value = 'x' WHERE name = 'audit_keyed_from'",
    )
    .await;
    restart(&mut app).await;
    let report = assert_detected(&app, "BOUNDARY_MOVED").await;
    assert_eq!(report.keyed_from, 1);
}
