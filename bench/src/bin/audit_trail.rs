//! Writes an audit trail of N gateway events into a new data directory, linked with
//! the keyed chain under the master key in `GATEHOUSE_MASTER_KEY` and witnessed, as
//! the server leaves them at a stop: a fixture for timing the integrity check that
//! follows a start.
//!
//!   GATEHOUSE_MASTER_KEY=$(openssl rand -hex 32) audit_trail DIR 1000000
//!   GATEHOUSE_MASTER_KEY=… gatehouse serve --data-dir DIR   # then time /readyz
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use gatehouse_bench::gateway_event;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::Chain;
use gatehouse_server::audit_integrity::KEYED_FROM;
use gatehouse_server::audit_log::{chain_key, checkpoint_key};
use gatehouse_server::audit_witness::Witness;
use gatehouse_server::master_key::MasterKey;
use gatehouse_store::Store;
use gatehouse_store_sqlite::SqliteStore;
use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: audit_trail DIR COUNT (with GATEHOUSE_MASTER_KEY set)");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let count: u64 = count.parse().expect("COUNT is a number");
    let hex = std::env::var("GATEHOUSE_MASTER_KEY").expect("GATEHOUSE_MASTER_KEY is set");
    let master = MasterKey::from_hex(&hex, "GATEHOUSE_MASTER_KEY").expect("a 32-byte hex key");
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("gatehouse.db")).await.unwrap();
    // Keyed from the first event, as a store this version created.
    store.set_meta(KEYED_FROM, "1").await.unwrap();
    let mut chain = Chain::new(chain_key(&master));
    let mut written = 0;
    while written < count {
        let batch: Vec<_> = (written..count.min(written + 1024))
            .map(|n| chain.append(gateway_event(n)))
            .collect();
        written += batch.len() as u64;
        store.append_audit(&batch).await.unwrap();
    }
    // Witnessed as the server leaves it at a stop, so the first start finds it intact.
    let witness = Witness::open(&dir.join("audit-witness.log"), checkpoint_key(&master), 1)
        .expect("the witness file opens");
    let now = UnixTime::from_millis(1_800_000_000_000 + i64::try_from(count).unwrap());
    witness
        .write(store.audit_head().await.unwrap(), now)
        .unwrap();
    println!("{written} events in {}", dir.display());
}
