//! The upstream client: pooled keep-alive HTTP/1.1, streaming bodies both ways.

use std::fmt;
use std::time::Duration;

use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

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
    client: Client<HttpConnector, B>,
    request_timeout: Duration,
}

impl<B> Clone for Forwarder<B> {
    fn clone(&self) -> Self {
        Forwarder {
            client: self.client.clone(),
            request_timeout: self.request_timeout,
        }
    }
}

impl<B> fmt::Debug for Forwarder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl<B> Forwarder<B>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// A forwarder with its own connection pool. Building needs no runtime; sending
    /// must happen on a Tokio runtime.
    pub fn new(settings: ForwarderSettings) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            // Without a timer the pool never evicts idle connections.
            .pool_timer(TokioTimer::new())
            .build(connector);
        Forwarder {
            client,
            request_timeout: settings.request_timeout,
        }
    }

    /// Sends `request` (its URI already absolute: the upstream URI) and waits at most
    /// `request_timeout` for the response head. The response body streams.
    ///
    /// The request always goes out as HTTP/1.1, whatever version the client spoke. If
    /// it has no `Host` header, the upstream's authority is sent.
    pub async fn send(&self, mut request: Request<B>) -> Result<Response<Incoming>, ForwardError> {
        *request.version_mut() = Version::HTTP_11;
        match tokio::time::timeout(self.request_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) if error.is_connect() => Err(ForwardError::Connect(error)),
            Ok(Err(error)) => Err(ForwardError::Failed(error)),
            Err(_elapsed) => Err(ForwardError::Timeout(self.request_timeout)),
        }
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
    Connect(#[source] hyper_util::client::legacy::Error),
    /// No response head within the request timeout (the timeout is carried).
    #[error("the upstream did not answer in time")]
    Timeout(Duration),
    /// Anything else: the connection was reset or closed, or the response was
    /// malformed.
    #[error("the upstream failed to answer")]
    Failed(#[source] hyper_util::client::legacy::Error),
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
