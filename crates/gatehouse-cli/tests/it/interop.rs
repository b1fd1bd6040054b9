//! Third-party OAuth clients that no one here wrote, against the real server: Python
//! Authlib + PyJWT (`interop/python`) and Node openid-client + jose (`interop/node`).
//! Each gets a token by client credentials with the client's registered
//! authentication method — a secret, or (Authlib) a private_key_jwt assertion — and
//! verifies it against the JWK Set as an RFC 9068 access token. `scripts/test`
//! installs the clients and names them in `GATEHOUSE_INTEROP_PYTHON` and
//! `GATEHOUSE_INTEROP_NODE_DIR`. The authorization code flow with the same clients
//! (and a browser) is in `interop_code_flow.rs`.

use crate::support::Server;
use crate::third_party::{admin_post, node, python, run_json, start_server};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Command;

const SCOPE: &str = "orders:read orders:write";
const AUDIENCE: &str = "orders";

#[test]
fn authlib_and_pyjwt_work_with_client_secret_basic() {
    python_client("client_secret_basic");
}

#[test]
fn authlib_and_pyjwt_work_with_client_secret_post() {
    python_client("client_secret_post");
}

/// RFC 7523 with Authlib's own `PrivateKeyJWT`: the script generates an ES256, an
/// EdDSA and an RS256 key, the client registers their public halves, and Authlib
/// signs its assertions with each key twice; PyJWT verifies the six tokens.
#[test]
fn authlib_and_pyjwt_work_with_private_key_jwt() {
    const METHOD: &str = "private_key_jwt";
    let script = || python("private_key_jwt.py");
    let mut genkey = script();
    genkey.arg("genkey");
    let keys = run_json(genkey);

    let (server, admin) = start_server();
    let client = register(&server, &admin, METHOD, Some(&keys["public"]));
    assert_eq!(
        client.secret, None,
        "a private_key_jwt client has no secret"
    );
    let mut cmd = script();
    cmd.env("GATEHOUSE_URL", server.url())
        .env("CLIENT_ID", &client.id)
        .env("AUDIENCE", AUDIENCE)
        .env("PRIVATE_JWKS", keys["private"].to_string());
    let out = run_json(cmd);

    let token_endpoint = format!("{}/oauth/token", server.url());
    assert_eq!(out["auth_method"], METHOD);
    assert_eq!(
        out["advertised"], true,
        "the metadata lists private_key_jwt"
    );
    assert_eq!(out["token_endpoint"], token_endpoint.as_str(), "{out}");
    let results = out["keys"].as_array().expect("keys");
    let algs: Vec<&str> = results.iter().filter_map(|r| r["alg"].as_str()).collect();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"], "{out}");

    let mut token_jtis = HashSet::new();
    let mut assertion_jtis = HashSet::new();
    for result in results {
        let alg = &result["alg"];
        let tokens = result["tokens"].as_array().expect("tokens");
        let assertions = result["assertions"].as_array().expect("assertions");
        assert_eq!(tokens.len(), 2, "{alg}: {out}");
        assert_eq!(assertions.len(), 2, "{alg}: {out}");
        for token in tokens {
            assert_eq!(token["scope"], SCOPE, "{alg}: {token}");
            assert_eq!(token["tampered_rejected"], true, "{alg}: {token}");
            assert_access_token(&server, &client, &token["header"], &token["claims"]);
            assert_eq!(token["expires_in"], lifetime(&token["claims"]), "{token}");
            token_jtis.insert(token["claims"]["jti"].to_string());
        }
        // What Authlib signed: RFC 7523 §3, with the registered key's kid and alg.
        for assertion in assertions {
            let (header, claims) = (&assertion["header"], &assertion["claims"]);
            assert_eq!(header["alg"], *alg, "{header}");
            assert_eq!(header["kid"], result["kid"], "{header}");
            assert_eq!(claims["iss"], client.id, "{claims}");
            assert_eq!(claims["sub"], client.id, "{claims}");
            assert_eq!(claims["aud"], token_endpoint.as_str(), "{claims}");
            assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
            assert!(lifetime(claims).as_i64() <= Some(3600), "{claims}");
            assertion_jtis.insert(claims["jti"].to_string());
        }
    }
    assert_eq!(token_jtis.len(), 6, "each token has its own jti: {out}");
    assert_eq!(
        assertion_jtis.len(),
        6,
        "each assertion has its own jti: {out}"
    );

    // An assertion Authlib already used gets nothing the second time.
    let used = results[0]["assertions"][0]["jwt"].as_str().expect("jwt");
    let (status, refused) = post_form(
        &token_endpoint,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", used),
        ],
    );
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["error"], "invalid_client", "{refused}");
    assert!(
        refused["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("already used")),
        "{refused}"
    );
}

