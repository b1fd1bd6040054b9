use crate::{Store, StoreError};
use gatehouse_core::UnixTime;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::{UserRecord, Username};

/// A fully populated user whose id and username sort by `n`.
pub fn user(n: u16) -> UserRecord {
    UserRecord {
        id: format!("usr_{n:04}"),
        username: username(&format!("user{n:04}")),
        display_name: Some(format!("User \"{n}\" Ünïcode")),
        email: Some(format!("user{n}@example.com")),
        password_hash: Some(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
             YmFzZTY0aGFzaGJhc2U2NGhhc2hiYXNlNjRoYXNo"
                .into(),
        ),
        scopes: ScopeSet::parse(["openid", "orders:read"]).unwrap(),
        enabled: true,
        created_at: UnixTime::from_millis(1_700_000_000_000 + i64::from(n)),
        updated_at: UnixTime::from_millis(1_700_000_000_500),
        password_changed_at: Some(UnixTime::from_millis(1_700_000_000_250)),
    }
}

fn username(s: &str) -> Username {
    Username::parse(s).unwrap()
}

fn ids(users: &[UserRecord]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

pub async fn user_reads_back_by_id_and_username(store: &dyn Store) {
    let full = user(1);
    store.insert_user(&full).await.unwrap();
    assert_eq!(store.user(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(
        store.user_by_username(&full.username).await.unwrap(),
        Some(full)
    );
    // A user invited but not yet given a password: every optional field empty.
    let bare = UserRecord {
        display_name: None,
        email: None,
        password_hash: None,
        scopes: ScopeSet::default(),
        enabled: false,
        password_changed_at: None,
        ..user(2)
    };
    store.insert_user(&bare).await.unwrap();
    assert_eq!(store.user(&bare.id).await.unwrap(), Some(bare.clone()));
    assert_eq!(
        store.user_by_username(&bare.username).await.unwrap(),
        Some(bare)
    );
    assert_eq!(store.user("usr_missing").await.unwrap(), None);
    assert_eq!(
        store.user_by_username(&username("nobody")).await.unwrap(),
        None
    );
}

pub async fn duplicate_user_id_or_username_is_a_conflict_and_changes_nothing(store: &dyn Store) {
    store.insert_user(&user(1)).await.unwrap();
    let same_id = UserRecord {
        id: user(1).id,
        username: username("someone.else"),
        ..user(2)
    };
    let same_username = UserRecord {
        username: user(1).username,
        ..user(2)
    };
    for duplicate in [same_id, same_username] {
        assert!(
            matches!(
                store.insert_user(&duplicate).await,
                Err(StoreError::Conflict(_))
            ),
            "{duplicate:?}"
        );
    }
    assert_eq!(store.list_users(None, 10).await.unwrap(), vec![user(1)]);
    assert_eq!(
        store
            .user_by_username(&username("someone.else"))
            .await
            .unwrap(),
        None
    );
}

pub async fn user_update_replaces_every_field(store: &dyn Store) {
    store.insert_user(&user(1)).await.unwrap();
    let changed = UserRecord {
        id: user(1).id,
        username: username("renamed"),
        display_name: None,
        email: Some("new@example.com".into()),
        password_hash: None,
        scopes: ScopeSet::parse(["profile"]).unwrap(),
        enabled: false,
        created_at: UnixTime::from_millis(1_600_000_000_000),
        updated_at: UnixTime::from_millis(1_700_000_009_000),
        password_changed_at: None,
    };
    store.update_user(&changed).await.unwrap();
    assert_eq!(
        store.user(&changed.id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        store.user_by_username(&changed.username).await.unwrap(),
        Some(changed)
    );
    // The old username is free again.
    assert_eq!(
        store.user_by_username(&user(1).username).await.unwrap(),
        None
    );
}

pub async fn update_to_another_users_username_is_a_conflict(store: &dyn Store) {
    store.insert_user(&user(1)).await.unwrap();
    store.insert_user(&user(2)).await.unwrap();
    let taken = UserRecord {
        username: user(2).username,
        enabled: false,
        ..user(1)
    };
    assert!(matches!(
        store.update_user(&taken).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.list_users(None, 10).await.unwrap(),
        vec![user(1), user(2)]
    );
}

pub async fn update_or_delete_of_an_unknown_user_is_not_found(store: &dyn Store) {
    store.insert_user(&user(1)).await.unwrap();
    assert!(matches!(
        store.update_user(&user(2)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_user(&user(2).id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_users(None, 10).await.unwrap(), vec![user(1)]);
}

pub async fn users_list_in_id_order_by_page(store: &dyn Store) {
    assert!(store.list_users(None, 10).await.unwrap().is_empty());
    // Inserted out of order so the order read back comes from the store.
    for n in [3, 1, 5, 2, 4] {
        store.insert_user(&user(n)).await.unwrap();
    }
    let first = store.list_users(None, 2).await.unwrap();
    assert_eq!(first, vec![user(1), user(2)]);
    let second = store.list_users(Some("usr_0002"), 2).await.unwrap();
    assert_eq!(ids(&second), ["usr_0003", "usr_0004"]);
    let last = store.list_users(Some("usr_0004"), 2).await.unwrap();
    assert_eq!(ids(&last), ["usr_0005"]);
    assert!(
        store
            .list_users(Some("usr_0005"), 2)
            .await
            .unwrap()
            .is_empty()
    );
    let all = store.list_users(None, 100).await.unwrap();
    assert_eq!(
        ids(&all),
        ["usr_0001", "usr_0002", "usr_0003", "usr_0004", "usr_0005"]
    );
}

pub async fn deleted_user_is_gone_by_id_and_username(store: &dyn Store) {
    store.insert_user(&user(1)).await.unwrap();
    store.insert_user(&user(2)).await.unwrap();
    store.delete_user(&user(1).id).await.unwrap();
    assert_eq!(store.user(&user(1).id).await.unwrap(), None);
    assert_eq!(
        store.user_by_username(&user(1).username).await.unwrap(),
        None
    );
    assert!(matches!(
        store.delete_user(&user(1).id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_users(None, 10).await.unwrap(), vec![user(2)]);
    // The username can be taken again by a new account.
    let again = UserRecord {
        id: "usr_0009".into(),
        ..user(1)
    };
    store.insert_user(&again).await.unwrap();
    assert_eq!(
        store.user_by_username(&again.username).await.unwrap(),
        Some(again)
    );
}
