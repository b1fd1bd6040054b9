use crate::{Store, StoreError};
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::KeyDigest;
use gatehouse_core::oauth::refresh::RefreshRecord;
use gatehouse_core::scope::ScopeSet;
use std::sync::Arc;

/// `ms` milliseconds after a fixed start.
pub fn at(ms: i64) -> UnixTime {
    UnixTime::from_millis(1_700_000_000_000 + ms)
}

/// A live, fully populated token of `family` (of user `usr_0001` for client
/// `cli_app`) whose id, digest, access token and issue time follow `n`.
pub fn token(n: u8, family: &str) -> RefreshRecord {
    RefreshRecord {
        id: format!("rt_{n:03}"),
        digest: KeyDigest([n; 32]),
        family_id: family.into(),
        client_id: "cli_app".into(),
        user_id: "usr_0001".into(),
        scopes: ScopeSet::parse(["openid", "orders:read"]).unwrap(),
        auth_time: at(-60_000),
        issued_at: at(i64::from(n)),
        expires_at: at(7_000),
        family_expires_at: at(30_000),
        access_jti: Some(format!("jti-{n:03}")),
        spent_at: None,
        revoked_at: None,
    }
}

/// The access tokens a revocation should return for `tokens`, sorted.
fn access_tokens(tokens: &[&RefreshRecord]) -> Vec<(String, UnixTime)> {
    let mut all: Vec<_> = tokens
        .iter()
        .filter_map(|t| Some((t.access_jti.clone()?, t.issued_at)))
        .collect();
    all.sort();
    all
}

fn sorted(mut v: Vec<(String, UnixTime)>) -> Vec<(String, UnixTime)> {
    v.sort();
    v
}

async fn read(store: &dyn Store, t: &RefreshRecord) -> Option<RefreshRecord> {
    store.refresh_token(&t.digest).await.unwrap()
}

pub async fn refresh_token_reads_back_every_field_by_digest(store: &dyn Store) {
    let live = token(1, "rt_001");
    let ended = RefreshRecord {
        spent_at: Some(at(10)),
        revoked_at: Some(at(20)),
        ..token(2, "rt_001")
    };
    let bare = RefreshRecord {
        scopes: ScopeSet::default(),
        access_jti: None,
        ..token(3, "rt_003")
    };
    for t in [&live, &ended, &bare] {
        store.insert_refresh_token(t).await.unwrap();
    }
    for t in [&live, &ended, &bare] {
        assert_eq!(read(store, t).await.as_ref(), Some(t));
    }
    assert_eq!(
        store.refresh_token(&KeyDigest([99; 32])).await.unwrap(),
        None
    );
}

pub async fn duplicate_refresh_token_digest_or_id_is_a_conflict(store: &dyn Store) {
    store
        .insert_refresh_token(&token(1, "rt_001"))
        .await
        .unwrap();
    let same_digest = RefreshRecord {
        id: "rt_other".into(),
        ..token(1, "rt_001")
    };
    let same_id = RefreshRecord {
        digest: KeyDigest([2; 32]),
        ..token(1, "rt_001")
    };
    for duplicate in [same_digest, same_id] {
        assert!(
            matches!(
                store.insert_refresh_token(&duplicate).await,
                Err(StoreError::Conflict(_))
            ),
            "{duplicate:?}"
        );
    }
    assert_eq!(
        store.refresh_token(&KeyDigest([2; 32])).await.unwrap(),
        None
    );
    assert_eq!(
        read(store, &token(1, "rt_001")).await,
        Some(token(1, "rt_001"))
    );
}

pub async fn rotation_spends_the_old_token_and_stores_its_successor(store: &dyn Store) {
    let first = token(1, "rt_001");
    let next = token(2, "rt_001");
    store.insert_refresh_token(&first).await.unwrap();
    assert!(
        store
            .rotate_refresh_token(&first.digest, at(5), &next)
            .await
            .unwrap()
    );
    let spent = RefreshRecord {
        spent_at: Some(at(5)),
        ..first.clone()
    };
    assert_eq!(read(store, &first).await, Some(spent));
    assert_eq!(read(store, &next).await, Some(next));
}

