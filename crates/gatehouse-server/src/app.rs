//! Starting and stopping a server: open the store, check the master key, bootstrap,
//! load the key index, start the background tasks, serve, and shut down gracefully.

use crate::access_tokens::AccessTokens;
use crate::audit_integrity::{self, TrailCheck, TrailKeys};
use crate::audit_log::{self, AuditLog};
use crate::audit_witness::{self, Witness};
use crate::ca::Certificates;
use crate::clients::Clients;
use crate::clock::Clock;
use crate::config::Settings;
use crate::gateway::{self, Gateway};
use crate::key_index::KeyIndex;
use crate::listener::Peer;
use crate::master_key::MasterKey;
use crate::metrics::Metrics;
use crate::signing_keys::SigningKeys;
use crate::state::{AppState, RequestIds};
use crate::tls::Tls;
use crate::{bootstrap, http};
use anyhow::Context;
use gatehouse_core::Entropy;
use gatehouse_core::api_key::ApiKey;
use gatehouse_core::audit::Outcome;
use gatehouse_core::audit::checkpoint::Tamper;
use gatehouse_store::Store;
use gatehouse_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const MASTER_KEY_CHECK: &str = "master_key_check";
/// How often live key usage is written to the store.
const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often the sweep runs (signing key schedule, expired state).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A started server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    gateway_addr: Option<SocketAddr>,
    stop_gateway: Option<oneshot::Sender<()>>,
    gateway_serving: Option<JoinHandle<()>>,
    admin_key: Option<ApiKey>,
    state: Arc<AppState>,
    sqlite: SqliteStore,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    witness: Arc<Witness>,
}

