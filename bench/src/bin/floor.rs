//! What the HTTP stack alone costs: the fastest server Gatehouse's own parts could make,
//! with none of the work that makes Gatehouse what it is. Each side-by-side benchmark
//! runs one beside Gatehouse, so the gap between Gatehouse and its peer splits into what
//! the stack costs (the floor against the peer) and what Gatehouse adds (Gatehouse
//! against the floor).
//!
//! ```text
//! floor proxy LISTEN UPSTREAM   forward every request to UPSTREAM (http://host:port)
//! floor token LISTEN            answer every request with a fresh ES256 access token
//! ```
//!
//! `proxy` is the gateway without a gateway: hyper's server and gatehouse-proxy's
//! `Forwarder` (the pooled client Gatehouse forwards with), the same runtime, allocator
//! and TCP_NODELAY, but no route table, header hygiene, credential, identity headers or
//! audit event.
//! `token` is the token endpoint without one: it reads the request body and answers
//! with a token signed by gatehouse-core (the same key type, claims of the same shape,
//! `Cache-Control: no-store`), but authenticates no client, decides no scope and
//! records nothing. Neither is a product: both serve anyone. They bind loopback only.

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use bytes::Bytes;
use gatehouse_core::jose::{Alg, SigningKey};
use gatehouse_proxy::forward::{Forwarder, ForwarderSettings};
use gatehouse_server::{Clock, SystemClock};
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["proxy", listen, upstream] => proxy(loopback(listen)?, upstream.parse()?).await,
        ["token", listen] => token(loopback(listen)?).await,
        _ => bail!("usage: floor proxy LISTEN UPSTREAM | floor token LISTEN"),
    }
}

fn loopback(listen: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = listen.parse().context("LISTEN is host:port")?;
    if !addr.ip().is_loopback() {
        bail!("the floor serves anyone: it listens on loopback only");
    }
    Ok(addr)
}

/// Accepts connections and serves each with hyper's HTTP/1.1 server, as Gatehouse does.
async fn serve<S, F, B>(addr: SocketAddr, handle: S) -> anyhow::Result<()>
where
    S: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handle(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            // A client that goes away is not the floor's business.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn proxy(addr: SocketAddr, upstream: Uri) -> anyhow::Result<()> {
    let forwarder: Forwarder<Incoming> = Forwarder::new(ForwarderSettings::default());
    serve(addr, move |mut req: Request<Incoming>| {
        let forwarder = forwarder.clone();
        let mut uri = upstream.clone().into_parts();
        uri.path_and_query = req.uri().path_and_query().cloned();
        async move {
            let Ok(uri) = Uri::from_parts(uri) else {
                return status(StatusCode::BAD_REQUEST);
            };
            *req.uri_mut() = uri;
            match forwarder.send(req).await {
                Ok(answer) => answer.map(Either::Left),
                Err(e) => status(e.status()),
            }
        }
    })
    .await
}

fn status<B>(code: StatusCode) -> Response<Either<B, Empty<Bytes>>> {
    let mut answer = Response::new(Either::Right(Empty::new()));
    *answer.status_mut() = code;
    answer
}

async fn token(addr: SocketAddr) -> anyhow::Result<()> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let key = Arc::new(SigningKey::from_pkcs8(Alg::Es256, pkcs8.as_ref())?);
    let issued = Arc::new(AtomicU64::new(0));
    serve(addr, move |req: Request<Incoming>| {
        let (key, issued) = (key.clone(), issued.clone());
        async move {
            if req.into_body().collect().await.is_err() {
                let mut refused = Response::new(Full::new(Bytes::new()));
                *refused.status_mut() = StatusCode::BAD_REQUEST;
                return refused;
            }
            let now = SystemClock.now().as_millis() / 1000;
            let jti = issued.fetch_add(1, Ordering::Relaxed);
            let claims = json!({"iss": "http://127.0.0.1", "sub": "cli_0RtZcHh8y2hBq3xYt7aKfWm1",
                "aud": "orders", "exp": now + 600, "iat": now, "nbf": now,
                "jti": format!("{jti:022}"), "client_id": "cli_0RtZcHh8y2hBq3xYt7aKfWm1",
                "scope": "orders:read"});
            let body = match key.sign_jwt("at+jwt", &claims) {
                Ok(token) => json!({"access_token": token, "token_type": "Bearer",
                    "expires_in": 600, "scope": "orders:read"})
                .to_string(),
                Err(_) => String::new(),
            };
            let mut answer = Response::new(Full::new(Bytes::from(body)));
            let headers = answer.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            answer
        }
    })
    .await
}