pub async fn a_spent_token_does_not_rotate_again(store: &dyn Store) {
    let first = token(1, "rt_001");
    store.insert_refresh_token(&first).await.unwrap();
    let rotate = |successor: RefreshRecord, time| async move {
        store
            .rotate_refresh_token(&first.digest, time, &successor)
            .await
            .unwrap()
    };
    assert!(rotate(token(2, "rt_001"), at(5)).await);
    assert!(!rotate(token(3, "rt_001"), at(6)).await);
    assert_eq!(read(store, &token(3, "rt_001")).await, None);
    // The first rotation's time stands.
    let stored = read(store, &first).await.unwrap();
    assert_eq!(stored.spent_at, Some(at(5)));
    assert_eq!(
        read(store, &token(2, "rt_001")).await,
        Some(token(2, "rt_001"))
    );
}

pub async fn a_revoked_or_unknown_token_does_not_rotate(store: &dyn Store) {
    let revoked = RefreshRecord {
        revoked_at: Some(at(3)),
        ..token(1, "rt_001")
    };
    store.insert_refresh_token(&revoked).await.unwrap();
    let next = token(2, "rt_001");
    assert!(
        !store
            .rotate_refresh_token(&revoked.digest, at(5), &next)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_refresh_token(&KeyDigest([99; 32]), at(5), &next)
            .await
            .unwrap()
    );
    assert_eq!(read(store, &next).await, None);
    assert_eq!(read(store, &revoked).await, Some(revoked));
}

