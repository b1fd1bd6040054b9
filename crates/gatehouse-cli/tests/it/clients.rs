//! `gatehouse clients …` against a running server.

use crate::support::{Home, failure};

#[test]
fn the_client_lifecycle_from_the_command_line() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let out = server.ok(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "billing",
            "--scope",
            "orders:read",
            "--scope",
            "orders:write",
            "--audience",
            "orders",
            "--ttl",
            "300",
        ],
    );
    let header = out.lines().next().unwrap();
    for column in [
        "CLIENT ID",
        "NAME",
        "SCOPE",
        "AUDIENCE",
        "AUTH METHOD",
        "TTL",
        "STATE",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let secret_line = out
        .lines()
        .find(|l| l.starts_with("client_secret: "))
        .unwrap();
    let secret = secret_line.trim_start_matches("client_secret: ");
    assert!(secret.starts_with("gcs_") && secret.len() == 47, "{secret}");
    let row = out.lines().nth(1).unwrap();
    let id = row.split_whitespace().next().unwrap().to_owned();
    assert!(id.starts_with("cli_"), "{row}");

    let listed = server.json(&admin, &["clients", "list"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["scope"], "orders:read orders:write");
    assert!(
        !listed.to_string().contains(secret),
        "a secret is shown once"
    );

    let updated = server.json(
        &admin,
        &[
            "clients",
            "update",
            &id,
            "--disable",
            "--scope",
            "orders:read",
        ],
    );
    assert_eq!(updated[0]["enabled"], false);
    assert_eq!(updated[0]["scope"], "orders:read");

    let rotated = server.json(&admin, &["clients", "rotate-secret", &id]);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);

    let shown = server.json(&admin, &["clients", "show", &id]);
    assert_eq!(shown[0]["client_id"], id.as_str());
    server.ok(&admin, &["clients", "delete", &id]);
    let out = server.cli(&admin, &["clients", "show", &id]);
    assert!(!out.status.success());
    assert!(
        failure(&out).contains("no such client"),
        "{}",
        failure(&out)
    );
    let out = server.cli(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--grant-type",
            "password",
        ],
    );
    assert!(!out.status.success());
    assert!(failure(&out).contains("not supported"), "{}", failure(&out));
}

#[test]
fn a_code_flow_client_keeps_its_redirect_uris_from_the_command_line() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let created = server.json(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "desktop",
            "--scope",
            "orders:read",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--auth-method",
            "none",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--redirect-uri",
            "com.example.desktop:/callback",
        ],
    );
    assert!(created.get("client_secret").is_none(), "{created}");
    let id = created["client_id"].as_str().unwrap().to_owned();
    let uris = serde_json::json!(["http://127.0.0.1/callback", "com.example.desktop:/callback"]);

    let shown = server.json(&admin, &["clients", "show", &id]);
    assert_eq!(shown[0]["redirect_uris"], uris, "{shown}");
    assert_eq!(shown[0]["token_endpoint_auth_method"], "none");
    let table = server.ok(&admin, &["clients", "show", &id]);
    assert!(
        table.lines().next().unwrap().contains("REDIRECT URIS"),
        "{table}"
    );
    assert!(
        table.contains("http://127.0.0.1/callback com.example.desktop:/callback"),
        "{table}"
    );

    let updated = server.json(
        &admin,
        &[
            "clients",
            "update",
            &id,
            "--redirect-uri",
            "http://[::1]/callback",
        ],
    );
    assert_eq!(
        updated[0]["redirect_uris"],
        serde_json::json!(["http://[::1]/callback"])
    );

    // The server's rules reach the command line as a failure that says why.
    let out = server.cli(&admin, &["clients", "update", &id, "--clear-redirect-uris"]);
    assert!(!out.status.success());
    assert!(
        failure(&out).contains("at least one redirect URI"),
        "{}",
        failure(&out)
    );
}

