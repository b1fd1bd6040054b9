use crate::{Store, StoreError};
use gatehouse_core::UnixTime;
use gatehouse_core::oauth::{
    CertBinding, ClientAuthMethod, ClientRecord, GrantType, RedirectUri, SecretDigest,
};
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
        resource_server_audiences: vec!["billing".into(), "https://billing.example/".into()],
        access_ttl_secs: Some(300),
        jwks: Some(
            serde_json::from_value(serde_json::json!({"keys": [{
                "kty": "OKP", "crv": "Ed25519", "kid": "k1",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
            }]}))
            .unwrap(),
        ),
        redirect_uris: Vec::new(),
        tls_client_auth: None,
        enabled: true,
        created_at: UnixTime::from_millis(1_700_000_000_000),
        updated_at: UnixTime::from_millis(1_700_000_000_001),
    }
}

/// A public (native) client of the authorization code flow.
pub fn native_app(id: &str) -> ClientRecord {
    ClientRecord {
        auth_method: ClientAuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        jwks: None,
        tls_client_auth: None,
        redirect_uris: vec![
            RedirectUri::parse("com.example.app:/oauth/callback").unwrap(),
            RedirectUri::parse("http://127.0.0.1/callback?from=app").unwrap(),
        ],
        ..client(id)
    }
}

pub async fn clients_read_back_every_field(store: &dyn Store) {
    assert!(store.clients().await.unwrap().is_empty());
    let mut b = client("cli_b");
    b.access_ttl_secs = None;
    b.jwks = None;
    b.audiences.clear();
    b.auth_method = ClientAuthMethod::TlsClientAuth;
    b.tls_client_auth = Some(CertBinding::Subject("spiffe://example.org/b".into()));
    store.insert_client(&b).await.unwrap();
    store.insert_client(&client("cli_a")).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![client("cli_a"), b]);
    assert!(matches!(
        store.insert_client(&client("cli_a")).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn code_flow_client_reads_back_exactly(store: &dyn Store) {
    let app = native_app("cli_app");
    store.insert_client(&app).await.unwrap();
    store.insert_client(&client("cli_m2m")).await.unwrap();
    let read = store.clients().await.unwrap();
    assert_eq!(read, vec![app.clone(), client("cli_m2m")]);
    // Order and exact spelling are kept: matching compares strings.
    let uris: Vec<&str> = read[0]
        .redirect_uris
        .iter()
        .map(RedirectUri::as_str)
        .collect();
    assert_eq!(
        uris,
        [
            "com.example.app:/oauth/callback",
            "http://127.0.0.1/callback?from=app"
        ]
    );
    assert_eq!(read[0].auth_method, ClientAuthMethod::None);
    assert!(read[1].redirect_uris.is_empty());
}

pub async fn client_update_replaces_the_redirect_uris(store: &dyn Store) {
    store.insert_client(&native_app("cli_app")).await.unwrap();
    let mut changed = native_app("cli_app");
    changed.redirect_uris = vec![RedirectUri::parse("https://app.example/cb").unwrap()];
    changed.grant_types = vec![GrantType::AuthorizationCode];
    store.update_client(&changed).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![changed.clone()]);
    changed.redirect_uris.clear();
    changed.grant_types = vec![GrantType::ClientCredentials];
    changed.auth_method = ClientAuthMethod::ClientSecretBasic;
    store.update_client(&changed).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![changed]);
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

pub async fn resource_server_audiences_read_back_and_survive_updates(store: &dyn Store) {
    let mut plain = client("cli_plain");
    plain.resource_server_audiences.clear();
    store.insert_client(&plain).await.unwrap();
    let mut api = client("cli_api");
    api.resource_server_audiences = vec!["orders".into(), "Orders \"EU\"".into()];
    store.insert_client(&api).await.unwrap();
    assert_eq!(
        store.clients().await.unwrap(),
        vec![api.clone(), plain.clone()]
    );

    // An update that changes something else keeps them; one that changes them
    // replaces them whole, order and spelling kept.
    api.name = "orders api".into();
    store.update_client(&api).await.unwrap();
    assert_eq!(store.clients().await.unwrap()[0], api);
    api.resource_server_audiences = vec!["shipping".into()];
    store.update_client(&api).await.unwrap();
    plain.resource_server_audiences = vec!["billing".into()];
    store.update_client(&plain).await.unwrap();
    assert_eq!(store.clients().await.unwrap(), vec![api.clone(), plain]);
    api.resource_server_audiences.clear();
    store.update_client(&api).await.unwrap();
    assert!(
        store.clients().await.unwrap()[0]
            .resource_server_audiences
            .is_empty()
    );
}
