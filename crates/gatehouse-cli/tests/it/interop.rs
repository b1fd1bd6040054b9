//! Third-party OAuth clients that no one here wrote, against the real server: Python
//! Authlib + PyJWT (`interop/python`) and Node openid-client + jose (`interop/node`).
//! Each gets a token by client credentials with the client's registered
//! authentication method and verifies it against the JWK Set as an RFC 9068 access
//! token. `scripts/test` installs the clients and names them in
//! `GATEHOUSE_INTEROP_PYTHON` and `GATEHOUSE_INTEROP_NODE_DIR`.

use crate::support::{Home, MASTER_KEY, Server, free_port, run, stderr, stdout};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
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

#[test]
fn openid_client_and_jose_work_with_client_secret_basic() {
    node_client("client_secret_basic");
}

#[test]
fn openid_client_and_jose_work_with_client_secret_post() {
    node_client("client_secret_post");
}

fn python_client(method: &str) {
    let python = installed("GATEHOUSE_INTEROP_PYTHON");
    let mut cmd = Command::new(python);
    cmd.arg(interop_dir().join("python/client_credentials.py"));
    let (server, client, out) = run_client(cmd, method);

    assert_eq!(out["auth_method"], method);
    assert_eq!(out["scope"], SCOPE);
    assert_eq!(out["tampered_rejected"], true, "{out}");
    assert_access_token(&server, &client, &out["header"], &out["claims"]);
    assert_eq!(out["expires_in"], lifetime(&out["claims"]), "{out}");
}

fn node_client(method: &str) {
    let dir = installed("GATEHOUSE_INTEROP_NODE_DIR");
    assert!(
        dir.join("node_modules/openid-client").is_dir(),
        "no node_modules in {}: run the tests through scripts/test",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("client_credentials.mjs"));
    let (server, client, out) = run_client(cmd, method);

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
    secret: String,
}

/// Starts a server, registers a client for `method`, runs `cmd` (one of the interop
/// scripts) against them and returns its one line of JSON.
fn run_client(mut cmd: Command, method: &str) -> (Server, Client, Value) {
    let mut home = Home::new();
    // A fixed port: the issuer (`iss`, metadata `issuer`) is derived from `--listen`,
    // and with port 0 it would read `http://127.0.0.1:0`.
    let mut serve = home.serve_bare();
    serve
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(home.data_dir())
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY);
    let server = home.start(serve);
    let admin = server.admin_key();
    let client = register(&server, &admin, method);
    cmd.env("GATEHOUSE_URL", server.url())
        .env("CLIENT_ID", &client.id)
        .env("CLIENT_SECRET", &client.secret)
        .env("AUTH_METHOD", method)
        .env("AUDIENCE", AUDIENCE);
    let out = run(cmd);
    assert!(
        out.status.success(),
        "interop client failed ({}):\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let json = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {text}"));
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

/// `POST /admin/v1/clients` for a client of `method`.
fn register(server: &Server, admin: &str, method: &str) -> Client {
    let url = format!("{}/admin/v1/clients", server.url());
    let body = json!({
        "name": "interop",
        "scope": SCOPE,
        "audience": [AUDIENCE],
        "token_endpoint_auth_method": method,
    });
    let (status, created): (_, Value) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    });
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["token_endpoint_auth_method"], method);
    Client {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// The path in `var`, which `scripts/test` sets after installing the clients.
fn installed(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: run the interop tests through scripts/test, \
             which installs the Python and Node clients"
        )
    });
    assert!(
        path.exists(),
        "{var}={} does not exist: run scripts/test",
        path.display()
    );
    path
}

/// `interop/` at the workspace root.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}
