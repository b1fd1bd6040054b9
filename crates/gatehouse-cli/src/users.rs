//! `gatehouse users …`: the people who log in. Passwords are read from standard input,
//! never taken as arguments.

use crate::client::Client as Http;
use crate::commands::{Global, UserChanges, UsersCommand};
use crate::keys::{fmt_time, print_json};
use crate::table::{self, or_dash};
use anyhow::Context;
use gatehouse_api::Page;
use gatehouse_api::users::{CreateUser, SetPassword, UpdateUser, User, UserConsent};
use reqwest::Method;
use std::process::ExitCode;

pub async fn run(global: &Global, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let http = Http::new(global)?;
    match command {
        UsersCommand::Create(s) => {
            let body = CreateUser {
                username: s.username,
                password: s.password_stdin.then(read_password).transpose()?,
                display_name: s.display_name,
                email: s.email,
                scopes: s.scopes,
            };
            let user: User = http.send(Method::POST, "/admin/v1/users", &body).await?;
            show(global, std::slice::from_ref(&user))?;
        }
        UsersCommand::List(page) => {
            let mut query = Vec::new();
            query.extend(page.limit.map(|l| ("limit", l.to_string())));
            query.extend(page.cursor.map(|c| ("cursor", c)));
            let users: Page<User> = http.get("/admin/v1/users", &query).await?;
            if global.json {
                print_json(&users)?;
            } else {
                show(global, &users.items)?;
                if let Some(next) = users.next_cursor {
                    println!("more: --cursor {next}");
                }
            }
        }
        UsersCommand::Show { id } => {
            let user: User = http.get(&path(&id)?, &[]).await?;
            show(global, std::slice::from_ref(&user))?;
        }
        UsersCommand::Update { id, changes } => {
            let user: User = http
                .send(Method::PATCH, &path(&id)?, &update(changes))
                .await?;
            show(global, std::slice::from_ref(&user))?;
        }
        UsersCommand::Disable { id } => {
            let body = UpdateUser {
                enabled: Some(false),
                ..UpdateUser::default()
            };
            let user: User = http.send(Method::PATCH, &path(&id)?, &body).await?;
            show(global, std::slice::from_ref(&user))?;
        }
        UsersCommand::Delete { id } => {
            http.call_empty(Method::DELETE, &path(&id)?).await?;
            if !global.json {
                println!("deleted {id}");
            }
        }
        UsersCommand::SetPassword { id } => {
            let body = SetPassword {
                password: read_password()?,
            };
            let user: User = http
                .send(Method::POST, &format!("{}/password", path(&id)?), &body)
                .await?;
            show(global, std::slice::from_ref(&user))?;
        }
        UsersCommand::Consents { id } => {
            let consents: Vec<UserConsent> =
                http.get(&format!("{}/consents", path(&id)?), &[]).await?;
            show_consents(global, &consents)?;
        }
        UsersCommand::RevokeConsent { id, client_id } => {
            anyhow::ensure!(
                client_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{client_id:?} is not a client id"
            );
            let consent = format!("{}/consents/{client_id}", path(&id)?);
            http.call_empty(Method::DELETE, &consent).await?;
            if !global.json {
                println!("revoked the consent of {id} for {client_id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

fn update(c: UserChanges) -> UpdateUser {
    UpdateUser {
        username: c.username,
        display_name: c.display_name,
        email: c.email,
        scopes: c.scopes,
        enabled: c.enable.then_some(true),
    }
}

fn path(id: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{id:?} is not a user id"
    );
    Ok(format!("/admin/v1/users/{id}"))
}

fn show(global: &Global, users: &[User]) -> anyhow::Result<()> {
    if global.json {
        return print_json(&users);
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.id.clone(),
                u.username.clone(),
                or_dash(u.display_name.clone()),
                u.scopes.join(" "),
                if u.has_password { "set" } else { "none" }.to_owned(),
                if u.enabled { "enabled" } else { "disabled" }.to_owned(),
            ]
        })
        .collect();
    table::print(
        &["USER ID", "USERNAME", "NAME", "SCOPES", "PASSWORD", "STATE"],
        &rows,
    );
    Ok(())
}

fn show_consents(global: &Global, consents: &[UserConsent]) -> anyhow::Result<()> {
    if global.json {
        return print_json(&consents);
    }
    let rows: Vec<Vec<String>> = consents
        .iter()
        .map(|c| {
            vec![
                c.client_id.clone(),
                c.scopes.join(" "),
                fmt_time(c.granted_at),
                fmt_time(c.updated_at),
            ]
        })
        .collect();
    table::print(&["CLIENT ID", "SCOPES", "GRANTED", "UPDATED"], &rows);
    Ok(())
}
