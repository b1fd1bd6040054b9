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
