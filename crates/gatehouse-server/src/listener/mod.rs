//! Serving HTTP/1.1 on a listener, for the API and the gateway alike: hyper directly,
//! over plain TCP or TLS, with caps on open connections overall and per client address
//! (`limits.rs`), a bound on how long a client may take to finish its handshake and
//! send its request head (slowloris), a bounded head buffer, request heads that RFC
//! 9112 calls ambiguous answered 400 before any service sees them (`head.rs`), and a
//! graceful drain on stop. The API's connections share the process's runtime
//! (`serve`); the gateway's are spread over a worker thread per core
//! (`serve_per_core`).

mod head;
mod limits;

pub use limits::{ConnectionLimits, Permit};

use crate::metrics::Metrics;
use crate::tls::Tls;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use gatehouse_core::mtls::CertIdentity;
use gatehouse_proxy::hygiene;
use head::{HeadLog, HeadRefusal, Inspected, Noted};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// A client must send its whole request head within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer for a request head: SPEC §10's 16 KiB limit is checked on the parsed
/// headers; a head that does not even fit this buffer gets hyper's 431.
const MAX_HEAD_BUFFER: usize = 64 * 1024;
/// How long a stop waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Who is at the other end of a connection.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Their IP address as audit events and `X-Forwarded-For` show it, written once
    /// per connection rather than once per request.
    pub ip: Arc<str>,
    /// The client certificate the TLS handshake verified, if any.
    pub client_cert: Option<Arc<CertIdentity>>,
}

impl Peer {
    fn new(addr: SocketAddr, client_cert: Option<Arc<CertIdentity>>) -> Self {
        Self {
            ip: hygiene::client_ip_text(addr.ip()).into(),
            client_cert,
        }
    }
}

/// A request the listener answered itself (its head refused), told to its owner so
/// that it is audited like every other decision.
#[derive(Debug, Clone, Copy)]
pub struct Refused<'a> {
    /// Which listener (`api`, `gateway`).
    pub listener: &'static str,
    /// The client's address, as [`Peer::ip`].
    pub client_ip: &'a Arc<str>,
    /// The request's method.
    pub method: &'a str,
    /// The request's path.
    pub path: &'a str,
    /// Why.
    pub refusal: HeadRefusal,
}

/// Called for each request the listener refuses by its head; the refusal is answered
/// once the returned future (recording it) is done, so nothing answered goes
/// unrecorded.
pub type OnRefused =
    Arc<dyn Fn(Refused<'_>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Serves connections accepted on `listener` — within `connections`' caps, through
/// `tls` when given — with the service `service_for` makes for each peer, until `stop`
/// fires; then lets requests in flight finish (up to 30 s).
pub async fn serve<F, S, Fut>(
    listener: TcpListener,
    name: &'static str,
    tls: Option<Arc<Tls>>,
    connections: Arc<ConnectionLimits>,
    on_refused: OnRefused,
    service_for: F,
    stop: oneshot::Receiver<()>,
) where
    F: Fn(Peer) -> S + Send + Sync + 'static,
    S: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let metrics = Arc::clone(connections.metrics());
    let served = Connections::new(name, tls, metrics, on_refused, service_for);
    accept_until(
        &listener,
        name,
        &connections,
        stop,
        |stream, peer, permit| {
            served.spawn(stream, peer, permit);
        },
    )
    .await;
    drop(listener);
    served.drain().await;
}

/// Like `serve`, but on workers: one thread per core, each with a single-threaded
/// runtime. Connections are handed to them in turn and stay where they land, so a
/// request never waits for another thread, and what it allocates is mostly freed on
/// the thread that allocated it (its audit event is not: the writer takes it). nginx
/// and Envoy work the same way. `make_service_for` runs once on each worker, so what
/// it builds (an upstream pool) belongs to that worker. Accepting stays on the calling
/// runtime: it is rare next to the requests of keep-alive connections. If no worker
/// can be started, it serves here.
pub async fn serve_per_core<M, F, S, Fut>(
    listener: TcpListener,
    name: &'static str,
    tls: Option<Arc<Tls>>,
    connections: Arc<ConnectionLimits>,
    on_refused: OnRefused,
    make_service_for: M,
    stop: oneshot::Receiver<()>,
) where
    M: Fn() -> F + Send + Sync + 'static,
    F: Fn(Peer) -> S + Send + Sync + 'static,
    S: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let make_service_for = Arc::new(make_service_for);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let workers: Vec<Worker> = (0..cores)
        .filter_map(|index| {
            let metrics = Arc::clone(connections.metrics());
            Worker::start(
                name,
                index,
                tls.clone(),
                (metrics, Arc::clone(&on_refused)),
                Arc::clone(&make_service_for),
            )
            .inspect_err(|e| tracing::error!(listener = name, error = %e, "cannot start a worker"))
            .ok()
        })
        .collect();
    if workers.is_empty() {
        let service_for = make_service_for();
        return serve(
            listener,
            name,
            tls,
            connections,
            on_refused,
            service_for,
            stop,
        )
        .await;
    }
    let mut turn = 0;
    accept_until(&listener, name, &connections, stop, |stream, peer, permit| {
        let handed = match stream.into_std() {
            Ok(stream) => hand_out(&workers, &mut turn, (stream, peer, permit)),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = handed {
            tracing::warn!(listener = name, error = %e, "connection dropped: no worker took it");
        }
    })
    .await;
    drop(listener);
    // Each worker sees its queue end, drains its connections and says so.
    let finished: Vec<_> = workers
        .into_iter()
        .map(|worker| {
            drop(worker.queue);
            worker.finished
        })
        .collect();
    for done in finished {
        let _ = done.await;
    }
}