/// Opens everything and starts serving on `settings.listen`.
pub async fn start(
    settings: Settings,
    clock: Arc<dyn Clock>,
    master_key: &MasterKey,
) -> anyhow::Result<RunningServer> {
    crate::data_dir::create(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let sqlite = SqliteStore::open(&settings.database_path)
        .await
        .with_context(|| {
            format!(
                "cannot open the store at {}",
                settings.database_path.display()
            )
        })?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    check_master_key(store.as_ref(), master_key).await?;
    let signing_keys = SigningKeys::load(
        store.as_ref(),
        master_key,
        &settings.signing,
        &settings.tokens,
        clock.now(),
    )
    .await
    .context("cannot load the token signing keys")?;
    let clients = Clients::load(store.as_ref()).await?;
    let access_tokens = AccessTokens::load(store.as_ref()).await?;
    // Bound before bootstrap: if the port is taken, the first start fails before it
    // creates an admin key it could never print.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let gateway_listener = match settings.gateway.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (gateway.listen)"))?,
        ),
        None => None,
    };
    let mut settings = settings;
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if settings.listen.port() == 0
        && settings.public_url == format!("{scheme}://{}", settings.listen)
    {
        // The default issuer names the listen address: with port 0, the one bound.
        settings.public_url = format!("{scheme}://{}", listener.local_addr()?);
    }

    let bootstrapped =
        bootstrap::admin_key_if_new(store.as_ref(), &settings.default_key_prefix, clock.now())
            .await?;
    let keys = load_keys(store.as_ref()).await?;
    let metrics = Arc::new(Metrics::default());
    metrics
        .keys_loaded
        .store(keys.len() as u64, Ordering::Relaxed);
    let http = reqwest::Client::builder()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client (issuers' keys, audit checkpoints)")?;
    let audit_keys = TrailKeys {
        chain: audit_log::chain_key(master_key),
        checkpoint: audit_log::checkpoint_key(master_key),
        witness_file: settings.audit_witness_file.clone(),
    };
    let trail = audit_integrity::check_at_start(store.as_ref(), &audit_keys)
        .await
        .context("cannot check the audit trail")?;
    let witness = Arc::new(
        Witness::open(
            &audit_keys.witness_file,
            audit_keys.checkpoint.clone(),
            trail.keyed_from,
        )
        .with_context(|| {
            format!(
                "cannot open the audit witness file {}",
                audit_keys.witness_file.display()
            )
        })?
        .with_syslog(settings.audit_witness_syslog.clone())
        .with_endpoint(http.clone(), settings.audit_witness_url.clone()),
    );
    let (audit, audit_task) = AuditLog::start(
        Arc::clone(&store),
        Arc::clone(&metrics),
        audit_keys.chain.clone(),
    )
    .await?;
    let certificates = Arc::new(
        Certificates::load(store.as_ref(), master_key)
            .await
            .context("cannot load the built-in CA and its certificates")?,
    );
    let tls = match &settings.tls {
        Some(tls) => Some(
            Tls::load(
                tls,
                Arc::clone(&certificates),
                audit.clone(),
                Arc::clone(&clock),
            )
            .context("[tls]")?,
        ),
        None => None,
    };

    let gateway = Gateway::new(&settings, http);

    let connections = crate::listener::ConnectionLimits::new(
        settings.max_connections,
        settings.max_connections_per_ip,
        Arc::clone(&metrics),
    );
    let mut boot = [0u8; 6];
    crate::entropy::OsEntropy.fill(&mut boot)?;
    let state = Arc::new(AppState {
        request_ids: RequestIds::new(hex::encode(boot)),
        settings,
        store: Arc::clone(&store),
        keys,
        signing_keys,
        clients,
        access_tokens,
        gateway,
        passwords: crate::passwords::Passwords::default(),
        authorizations: crate::authorization::Authorizations::default(),
        key_writes: tokio::sync::Mutex::new(()),
        audit,
        audit_keys,
        tls,
        certificates,
        clock: Arc::clone(&clock),
        connections,
        metrics,
    });
    report_tampering(&state, &trail.problems).await;
    // The head as the check found it (and as the events above extend it), witnessed at
    // once: the witness also records the boundary of a trail just upgraded.
    let head = state.audit.head().await?;
    write_checkpoint(&witness, head, clock.as_ref()).await;
    let admin_key = match bootstrapped {
        Some((key, record)) => {
            bootstrap::audit_bootstrap(&state, &record).await;
            Some(key)
        }
        None => None,
    };

    let addr = listener.local_addr()?;
    let router = http::router(Arc::clone(&state));
    let (stop, stopped) = oneshot::channel::<()>();
    let service_for = move |peer: Peer| {
        let router = router.clone();
        move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer.clone());
            tower::ServiceExt::oneshot(router.clone(), req)
        }
    };
    let serving = tokio::spawn(crate::listener::serve(
        listener,
        "api",
        state.tls.clone(),
        Arc::clone(&state.connections),
        state.audit_refusals(),
        service_for,
        stopped,
    ));
    let gateway_addr = match &gateway_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let (stop_gateway, gateway_serving) = match gateway_listener {
        Some(listener) => {
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(gateway::serve(listener, Arc::clone(&state), stopped));
            (Some(stop), Some(task))
        }
        None => (None, None),
    };
    let mut background = vec![
        tokio::spawn(check_trail_before_anchor(Arc::clone(&state), trail)),
        gateway::reload::spawn(Arc::clone(&state)),
        audit_task,
        audit_witness::spawn(
            Arc::clone(&witness),
            state.audit.committed(),
            Arc::clone(&clock),
        ),
        tokio::spawn(flush_usage_forever(Arc::clone(&state))),
        tokio::spawn(sweep_every_minute(Arc::clone(&state))),
    ];
    background.extend(state.tls.clone().map(crate::tls::spawn_reloader));
    background.extend(audit_log::spawn_retention(
        store,
        clock,
        state.settings.audit_retention_days,
    ));
    tracing::info!(%addr, keys = state.keys.len(), "gatehouse is listening");
    if let Some(gateway_addr) = gateway_addr {
        let routes = state.gateway.routes().len();
        tracing::info!(%gateway_addr, routes, "gateway is listening");
    }
    Ok(RunningServer {
        addr,
        gateway_addr,
        stop_gateway,
        gateway_serving,
        admin_key,
        state,
        sqlite,
        stop,
        serving,
        background,
        witness,
    })
}

