//! Registering clients of the authorization code flow through `/admin/v1/clients`: a
//! confidential web app and a public native app with their redirect URIs, then every
//! incoherent registration or change refused with a 400 that stores nothing, and no
//! token for a code-flow client that names its grant without a code.

use crate::support::{TestApp, spawn_app};
use gatehouse_api::Page;
use gatehouse_api::clients::{Client, ClientWithSecret};
use reqwest::Method;
use serde_json::{Value, json};

/// A confidential web app: https redirect URIs and a secret.
fn web_app() -> Value {
    json!({
        "name": "web",
        "scope": "orders:read",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": ["https://app.example/callback", "https://app.example:8443/cb?tenant=1"],
    })
}

/// A public native app: loopback and private-use redirect URIs, no secret.
fn native_app() -> Value {
    json!({
        "name": "desktop",
        "scope": "orders:read",
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "redirect_uris": ["http://127.0.0.1/callback", "com.example.desktop:/callback"],
    })
}

async fn register(app: &TestApp, body: &Value) -> ClientWithSecret {
    app.post("/admin/v1/clients", body).await.expect(201).json()
}

async fn all_clients(app: &TestApp) -> Vec<Client> {
    app.get("/admin/v1/clients")
        .await
        .expect(200)
        .json::<Page<Client>>()
        .items
}

async fn shown(app: &TestApp, id: &str) -> Client {
    app.get(&format!("/admin/v1/clients/{id}"))
        .await
        .expect(200)
        .json()
}

/// `body` with `changes` merged in (a `null` removes the field).
fn with(mut body: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            body.as_object_mut().unwrap().remove(name);
        } else {
            body[name] = value.clone();
        }
    }
    body
}

