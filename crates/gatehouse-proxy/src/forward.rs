//! The upstream client: pooled keep-alive HTTP/1.1, streaming bodies both ways.
//!
//! Its own pool over hyper's connection API rather than hyper-util's pooled client,
//! which per request raced a pool checkout against a lazy connect, cloned its pool key
//! three times and spawned a task to put the connection back: the gateway's floor
//! (bench/src/bin/floor.rs) spent 3–4.5 µs less CPU a request without it
//! (BENCHMARKS.md). A connection goes back to the pool when its response body ends,
//! and is used again only once hyper says it is ready for the next request.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// An upstream's error, kept for logs only.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// How the forwarder connects and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderSettings {
    /// Limit on establishing a TCP connection to an upstream.
    pub connect_timeout: Duration,
    /// Limit from sending a request (connecting included) until the response head
    /// arrives. The response body is not covered: it streams for as long as it takes.
    pub request_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// The most idle connections kept per upstream host.
    pub pool_max_idle_per_host: usize,
}

impl Default for ForwarderSettings {
    /// Connect 5 s, request 30 s, idle 90 s, 256 idle connections per host.
    fn default() -> Self {
        ForwarderSettings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
        }
    }
}

/// Pooled keep-alive HTTP/1.1 client to upstreams; bodies stream both ways (never
/// buffered). Cloning is cheap and clones share the pool.
pub struct Forwarder<B> {
    pool: Arc<Pool<B>>,
}

/// Idle connections by upstream authority, newest last.
struct Pool<B> {
    settings: ForwarderSettings,
    /// Keyed by the authority as written: `Authority`'s own hash lowercases and feeds
    /// its bytes one at a time, a thousand instructions a request for two lookups.
    idle: Mutex<HashMap<Box<str>, Vec<Idle<B>>>>,
    /// Whether the task that closes connections idle too long has started: it needs a
    /// runtime, which building a forwarder does not.
    sweeping: std::sync::atomic::AtomicBool,
}

struct Idle<B> {
    sender: SendRequest<B>,
    since: Instant,
}

impl<B> Clone for Forwarder<B> {
    fn clone(&self) -> Self {
        Forwarder {
            pool: Arc::clone(&self.pool),
        }
    }
}

impl<B> fmt::Debug for Forwarder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("settings", &self.pool.settings)
            .finish()
    }
}

impl<B> Forwarder<B>
where
    B: Body<Data = Bytes> + Send + 'static + Unpin,
    B::Error: Into<Cause>,
{
    /// A forwarder with its own connection pool. Building needs no runtime; sending
    /// must happen on a Tokio runtime.
    pub fn new(settings: ForwarderSettings) -> Self {
        Forwarder {
            pool: Arc::new(Pool {
                settings,
                idle: Mutex::new(HashMap::new()),
                sweeping: false.into(),
            }),
        }
    }

    /// Sends `request` (its URI already absolute: the upstream URI) and waits at most
    /// `request_timeout` for the response head. The response body streams.
    ///
    /// The request always goes out as HTTP/1.1, whatever version the client spoke. If
    /// it has no `Host` header, the upstream's authority is sent.
    pub async fn send(
        &self,
        mut request: Request<B>,
    ) -> Result<Response<UpstreamBody<B>>, ForwardError> {
        let authority = upstream_authority(request.uri())?;
        let path = request.uri().path_and_query().cloned();
        *request.uri_mut() = Uri::from(path.unwrap_or_else(|| PathAndQuery::from_static("/")));
        *request.version_mut() = Version::HTTP_11;
        if !request.headers().contains_key(header::HOST) {
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|e| ForwardError::Connect(e.into()))?;
            request.headers_mut().insert(header::HOST, host);
        }
        let timeout = self.pool.settings.request_timeout;
        let (response, sender) =
            match tokio::time::timeout(timeout, self.exchange(&authority, request)).await {
                Ok(answered) => answered?,
                Err(_elapsed) => return Err(ForwardError::Timeout(timeout)),
            };
        let returns = Returns {
            pool: Arc::downgrade(&self.pool),
            authority,
            sender,
        };
        Ok(response.map(|body| {
            let mut body = UpstreamBody {
                body,
                returns: Some(returns),
            };
            // Nothing will read a body that has already ended (HEAD, 204, 304).
            if body.body.is_end_stream() {
                body.give_back();
            }
            body
        }))
    }

    /// Sends over an idle connection, or a new one. A request the pooled connection
    /// closed under before sending it is sent again on another.
    async fn exchange(
        &self,
        authority: &Authority,
        mut request: Request<B>,
    ) -> Result<(Response<Incoming>, SendRequest<B>), ForwardError> {
        loop {
            let (mut sender, reused) = match self.pool.ready(authority).await {
                Some(sender) => (sender, true),
                None => (self.connect(authority).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(ForwardError::Failed(e.into_error().into())),
                },
            }
        }
    }

    async fn connect(&self, authority: &Authority) -> Result<SendRequest<B>, ForwardError> {
        self.start_sweeping();
        let connecting = TcpStream::connect(address(authority));
        let stream =
            match tokio::time::timeout(self.pool.settings.connect_timeout, connecting).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return Err(ForwardError::Connect(e.into())),
                Err(elapsed) => return Err(ForwardError::Connect(elapsed.into())),
            };
        stream
            .set_nodelay(true)
            .map_err(|e| ForwardError::Connect(e.into()))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ForwardError::Connect(e.into()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }

    /// Starts, once, the task that closes connections idle for longer than
    /// `pool_idle_timeout`. It ends with the pool.
    fn start_sweeping(&self) {
        use std::sync::atomic::Ordering;
        if self.pool.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let pool = Arc::downgrade(&self.pool);
        let every = (self.pool.settings.pool_idle_timeout / 4).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(pool) = pool.upgrade() else { return };
                pool.sweep(Instant::now());
            }
        });
    }
}

