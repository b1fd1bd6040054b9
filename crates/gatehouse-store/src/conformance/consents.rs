use crate::conformance::clients::native_app;
use crate::conformance::refresh_tokens::{at, token};
use crate::conformance::users::user;
use crate::{Store, StoreError};
use gatehouse_core::oauth::refresh::RefreshRecord;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::Consent;

/// The consent of `user_id` for `client_id`.
pub fn consent(user_id: &str, client_id: &str) -> Consent {
    Consent {
        user_id: user_id.into(),
        client_id: client_id.into(),
        scopes: ScopeSet::parse(["openid", "orders:read"]).unwrap(),
        granted_at: at(1),
        updated_at: at(2),
    }
}

/// A token of `user_id` for `client_id`, whose digest follows `n`.
fn token_of(n: u8, user_id: &str, client_id: &str) -> RefreshRecord {
    RefreshRecord {
        user_id: user_id.into(),
        client_id: client_id.into(),
        ..token(n, &format!("rt_{n:03}"))
    }
}

async fn read(store: &dyn Store, t: &RefreshRecord) -> Option<RefreshRecord> {
    store.refresh_token(&t.digest).await.unwrap()
}

pub async fn consent_reads_back_and_put_replaces_it(store: &dyn Store) {
    let first = consent("usr_0001", "cli_a");
    store.put_consent(&first).await.unwrap();
    assert_eq!(
        store.consent("usr_0001", "cli_a").await.unwrap(),
        Some(first)
    );
    let replaced = Consent {
        scopes: ScopeSet::parse(["openid", "orders:read", "orders:write"]).unwrap(),
        granted_at: at(0),
        updated_at: at(9),
        ..consent("usr_0001", "cli_a")
    };
    store.put_consent(&replaced).await.unwrap();
    assert_eq!(
        store.consent("usr_0001", "cli_a").await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(store.consents("usr_0001").await.unwrap(), vec![replaced]);
    assert_eq!(store.consent("usr_0001", "cli_b").await.unwrap(), None);
    assert_eq!(store.consent("usr_0002", "cli_a").await.unwrap(), None);
}

pub async fn consents_list_one_users_consents_by_client(store: &dyn Store) {
    assert!(store.consents("usr_0001").await.unwrap().is_empty());
    let empty = Consent {
        scopes: ScopeSet::default(),
        ..consent("usr_0001", "cli_b")
    };
    // Put out of order so the order read back comes from the store.
    for c in [
        consent("usr_0001", "cli_c"),
        consent("usr_0002", "cli_b"),
        consent("usr_0001", "cli_a"),
        empty.clone(),
    ] {
        store.put_consent(&c).await.unwrap();
    }
    assert_eq!(
        store.consents("usr_0001").await.unwrap(),
        vec![
            consent("usr_0001", "cli_a"),
            empty,
            consent("usr_0001", "cli_c")
        ]
    );
    assert_eq!(
        store.consents("usr_0002").await.unwrap(),
        vec![consent("usr_0002", "cli_b")]
    );
}

pub async fn deleting_a_consent_withdraws_only_it(store: &dyn Store) {
    for c in [
        consent("usr_0001", "cli_a"),
        consent("usr_0001", "cli_b"),
        consent("usr_0002", "cli_a"),
    ] {
        store.put_consent(&c).await.unwrap();
    }
    store.delete_consent("usr_0001", "cli_a").await.unwrap();
    assert_eq!(store.consent("usr_0001", "cli_a").await.unwrap(), None);
    assert_eq!(
        store.consents("usr_0001").await.unwrap(),
        vec![consent("usr_0001", "cli_b")]
    );
    assert_eq!(
        store.consents("usr_0002").await.unwrap(),
        vec![consent("usr_0002", "cli_a")]
    );
    for (user_id, client_id) in [("usr_0001", "cli_a"), ("usr_0003", "cli_a")] {
        assert!(
            matches!(
                store.delete_consent(user_id, client_id).await,
                Err(StoreError::NotFound)
            ),
            "{user_id} {client_id}"
        );
    }
}

pub async fn deleting_a_user_forgets_their_consents_and_refresh_tokens(store: &dyn Store) {
    let (gone, kept) = (user(1), user(2));
    store.insert_user(&gone).await.unwrap();
    store.insert_user(&kept).await.unwrap();
    let gone_token = token_of(1, &gone.id, "cli_a");
    let kept_token = token_of(2, &kept.id, "cli_a");
    for t in [&gone_token, &kept_token] {
        store.insert_refresh_token(t).await.unwrap();
    }
    for c in [
        consent(&gone.id, "cli_a"),
        consent(&gone.id, "cli_b"),
        consent(&kept.id, "cli_a"),
    ] {
        store.put_consent(&c).await.unwrap();
    }
    store.delete_user(&gone.id).await.unwrap();
    assert_eq!(read(store, &gone_token).await, None);
    assert_eq!(read(store, &kept_token).await, Some(kept_token));
    assert_eq!(
        store.consents(&kept.id).await.unwrap(),
        vec![consent(&kept.id, "cli_a")]
    );
    // An account later given the same id inherits nothing.
    store.insert_user(&gone).await.unwrap();
    assert!(store.consents(&gone.id).await.unwrap().is_empty());
    assert!(
        store
            .revoke_user_refresh_tokens(&gone.id, None, at(50))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn deleting_a_client_forgets_its_consents_and_refresh_tokens(store: &dyn Store) {
    store.insert_client(&native_app("cli_a")).await.unwrap();
    store.insert_client(&native_app("cli_b")).await.unwrap();
    let gone_token = token_of(1, "usr_0001", "cli_a");
    let kept_token = token_of(2, "usr_0001", "cli_b");
    for t in [&gone_token, &kept_token] {
        store.insert_refresh_token(t).await.unwrap();
    }
    for c in [
        consent("usr_0001", "cli_a"),
        consent("usr_0001", "cli_b"),
        consent("usr_0002", "cli_a"),
    ] {
        store.put_consent(&c).await.unwrap();
    }
    store.delete_client("cli_a").await.unwrap();
    assert_eq!(read(store, &gone_token).await, None);
    assert_eq!(read(store, &kept_token).await, Some(kept_token));
    assert_eq!(
        store.consents("usr_0001").await.unwrap(),
        vec![consent("usr_0001", "cli_b")]
    );
    assert!(store.consents("usr_0002").await.unwrap().is_empty());
    // A client registered again under the same id is not trusted on the old approval.
    store.insert_client(&native_app("cli_a")).await.unwrap();
    assert_eq!(store.consent("usr_0001", "cli_a").await.unwrap(), None);
    assert!(matches!(
        store.delete_client("cli_missing").await,
        Err(StoreError::NotFound)
    ));
}