/// Makes tampering impossible to miss: an error log line, an `audit.tamper_detected`
/// event at the head of the chain and the metric, for each finding. The server still
/// runs: refusing would turn write access to the database into a denial of service,
/// and the trail's own events (and `gatehouse audit verify`, which fails from then on)
/// keep the evidence.
async fn report_tampering(state: &AppState, problems: &[Tamper]) {
    state
        .metrics
        .audit_tamper_detected
        .fetch_add(problems.len() as u64, Ordering::Relaxed);
    for problem in problems {
        tracing::error!(
            code = problem.code(),
            "AUDIT TRAIL TAMPERING DETECTED: {problem}; the trail in the store is not the one \
             this server wrote — investigate before trusting it"
        );
        let mut event = state.system_event(
            audit_integrity::TAMPER_DETECTED,
            problem.code(),
            &problem.to_string(),
        );
        event.outcome = Outcome::Denied;
        state.audit.record(event).await;
    }
}

/// The links the start did not walk — those up to its last checkpoint — checked in
/// the background, so that a long trail does not delay the start (about 8 s a million
/// events). Findings are reported as the start's are: log lines, events, the metric.
/// `gatehouse_audit_trail_checked` turns 1 when the walk is done.
async fn check_trail_before_anchor(state: Arc<AppState>, start: TrailCheck) {
    let found =
        audit_integrity::check_before_anchor(state.store.as_ref(), &state.audit_keys, &start).await;
    match found {
        Ok(problems) => report_tampering(&state, &problems).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot check the audit trail before its last checkpoint")
        }
    }
    state
        .metrics
        .audit_trail_checked
        .store(1, Ordering::Relaxed);
}

/// Appends a checkpoint of `head` on the blocking pool, logging a failure.
async fn write_checkpoint(witness: &Arc<Witness>, head: audit_log::Head, clock: &dyn Clock) {
    let now = clock.now();
    let writer = Arc::clone(witness);
    let written = tokio::task::spawn_blocking(move || writer.write(head, now)).await;
    match written {
        Ok(Ok(Some(line))) => witness.post(&line).await,
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot write the audit witness file"),
        Err(e) => tracing::error!(error = %e, "audit witness task failed"),
    }
}

impl RunningServer {
    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the gateway listens on, when it runs.
    pub fn gateway_addr(&self) -> Option<SocketAddr> {
        self.gateway_addr
    }

    /// The admin key created on first start, once; `None` afterwards.
    pub fn take_admin_key(&mut self) -> Option<ApiKey> {
        self.admin_key.take()
    }

    /// The shared state, for tests that inspect it.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests, then writes outstanding key usage
    /// and audit events and closes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        if let Some(stop) = self.stop_gateway {
            let _ = stop.send(());
        }
        if let Some(gateway) = self.gateway_serving {
            gateway.await.context("gateway task failed")?;
        }
        self.serving.await.context("server task failed")?;
        flush_usage(&self.state).await;
        // The final head, witnessed: a trail cut short between this stop and the next
        // start is behind it.
        match self.state.audit.head().await {
            Ok(head) => write_checkpoint(&self.witness, head, self.state.clock.as_ref()).await,
            Err(e) => tracing::error!(error = %e, "cannot read the audit head at shutdown"),
        }
        for task in &self.background {
            task.abort();
        }
        self.sqlite.close().await;
        tracing::info!("gatehouse stopped");
        Ok(())
    }
}

