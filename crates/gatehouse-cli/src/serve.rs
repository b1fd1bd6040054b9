//! `gatehouse serve`: configuration, logging, master key, then the server until a
//! signal, then a graceful shutdown.

use crate::commands::ServeArgs;
use anyhow::Context;
use gatehouse_server::config::LogFormat;
use gatehouse_server::{MasterKey, MasterKeySource, Overrides, Settings, SystemClock};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Listen for signals before anything else: the port accepts connections while the
    // server is still starting, and a SIGTERM then must still mean a graceful stop.
    let stop = shutdown_signal()?;
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
    };
    let settings = Settings::load(args.config.as_deref(), std::env::vars(), &overrides)?;
    init_logging(&settings)?;
    gatehouse_server::data_dir::create(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let env_key = std::env::var("GATEHOUSE_MASTER_KEY").ok();
    let env_file = std::env::var_os("GATEHOUSE_MASTER_KEY_FILE").map(PathBuf::from);
    let store_exists = settings.database_path.exists();
    let (master_key, source) = MasterKey::load(
        env_key.as_deref(),
        env_file.as_deref(),
        &settings.data_dir,
        store_exists,
    )?;
    if let MasterKeySource::DevFile(path) = &source {
        tracing::warn!(
            path = %path.display(),
            "dev mode: no GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_KEY_FILE set, so the master key is kept \
             in a file beside the data; set one of them in production"
        );
    }
    let mut server = gatehouse_server::start(settings, Arc::new(SystemClock), &master_key).await?;
    if let Some(key) = server.take_admin_key() {
        // Printed once, on a line of its own, on stdout; never logged.
        let mut out = std::io::stdout().lock();
        writeln!(out, "GATEHOUSE_ADMIN_KEY={}", key.reveal())?;
        out.flush()?;
        tracing::info!(
            "created the bootstrap admin key; it was printed on stdout and will not be shown again"
        );
    }
    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .with_context(|| format!("log.level: {:?} is not a valid filter", settings.log_level))?;
    // Colours only for a person at a terminal: escape codes in a log file or journal
    // break every tool that reads it.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}

/// Resolves on SIGTERM or SIGINT received from the moment it is called.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