/// A connection accepted but not yet served: the socket, out of the acceptor's
/// runtime, the client's address, and its place under the connection caps.
type Handed = (std::net::TcpStream, SocketAddr, Permit);
/// Connections a worker may have queued before the acceptor turns to the next.
const WORKER_QUEUE: usize = 1024;

/// Gives `connection` to the worker whose turn it is, or the next with room.
fn hand_out(workers: &[Worker], turn: &mut usize, mut connection: Handed) -> Result<(), String> {
    for _ in 0..workers.len() {
        let worker = &workers[*turn % workers.len()];
        *turn = turn.wrapping_add(1);
        match worker.queue.try_send(connection) {
            Ok(()) => return Ok(()),
            Err(
                mpsc::error::TrySendError::Full(back) | mpsc::error::TrySendError::Closed(back),
            ) => {
                connection = back;
            }
        }
    }
    Err(format!("all {} workers full or gone", workers.len()))
}

/// A thread with a single-threaded runtime serving the connections it is handed.
struct Worker {
    queue: mpsc::Sender<Handed>,
    /// Fires (or closes) once its connections have drained.
    finished: oneshot::Receiver<()>,
}

impl Worker {
    fn start<M, F, S, Fut>(
        name: &'static str,
        index: usize,
        tls: Option<Arc<Tls>>,
        (metrics, on_refused): (Arc<Metrics>, OnRefused),
        make_service_for: Arc<M>,
    ) -> std::io::Result<Self>
    where
        M: Fn() -> F + Send + Sync + 'static,
        F: Fn(Peer) -> S + Send + Sync + 'static,
        S: Fn(Request<Incoming>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (queue, mut handed) = mpsc::channel::<Handed>(WORKER_QUEUE);
        let (done, finished) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("{name}-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let service_for = make_service_for();
                    let connections =
                        Connections::new(name, tls, metrics, on_refused, service_for);
                    while let Some((stream, peer, permit)) = handed.recv().await {
                        match TcpStream::from_std(stream) {
                            Ok(stream) => connections.spawn(stream, peer, permit),
                            Err(e) => tracing::warn!(listener = name, error = %e, "cannot take a connection"),
                        }
                    }
                    connections.drain().await;
                });
                let _ = done.send(());
            })?;
        Ok(Worker { queue, finished })
    }
}

