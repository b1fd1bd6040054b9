//! Resident memory of a Gatehouse server with N keys loaded (default 1,000,000).
//!
//! Writes N keys into a fresh SQLite store, starts the real server on it (which loads
//! every key into its index) and reports the process's resident set size before and
//! after. Usage: `cargo run --release -p gatehouse-bench --bin memory [N]`.
//!
//! Writing the fixture takes minutes; to measure repeatedly, write it once with
//! `memory --write DIR N` and measure with `memory --load DIR`.

use anyhow::Context;
use gatehouse_server::{ManualClock, MasterKey, Overrides, Settings};
use gatehouse_store_sqlite::SqliteStore;
use std::sync::Arc;

/// The allocator the `gatehouse` binary uses, so the numbers match production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, dir] = args.as_slice()
        && flag == "--load"
    {
        return load(std::path::Path::new(dir)).await;
    }
    if let [_, flag, dir, n] = args.as_slice()
        && flag == "--write"
    {
        return write_keys(&std::path::Path::new(dir).join("gatehouse.db"), n.parse()?).await;
    }
    if let [_, flag, n] = args.as_slice()
        && flag == "--index-only"
    {
        return index_only(n.parse()?);
    }
    let n: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    write_keys(&dir.path().join("gatehouse.db"), n).await?;
    // A fresh process for the measurement, so the fixture's memory is not counted.
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--load")
        .arg(dir.path())
        .status()?;
    anyhow::ensure!(status.success(), "the measuring process failed");
    Ok(())
}

/// The key index alone: resident memory added by indexing `n` records.
fn index_only(n: usize) -> anyhow::Result<()> {
    let records: Vec<_> = gatehouse_bench::keys(n, 99)?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let before = rss_mib()?;
    let index = gatehouse_server::key_index::KeyIndex::new(&records);
    let after = rss_mib()?;
    println!(
        "index of {} keys: {:.1} MiB ({:.0} bytes a key)",
        index.len(),
        after - before,
        (after - before) * 1048576.0 / n as f64
    );
    Ok(())
}

/// Starts the real server on `dir` and reports resident memory once every key is loaded.
async fn load(dir: &std::path::Path) -> anyhow::Result<()> {
    let baseline = rss_mib()?;
    let settings = Settings::load(
        None,
        std::iter::empty(),
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.to_owned()),
        },
    )?;
    let clock = Arc::new(ManualClock::new(gatehouse_core::UnixTime::from_millis(
        1_800_000_000_000,
    )));
    let master = MasterKey::from_hex(&"42".repeat(32), "bench")?;
    let started = std::time::Instant::now();
    let server = gatehouse_server::start(settings, clock, &master).await?;
    let start_time = started.elapsed();
    let loaded = server.state().keys.len();
    let after = rss_mib()?;
    println!("keys loaded: {loaded} in {:.1} s", start_time.as_secs_f64());
    println!("rss before start:        {baseline:.1} MiB");
    println!("rss with keys loaded:    {after:.1} MiB");
    if std::env::var_os("MEMORY_DETAIL").is_some() {
        let status = std::fs::read_to_string("/proc/self/status")?;
        for line in status.lines().filter(|l| l.starts_with("Rss")) {
            println!("  {line}");
        }
    }
    server.shutdown().await?;
    Ok(())
}

/// Inserts `n` keys in one transaction, bypassing the server, to build the fixture fast.
async fn write_keys(db: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let store = SqliteStore::open(db).await?;
    let keys = gatehouse_bench::keys(n, 99)?;
    // The fixture goes through the public Store API in chunks: realistic rows, and no SQL here.
    for chunk in keys.chunks(10_000) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|(_, r)| gatehouse_store::Store::insert_key(&store, r))
            .collect();
        for t in tasks {
            t.await?;
        }
    }
    store.close().await;
    Ok(())
}

fn rss_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/self/status")?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}