pub async fn a_successor_that_cannot_be_stored_leaves_the_old_token_unspent(store: &dyn Store) {
    let first = token(1, "rt_001");
    let other = token(2, "rt_002");
    store.insert_refresh_token(&first).await.unwrap();
    store.insert_refresh_token(&other).await.unwrap();
    // The successor's digest is taken: the rotation fails as a whole.
    let clash = RefreshRecord {
        id: "rt_new".into(),
        ..token(2, "rt_001")
    };
    assert!(matches!(
        store
            .rotate_refresh_token(&first.digest, at(5), &clash)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(read(store, &first).await, Some(first.clone()));
    assert_eq!(read(store, &other).await, Some(other));
    // And the token can still be rotated properly.
    assert!(
        store
            .rotate_refresh_token(&first.digest, at(6), &token(3, "rt_001"))
            .await
            .unwrap()
    );
}

/// Many requests racing with one token: each round, 16 tasks try to rotate the current
/// token at once; exactly one wins and only its successor exists. The winner's
/// successor is raced for in the next round.
pub async fn concurrent_rotations_of_one_token_have_one_winner(store: Arc<dyn Store>) {
    const RACERS: u8 = 16;
    let mut current = token(1, "rt_001");
    store.insert_refresh_token(&current).await.unwrap();
    for round in 0..8u8 {
        let barrier = Arc::new(tokio::sync::Barrier::new(usize::from(RACERS)));
        let successors: Vec<RefreshRecord> = (0..RACERS)
            .map(|i| token(10 + round * RACERS + i, "rt_001"))
            .collect();
        let tasks: Vec<_> = successors
            .iter()
            .map(|successor| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                let (old, successor) = (current.digest, successor.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.rotate_refresh_token(&old, at(100), &successor).await
                })
            })
            .collect();
        let mut won = Vec::new();
        for (task, successor) in tasks.into_iter().zip(&successors) {
            match task.await.unwrap() {
                Ok(true) => won.push(successor.clone()),
                Ok(false) => {}
                Err(e) => panic!("round {round}: a racing rotation failed: {e}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: winners {won:?}");
        let winner = won.remove(0);
        for successor in &successors {
            let stored = read(&*store, successor).await;
            let expected = (successor == &winner).then(|| successor.clone());
            assert_eq!(stored, expected, "round {round}: {}", successor.id);
        }
        let spent = read(&*store, &current).await.unwrap();
        assert_eq!(spent.spent_at, Some(at(100)), "round {round}");
        current = winner;
    }
}

pub async fn revoking_a_family_revokes_every_member_and_returns_its_access_tokens(
    store: &dyn Store,
) {
    let spent = RefreshRecord {
        spent_at: Some(at(2)),
        ..token(1, "rt_001")
    };
    let revoked_before = RefreshRecord {
        spent_at: Some(at(3)),
        revoked_at: Some(at(4)),
        ..token(2, "rt_001")
    };
    let without_access_token = RefreshRecord {
        access_jti: None,
        spent_at: Some(at(5)),
        ..token(3, "rt_001")
    };
    let live = token(4, "rt_001");
    let other_family = token(5, "rt_005");
    let family = [&spent, &revoked_before, &without_access_token, &live];
    for t in family.iter().copied().chain([&other_family]) {
        store.insert_refresh_token(t).await.unwrap();
    }
    let returned = store.revoke_refresh_family("rt_001", at(50)).await.unwrap();
    assert_eq!(sorted(returned), access_tokens(&family));
    for t in family {
        let stored = read(store, t).await.unwrap();
        // Revoked before keeps its time; spent or not, every other member is revoked now.
        let expected = t.revoked_at.or(Some(at(50)));
        assert_eq!(stored.revoked_at, expected, "{}", t.id);
        assert_eq!(stored.spent_at, t.spent_at, "{}", t.id);
    }
    assert_eq!(read(store, &other_family).await, Some(other_family.clone()));
    // Revoking again changes no time and still names every access token.
    let again = store.revoke_refresh_family("rt_001", at(60)).await.unwrap();
    assert_eq!(sorted(again), access_tokens(&family));
    assert_eq!(read(store, &live).await.unwrap().revoked_at, Some(at(50)));
    assert!(
        store
            .revoke_refresh_family("rt_missing", at(60))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn revoking_a_users_tokens_covers_all_clients_or_the_one_named(store: &dyn Store) {
    let user_a = RefreshRecord {
        client_id: "cli_a".into(),
        ..token(1, "rt_001")
    };
    let user_b = RefreshRecord {
        client_id: "cli_b".into(),
        ..token(2, "rt_002")
    };
    let other_user = RefreshRecord {
        client_id: "cli_a".into(),
        user_id: "usr_0002".into(),
        ..token(3, "rt_003")
    };
    for t in [&user_a, &user_b, &other_user] {
        store.insert_refresh_token(t).await.unwrap();
    }
    let one_client = store
        .revoke_user_refresh_tokens("usr_0001", Some("cli_a"), at(50))
        .await
        .unwrap();
    assert_eq!(sorted(one_client), access_tokens(&[&user_a]));
    assert_eq!(read(store, &user_a).await.unwrap().revoked_at, Some(at(50)));
    assert_eq!(read(store, &user_b).await, Some(user_b.clone()));

    let all_clients = store
        .revoke_user_refresh_tokens("usr_0001", None, at(60))
        .await
        .unwrap();
    assert_eq!(sorted(all_clients), access_tokens(&[&user_a, &user_b]));
    assert_eq!(read(store, &user_a).await.unwrap().revoked_at, Some(at(50)));
    assert_eq!(read(store, &user_b).await.unwrap().revoked_at, Some(at(60)));
    assert_eq!(read(store, &other_user).await, Some(other_user));
}

pub async fn prune_deletes_only_families_ended_by_the_cutoff(store: &dyn Store) {
    let ends = |n: u8, family: &str, end: i64, spent: bool| RefreshRecord {
        family_expires_at: at(end),
        spent_at: spent.then(|| at(2)),
        ..token(n, family)
    };
    let old = [ends(1, "rt_001", 100, true), ends(2, "rt_001", 100, false)];
    let young = [ends(3, "rt_003", 200, true), ends(4, "rt_003", 200, false)];
    for t in old.iter().chain(&young) {
        store.insert_refresh_token(t).await.unwrap();
    }
    assert_eq!(store.prune_refresh_tokens(at(99)).await.unwrap(), 0);
    assert_eq!(store.prune_refresh_tokens(at(100)).await.unwrap(), 2);
    for t in &old {
        assert_eq!(read(store, t).await, None, "{}", t.id);
    }
    // Spent tokens of a live family stay: presenting one again is reuse.
    for t in &young {
        assert_eq!(read(store, t).await.as_ref(), Some(t), "{}", t.id);
    }
}
