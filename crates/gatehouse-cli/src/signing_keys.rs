//! `gatehouse signing-keys list|rotate`.

use crate::client::Client;
use crate::commands::{Global, SigningKeysCommand};
use crate::keys::{fmt_time, print_json};
use crate::table::{self, or_dash};
use gatehouse_api::signing_keys::{RotateSigningKey, SigningKeyInfo};
use reqwest::Method;
use std::process::ExitCode;

pub async fn run(global: &Global, command: SigningKeysCommand) -> anyhow::Result<ExitCode> {
    let client = Client::new(global)?;
    let keys = match command {
        SigningKeysCommand::List => {
            client
                .get::<Vec<SigningKeyInfo>>("/admin/v1/signing-keys", &[])
                .await?
        }
        SigningKeysCommand::Rotate { now } => {
            let body = RotateSigningKey { immediate: now };
            let key: SigningKeyInfo = client
                .send(Method::POST, "/admin/v1/signing-keys/rotate", &body)
                .await?;
            vec![key]
        }
        SigningKeysCommand::Withdraw { kid } => {
            anyhow::ensure!(
                kid.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{kid:?} is not a key id"
            );
            client
                .call_empty(Method::DELETE, &format!("/admin/v1/signing-keys/{kid}"))
                .await?;
            if !global.json {
                println!("withdrew {kid}: tokens it signed no longer verify");
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    if global.json {
        print_json(&keys)?;
    } else {
        let rows: Vec<Vec<String>> = keys
            .iter()
            .map(|k| {
                vec![
                    k.kid.clone(),
                    k.alg.clone(),
                    k.state.clone(),
                    fmt_time(k.active_at),
                    or_dash(k.expires_at.map(fmt_time)),
                ]
            })
            .collect();
        table::print(
            &["KID", "ALG", "STATE", "SIGNS FROM", "UNPUBLISHED AT"],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}
