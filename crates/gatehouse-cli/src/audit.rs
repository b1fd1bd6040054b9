//! `gatehouse audit list|export|verify`.
//!
//! `verify` fetches the whole trail and checks the chain here, with core's verifier, as
//! far as a client can: the links of every event, and the plain SHA-256 hashes of
//! events written before the keyed chain. What a chain cannot show — events deleted
//! from its start or its end — it checks against `/admin/v1/audit/head`: where
//! retention says the trail starts, and the event the audit writer wrote last. The
//! keyed chain's MACs need the master key, and the witness lives with the server: for
//! those it asks `/admin/v1/audit/verify`, and reports which guarantee covers which
//! part of the trail.

use crate::client::Client;
use crate::commands::{AuditCommand, AuditFilter, Global};
use crate::keys::{fmt_time, print_json};
use crate::table::{self, or_dash};
use anyhow::{Context, bail};
use gatehouse_api::Page;
use gatehouse_api::audit::{AuditHead, AuditVerification, Event};
use gatehouse_core::audit::{AuditEvent, ChainHash, Links, verify_chain};
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
        AuditCommand::Verify => return verify(&client).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks the whole trail: linked from `first_seq` on, reaching the head, and — by the
/// server, with its keys and witness — MAC'd and not behind its last checkpoint.
async fn verify(client: &Client) -> anyhow::Result<ExitCode> {
    // The head first: events written after it only extend the trail fetched next.
    let head: AuditHead = client.get("/admin/v1/audit/head", &[]).await?;
    let head_hash = ChainHash::from_hex(&head.head_hash)
        .context("unexpected response from the server: head_hash is not 64 hex digits")?;
    let mut events: Vec<AuditEvent> = Vec::new();
    each_page(client, &AuditFilter::default(), |page| {
        for e in page {
            events.push(AuditEvent::try_from(e)?);
        }
        Ok(())
    })
    .await?;
    let server: AuditVerification = client.get("/admin/v1/audit/verify", &[]).await?;
    let checked = match verify_chain(
        &events,
        head.first_seq,
        &Links::without_key(server.keyed_from),
    ) {
        Ok(n) => n,
        Err(broken) => bail!("audit chain broken: {broken}"),
    };
    // No events written at all is the one head the trail need not reach.
    if head.head_seq != 0 {
        let last = events.last().map_or(0, |e| e.seq);
        match events.iter().find(|e| e.seq == head.head_seq) {
            None if last + 1 < head.head_seq => bail!(
                "audit chain broken: events {} to {} are missing from the end of the trail",
                last + 1,
                head.head_seq
            ),
            None => bail!(
                "audit chain broken: event {} is missing (the last event the server wrote)",
                head.head_seq
            ),
            Some(e) if e.hash != head_hash => bail!(
                "audit chain broken: event {} is not the event the server wrote (its hash differs from the head's)",
                e.seq
            ),
            Some(_) => {}
        }
    }
    // The details on stdout, the one-line reason (on failure) on stderr.
    for p in &server.recorded {
        let at = p.seq.map(|s| format!(" (event {s})")).unwrap_or_default();
        println!(
            "tampering detected at an earlier start{at}: {}: {}",
            p.code, p.detail
        );
    }
    for p in &server.problems {
        println!("tampering detected: {}: {}", p.code, p.detail);
    }
    if !server.ok {
        let first = server.problems.first().or(server.recorded.first());
        bail!(
            "audit trail tampered with: {}",
            first.map_or("see above", |p| p.detail.as_str())
        );
    }
    let end = events
        .last()
        .map(|e| format!(" head seq {} hash {}", e.seq, e.hash.to_hex()));
    println!(
        "audit chain ok: {checked} events;{}",
        end.unwrap_or_default()
    );
    for segment in &server.segments {
        println!(
            "seq {}..{}: {}",
            segment.from_seq, segment.to_seq, segment.guarantee
        );
    }
    match &server.witnessed {
        Some(c) => println!(
            "witness: last checkpoint at seq {}; the trail reaches it",
            c.seq
        ),
        None => println!("witness: no checkpoint yet"),
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
