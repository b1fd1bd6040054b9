use crate::Store;

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
}

pub async fn set_if_absent_keeps_the_first_value(store: &dyn Store) {
    assert_eq!(store.meta("bootstrapped").await.unwrap(), None);
    assert!(
        store
            .set_meta_if_absent("bootstrapped", "one")
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_meta_if_absent("bootstrapped", "two")
            .await
            .unwrap()
    );
    assert_eq!(
        store.meta("bootstrapped").await.unwrap().as_deref(),
        Some("one")
    );
}

pub async fn set_replaces_the_value(store: &dyn Store) {
    store.set_meta("audit_first_seq", "1").await.unwrap();
    assert_eq!(
        store.meta("audit_first_seq").await.unwrap().as_deref(),
        Some("1")
    );
    store.set_meta("audit_first_seq", "42").await.unwrap();
    assert_eq!(
        store.meta("audit_first_seq").await.unwrap().as_deref(),
        Some("42")
    );
    // A value set this way is as set as one set only if absent.
    assert!(
        !store
            .set_meta_if_absent("audit_first_seq", "7")
            .await
            .unwrap()
    );
    assert_eq!(
        store.meta("audit_first_seq").await.unwrap().as_deref(),
        Some("42")
    );
    assert_eq!(store.meta("other").await.unwrap(), None);
}