/// Accepts on `listener` until `stop` fires (or its sender is gone), giving each
/// connection within `connections`' caps to `accepted` with TCP_NODELAY set; one over
/// a cap is closed at once (and counted).
async fn accept_until(
    listener: &TcpListener,
    name: &'static str,
    connections: &Arc<ConnectionLimits>,
    mut stop: oneshot::Receiver<()>,
    mut accepted: impl FnMut(TcpStream, SocketAddr, Permit),
) {
    loop {
        let (stream, peer) = tokio::select! {
            result = listener.accept() => match result {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let Some(permit) = connections.admit(peer.ip()) else {
            tracing::debug!(listener = name, %peer, "connection refused: over a connection cap");
            continue;
        };
        let _ = stream.set_nodelay(true);
        accepted(stream, peer, permit);
    }
}

/// The connections of one runtime, each in a task of its own, and their drain.
struct Connections<F> {
    name: &'static str,
    builder: http1::Builder,
    graceful: GracefulShutdown,
    tls: Option<Arc<Tls>>,
    /// Counts the answers given here in place of the service.
    metrics: Arc<Metrics>,
    /// Told of each of those answers, for the audit trail.
    on_refused: OnRefused,
    service_for: Arc<F>,
}

impl<F, S, Fut> Connections<F>
where
    F: Fn(Peer) -> S + Send + Sync + 'static,
    S: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    fn new(
        name: &'static str,
        tls: Option<Arc<Tls>>,
        metrics: Arc<Metrics>,
        on_refused: OnRefused,
        service_for: F,
    ) -> Self {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEAD_BUFFER)
            .keep_alive(true);
        Self {
            name,
            builder,
            graceful: GracefulShutdown::new(),
            tls,
            metrics,
            on_refused,
            service_for: Arc::new(service_for),
        }
    }

    /// Serves `stream`, from `peer`, in a task on the current runtime; `permit` is
    /// held until the connection ends.
    fn spawn(&self, stream: TcpStream, peer: SocketAddr, permit: Permit) {
        let (builder, watcher) = (self.builder.clone(), self.graceful.watcher());
        let (tls, service_for, name) = (self.tls.clone(), Arc::clone(&self.service_for), self.name);
        let own = OwnAnswers {
            listener: name,
            metrics: Arc::clone(&self.metrics),
            on_refused: Arc::clone(&self.on_refused),
        };
        // The handshake runs in the connection's task, so a slow one holds up no other.
        tokio::spawn(async move {
            let result = match tls {
                None => {
                    let peer = Peer::new(peer, None);
                    let ip = Arc::clone(&peer.ip);
                    connection(&builder, watcher, stream, own, ip, service_for(peer)).await
                }
                Some(tls) => {
                    let Some(accepted) = tls.accept(stream, peer).await else {
                        return;
                    };
                    let peer = Peer::new(peer, accepted.client_cert);
                    let (io, ip) = (accepted.stream, Arc::clone(&peer.ip));
                    connection(&builder, watcher, io, own, ip, service_for(peer)).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(listener = name, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }

    /// Lets requests in flight finish, up to `DRAIN_TIMEOUT`.
    async fn drain(self) {
        if tokio::time::timeout(DRAIN_TIMEOUT, self.graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                listener = self.name,
                "requests still in flight after 30 s; closing them"
            );
        }
    }
}

/// Serves one connection over `io`, watched for the graceful drain. Its reads pass
/// through the head scanner; a request whose head it refused is answered 400 (and the
/// connection closed) in place of `service`, and an upgrade request that does not
/// switch protocols closes the connection after its answer (the scanner no longer
/// follows it).
async fn connection<I, S, Fut>(
    builder: &http1::Builder,
    watcher: Watcher,
    io: I,
    own: OwnAnswers,
    client_ip: Arc<str>,
    service: S,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let log = Arc::new(HeadLog::default());
    let io = Inspected::new(io, Arc::clone(&log));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let noted = log.next_request();
        // The refusal is made here, so the common path touches nothing shared (the
        // metrics are counted across every worker thread).
        let answer = match noted {
            Some(Noted::Refused(refusal)) => {
                own.metrics.response(StatusCode::BAD_REQUEST.as_u16());
                let recorded = (own.on_refused)(Refused {
                    listener: own.listener,
                    client_ip: &client_ip,
                    method: req.method().as_str(),
                    path: req.uri().path(),
                    refusal,
                });
                Err((recorded, refused(refusal)))
            }
            Some(Noted::Upgrade) | None => Ok(service(req)),
        };
        async move {
            let mut response = match answer {
                Ok(answer) => answer.await?,
                Err((recorded, refused)) => {
                    recorded.await;
                    return Ok::<_, Infallible>(refused);
                }
            };
            let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
            if noted == Some(Noted::Upgrade) && !switched {
                close(&mut response);
            }
            Ok(response)
        }
    });
    watcher
        .watch(builder.serve_connection(TokioIo::new(io), service))
        .await
}

/// What a connection needs to answer a refused head itself: its listener's name, the
/// metrics and the audit hook.
struct OwnAnswers {
    listener: &'static str,
    metrics: Arc<Metrics>,
    on_refused: OnRefused,
}

/// The answer to a request whose head was refused: a problem, and the connection
/// closed after it — what follows an ambiguous head cannot be trusted to be a request.
fn refused(refusal: HeadRefusal) -> Response<Body> {
    let mut response = crate::wire::problem(
        StatusCode::BAD_REQUEST,
        refusal.code(),
        refusal.detail().into(),
        HeaderMap::new(),
    );
    close(&mut response);
    response
}

fn close(response: &mut Response<Body>) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

#[cfg(test)]
mod tests;
