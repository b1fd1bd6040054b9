use crate::{AuditQuery, Order, Pruned, Store, StoreError};
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, Chain, EventBody, Links, MacKey, Outcome, verify_chain};

fn body(n: i64, principal: &str, action: &str, outcome: Outcome) -> EventBody {
    EventBody {
        time: UnixTime::from_millis(1_700_000_000_000 + n * 1000),
        request_id: format!("req_{n}").into(),
        action: action.into(),
        outcome,
        reason: (outcome == Outcome::Denied).then(|| "REVOKED".into()),
        principal: Some(principal.into()),
        credential_id: Some(format!("key_{principal}").into()),
        auth_method: Some("api_key".into()),
        target: None,
        route: (n % 3 == 1).then(|| "orders".into()),
        method: Some("POST".into()),
        path: Some("/v1/keys/verify".into()),
        status: Some(200),
        client_ip: Some("127.0.0.1".into()),
        // Some events have a latency, some not: both must read back as written.
        latency_us: u64::try_from(n)
            .ok()
            .filter(|n| n % 3 != 0)
            .map(|n| n * 250),
    }
}

/// Ten events: even ones by alice (allowed), odd ones by bob (denied).
fn ten_events() -> Vec<AuditEvent> {
    let mut chain = Chain::new(test_key());
    (0..10)
        .map(|n| {
            let (who, outcome) = if n % 2 == 0 {
                ("alice", Outcome::Allowed)
            } else {
                ("bob", Outcome::Denied)
            };
            let action = if n < 5 { "key.verify" } else { "key.create" };
            chain.append(body(n, who, action, outcome))
        })
        .collect()
}

fn all(order: Order) -> AuditQuery {
    AuditQuery {
        order,
        limit: 100,
        ..AuditQuery::default()
    }
}

fn seqs(events: &[AuditEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

pub async fn appended_events_read_back_with_their_chain(store: &dyn Store) {
    let events = ten_events();
    store.append_audit(&events[..4]).await.unwrap();
    store.append_audit(&events[4..]).await.unwrap();
    let read = store.query_audit(&all(Order::Ascending)).await.unwrap();
    assert_eq!(read, events);
    assert_eq!(
        verify_chain(&read, 1, &Links::keyed(1, &test_key())),
        Ok(10)
    );
}

pub async fn head_is_the_newest_event(store: &dyn Store) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    let events = ten_events();
    store.append_audit(&events).await.unwrap();
    assert_eq!(
        store.audit_head().await.unwrap(),
        Some((10, events[9].hash))
    );
}

pub async fn taken_sequence_number_is_a_conflict(store: &dyn Store) {
    let events = ten_events();
    store.append_audit(&events[..3]).await.unwrap();
    let result = store.append_audit(&events[2..5]).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))));
    // The failed batch wrote nothing.
    assert_eq!(
        store
            .query_audit(&all(Order::Ascending))
            .await
            .unwrap()
            .len(),
        3
    );
}

/// A large batch whose conflict comes in its middle, after rows were already written
/// in the same statement and before rows still to come, is refused whole.
pub async fn batch_with_a_conflict_inside_writes_nothing(store: &dyn Store) {
    let mut chain = Chain::new(test_key());
    let events: Vec<_> = (0..300)
        .map(|n| chain.append(body(n, "alice", "gateway.request", Outcome::Allowed)))
        .collect();
    store.append_audit(&events[100..101]).await.unwrap();
    let result = store.append_audit(&events).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        seqs(&store.query_audit(&all(Order::Ascending)).await.unwrap()),
        [101]
    );
    assert_eq!(
        store.audit_head().await.unwrap(),
        Some((101, events[100].hash))
    );
}

pub async fn filters_select_matching_events(store: &dyn Store) {
    store.append_audit(&ten_events()).await.unwrap();
    let q = |f: fn(&mut AuditQuery)| {
        let mut query = all(Order::Ascending);
        f(&mut query);
        query
    };
    let by_alice = store
        .query_audit(&q(|q| q.principal = Some("alice".into())))
        .await
        .unwrap();
    assert_eq!(seqs(&by_alice), [1, 3, 5, 7, 9]);
    let by_cred = store
        .query_audit(&q(|q| q.credential_id = Some("key_bob".into())))
        .await
        .unwrap();
    assert_eq!(seqs(&by_cred), [2, 4, 6, 8, 10]);
    let created = store
        .query_audit(&q(|q| q.action = Some("key.create".into())))
        .await
        .unwrap();
    assert_eq!(seqs(&created), [6, 7, 8, 9, 10]);
    let denied = store
        .query_audit(&q(|q| q.outcome = Some(Outcome::Denied)))
        .await
        .unwrap();
    assert_eq!(seqs(&denied), [2, 4, 6, 8, 10]);
    let window = store
        .query_audit(&q(|q| {
            q.since = Some(UnixTime::from_millis(1_700_000_002_000));
            q.until = Some(UnixTime::from_millis(1_700_000_005_000));
        }))
        .await
        .unwrap();
    assert_eq!(seqs(&window), [3, 4, 5]);
    let combined = store
        .query_audit(&q(|q| {
            q.principal = Some("alice".into());
            q.action = Some("key.create".into());
        }))
        .await
        .unwrap();
    assert_eq!(seqs(&combined), [7, 9]);
}

