use super::*;
use crate::oauth::SecretDigest;
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use GrantType::{AuthorizationCode, ClientCredentials, RefreshToken};

fn client(auth_method: ClientAuthMethod, grants: &[GrantType], uris: &[&str]) -> ClientRecord {
    ClientRecord {
        id: "cli_1".into(),
        name: "app".into(),
        secret_digest: SecretDigest::of("s"),
        auth_method,
        grant_types: grants.to_vec(),
        scopes: ScopeSet::parse(["orders:read"]).unwrap(),
        audiences: Vec::new(),
        resource_server_audiences: Vec::new(),
        access_ttl_secs: None,
        jwks: None,
        tls_client_auth: None,
        redirect_uris: uris
            .iter()
            .map(|u| RedirectUri::parse(u).unwrap())
            .collect(),
        enabled: true,
        created_at: UnixTime::from_millis(0),
        updated_at: UnixTime::from_millis(0),
    }
}

const BASIC: ClientAuthMethod = ClientAuthMethod::ClientSecretBasic;
const PUBLIC: ClientAuthMethod = ClientAuthMethod::None;

fn strings(uris: &[&str]) -> Vec<String> {
    uris.iter().map(|u| (*u).to_owned()).collect()
}

#[test]
fn a_confidential_code_flow_client_with_https_uris_is_coherent() {
    for method in [
        BASIC,
        ClientAuthMethod::ClientSecretPost,
        ClientAuthMethod::PrivateKeyJwt,
    ] {
        let c = client(
            method,
            &[AuthorizationCode, RefreshToken],
            &[
                "https://app.example/cb",
                "https://app.example:8443/other?x=1",
            ],
        );
        assert_eq!(check_metadata(&c), Ok(()));
    }
}

#[test]
fn a_public_native_client_may_use_loopback_private_use_and_https_uris() {
    let c = client(
        PUBLIC,
        &[AuthorizationCode, RefreshToken],
        &[
            "http://127.0.0.1/cb",
            "http://[::1]/cb",
            "http://localhost:8080/cb",
            "com.example.app:/cb",
            "https://app.example/cb",
        ],
    );
    assert_eq!(check_metadata(&c), Ok(()));
    let code_only = client(PUBLIC, &[AuthorizationCode], &["com.example.app:/cb"]);
    assert_eq!(check_metadata(&code_only), Ok(()));
}

#[test]
fn a_machine_client_registers_no_redirect_uris() {
    assert_eq!(
        check_metadata(&client(BASIC, &[ClientCredentials], &[])),
        Ok(())
    );
    let err = check_metadata(&client(
        BASIC,
        &[ClientCredentials],
        &["https://app.example/cb"],
    ))
    .unwrap_err();
    assert_eq!(err, MetadataError::UnusedRedirectUris);
    assert_eq!(err.code(), "invalid_client_metadata");
}

#[test]
fn a_confidential_client_may_combine_client_credentials_and_the_code_flow() {
    let c = client(
        BASIC,
        &[ClientCredentials, AuthorizationCode],
        &["https://app.example/cb"],
    );
    assert_eq!(check_metadata(&c), Ok(()));
}

#[test]
fn a_code_flow_client_without_a_redirect_uri_is_refused() {
    for method in [BASIC, PUBLIC] {
        let err = check_metadata(&client(method, &[AuthorizationCode], &[])).unwrap_err();
        assert_eq!(err, MetadataError::MissingRedirectUri);
        assert_eq!(err.code(), "invalid_redirect_uri");
    }
}

#[test]
fn refresh_token_without_authorization_code_is_refused() {
    for grants in [&[RefreshToken][..], &[ClientCredentials, RefreshToken][..]] {
        let err = check_metadata(&client(BASIC, grants, &[])).unwrap_err();
        assert_eq!(err, MetadataError::RefreshWithoutCode);
        assert_eq!(err.code(), "invalid_client_metadata");
    }
    let err = check_metadata(&client(PUBLIC, &[RefreshToken], &[])).unwrap_err();
    assert_eq!(err, MetadataError::RefreshWithoutCode);
}

#[test]
fn a_public_client_may_not_use_client_credentials() {
    for grants in [
        &[ClientCredentials][..],
        &[AuthorizationCode, ClientCredentials][..],
    ] {
        let err = check_metadata(&client(PUBLIC, grants, &["com.example.app:/cb"])).unwrap_err();
        assert_eq!(err, MetadataError::PublicClientGrant("client_credentials"));
        assert_eq!(err.code(), "invalid_client_metadata");
        assert!(err.to_string().contains("client_credentials"), "{err}");
    }
}

