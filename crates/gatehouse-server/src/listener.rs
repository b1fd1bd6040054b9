//! Serving HTTP/1.1 on a listener, for the API and the gateway alike: hyper directly,
//! over plain TCP or TLS, with a bound on how long a client may take to finish its
//! handshake and send its request head (slowloris), a bounded head buffer, and a
//! graceful drain on stop.

use crate::tls::Tls;
use axum::body::Body;
use axum::http::{Request, Response};
use gatehouse_core::mtls::CertIdentity;
use gatehouse_proxy::hygiene;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

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

/// Serves connections accepted on `listener` — through `tls` when given — with the
/// service `service_for` makes for each peer, until `stop` fires; then lets requests
/// in flight finish (up to 30 s).
pub async fn serve<F, S, Fut>(
    listener: TcpListener,
    name: &'static str,
    tls: Option<Arc<Tls>>,
    service_for: F,
    mut stop: oneshot::Receiver<()>,
) where
    F: Fn(Peer) -> S + Send + Sync + 'static,
    S: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let service_for = Arc::new(service_for);
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BUFFER)
        .keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let (tls, service_for) = (tls.clone(), Arc::clone(&service_for));
        // The handshake runs in the connection's task, so a slow one holds up no other.
        tokio::spawn(async move {
            let result = match tls {
                None => {
                    let peer = Peer::new(peer, None);
                    connection(&builder, watcher, stream, service_for(peer)).await
                }
                Some(tls) => {
                    let Some(accepted) = tls.accept(stream, peer).await else {
                        return;
                    };
                    let peer = Peer::new(peer, accepted.client_cert);
                    connection(&builder, watcher, accepted.stream, service_for(peer)).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(listener = name, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            "requests still in flight after 30 s; closing them"
        );
    }
}

/// Serves one connection over `io`, watched for the graceful drain.
async fn connection<I, S, Fut>(
    builder: &http1::Builder,
    watcher: Watcher,
    io: I,
    service: S,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let service = hyper::service::service_fn(service);
    watcher
        .watch(builder.serve_connection(TokioIo::new(io), service))
        .await
}
