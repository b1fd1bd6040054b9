use crate::Store;
use gatehouse_core::UnixTime;

pub async fn revoked_tokens_are_kept_until_they_expire(store: &dyn Store) {
    let t = UnixTime::from_millis;
    assert!(store.revoked_tokens().await.unwrap().is_empty());
    store.revoke_token("b", t(2_000)).await.unwrap();
    store.revoke_token("a", t(1_000)).await.unwrap();
    store.revoke_token("a", t(9_000)).await.unwrap();
    assert_eq!(
        store.revoked_tokens().await.unwrap(),
        vec![("a".to_owned(), t(1_000)), ("b".to_owned(), t(2_000))]
    );
    assert_eq!(store.prune_revoked_tokens(t(1_000)).await.unwrap(), 1);
    assert_eq!(
        store.revoked_tokens().await.unwrap(),
        vec![("b".to_owned(), t(2_000))]
    );
}