#[test]
fn a_confidential_client_may_not_register_loopback_or_private_use_uris() {
    for uri in [
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://localhost/cb",
        "http://localhost:3000/cb",
        "com.example.app:/cb",
    ] {
        let c = client(
            BASIC,
            &[AuthorizationCode],
            &["https://app.example/cb", uri],
        );
        let err = check_metadata(&c).unwrap_err();
        assert_eq!(err, MetadataError::NativeRedirectUri { index: 1 }, "{uri}");
        assert_eq!(err.code(), "invalid_redirect_uri");
        assert!(err.to_string().contains("https"), "{err}");
    }
}

#[test]
fn redirect_uris_parse_in_order() {
    let uris =
        parse_redirect_uris(&strings(&["https://b.example/cb", "https://a.example/cb"])).unwrap();
    let texts: Vec<&str> = uris.iter().map(RedirectUri::as_str).collect();
    assert_eq!(texts, ["https://b.example/cb", "https://a.example/cb"]);
    assert_eq!(parse_redirect_uris(&[]), Ok(Vec::new()));
}

#[test]
fn an_invalid_redirect_uri_is_named_by_position_not_by_text() {
    let err = parse_redirect_uris(&strings(&[
        "https://app.example/cb",
        "https://evil.example/cb#frag",
    ]))
    .unwrap_err();
    assert_eq!(
        err,
        MetadataError::InvalidRedirectUri {
            index: 1,
            error: RedirectError::Fragment
        }
    );
    assert_eq!(err.code(), "invalid_redirect_uri");
    let message = err.to_string();
    assert!(message.starts_with("redirect_uris[1]: "), "{message}");
    assert!(!message.contains("evil"), "{message}");
    for bad in [
        "",
        "/relative",
        "javascript:alert(1)",
        "http://app.example/cb",
    ] {
        assert!(
            matches!(
                parse_redirect_uris(&strings(&[bad])),
                Err(MetadataError::InvalidRedirectUri { index: 0, .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_repeated_redirect_uri_is_refused() {
    let err = parse_redirect_uris(&strings(&[
        "https://app.example/a",
        "https://app.example/b",
        "https://app.example/a",
    ]))
    .unwrap_err();
    assert_eq!(err, MetadataError::DuplicateRedirectUri { index: 2 });
    assert_eq!(err.code(), "invalid_redirect_uri");
    // Exact strings: a different port is a different registration.
    assert!(
        parse_redirect_uris(&strings(&[
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8080/cb"
        ]))
        .is_ok()
    );
}

#[test]
fn at_most_twenty_redirect_uris() {
    let uris: Vec<String> = (0..=MAX_REDIRECT_URIS)
        .map(|i| format!("https://app.example/cb{i}"))
        .collect();
    assert_eq!(
        parse_redirect_uris(&uris[..MAX_REDIRECT_URIS]).map(|u| u.len()),
        Ok(20)
    );
    let err = parse_redirect_uris(&uris).unwrap_err();
    assert_eq!(err, MetadataError::TooManyRedirectUris);
    assert_eq!(err.code(), "invalid_redirect_uri");
}

#[test]
fn the_record_check_repeats_the_count_and_duplicate_rules() {
    // A record built without `parse_redirect_uris` gets the same limits.
    let mut c = client(BASIC, &[AuthorizationCode], &["https://app.example/cb"]);
    c.redirect_uris.push(c.redirect_uris[0].clone());
    assert_eq!(
        check_metadata(&c),
        Err(MetadataError::DuplicateRedirectUri { index: 1 })
    );
    c.redirect_uris = (0..=MAX_REDIRECT_URIS)
        .map(|i| RedirectUri::parse(&format!("https://app.example/{i}")).unwrap())
        .collect();
    assert_eq!(check_metadata(&c), Err(MetadataError::TooManyRedirectUris));
}

#[test]
fn tls_client_auth_needs_exactly_its_certificate_binding() {
    let mut c = client(ClientAuthMethod::TlsClientAuth, &[ClientCredentials], &[]);
    assert_eq!(check_metadata(&c), Err(MetadataError::CertBinding));
    c.tls_client_auth = Some(CertBinding::Subject("spiffe://example.org/batch".into()));
    assert_eq!(check_metadata(&c), Ok(()));
    c.tls_client_auth = Some(CertBinding::Sha256("ab".repeat(32)));
    assert_eq!(check_metadata(&c), Ok(()));
    for bad in ["AB".repeat(32), "ab".repeat(31), "zz".repeat(32)] {
        c.tls_client_auth = Some(CertBinding::Sha256(bad.clone()));
        assert_eq!(check_metadata(&c), Err(MetadataError::CertBinding), "{bad}");
    }
    c.tls_client_auth = Some(CertBinding::Subject("tab\there".into()));
    assert_eq!(check_metadata(&c), Err(MetadataError::CertBinding));
    let mut basic = client(BASIC, &[ClientCredentials], &[]);
    basic.tls_client_auth = Some(CertBinding::Subject("svc".into()));
    assert_eq!(check_metadata(&basic), Err(MetadataError::CertBinding));
    assert_eq!(MetadataError::CertBinding.code(), "invalid_client_metadata");
}
