//! `gatehouse audit list|export|verify`.
//!
//! `verify` fetches the whole trail and checks the hash chain here, with core's
//! verifier: the check does not depend on trusting the server's own opinion.

use crate::client::Client;
use crate::commands::{AuditCommand, AuditFilter, Global};
use crate::keys::{fmt_time, print_json};
use crate::table::{self, or_dash};
use gatehouse_api::Page;
use gatehouse_api::audit::Event;
use gatehouse_core::audit::{AuditEvent, verify_chain};
use std::process::ExitCode;

const PAGE: u32 = 1000;

pub async fn run(global: &Global, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let client = Client::new(global)?;
    match command {
        AuditCommand::List(filter) => {
            let query = query(&filter, "desc", filter.limit, filter.cursor.clone());
            let page: Page<Event> = client.get("/admin/v1/audit", &query).await?;
            if global.json {
                print_json(&page)?;
            } else {
                show(&page.items);
                if let Some(next) = page.next_cursor {
                    println!("more: --cursor {next}");
                }
            }
        }
        AuditCommand::Export(filter) => {
            each_page(&client, &filter, |events| {
                for e in events {
                    println!("{}", serde_json::to_string(e)?);
                }
                Ok(())
            })
            .await?;
        }
        AuditCommand::Verify => {
            let mut events: Vec<AuditEvent> = Vec::new();
            each_page(&client, &AuditFilter::default(), |page| {
                for e in page {
                    events.push(AuditEvent::try_from(e)?);
                }
                Ok(())
            })
            .await?;
            match verify_chain(&events) {
                Ok(n) => {
                    let head = events
                        .last()
                        .map(|e| format!(" head seq {} hash {}", e.seq, e.hash.to_hex()));
                    println!("audit chain ok: {n} events;{}", head.unwrap_or_default());
                }
                Err(broken) => anyhow::bail!("audit chain broken: {broken}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn query(
    f: &AuditFilter,
    order: &str,
    limit: Option<u32>,
    cursor: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut q = vec![("order", order.to_owned())];
    q.extend(f.principal.clone().map(|v| ("principal", v)));
    q.extend(f.credential.clone().map(|v| ("credential_id", v)));
    q.extend(f.action.clone().map(|v| ("action", v)));
    q.extend(f.outcome.clone().map(|v| ("outcome", v)));
    q.extend(f.since.clone().map(|v| ("since", v)));
    q.extend(f.until.clone().map(|v| ("until", v)));
    q.extend(limit.map(|v| ("limit", v.to_string())));
    q.extend(cursor.map(|v| ("cursor", v)));
    q
}

/// Pages through every matching event, oldest first.
async fn each_page(
    client: &Client,
    f: &AuditFilter,
    mut each: impl FnMut(&[Event]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut cursor = None;
    loop {
        let page: Page<Event> = client
            .get("/admin/v1/audit", &query(f, "asc", Some(PAGE), cursor))
            .await?;
        each(&page.items)?;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

fn show(events: &[Event]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                fmt_time(e.time),
                e.action.clone(),
                e.outcome.clone(),
                or_dash(e.reason.clone()),
                or_dash(e.principal.clone()),
                or_dash(e.credential_id.clone()),
                or_dash(e.target.clone()),
                or_dash(e.client_ip.clone()),
            ]
        })
        .collect();
    table::print(
        &[
            "SEQ",
            "TIME",
            "ACTION",
            "OUTCOME",
            "REASON",
            "PRINCIPAL",
            "CREDENTIAL",
            "TARGET",
            "CLIENT",
        ],
        &rows,
    );
}
