//! `gatehouse signing-keys list|rotate` against a running server, and the JWK Set it
//! publishes.

use crate::support::{Home, failure};

#[test]
fn list_rotate_and_the_jwks_agree() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let listed = server.json(&admin, &["signing-keys", "list"]);
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["state"], "active");
    assert_eq!(keys[0]["alg"], "ES256");
    let first = keys[0]["kid"].as_str().unwrap().to_owned();

    let table = server.ok(&admin, &["signing-keys", "rotate"]);
    let header = table.lines().next().unwrap();
    for column in ["KID", "ALG", "STATE", "SIGNS FROM"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("next"), "{table}");

    let now = server.json(&admin, &["signing-keys", "rotate", "--now"]);
    assert_eq!(now[0]["state"], "active");
    let active = now[0]["kid"].as_str().unwrap().to_owned();

    let url = format!("{}/.well-known/jwks.json", server.url());
    let jwks: serde_json::Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(published, [first.as_str(), active.as_str()]);

    let out = server.cli(&admin, &["signing-keys", "withdraw", &active]);
    assert!(!out.status.success(), "the active key stays");
    assert!(failure(&out).contains("rotate"), "{}", failure(&out));
    server.ok(&admin, &["signing-keys", "withdraw", &first]);
    let states = server.json(&admin, &["signing-keys", "list"]);
    let kids: Vec<&str> = states
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [active.as_str()]);
}

#[test]
fn rotation_needs_the_admin_scope() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let created = server.json(
        &admin,
        &[
            "keys",
            "create",
            "--name",
            "ops",
            "--scope",
            "gatehouse:keys",
        ],
    );
    let ops = created["key"].as_str().unwrap();
    let out = server.cli(ops, &["signing-keys", "rotate"]);
    assert!(!out.status.success());
    assert!(
        failure(&out).contains("gatehouse:admin"),
        "{}",
        failure(&out)
    );
}
