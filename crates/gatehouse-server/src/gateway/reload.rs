//! Reloading routes and issuers without a restart: on SIGHUP, and when the
//! configuration file changes. A file that does not validate changes nothing; the
//! error is logged and audited. Connections and requests in flight are untouched.

use crate::config::Settings;
use crate::state::AppState;
use gatehouse_core::audit::Outcome;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the configuration file's modification time is checked.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Starts reloading on SIGHUP and on file change. The SIGHUP handler is installed
/// before this returns: a SIGHUP that arrived before it would end the process.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let hangups = hangups();
    tokio::spawn(reload_forever(state, hangups))
}

async fn reload_forever(state: Arc<AppState>, mut hangups: Hangups) {
    let file = state.settings.source.file.clone();
    let mut seen = file.as_deref().and_then(modified);
    let mut tick = tokio::time::interval(POLL_EVERY);
    loop {
        let why = tokio::select! {
            _ = tick.tick() => {
                let now = file.as_deref().and_then(modified);
                if now == seen {
                    continue;
                }
                seen = now;
                "file_changed"
            }
            Some(()) = next_hangup(&mut hangups) => "sighup",
        };
        reload(&state, why).await;
    }
}

/// Reads the configuration again and takes its routes and issuers.
pub async fn reload(state: &AppState, why: &str) {
    let source = &state.settings.source;
    let loaded = Settings::load(source.file.as_deref(), std::env::vars(), &source.overrides);
    let mut event = state.system_event("config.reload", why, "gateway");
    match loaded {
        Ok(settings) => {
            if settings.gateway.listen != state.settings.gateway.listen
                || settings.listen != state.settings.listen
            {
                tracing::warn!("listen addresses change only on restart");
            }
            state.gateway.replace(&settings);
            tracing::info!(
                routes = settings.gateway.routes.len(),
                reason = why,
                "gateway routes reloaded"
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "configuration not reloaded; keeping the routes in use");
            event.outcome = Outcome::Denied;
            event.reason = Some(format!("{why}: invalid configuration").into());
        }
    }
    state.audit.record(event).await;
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangups() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    match hangups {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) -> Option<()> {
    std::future::pending().await
}