async fn token_with_basic(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.send(
        app.request(Method::POST, "/oauth/token")
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await
    .status
}

#[tokio::test]
async fn a_confidential_code_flow_client_is_registered_and_shown_with_its_redirect_uris() {
    let mut app = spawn_app().await;
    let created = register(&app, &web_app()).await;
    let uris = [
        "https://app.example/callback",
        "https://app.example:8443/cb?tenant=1",
    ];
    let client = &created.client;
    assert_eq!(client.redirect_uris, uris);
    assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(client.token_endpoint_auth_method, "client_secret_basic");
    assert!(
        created
            .client_secret
            .as_deref()
            .is_some_and(|s| s.starts_with("gcs_")),
        "a confidential client is shown its secret once"
    );
    assert_eq!(&shown(&app, &client.client_id).await, client);
    assert_eq!(all_clients(&app).await, std::slice::from_ref(client));

    // Kept across a restart, exactly as registered.
    app.restart().await;
    assert_eq!(&shown(&app, &client.client_id).await, client);
}

#[tokio::test]
async fn a_public_native_client_gets_no_secret_and_keeps_its_redirect_uris() {
    let app = spawn_app().await;
    let reply = app
        .post("/admin/v1/clients", &native_app())
        .await
        .expect(201);
    let body: Value = reply.json();
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let created: ClientWithSecret = reply.json();
    let client = created.client;
    assert_eq!(client.token_endpoint_auth_method, "none");
    assert_eq!(
        client.redirect_uris,
        ["http://127.0.0.1/callback", "com.example.desktop:/callback"]
    );
    assert_eq!(shown(&app, &client.client_id).await, client);

    // An https URI (a claimed app link) is fine for a native app too.
    let with_https = with(
        native_app(),
        json!({"grant_types": ["authorization_code"], "redirect_uris": ["https://app.example/cb", "http://[::1]/cb", "http://localhost:7000/cb"]}),
    );
    register(&app, &with_https).await;
}

#[tokio::test]
async fn a_machine_client_still_defaults_to_client_credentials_without_redirect_uris() {
    let app = spawn_app().await;
    let created = register(&app, &json!({"name": "m2m", "scope": "orders:read"})).await;
    assert_eq!(created.client.grant_types, ["client_credentials"]);
    assert!(created.client.redirect_uris.is_empty());
    let raw: Value = app
        .get(&format!("/admin/v1/clients/{}", created.client.client_id))
        .await
        .json();
    assert_eq!(raw["redirect_uris"], json!([]), "always present: {raw}");
}

#[tokio::test]
async fn every_incoherent_registration_is_a_400_and_creates_nothing() {
    let app = spawn_app().await;
    let many: Vec<String> = (0..21)
        .map(|i| format!("https://app.example/cb{i}"))
        .collect();
    let uri = "invalid_redirect_uri";
    let meta = "invalid_client_metadata";
    let cases = [
        // Each URI must be one RedirectUri::parse accepts.
        (
            with(
                web_app(),
                json!({"redirect_uris": ["https://evil.example/cb#x"]}),
            ),
            uri,
        ),
        (
            with(web_app(), json!({"redirect_uris": ["/callback"]})),
            uri,
        ),
        (
            with(
                web_app(),
                json!({"redirect_uris": ["http://evil.example/cb"]}),
            ),
            uri,
        ),
        (
            with(web_app(), json!({"redirect_uris": ["javascript:alert(1)"]})),
            uri,
        ),
        // At most 20, none twice.
        (with(web_app(), json!({"redirect_uris": many})), uri),
        (
            with(
                web_app(),
                json!({"redirect_uris": ["https://app.example/cb", "https://app.example/cb"]}),
            ),
            uri,
        ),
        // The code flow needs a redirect URI; nothing else may have one.
        (with(web_app(), json!({"redirect_uris": null})), uri),
        (with(web_app(), json!({"redirect_uris": []})), uri),
        (
            with(web_app(), json!({"grant_types": ["client_credentials"]})),
            meta,
        ),
        (with(web_app(), json!({"grant_types": null})), meta),
        // Refresh tokens come only from the code flow.
        (
            with(
                web_app(),
                json!({"grant_types": ["refresh_token"], "redirect_uris": []}),
            ),
            meta,
        ),
        (
            with(
                web_app(),
                json!({"grant_types": ["client_credentials", "refresh_token"], "redirect_uris": []}),
            ),
            meta,
        ),
        // A public client has no credential for client_credentials.
        (
            json!({"name": "x", "token_endpoint_auth_method": "none"}),
            meta,
        ),
        (
            with(
                native_app(),
                json!({"grant_types": ["authorization_code", "client_credentials"]}),
            ),
            meta,
        ),
        // Loopback and private-use URIs are for native apps: confidential means https.
        (
            with(web_app(), json!({"redirect_uris": ["http://127.0.0.1/cb"]})),
            uri,
        ),
        (
            with(
                web_app(),
                json!({"redirect_uris": ["http://127.0.0.1:8080/cb"]}),
            ),
            uri,
        ),
        (
            with(web_app(), json!({"redirect_uris": ["http://[::1]/cb"]})),
            uri,
        ),
        (
            with(
                web_app(),
                json!({"redirect_uris": ["http://localhost:3000/cb"]}),
            ),
            uri,
        ),
        (
            with(
                web_app(),
                json!({"redirect_uris": ["https://app.example/cb", "com.example.app:/cb"]}),
            ),
            uri,
        ),
        (
            with(
                native_app(),
                json!({"token_endpoint_auth_method": "client_secret_post"}),
            ),
            uri,
        ),
    ];
    for (body, code) in cases {
        let reply = app.post("/admin/v1/clients", &body).await;
        let problem = reply.problem(400, code);
        assert!(
            !problem.detail.is_empty() && !problem.detail.contains("evil"),
            "{body}: {}",
            problem.detail
        );
    }
    // Malformed, not merely incoherent.
    for body in [
        with(
            web_app(),
            json!({"redirect_uris": "https://app.example/cb"}),
        ),
        with(web_app(), json!({"redirect_uris": [42]})),
    ] {
        let reply = app.post("/admin/v1/clients", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
    }
    assert!(all_clients(&app).await.is_empty());
}

#[tokio::test]
async fn a_patch_that_would_break_the_rules_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let web = register(&app, &web_app()).await.client;
    let native = register(&app, &native_app()).await.client;
    let uri = "invalid_redirect_uri";
    let meta = "invalid_client_metadata";
    let cases = [
        (&web, json!({"redirect_uris": []}), uri),
        (
            &web,
            json!({"redirect_uris": ["https://app.example/a#b"]}),
            uri,
        ),
        (&web, json!({"redirect_uris": ["http://127.0.0.1/cb"]}), uri),
        (&web, json!({"grant_types": ["client_credentials"]}), meta),
        (&web, json!({"grant_types": ["refresh_token"]}), meta),
        // A native app's loopback URIs cannot follow it to a confidential method.
        (
            &native,
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            uri,
        ),
        (
            &native,
            json!({"grant_types": ["client_credentials"], "redirect_uris": []}),
            meta,
        ),
        (
            &native,
            json!({"grant_types": ["authorization_code", "client_credentials"]}),
            meta,
        ),
    ];
    for (client, patch, code) in cases {
        let path = format!("/admin/v1/clients/{}", client.client_id);
        app.patch(&path, &patch).await.problem(400, code);
        assert_eq!(&shown(&app, &client.client_id).await, client, "{patch}");
    }

    // Changes that keep the record coherent are accepted, checked as a whole.
    let path = format!("/admin/v1/clients/{}", web.client_id);
    let changed: Client = app
        .patch(
            &path,
            &json!({"redirect_uris": ["https://app.example/new"], "grant_types": ["authorization_code"]}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(changed.redirect_uris, ["https://app.example/new"]);
    assert_eq!(changed.grant_types, ["authorization_code"]);
    let machine: Client = app
        .patch(
            &path,
            &json!({"grant_types": ["client_credentials"], "redirect_uris": []}),
        )
        .await
        .expect(200)
        .json();
    assert!(machine.redirect_uris.is_empty());
    assert_eq!(shown(&app, &web.client_id).await, machine);
}

#[tokio::test]
async fn rotating_the_secret_of_a_public_client_is_refused() {
    let app = spawn_app().await;
    let native = register(&app, &native_app()).await.client;
    let problem = app
        .post(
            &format!("/admin/v1/clients/{}/rotate-secret", native.client_id),
            &json!({}),
        )
        .await
        .problem(400, "invalid_field");
    assert!(problem.detail.contains("public"), "{}", problem.detail);
    assert_eq!(shown(&app, &native.client_id).await, native);

    // A confidential code-flow client has a secret to rotate.
    let web = register(&app, &web_app()).await;
    let rotated: ClientWithSecret = app
        .post(
            &format!("/admin/v1/clients/{}/rotate-secret", web.client.client_id),
            &json!({}),
        )
        .await
        .expect(200)
        .json();
    assert!(rotated.client_secret.is_some());
    assert_ne!(rotated.client_secret, web.client_secret);
}

#[tokio::test]
async fn a_client_that_becomes_public_loses_its_secret_for_good() {
    let app = spawn_app().await;
    let created = register(&app, &json!({"name": "m2m", "scope": "orders:read"})).await;
    let id = created.client.client_id.clone();
    let old = created.client_secret.unwrap();
    assert_eq!(token_with_basic(&app, &id, &old).await, 200);

    let path = format!("/admin/v1/clients/{id}");
    let public = with(
        native_app(),
        json!({"name": null, "scope": null, "grant_types": ["authorization_code"]}),
    );
    app.patch(&path, &public).await.expect(200);
    // A public client cannot authenticate with a secret: it has none.
    assert_eq!(token_with_basic(&app, &id, &old).await, 401);

    // Back to a confidential machine client: the old secret stays dead until a new
    // one is issued.
    app.patch(
        &path,
        &json!({"token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials"], "redirect_uris": []}),
    )
    .await
    .expect(200);
    assert_eq!(token_with_basic(&app, &id, &old).await, 401);
    let rotated: ClientWithSecret = app
        .post(&format!("{path}/rotate-secret"), &json!({}))
        .await
        .expect(200)
        .json();
    let new = rotated.client_secret.unwrap();
    assert_eq!(token_with_basic(&app, &id, &new).await, 200);
}

/// Naming the grant is not the grant: without a code (or refresh token) the token
/// endpoint must not fall back to issuing the client a token of its own.
#[tokio::test]
async fn a_code_flow_client_gets_no_token_by_naming_its_grant_without_a_code() {
    let app = spawn_app().await;
    let web = register(&app, &web_app()).await;
    let secret = web.client_secret.as_deref().unwrap();
    for grant in ["authorization_code", "refresh_token"] {
        let reply = app
            .send(
                app.request(Method::POST, "/oauth/token")
                    .basic_auth(&web.client.client_id, Some(secret))
                    .form(&[("grant_type", grant)]),
            )
            .await;
        let body: Value = reply.json();
        assert!(body.get("access_token").is_none(), "{grant}: {body}");
        assert_eq!(reply.status, 400, "{grant}: {body}");
    }
}
