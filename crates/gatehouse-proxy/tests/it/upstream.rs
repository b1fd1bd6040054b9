//! Upstreams for the forwarder tests: a real hyper server that echoes what it received,
//! and raw listeners that misbehave.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running echo upstream.
pub struct Echo {
    pub addr: SocketAddr,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Of those, the ones that have ended.
    pub closed: Arc<AtomicUsize>,
}

/// Starts an upstream that answers `/count` with `<bytes received> <pattern intact>`
/// (streaming through the body without keeping it) and every other path with the
/// request line and headers it received, one per line; `/big` with [`BIG`] bytes.
pub async fn spawn_echo() -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (connections, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (accepted, ended) = (connections.clone(), closed.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, Ordering::SeqCst);
            let ended = ended.clone();
            let service = service_fn(echo);
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Echo {
        addr,
        connections,
        closed,
    }
}

/// The size of the echo upstream's `/big` answer: more than one read of it.
pub const BIG: usize = 4 * 1024 * 1024;

async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, mut body) = request.into_parts();
    let text = if parts.uri.path() == "/count" {
        let (mut count, mut intact) = (0usize, true);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                intact &= data
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == pattern(count + i));
                count += data.len();
            }
        }
        format!("{count} {intact}")
    } else if parts.uri.path() == "/big" {
        "x".repeat(BIG)
    } else {
        let mut text = format!("{} {}\n", parts.method, parts.uri);
        for (name, value) in &parts.headers {
            text.push_str(&format!(
                "{name}: {}\n",
                value.to_str().unwrap_or("<binary>")
            ));
        }
        text
    };
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Starts a listener that accepts connections and reads requests but never answers.
pub async fn spawn_silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut sink = vec![0u8; 64 * 1024];
                while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    addr
}

/// Starts a listener that reads a request head and closes the connection unanswered.
pub async fn spawn_hangup() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_head(&mut stream).await;
            drop(stream);
        }
    });
    addr
}

/// Starts a listener that answers one request per connection, saying so
/// (`Connection: close`), and then closes it.
pub async fn spawn_one_per_connection() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, Ordering::SeqCst);
            read_head(&mut stream).await;
            let answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok";
            let _ = stream.write_all(answer).await;
            drop(stream);
        }
    });
    (addr, connections)
}

/// Reads from `stream` until a request head has ended (or the stream has).
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
}

/// The byte at `offset` of a [`PatternBody`]; 251 is prime, so a dropped, repeated or
/// reordered 64 KiB chunk shows up as a mismatch.
pub fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

/// A request body of `total` bytes produced chunk by chunk, never held in memory whole,
/// with no declared length, so it is sent chunked.
pub struct PatternBody {
    sent: usize,
    total: usize,
}

impl PatternBody {
    pub fn new(total: usize) -> Self {
        PatternBody { sent: 0, total }
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let len = (self.total - self.sent).min(64 * 1024);
        if len == 0 {
            return Poll::Ready(None);
        }
        let chunk: Vec<u8> = (self.sent..self.sent + len).map(pattern).collect();
        self.sent += len;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