pub async fn cursor_pages_through_both_orders(store: &dyn Store) {
    store.append_audit(&ten_events()).await.unwrap();
    let page = |order, after_seq| AuditQuery {
        order,
        after_seq,
        limit: 4,
        ..AuditQuery::default()
    };
    let first = store
        .query_audit(&page(Order::Descending, None))
        .await
        .unwrap();
    assert_eq!(seqs(&first), [10, 9, 8, 7]);
    let second = store
        .query_audit(&page(Order::Descending, Some(7)))
        .await
        .unwrap();
    assert_eq!(seqs(&second), [6, 5, 4, 3]);
    let last = store
        .query_audit(&page(Order::Descending, Some(3)))
        .await
        .unwrap();
    assert_eq!(seqs(&last), [2, 1]);
    let up = store
        .query_audit(&page(Order::Ascending, Some(8)))
        .await
        .unwrap();
    assert_eq!(seqs(&up), [9, 10]);
}

pub async fn prune_keeps_the_newest_event(store: &dyn Store) {
    let events = ten_events();
    store.append_audit(&events).await.unwrap();
    let pruned = store
        .prune_audit(UnixTime::from_millis(1_700_000_003_000))
        .await
        .unwrap();
    assert_eq!(pruned.deleted, 3);
    let rest = store.query_audit(&all(Order::Ascending)).await.unwrap();
    assert_eq!(seqs(&rest), [4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(verify_chain(&rest, 4, &Links::keyed(1, &test_key())), Ok(7));
    let pruned = store
        .prune_audit(UnixTime::from_millis(i64::MAX))
        .await
        .unwrap();
    assert_eq!(pruned.deleted, 6);
    assert_eq!(
        store.audit_head().await.unwrap(),
        Some((10, events[9].hash))
    );
}

pub async fn prune_reports_where_the_trail_now_starts(store: &dyn Store) {
    let nothing = UnixTime::from_millis(0);
    let none = Pruned {
        deleted: 0,
        starts_at: None,
    };
    assert_eq!(store.prune_audit(nothing).await.unwrap(), none);
    store.append_audit(&ten_events()).await.unwrap();
    assert_eq!(store.prune_audit(nothing).await.unwrap(), none);
    let five = UnixTime::from_millis(1_700_000_005_000);
    assert_eq!(
        store.prune_audit(five).await.unwrap(),
        Pruned {
            deleted: 5,
            starts_at: Some(6)
        }
    );
    // Nothing more to delete: the start is not re-derived from what is left.
    assert_eq!(store.prune_audit(five).await.unwrap(), none);
    let everything = UnixTime::from_millis(i64::MAX);
    assert_eq!(
        store.prune_audit(everything).await.unwrap(),
        Pruned {
            deleted: 4,
            starts_at: Some(10)
        }
    );
    assert_eq!(store.prune_audit(everything).await.unwrap(), none);
}

pub async fn prune_deletes_a_run_from_the_start_even_if_times_step_back(store: &dyn Store) {
    // Event 3 is stamped later than event 4: a clock that stepped back. Pruning up to
    // event 4 takes 3 with it rather than leave a hole in the chain.
    let mut chain = Chain::new(test_key());
    let times = [1, 2, 50, 4, 60, 70];
    let events: Vec<AuditEvent> = times
        .iter()
        .map(|&t| {
            let mut b = body(t, "alice", "key.verify", Outcome::Allowed);
            b.time = UnixTime::from_millis(t);
            chain.append(b)
        })
        .collect();
    store.append_audit(&events).await.unwrap();
    let pruned = store.prune_audit(UnixTime::from_millis(10)).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            deleted: 4,
            starts_at: Some(5)
        }
    );
    let rest = store.query_audit(&all(Order::Ascending)).await.unwrap();
    assert_eq!(seqs(&rest), [5, 6]);
    assert_eq!(verify_chain(&rest, 5, &Links::keyed(1, &test_key())), Ok(2));
}

/// The chain key of these tests (the server derives its own from the master key).
fn test_key() -> MacKey {
    MacKey::new(&gatehouse_core::Secret::new([7; 32]))
}
