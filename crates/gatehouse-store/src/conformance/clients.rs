use crate::{Store, StoreError};
use gatehouse_core::UnixTime;
use gatehouse_core::oauth::{ClientAuthMethod, ClientRecord, GrantType, SecretDigest};
use gatehouse_core::scope::ScopeSet;

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        name: "billing \"service\"".into(),
        secret_digest: SecretDigest::of("gcs_secret"),
        auth_method: ClientAuthMethod::ClientSecretPost,
        grant_types: vec![GrantType::ClientCredentials],
        scopes: ScopeSet::parse(["orders:read", "orders:write"]).unwrap(),
        audiences: vec!["orders".into(), "https://api.example/".into()],
        access_ttl_secs: Some(300),
        jwks: Some(
            serde_json::from_value(serde_json::json!({"keys": [{
                "kty": "OKP", "crv": "Ed25519", "kid": "k1",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
            }]}))
            .unwrap(),
        ),
        enabled: true,
        created_at: UnixTime::from_millis(1_700_000_000_000),
        updated_at: UnixTime::from_millis(1_700_000_000_001),
    }
}

pub async fn clients_read_back_every_field(store: &dyn Store) {
    assert!(store.clients().await.unwrap().is_empty());
    let mut b = client("cli_b");
    b.access_ttl_secs = None;
    b.jwks = None;
    b.audiences.clear();
    store.insert_client(&b).await.unwrap();
    store.insert_client(&client("cli_a")).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![client("cli_a"), b]);
    assert!(matches!(
        store.insert_client(&client("cli_a")).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn client_update_and_delete(store: &dyn Store) {
    store.insert_client(&client("cli_a")).await.unwrap();
    let mut changed = client("cli_a");
    changed.secret_digest = SecretDigest::of("gcs_new");
    changed.enabled = false;
    changed.scopes = ScopeSet::parse(["orders:read"]).unwrap();
    store.update_client(&changed).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![changed]);
    assert!(matches!(
        store.update_client(&client("cli_x")).await,
        Err(StoreError::NotFound)
    ));
    store.delete_client("cli_a").await.unwrap();
    assert!(matches!(
        store.delete_client("cli_a").await,
        Err(StoreError::NotFound)
    ));
    assert!(store.clients().await.unwrap().is_empty());
}
