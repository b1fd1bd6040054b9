use super::*;
use crate::oauth::client::{ClientAuthMethod, SecretDigest};
use crate::oauth::pkce::CodeVerifier;
use crate::oauth::redirect::RedirectUri;
use crate::time::UnixTime;

const CALLBACK: &str = "https://app.example.com/cb";

fn client() -> ClientRecord {
    ClientRecord {
        id: "cli_1".into(),
        name: "app".into(),
        secret_digest: SecretDigest::of("s"),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: ScopeSet::parse(["orders:read", "orders:write"]).unwrap(),
        audiences: Vec::new(),
        resource_server_audiences: Vec::new(),
        access_ttl_secs: None,
        jwks: None,
        tls_client_auth: None,
        redirect_uris: vec![RedirectUri::parse(CALLBACK).unwrap()],
        enabled: true,
        created_at: UnixTime::from_millis(0),
        updated_at: UnixTime::from_millis(0),
    }
}

fn verifier() -> CodeVerifier {
    CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap()
}

fn params() -> AuthorizeParams {
    AuthorizeParams {
        response_type: Some("code".into()),
        client_id: Some("cli_1".into()),
        redirect_uri: Some(CALLBACK.into()),
        scope: Some("orders:read admin".into()),
        state: Some("xyz".into()),
        code_challenge: Some(CodeChallenge::s256(&verifier()).as_str().to_owned()),
        code_challenge_method: Some("S256".into()),
        nonce: None,
        prompt: None,
        request: None,
        request_uri: None,
    }
}

#[test]
fn a_request_object_by_value_or_reference_goes_back_as_not_supported() {
    let error_of = |p: AuthorizeParams| match check(&p, Some(&client())) {
        Err(AuthorizeError::Redirect { error, state, .. }) => (error, state),
        other => panic!("{other:?}"),
    };
    let by_value = AuthorizeParams {
        request: Some("eyJhbGciOiJub25lIn0.e30.".into()),
        ..params()
    };
    assert_eq!(
        error_of(by_value),
        ("request_not_supported", Some("xyz".into()))
    );
    let by_reference = AuthorizeParams {
        request_uri: Some("https://app.example.com/req/1".into()),
        ..params()
    };
    assert_eq!(
        error_of(by_reference),
        ("request_uri_not_supported", Some("xyz".into()))
    );
}

#[test]
fn a_good_request_proceeds_with_the_scopes_the_client_may_have() {
    let auth = check(&params(), Some(&client())).unwrap();
    assert_eq!(auth.redirect_uri.as_str(), CALLBACK);
    assert_eq!(auth.scopes.to_space_separated(), "orders:read");
    assert_eq!(auth.state.as_deref(), Some("xyz"));
    assert!(auth.challenge.verify(&verifier()));
}

#[test]
fn an_unknown_client_or_redirect_uri_is_a_page_never_a_redirect() {
    let page =
        |r: Result<Authorization, AuthorizeError>| matches!(r, Err(AuthorizeError::Page { .. }));
    assert!(page(check(&params(), None)));
    let mut disabled = client();
    disabled.enabled = false;
    assert!(page(check(&params(), Some(&disabled))));
    let mut machine = client();
    machine.grant_types = vec![GrantType::ClientCredentials];
    assert!(page(check(&params(), Some(&machine))));
    for uri in [
        None,
        Some("https://app.example.com/cb/"),
        Some("https://evil.example/cb"),
    ] {
        let mut p = params();
        p.redirect_uri = uri.map(str::to_owned);
        assert!(page(check(&p, Some(&client()))), "{uri:?}");
    }
}

#[test]
fn later_errors_go_back_to_the_client_with_state() {
    let error_of = |p: AuthorizeParams| match check(&p, Some(&client())) {
        Err(AuthorizeError::Redirect {
            error,
            state,
            redirect_uri,
            ..
        }) => {
            assert_eq!(redirect_uri, CALLBACK);
            (error, state)
        }
        other => panic!("expected a redirect, got {other:?}"),
    };
    let mut p = params();
    p.response_type = Some("token".into());
    assert_eq!(
        error_of(p),
        ("unsupported_response_type", Some("xyz".into()))
    );
    let mut p = params();
    p.code_challenge_method = Some("plain".into());
    assert_eq!(error_of(p).0, "invalid_request");
    let mut p = params();
    p.code_challenge = None;
    assert_eq!(error_of(p).0, "invalid_request");
    let mut p = params();
    p.scope = Some("admin".into());
    assert_eq!(error_of(p).0, "invalid_scope");
    let mut p = params();
    p.state = Some("x".repeat(MAX_STATE + 1));
    assert_eq!(error_of(p), ("invalid_request", None));
    let mut p = params();
    p.prompt = Some("none login".into());
    assert_eq!(error_of(p).0, "invalid_request");
}

#[test]
fn prompt_values_are_read_and_unknown_ones_ignored() {
    let prompt_of = |raw: Option<&str>| {
        let mut p = params();
        p.prompt = raw.map(str::to_owned);
        check(&p, Some(&client())).unwrap().prompt
    };
    assert_eq!(prompt_of(None), Prompt::default());
    assert_eq!(
        prompt_of(Some("login consent")),
        Prompt {
            none: false,
            login: true,
            consent: true
        }
    );
    assert!(prompt_of(Some("none")).none);
    assert_eq!(prompt_of(Some("select_account x")), Prompt::default());
}

#[test]
fn query_values_are_percent_encoded() {
    assert_eq!(
        with_query(
            "https://a.example/cb?x=1",
            &[("code", "a b&c"), ("iss", "https://gh")]
        ),
        "https://a.example/cb?x=1&code=a%20b%26c&iss=https%3A%2F%2Fgh"
    );
    assert_eq!(
        with_query("https://a.example/cb", &[("k", "v")]),
        "https://a.example/cb?k=v"
    );
}
