//! `gatehouse clients …`: OAuth clients.

use crate::client::Client as Http;
use crate::commands::{ClientChanges, ClientsCommand, Global};
use crate::keys::print_json;
use crate::table::{self, or_dash};
use anyhow::Context;
use gatehouse_api::Page;
use gatehouse_api::clients::{Client, ClientWithSecret, CreateClient, UpdateClient};
use reqwest::Method;
use std::process::ExitCode;

pub async fn run(global: &Global, command: ClientsCommand) -> anyhow::Result<ExitCode> {
    let http = Http::new(global)?;
    match command {
        ClientsCommand::Create(s) => {
            let body = CreateClient {
                name: s.name,
                grant_types: (!s.grant_types.is_empty()).then_some(s.grant_types),
                scope: s.scopes.join(" "),
                audience: s.audiences,
                resource_server_audiences: s.resource_server_audiences,
                token_endpoint_auth_method: s.auth_method,
                access_token_ttl: s.ttl,
                jwks: s.jwks.as_deref().map(read_jwks).transpose()?,
                redirect_uris: s.redirect_uris,
                tls_client_auth_subject: s.tls_subject,
                tls_client_auth_sha256: s.tls_sha256,
            };
            let created: ClientWithSecret =
                http.send(Method::POST, "/admin/v1/clients", &body).await?;
            show_secret(global, &created)?;
        }
        ClientsCommand::List(page) => {
            let mut query = Vec::new();
            query.extend(page.limit.map(|l| ("limit", l.to_string())));
            query.extend(page.cursor.map(|c| ("cursor", c)));
            let clients: Page<Client> = http.get("/admin/v1/clients", &query).await?;
            if global.json {
                print_json(&clients)?;
            } else {
                show(global, &clients.items)?;
                if let Some(next) = clients.next_cursor {
                    println!("more: --cursor {next}");
                }
            }
        }
        ClientsCommand::Show { id } => {
            let client: Client = http.get(&path(&id)?, &[]).await?;
            show(global, std::slice::from_ref(&client))?;
        }
        ClientsCommand::Update { id, changes } => {
            let client: Client = http
                .send(Method::PATCH, &path(&id)?, &update(changes)?)
                .await?;
            show(global, std::slice::from_ref(&client))?;
        }
        ClientsCommand::RotateSecret { id } => {
            let rotated: ClientWithSecret = http
                .call(Method::POST, &format!("{}/rotate-secret", path(&id)?))
                .await?;
            show_secret(global, &rotated)?;
        }
        ClientsCommand::Delete { id } => {
            http.call_empty(Method::DELETE, &path(&id)?).await?;
            if !global.json {
                println!("deleted {id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_jwks(path: &std::path::Path) -> anyhow::Result<gatehouse_core::jose::JwkSet> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a JWK Set", path.display()))
}

fn update(c: ClientChanges) -> anyhow::Result<UpdateClient> {
    Ok(UpdateClient {
        jwks: c.jwks.as_deref().map(read_jwks).transpose()?,
        name: c.name,
        grant_types: c.grant_types,
        scope: c.scopes.map(|s| s.join(" ")),
        audience: c.audiences,
        resource_server_audiences: if c.clear_resource_server_for {
            Some(Vec::new())
        } else {
            c.resource_server_audiences
        },
        token_endpoint_auth_method: c.auth_method,
        access_token_ttl: c.ttl,
        tls_client_auth_subject: c.tls_subject,
        tls_client_auth_sha256: c.tls_sha256,
        redirect_uris: if c.clear_redirect_uris {
            Some(Vec::new())
        } else {
            c.redirect_uris
        },
        enabled: match (c.enable, c.disable) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    })
}

fn path(id: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{id:?} is not a client id"
    );
    Ok(format!("/admin/v1/clients/{id}"))
}

fn show(global: &Global, clients: &[Client]) -> anyhow::Result<()> {
    if global.json {
        return print_json(&clients);
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.client_id.clone(),
                c.name.clone(),
                c.scope.clone(),
                c.audience.join(" "),
                if c.resource_server_audiences.is_empty() {
                    "-".to_owned()
                } else {
                    c.resource_server_audiences.join(" ")
                },
                c.token_endpoint_auth_method.clone(),
                if c.redirect_uris.is_empty() {
                    "-".to_owned()
                } else {
                    c.redirect_uris.join(" ")
                },
                or_dash(c.access_token_ttl),
                if c.enabled { "enabled" } else { "disabled" }.to_owned(),
            ]
        })
        .collect();
    table::print(
        &[
            "CLIENT ID",
            "NAME",
            "SCOPE",
            "AUDIENCE",
            "RESOURCE SERVER FOR",
            "AUTH METHOD",
            "REDIRECT URIS",
            "TTL",
            "STATE",
        ],
        &rows,
    );
    Ok(())
}

fn show_secret(global: &Global, created: &ClientWithSecret) -> anyhow::Result<()> {
    if global.json {
        return print_json(created);
    }
    show(global, std::slice::from_ref(&created.client))?;
    if let Some(secret) = &created.client_secret {
        println!();
        println!("client_secret: {secret}");
        println!("Store it now: it is not shown again, and Gatehouse keeps only its hash.");
    }
    Ok(())
}
