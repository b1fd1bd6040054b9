//! `GET /admin/v1/audit/head` and the retention watermark: where the trail must start
//! and where it ends are known, so deleting its oldest events does not pass for
//! retention.

use crate::support::{START, TestApp, chain_key, spawn_app};
use gatehouse_api::audit::{AuditHead, Event};
use gatehouse_core::audit::{AuditEvent, ChainBreak, Links, verify_chain};
use gatehouse_server::audit_log;
use reqwest::Method;

const DAY: i64 = 86_400_000;

async fn audit_head(app: &TestApp) -> AuditHead {
    app.get("/admin/v1/audit/head").await.expect(200).json()
}

fn chain(events: &[Event]) -> Vec<AuditEvent> {
    events
        .iter()
        .map(|e| AuditEvent::try_from(e).expect("well-formed event"))
        .collect()
}

#[tokio::test]
async fn the_head_is_the_newest_event_answered_before_it() {
    let app = spawn_app().await;
    let key = app.create_key("k", &[]).await;
    app.verify(&key.key, &[]).await;
    let head = audit_head(&app).await;
    assert_eq!(head.first_seq, 1, "a trail never pruned starts at 1");
    let events = app.audit("").await;
    let newest = events
        .iter()
        .position(|e| e.seq == head.head_seq)
        .expect("the head is in the trail");
    assert_eq!(events[newest].action, "key.verify");
    assert_eq!(events[newest].hash, head.head_hash);
    // The head request's own event comes right after the head it answered.
    assert_eq!(events[newest + 1].action, "audit.head");
    assert_eq!(events[newest + 1].outcome, "allowed");
}

#[tokio::test]
async fn reading_the_head_needs_the_audit_scope() {
    let app = spawn_app().await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    app.call(Method::GET, "/admin/v1/audit/head", &manager.key, None)
        .await
        .problem(403, "insufficient_scope");
    let reader = app.create_key("reader", &["gatehouse:audit:read"]).await;
    let reply = app
        .call(Method::GET, "/admin/v1/audit/head", &reader.key, None)
        .await
        .expect(200);
    assert_eq!(reply.json::<AuditHead>().first_seq, 1);
}

#[tokio::test]
async fn retention_moves_the_start_and_a_deletion_past_it_is_evident() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create_key(&format!("old{i}"), &[]).await;
    }
    app.advance_millis(2 * DAY);
    app.create_key("new", &[]).await;
    app.state().audit.flush().await;
    let store = app.state().store.as_ref();

    // The bootstrap event and three creations are over a day old.
    let deleted = audit_log::prune(store, START.plus_millis(DAY))
        .await
        .unwrap();
    assert_eq!(deleted, 4);
    let head = audit_head(&app).await;
    assert_eq!(head.first_seq, 5);
    let events = chain(&app.audit("").await);
    assert_eq!(events[0].seq, 5);
    assert_eq!(
        verify_chain(&events, head.first_seq, &Links::keyed(1, &chain_key())),
        Ok(events.len() as u64)
    );
    // A run that deletes nothing leaves the start where it is.
    assert_eq!(audit_log::prune(store, START).await.unwrap(), 0);
    assert_eq!(audit_log::first_seq(store).await.unwrap(), 5);

    // Deleting old events behind retention's back does not move the start.
    let pruned = store
        .prune_audit(START.plus_millis(2 * DAY + 1))
        .await
        .unwrap();
    assert!(pruned.deleted > 0);
    // Nor does the next retention run bless the deletion: it deleted nothing itself.
    assert_eq!(
        audit_log::prune(store, START.plus_millis(DAY))
            .await
            .unwrap(),
        0
    );
    let head = audit_head(&app).await;
    assert_eq!(head.first_seq, 5);
    let events = chain(&app.audit("").await);
    assert_eq!(
        verify_chain(&events, head.first_seq, &Links::keyed(1, &chain_key())),
        Err(ChainBreak::MissingStart {
            seq: events[0].seq,
            expected: 5
        })
    );
}
