//! `gatehouse keys …`.

use crate::client::{Client, parse_rate};
use crate::commands::{Global, KeyChanges, KeySettings, KeysCommand};
use crate::table::{self, or_dash};
use anyhow::Context;
use gatehouse_api::Page;
use gatehouse_api::keys::{CreateKey, CreatedKey, Key, RotateKey, RotatedKey, UpdateKey};
use gatehouse_api::verify::{Verdict, VerifyKey};
use reqwest::Method;
use serde::Serialize;
use std::process::ExitCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub async fn run(global: &Global, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let client = Client::new(global)?;
    match command {
        KeysCommand::Create(settings) => {
            let created: CreatedKey = client
                .send(Method::POST, "/admin/v1/keys", &create_request(settings)?)
                .await?;
            show_created(global, &created.info, &created.key, &created)?;
        }
        KeysCommand::List(page) => {
            let mut query = Vec::new();
            query.extend(page.limit.map(|l| ("limit", l.to_string())));
            query.extend(page.cursor.map(|c| ("cursor", c)));
            let keys: Page<Key> = client.get("/admin/v1/keys", &query).await?;
            if global.json {
                print_json(&keys)?;
            } else {
                show_keys(&keys.items);
                if let Some(next) = keys.next_cursor {
                    println!("more: --cursor {next}");
                }
            }
        }
        KeysCommand::Show { id } => show_key(global, &client.get(&key_path(&id)?, &[]).await?)?,
        KeysCommand::Update { id, changes } => {
            let key: Key = client
                .send(Method::PATCH, &key_path(&id)?, &update_request(changes)?)
                .await?;
            show_key(global, &key)?;
        }
        KeysCommand::Revoke { id } => {
            show_key(
                global,
                &client
                    .call(Method::POST, &format!("{}/revoke", key_path(&id)?))
                    .await?,
            )?;
        }
        KeysCommand::Rotate { id, grace } => {
            let body = RotateKey {
                grace_period_seconds: grace,
            };
            let rotated: RotatedKey = client
                .send(Method::POST, &format!("{}/rotate", key_path(&id)?), &body)
                .await?;
            show_created(global, &rotated.info, &rotated.key, &rotated)?;
            if !global.json {
                println!(
                    "previous key {} is revoked at {}",
                    rotated.previous.id,
                    or_dash(rotated.previous.revoked_at.map(fmt_time))
                );
            }
        }
        KeysCommand::Delete { id } => {
            client.call_empty(Method::DELETE, &key_path(&id)?).await?;
            if !global.json {
                println!("deleted {id}");
            }
        }
        KeysCommand::Verify { key, scopes } => {
            let verdict: Verdict = client
                .send(Method::POST, "/v1/keys/verify", &VerifyKey { key, scopes })
                .await?;
            if global.json {
                print_json(&verdict)?;
            } else {
                table::print(
                    &["VALID", "CODE", "KEY", "SUBJECT", "REMAINING"],
                    &[vec![
                        verdict.valid.to_string(),
                        verdict.code.clone(),
                        or_dash(verdict.key_id.clone()),
                        or_dash(verdict.subject.clone()),
                        or_dash(verdict.remaining),
                    ]],
                );
            }
            if !verdict.valid {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A key id as a path segment; ids are `key_` plus base62, nothing to escape.
fn key_path(id: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{id:?} is not a key id"
    );
    Ok(format!("/admin/v1/keys/{id}"))
}

fn create_request(s: KeySettings) -> anyhow::Result<CreateKey> {
    Ok(CreateKey {
        name: s.name,
        subject: s.subject,
        prefix: s.prefix,
        scopes: s.scopes,
        metadata: s.metadata.as_deref().map(parse_metadata).transpose()?,
        expires_at: s.expires_at.as_deref().map(parse_time).transpose()?,
        enabled: s.disabled.then_some(false),
        ratelimit: s.ratelimit.as_deref().map(parse_rate).transpose()?,
        remaining: s.remaining,
    })
}

fn update_request(c: KeyChanges) -> anyhow::Result<UpdateKey> {
    Ok(UpdateKey {
        name: c.name,
        scopes: c.scopes,
        metadata: c.metadata.as_deref().map(parse_metadata).transpose()?,
        expires_at: if c.no_expiry {
            Some(None)
        } else {
            c.expires_at
                .as_deref()
                .map(parse_time)
                .transpose()?
                .map(Some)
        },
        enabled: if c.enable {
            Some(true)
        } else if c.disable {
            Some(false)
        } else {
            None
        },
        ratelimit: if c.no_ratelimit {
            Some(None)
        } else {
            c.ratelimit
                .as_deref()
                .map(parse_rate)
                .transpose()?
                .map(Some)
        },
        remaining: if c.unlimited {
            Some(None)
        } else {
            c.remaining.map(Some)
        },
    })
}

fn parse_metadata(text: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_str(text).context("--metadata must be a JSON object")
}

pub fn parse_time(text: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .with_context(|| format!("{text:?} is not an RFC 3339 time"))
}

pub fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn show_created<T: Serialize>(
    global: &Global,
    info: &Key,
    key: &str,
    whole: &T,
) -> anyhow::Result<()> {
    if global.json {
        return print_json(whole);
    }
    show_keys(std::slice::from_ref(info));
    println!();
    println!("key: {key}");
    println!("Store it now: it is not shown again, and Gatehouse keeps only its hash.");
    Ok(())
}

fn show_key(global: &Global, key: &Key) -> anyhow::Result<()> {
    if global.json {
        print_json(key)
    } else {
        show_keys(std::slice::from_ref(key));
        Ok(())
    }
}

fn show_keys(keys: &[Key]) {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let state = if k.revoked_at.is_some() {
                "revoked"
            } else if k.enabled {
                "enabled"
            } else {
                "disabled"
            };
            vec![
                k.id.clone(),
                k.name.clone(),
                k.start.clone(),
                k.subject.clone(),
                k.scopes.join(" "),
                state.to_owned(),
                or_dash(k.expires_at.map(fmt_time)),
                or_dash(k.remaining),
            ]
        })
        .collect();
    table::print(
        &[
            "ID",
            "NAME",
            "START",
            "SUBJECT",
            "SCOPES",
            "STATE",
            "EXPIRES",
            "REMAINING",
        ],
        &rows,
    );
}