#[test]
fn a_certificate_client_is_registered_by_subject_then_by_fingerprint() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let created = server.json(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "batch",
            "--scope",
            "orders:read",
            "--auth-method",
            "tls_client_auth",
            "--tls-subject",
            "spiffe://example.org/batch",
        ],
    );
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(
        created["tls_client_auth_subject"],
        "spiffe://example.org/batch"
    );
    let id = created["client_id"].as_str().unwrap().to_owned();
    let fingerprint = "ab".repeat(32);
    let updated = server.json(
        &admin,
        &["clients", "update", &id, "--tls-sha256", &fingerprint],
    );
    assert_eq!(
        updated[0]["tls_client_auth_sha256"],
        fingerprint.as_str(),
        "{updated}"
    );
    assert!(updated[0].get("tls_client_auth_subject").is_none());
    // Without the certificate to expect, refused with the reason.
    let out = server.cli(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--auth-method",
            "tls_client_auth",
        ],
    );
    assert!(failure(&out).contains("tls_client_auth"), "{out:?}");
}

/// `POST <path>` with an HTML form as the client `(id, secret)` (HTTP Basic): the
/// status and the JSON answer.
fn oauth_post(
    server: &crate::support::Server,
    client: (&str, &str),
    path: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", server.url());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = server
            .http_client()
            .post(url)
            .basic_auth(client.0, Some(client.1))
            .form(form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    })
}

#[test]
fn a_resource_server_registered_from_the_command_line_introspects_its_audience_s_tokens() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let api = server.json(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "orders-api",
            "--resource-server-for",
            "orders",
            "--resource-server-for",
            "https://orders.example/",
        ],
    );
    let served = serde_json::json!(["orders", "https://orders.example/"]);
    assert_eq!(api["resource_server_audiences"], served, "{api}");
    let api_id = api["client_id"].as_str().unwrap().to_owned();
    let api_secret = api["client_secret"].as_str().unwrap().to_owned();
    let table = server.ok(&admin, &["clients", "show", &api_id]);
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .contains("RESOURCE SERVER FOR"),
        "{table}"
    );
    assert!(table.contains("orders https://orders.example/"), "{table}");

    let app = server.json(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "orders-app",
            "--scope",
            "orders:read",
            "--audience",
            "orders",
        ],
    );
    assert_eq!(app["resource_server_audiences"], serde_json::json!([]));
    let app_id = app["client_id"].as_str().unwrap();
    let app_secret = app["client_secret"].as_str().unwrap();
    let (status, token) = oauth_post(
        &server,
        (app_id, app_secret),
        "/oauth/token",
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap();
    let introspect = |server: &crate::support::Server| {
        let (status, body) = oauth_post(
            server,
            (&api_id, &api_secret),
            "/oauth/introspect",
            &[("token", token)],
        );
        assert_eq!(status, 200, "{body}");
        body
    };
    let body = introspect(&server);
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], app_id);

    let updated = server.json(
        &admin,
        &[
            "clients",
            "update",
            &api_id,
            "--resource-server-for",
            "billing",
        ],
    );
    assert_eq!(
        updated[0]["resource_server_audiences"],
        serde_json::json!(["billing"])
    );
    assert_eq!(introspect(&server), serde_json::json!({"active": false}));
    let renamed = server.json(&admin, &["clients", "update", &api_id, "--name", "api"]);
    assert_eq!(
        renamed[0]["resource_server_audiences"],
        serde_json::json!(["billing"]),
        "an update that does not name it keeps it"
    );

    server.stop();
    let cmd = home.serve();
    let server = home.start(cmd);
    let shown = server.json(&admin, &["clients", "show", &api_id]);
    assert_eq!(
        shown[0]["resource_server_audiences"],
        serde_json::json!(["billing"]),
        "{shown}"
    );

    let cleared = server.json(
        &admin,
        &["clients", "update", &api_id, "--clear-resource-server-for"],
    );
    assert_eq!(
        cleared[0]["resource_server_audiences"],
        serde_json::json!([])
    );
    let table = server.ok(&admin, &["clients", "show", &api_id]);
    assert!(!table.contains("billing"), "{table}");

    let out = server.cli(
        &admin,
        &[
            "clients",
            "update",
            &api_id,
            "--resource-server-for",
            "orders",
            "--clear-resource-server-for",
        ],
    );
    assert!(!out.status.success(), "conflicting flags are refused");
    let out = server.cli(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--resource-server-for",
            "",
        ],
    );
    assert!(!out.status.success());
    assert!(
        failure(&out).contains("resource_server_audiences"),
        "{}",
        failure(&out)
    );
}
