//! A client registered as the resource server for some audiences
//! (`resource_server_audiences`) through `/admin/v1/clients`: kept through create,
//! PATCH, show, list and a restart, checked like `audience`, and in the OpenAPI
//! document. What it may introspect is in `introspection.rs`.

use crate::support::{TestApp, spawn_app};
use gatehouse_api::Page;
use gatehouse_api::clients::{Client, ClientWithSecret};
use reqwest::Method;
use serde_json::{Value, json};

async fn show(app: &TestApp, id: &str) -> Client {
    app.get(&format!("/admin/v1/clients/{id}"))
        .await
        .expect(200)
        .json()
}

async fn listed(app: &TestApp, id: &str) -> Client {
    let page: Page<Client> = app.get("/admin/v1/clients").await.expect(200).json();
    page.items.into_iter().find(|c| c.client_id == id).unwrap()
}

#[tokio::test]
async fn resource_server_audiences_round_trip_through_create_patch_show_and_a_restart() {
    let mut app = spawn_app().await;
    let created: ClientWithSecret = app
        .post(
            "/admin/v1/clients",
            &json!({"name": "orders api", "scope": "misc:read",
                    "resource_server_audiences": ["orders", "https://orders.example/"]}),
        )
        .await
        .expect(201)
        .json();
    let id = created.client.client_id.clone();
    let both = ["orders", "https://orders.example/"];
    assert_eq!(created.client.resource_server_audiences, both);
    assert_eq!(show(&app, &id).await.resource_server_audiences, both);
    assert_eq!(listed(&app, &id).await.resource_server_audiences, both);

    // A PATCH that leaves the field out keeps it; one that names it replaces it.
    let renamed: Client = app
        .patch(
            &format!("/admin/v1/clients/{id}"),
            &json!({"name": "orders"}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(renamed.resource_server_audiences, both);
    let replaced: Client = app
        .patch(
            &format!("/admin/v1/clients/{id}"),
            &json!({"resource_server_audiences": ["billing"]}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(replaced.resource_server_audiences, ["billing"]);

    app.restart().await;
    assert_eq!(show(&app, &id).await.resource_server_audiences, ["billing"]);

    let cleared: Client = app
        .patch(
            &format!("/admin/v1/clients/{id}"),
            &json!({"resource_server_audiences": []}),
        )
        .await
        .expect(200)
        .json();
    assert!(cleared.resource_server_audiences.is_empty());
    app.restart().await;
    assert!(show(&app, &id).await.resource_server_audiences.is_empty());

    // A client registered without it serves none, and says so.
    let plain: Value = app
        .post("/admin/v1/clients", &json!({"name": "plain"}))
        .await
        .expect(201)
        .json();
    assert_eq!(plain["resource_server_audiences"], json!([]), "{plain}");
}

#[tokio::test]
async fn bad_resource_server_audiences_are_refused_like_bad_audiences_and_change_nothing() {
    let app = spawn_app().await;
    let too_many: Vec<String> = (0..21).map(|i| format!("aud{i}")).collect();
    let bad = [
        json!([""]),
        json!(["orders\u{0}"]),
        json!(["line\nbreak"]),
        json!(["\u{202e}sredro"]),
        json!(["x".repeat(10_000)]),
        json!(too_many),
        json!("orders"),
        json!([42]),
    ];
    for value in &bad {
        let reply = app
            .post(
                "/admin/v1/clients",
                &json!({"name": "api", "resource_server_audiences": value}),
            )
            .await;
        let problem = reply.problem(400, "invalid_field");
        if value.is_array() && value.as_array().unwrap().iter().all(Value::is_string) {
            assert!(
                problem.detail.contains("resource_server_audiences"),
                "{value}: {}",
                problem.detail
            );
        }
    }
    let page: Page<Client> = app.get("/admin/v1/clients").await.expect(200).json();
    assert!(page.items.is_empty(), "nothing was registered");

    let created: ClientWithSecret = app
        .post(
            "/admin/v1/clients",
            &json!({"name": "api", "resource_server_audiences": ["orders"]}),
        )
        .await
        .expect(201)
        .json();
    let path = format!("/admin/v1/clients/{}", created.client.client_id);
    for value in &bad {
        let reply = app
            .patch(&path, &json!({"resource_server_audiences": value}))
            .await;
        reply.problem(400, "invalid_field");
    }
    assert_eq!(
        show(&app, &created.client.client_id)
            .await
            .resource_server_audiences,
        ["orders"]
    );
}

#[tokio::test]
async fn the_openapi_document_describes_resource_server_audiences() {
    let app = spawn_app().await;
    let doc: Value = app
        .send(app.request(Method::GET, "/admin/v1/openapi.json"))
        .await
        .expect(200)
        .json();
    for schema in ["CreateClient", "UpdateClient", "Client"] {
        let field =
            &doc["components"]["schemas"][schema]["properties"]["resource_server_audiences"];
        assert!(
            field.is_object(),
            "{schema}: {}",
            doc["components"]["schemas"][schema]
        );
        assert!(
            field["description"]
                .as_str()
                .is_some_and(|d| d.contains("resource server")),
            "{schema}: {field}"
        );
    }
}