impl<B> Pool<B> {
    /// The newest idle connection to `authority` that is ready for a request, if any.
    async fn ready(&self, authority: &Authority) -> Option<SendRequest<B>> {
        loop {
            let mut sender = {
                let mut idle = self.idle.lock();
                let list = idle.get_mut(authority.as_str())?;
                let newest = list.pop()?;
                if newest.since.elapsed() >= self.settings.pool_idle_timeout {
                    // The newest is too old, so are all the others.
                    list.clear();
                    return None;
                }
                newest.sender
            };
            // It went back to the pool when its last response ended; hyper may not yet
            // have seen that end. Closed since: try the next.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn give_back(&self, authority: Authority, sender: SendRequest<B>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock();
        let list = match idle.get_mut(authority.as_str()) {
            Some(list) => list,
            None => idle.entry(authority.as_str().into()).or_default(),
        };
        // Past the cap the connection is dropped, which closes it.
        if list.len() < self.settings.pool_max_idle_per_host {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn sweep(&self, now: Instant) {
        let Some(fresh) = now.checked_sub(self.settings.pool_idle_timeout) else {
            return;
        };
        self.idle.lock().retain(|_, list| {
            list.retain(|c| c.since > fresh && !c.sender.is_closed());
            !list.is_empty()
        });
    }
}

/// The upstream's authority, for an absolute `http://` URI.
fn upstream_authority(uri: &Uri) -> Result<Authority, ForwardError> {
    match (uri.scheme(), uri.authority()) {
        (Some(scheme), Some(authority)) if *scheme == Scheme::HTTP => Ok(authority.clone()),
        _ => Err(ForwardError::Connect(
            "the upstream URI is not an absolute http:// URI".into(),
        )),
    }
}

/// The host and port to connect to: an IPv6 literal without its brackets, which name
/// no host to resolve.
fn address(authority: &Authority) -> (&str, u16) {
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (host, authority.port_u16().unwrap_or(80))
}

/// Where a connection goes once its response body has ended.
struct Returns<B> {
    pool: Weak<Pool<B>>,
    authority: Authority,
    sender: SendRequest<B>,
}

/// An upstream's response body, streamed as it arrives. When it ends, its connection
/// goes back to the pool; dropped before, the connection is closed with it.
pub struct UpstreamBody<B> {
    body: Incoming,
    returns: Option<Returns<B>>,
}

impl<B> UpstreamBody<B> {
    fn give_back(&mut self) {
        if let Some(Returns {
            pool,
            authority,
            sender,
        }) = self.returns.take()
            && let Some(pool) = pool.upgrade()
        {
            pool.give_back(authority, sender);
        }
    }
}

impl<B> fmt::Debug for UpstreamBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl<B> Body for UpstreamBody<B> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            // An error: the connection is in no state to be used again.
            Poll::Ready(Some(Err(_))) => {
                self.returns = None;
                false
            }
            Poll::Pending => false,
        };
        if ended {
            self.give_back();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Why forwarding failed. The `Display` text is fixed per variant and safe to show;
/// the upstream's own error is only reachable through `Debug` and
/// [`std::error::Error::source`], for logs.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The upstream could not be reached: connection refused, unreachable, or the
    /// connect timeout passed.
    #[error("the upstream could not be reached")]
    Connect(#[source] Cause),
    /// No response head within the request timeout (the timeout is carried).
    #[error("the upstream did not answer in time")]
    Timeout(Duration),
    /// Anything else: the connection was reset or closed, or the response was
    /// malformed.
    #[error("the upstream failed to answer")]
    Failed(#[source] Cause),
}

impl ForwardError {
    /// The status the gateway answers with: 502, or 504 for a timeout.
    pub fn status(&self) -> StatusCode {
        match self {
            ForwardError::Connect(_) | ForwardError::Failed(_) => StatusCode::BAD_GATEWAY,
            ForwardError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A stable code for problem responses and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ForwardError::Connect(_) => "upstream_unreachable",
            ForwardError::Timeout(_) => "upstream_timeout",
            ForwardError::Failed(_) => "upstream_failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_names_the_address_to_connect_to() {
        for (authority, expected) in [
            ("127.0.0.1:8080", ("127.0.0.1", 8080)),
            ("api.internal", ("api.internal", 80)),
            ("[::1]:9000", ("::1", 9000)),
            ("[::1]", ("::1", 80)),
        ] {
            let authority: Authority = authority.parse().unwrap();
            assert_eq!(address(&authority), expected);
        }
    }
}