/// Builds the key index a page at a time, so start-up never holds every row at once.
/// Small pages matter: at 10,000 rows a page the allocator kept 44 MiB more at a million
/// keys than at 1,000 (200 gained only 3 MiB more).
async fn load_keys(store: &dyn Store) -> anyhow::Result<KeyIndex> {
    const PAGE: u32 = 1_000;
    let count = usize::try_from(store.count_keys().await?).unwrap_or(usize::MAX);
    // Room for some growth too: a table that grows needs its old and new copy at once.
    let index = KeyIndex::with_capacity(count.saturating_add(count / 8).saturating_add(1024));
    let mut after: Option<String> = None;
    loop {
        let page = store.list_keys(after.as_deref(), PAGE).await?;
        index.extend(&page);
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.id.clone()),
            _ => return Ok(index),
        }
    }
}

/// Refuses to start with a master key other than the one the store was set up with.
async fn check_master_key(store: &dyn Store, master_key: &MasterKey) -> anyhow::Result<()> {
    let check = master_key.check_value();
    if !store.set_meta_if_absent(MASTER_KEY_CHECK, &check).await? {
        let stored = store.meta(MASTER_KEY_CHECK).await?;
        anyhow::ensure!(
            stored.as_deref() == Some(check.as_str()),
            "the master key is not the one this store was created with; \
             set GATEHOUSE_MASTER_KEY (or GATEHOUSE_MASTER_KEY_FILE) to the original key"
        );
    }
    Ok(())
}

/// The minute's sweep: a scheduled signing key rotation when one is due, then what
/// has expired goes — route rate-limit buckets, pending authorizations and codes,
/// revocations of tokens that can no longer be used, ended refresh token families.
async fn sweep_every_minute(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        match state
            .signing_keys
            .maintain(state.store.as_ref(), state.clock.now())
            .await
        {
            Ok(Some(kid)) => {
                let event = state.system_event("signing_key.rotate", "schedule", &kid);
                state.audit.record(event).await;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "signing key maintenance failed"),
        }
        let now = state.clock.now();
        state.gateway.limits.prune(now);
        state.authorizations.prune(now);
        if let Err(e) = state.access_tokens.prune(state.store.as_ref(), now).await {
            tracing::error!(error = %e, "pruning expired token revocations failed");
        }
        if let Err(e) = state.store.prune_refresh_tokens(now).await {
            tracing::error!(error = %e, "pruning ended refresh token families failed");
        }
    }
}

async fn flush_usage_forever(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(USAGE_FLUSH_EVERY);
    loop {
        tick.tick().await;
        flush_usage(&state).await;
    }
}

/// Writes the usage of keys used since the last flush.
async fn flush_usage(state: &AppState) {
    let _writing = state.key_writes.lock().await;
    let batch = state.keys.take_dirty();
    if batch.updates.is_empty() {
        return;
    }
    if let Err(e) = state.store.record_usage(&batch.updates).await {
        tracing::warn!(error = %e, keys = batch.updates.len(), "could not write key usage; will retry");
        state.keys.requeue(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::api_key::{KeyRecord, Prefix};
    use gatehouse_core::scope::ScopeSet;
    use gatehouse_core::{EntropyUnavailable, UnixTime};

    /// Deterministic bytes: a running counter.
    struct Counter(u64);

    impl Entropy for Counter {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
            for b in dest {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *b = (self.0 >> 56) as u8;
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn loading_reads_every_page_including_a_partial_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("gatehouse.db"))
            .await
            .unwrap();
        let mut entropy = Counter(7);
        let now = UnixTime::from_millis(1_800_000_000_000);
        let mut keys = Vec::new();
        for i in 0..2_345 {
            let key = ApiKey::generate(&Prefix::default_prefix(), &mut entropy).unwrap();
            let id = gatehouse_core::id::generate("key", now, &mut entropy).unwrap();
            let record = KeyRecord::new(
                id,
                &key,
                format!("k{i}"),
                "svc".into(),
                ScopeSet::default(),
                now,
            );
            store.insert_key(&record).await.unwrap();
            keys.push(key);
        }
        let index = load_keys(&store).await.unwrap();
        assert_eq!(index.len(), 2_345);
        for key in [&keys[0], &keys[999], &keys[1_000], &keys[2_344]] {
            assert!(index.verify(key, &[], now).decision.is_ok());
        }
    }
}