#[test]
fn openid_client_and_jose_work_with_client_secret_basic() {
    node_client("client_secret_basic");
}

#[test]
fn openid_client_and_jose_work_with_client_secret_post() {
    node_client("client_secret_post");
}

fn python_client(method: &str) {
    let (server, client, out) = run_client(python("client_credentials.py"), method);

    assert_eq!(out["auth_method"], method);
    assert_eq!(out["scope"], SCOPE);
    assert_eq!(out["tampered_rejected"], true, "{out}");
    assert_access_token(&server, &client, &out["header"], &out["claims"]);
    assert_eq!(out["expires_in"], lifetime(&out["claims"]), "{out}");
}

fn node_client(method: &str) {
    let (server, client, out) = run_client(node("client_credentials.mjs"), method);

    assert_eq!(out["auth_method"], method);
    let jose = &out["jose"];
    assert_eq!(jose["scope"], SCOPE);
    assert_eq!(jose["tampered_rejected"], true, "{out}");
    assert_access_token(&server, &client, &jose["header"], &jose["claims"]);
    assert_eq!(jose["expires_in"], lifetime(&jose["claims"]), "{out}");

    // openid-client, discovering by RFC 8414 and by OpenID Connect Discovery; the
    // script verified its tokens with jose too. oauth4webapi lowercases `token_type`.
    let mut jtis = HashSet::from([jose["claims"]["jti"].to_string()]);
    for algorithm in ["oauth2", "oidc"] {
        let got = &out["openid_client"][algorithm];
        assert_eq!(got["issuer"], server.url(), "{algorithm}: {out}");
        assert_eq!(got["token_type"], "bearer", "{algorithm}: {out}");
        assert_eq!(got["scope"], SCOPE, "{algorithm}: {out}");
        assert_eq!(got["claims"]["sub"], client.id, "{algorithm}: {out}");
        assert_eq!(got["expires_in"], lifetime(&got["claims"]), "{out}");
        jtis.insert(got["claims"]["jti"].to_string());
    }
    assert_eq!(jtis.len(), 3, "each token has its own jti: {out}");
}

/// A registered OAuth client.
struct Client {
    id: String,
    /// None for `private_key_jwt`.
    secret: Option<String>,
}

/// Starts a server, registers a client for `method` (a secret method), runs `cmd`
/// (one of the interop scripts) against them and returns its one line of JSON.
fn run_client(mut cmd: Command, method: &str) -> (Server, Client, Value) {
    let (server, admin) = start_server();
    let client = register(&server, &admin, method, None);
    let secret = client.secret.as_deref().expect("a client secret");
    cmd.env("GATEHOUSE_URL", server.url())
        .env("CLIENT_ID", &client.id)
        .env("CLIENT_SECRET", secret)
        .env("AUTH_METHOD", method)
        .env("AUDIENCE", AUDIENCE);
    let json = run_json(cmd);
    (server, client, json)
}

/// Asserts the RFC 9068 header and claims of a token the client got.
fn assert_access_token(server: &Server, client: &Client, header: &Value, claims: &Value) {
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], "ES256", "{header}");
    assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(claims["iss"], server.url(), "{claims}");
    assert_eq!(claims["sub"], client.id, "{claims}");
    assert_eq!(claims["client_id"], client.id, "{claims}");
    assert_eq!(claims["aud"], AUDIENCE, "{claims}");
    assert_eq!(claims["scope"], SCOPE, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (Some(nbf), Some(iat)) = (claims["nbf"].as_i64(), claims["iat"].as_i64()) else {
        panic!("nbf and iat must be numbers: {claims}");
    };
    assert!(nbf <= iat, "{claims}");
}

/// `exp - iat` of a token's claims.
fn lifetime(claims: &Value) -> Value {
    let (Some(exp), Some(iat)) = (claims["exp"].as_i64(), claims["iat"].as_i64()) else {
        panic!("exp and iat must be numbers: {claims}");
    };
    assert!(exp > iat, "{claims}");
    json!(exp - iat)
}

/// `POST /admin/v1/clients` for a client of `method`, with `jwks` (its public keys)
/// for `private_key_jwt`.
fn register(server: &Server, admin: &str, method: &str, jwks: Option<&Value>) -> Client {
    let mut body = json!({
        "name": "interop",
        "scope": SCOPE,
        "audience": [AUDIENCE],
        "token_endpoint_auth_method": method,
    });
    if let Some(jwks) = jwks {
        body["jwks"] = jwks.clone();
    }
    let (status, created) = admin_post(server, admin, "/admin/v1/clients", &body);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["token_endpoint_auth_method"], method);
    Client {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
    }
}

/// A form POST to `url`: the status and the JSON answer.
fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    })
}
