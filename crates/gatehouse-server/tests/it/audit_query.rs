//! Reading the audit trail: filters, cursor pagination in both orders,
//! read-your-writes, and the hash chain checked by core's `verify_chain`.

use crate::support::{at, chain_key, spawn_app, with_bad_checksum};
use gatehouse_core::audit::{AuditEvent, ChainBreak, Links, verify_chain};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn filters_select_exactly_the_matching_events() {
    let app = spawn_app().await;
    let a = app
        .create(&json!({"name": "a", "subject": "alice", "scopes": ["gatehouse:verify"]}))
        .await;
    let b = app
        .create(&json!({"name": "b", "subject": "bob", "scopes": ["gatehouse:verify"]}))
        .await;
    let target = app.create_key("target", &[]).await;
    for _ in 0..3 {
        app.verify_as(&a.key, &target.key, &[]).await;
    }
    app.advance_millis(3_600_000);
    app.verify_as(&b.key, &target.key, &[]).await;
    app.verify_as(&b.key, &target.key, &["x:y"]).await;
    app.advance_millis(3_600_000);

    let alice = app.audit("principal=alice").await;
    assert_eq!(alice.len(), 3);
    assert!(
        alice
            .iter()
            .all(|e| e.credential_id.as_deref() == Some(a.info.id.as_str()))
    );
    assert_eq!(
        app.audit(&format!("credential_id={}", b.info.id))
            .await
            .len(),
        2
    );
    let bob_denied = app.audit("principal=bob&outcome=denied").await;
    assert_eq!(bob_denied.len(), 1);
    assert_eq!(bob_denied[0].reason.as_deref(), Some("INSUFFICIENT_SCOPE"));
    assert_eq!(app.audit("principal=bob&outcome=allowed").await.len(), 1);
    let verifies = app.audit("action=key.verify").await;
    assert_eq!(verifies.len(), 5);
    assert!(verifies.iter().all(|e| e.action == "key.verify"));

    let since = app
        .audit(&format!("action=key.verify&since={}", at(3_600_000)))
        .await;
    assert_eq!(since.len(), 2);
    assert!(since.iter().all(|e| e.principal.as_deref() == Some("bob")));
    let until = app
        .audit(&format!("action=key.verify&until={}", at(3_600_000)))
        .await;
    assert_eq!(until.len(), 3);
    let window = app.audit(&format!("since={}&until={}", at(0), at(1))).await;
    assert!(
        window.len() >= 3 + 3,
        "creates and verifies at the start: {window:#?}"
    );
    assert!(
        window
            .iter()
            .all(|e| e.time.unix_timestamp() == 1_800_000_000)
    );
    assert!(
        app.audit(&format!("since={}", at(7_200_001)))
            .await
            .is_empty()
    );
    assert!(app.audit("principal=nobody").await.is_empty());
}

#[tokio::test]
async fn cursor_pagination_walks_the_trail_in_both_orders() {
    let app = spawn_app().await;
    let target = app.create_key("target", &[]).await;
    for _ in 0..34 {
        app.verify(&target.key, &[]).await;
    }
    let walk = |order: &'static str| {
        let app = &app;
        async move {
            let mut seqs = Vec::new();
            let mut cursor = String::new();
            let mut pages = 0;
            loop {
                let page = app
                    .audit_page(&format!("action=key.verify&limit=10&order={order}{cursor}"))
                    .await;
                assert!(page.items.len() <= 10);
                pages += 1;
                seqs.extend(page.items.iter().map(|e| e.seq));
                match page.next_cursor {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => return (seqs, pages),
                }
            }
        }
    };
    let (asc, asc_pages) = walk("asc").await;
    let (mut desc, desc_pages) = walk("desc").await;
    assert_eq!(asc.len(), 34);
    assert!((4..=5).contains(&asc_pages) && (4..=5).contains(&desc_pages));
    assert!(asc.windows(2).all(|w| w[0] < w[1]), "{asc:?}");
    desc.reverse();
    assert_eq!(asc, desc);
    let default_order = app.audit_page("action=key.verify&limit=3").await;
    let newest: Vec<u64> = default_order.items.iter().map(|e| e.seq).collect();
    assert_eq!(
        newest,
        asc.iter().rev().take(3).copied().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn audit_query_includes_everything_answered_before_it() {
    let app = spawn_app().await;
    let target = app.create_key("target", &[]).await;
    for round in 1..=3 {
        for _ in 0..40 {
            app.verify(&target.key, &[]).await;
        }
        let events = app.audit("action=key.verify").await;
        assert_eq!(events.len(), 40 * round);
    }
}

#[tokio::test]
async fn the_trail_is_a_valid_hash_chain_without_secrets() {
    let app = spawn_app().await;
    let key = app.create_key("chained", &["a:read"]).await;
    for scopes in [&["a:read"][..], &["b"], &[]] {
        app.verify(&key.key, scopes).await;
    }
    app.post(
        "/v1/keys/verify",
        &json!({"key": with_bad_checksum(&key.key)}),
    )
    .await
    .expect(400);
    app.call(
        Method::GET,
        "/admin/v1/keys",
        &with_bad_checksum(&app.admin_key),
        None,
    )
    .await
    .expect(401);
    app.post(
        &format!("/admin/v1/keys/{}/rotate", key.info.id),
        &json!({}),
    )
    .await
    .expect(201);

    let events = app.audit("").await;
    assert_eq!(events[0].seq, 1);
    let chain: Vec<AuditEvent> = events
        .iter()
        .map(|e| AuditEvent::try_from(e).expect("well-formed event"))
        .collect();
    assert_eq!(
        verify_chain(&chain, 1, &Links::keyed(1, &chain_key())),
        Ok(events.len() as u64)
    );
    let mut altered = chain.clone();
    altered[2].body.principal = Some("mallory".into());
    assert_eq!(
        verify_chain(&altered, 1, &Links::keyed(1, &chain_key())),
        Err(ChainBreak::Altered { seq: 3 })
    );
    let mut gapped = chain.clone();
    gapped.remove(3);
    assert_eq!(
        verify_chain(&gapped, 1, &Links::keyed(1, &chain_key())),
        Err(ChainBreak::Gap {
            seq: 5,
            expected: 4
        })
    );

    let text = serde_json::to_string(&events).unwrap();
    for secret in [&key.key, &app.admin_key, &with_bad_checksum(&key.key)] {
        assert!(
            !text.contains(secret.as_str()),
            "the audit trail holds a key"
        );
        assert!(
            !text.contains(&secret[3..20]),
            "the audit trail holds part of a key"
        );
    }
    app.assert_no_key_leaked();
}
