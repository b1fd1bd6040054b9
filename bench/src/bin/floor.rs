//! What the HTTP stack alone costs: Gatehouse's own listener, upstream client and
//! token signing, with none of the work that makes Gatehouse what it is. The
//! side-by-side benchmarks run it beside Gatehouse, so the gap between Gatehouse and its
//! peer splits into what the stack costs (the floor against the peer) and what Gatehouse
//! adds (Gatehouse against the floor).
//!
//! ```text
//! floor proxy LISTEN UPSTREAM   forward every request to UPSTREAM (http://host:port)
//! floor token LISTEN            answer every request with a fresh ES256 access token
//! ```
//!
//! `proxy` is the gateway without a gateway: the gateway's listener
//! (`listener::serve_per_core`, hyper on a worker per core) and gatehouse-proxy's
//! `Forwarder`, one per worker as the gateway has, but no route table, header hygiene,
//! credential, identity headers or audit event. `token` is the token endpoint without
//! one: the API's listener (`listener::serve`), reading the request body and answering
//! with a token signed by gatehouse-core (the same key type, claims of the same shape,
//! `Cache-Control: no-store`), but no router, client authentication, scope decision or
//! audit event. Neither is a product: both serve anyone, so they bind loopback only.

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::body::Body;
use gatehouse_core::jose::{Alg, SigningKey};
use gatehouse_proxy::forward::{Forwarder, ForwarderSettings};
use gatehouse_server::listener::{self, Peer};
use gatehouse_server::{Clock, SystemClock};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listener, upstream) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["proxy", listen, upstream] => (bind(listen).await?, Some(upstream.parse::<Uri>()?)),
        ["token", listen] => (bind(listen).await?, None),
        _ => bail!("usage: floor proxy LISTEN UPSTREAM | floor token LISTEN"),
    };
    // Never sent: the floor serves until it is killed.
    let (_serve_forever, stop) = oneshot::channel();
    match upstream {
        Some(upstream) => proxy(listener, upstream, stop).await,
        None => token(listener, stop).await?,
    }
    Ok(())
}

async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    let addr: SocketAddr = listen.parse().context("LISTEN is host:port")?;
    if !addr.ip().is_loopback() {
        bail!("the floor serves anyone: it listens on loopback only");
    }
    Ok(TcpListener::bind(addr).await?)
}

async fn proxy(listener: TcpListener, upstream: Uri, stop: oneshot::Receiver<()>) {
    let make_service_for = move || {
        let forwarder: Forwarder<Incoming> = Forwarder::new(ForwarderSettings::default());
        let upstream = upstream.clone();
        move |_: Peer| {
            let (forwarder, upstream) = (forwarder.clone(), upstream.clone());
            move |req: Request<Incoming>| forward(forwarder.clone(), &upstream, req)
        }
    };
    listener::serve_per_core(
        listener,
        "floor",
        None,
        no_caps(),
        Arc::new(|_| Box::pin(async {})),
        make_service_for,
        stop,
    )
    .await;
}

fn forward(
    forwarder: Forwarder<Incoming>,
    upstream: &Uri,
    mut req: Request<Incoming>,
) -> impl Future<Output = Result<Response<Body>, Infallible>> + use<> {
    let mut uri = upstream.clone().into_parts();
    uri.path_and_query = req.uri().path_and_query().cloned();
    async move {
        let Ok(uri) = Uri::from_parts(uri) else {
            return Ok(status(StatusCode::BAD_REQUEST));
        };
        *req.uri_mut() = uri;
        Ok(match forwarder.send(req).await {
            Ok(answer) => answer.map(Body::new),
            Err(e) => status(e.status()),
        })
    }
}

/// The floor measures the stack, not the connection caps: none a load test can reach.
fn no_caps() -> Arc<listener::ConnectionLimits> {
    listener::ConnectionLimits::new(usize::MAX, usize::MAX, Default::default())
}

fn status(code: StatusCode) -> Response<Body> {
    let mut answer = Response::new(Body::empty());
    *answer.status_mut() = code;
    answer
}

async fn token(listener: TcpListener, stop: oneshot::Receiver<()>) -> anyhow::Result<()> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let key = Arc::new(SigningKey::from_pkcs8(Alg::Es256, pkcs8.as_ref())?);
    let issued = Arc::new(AtomicU64::new(0));
    let service_for = move |_: Peer| {
        let (key, issued) = (Arc::clone(&key), Arc::clone(&issued));
        move |req: Request<Incoming>| {
            let (key, issued) = (Arc::clone(&key), Arc::clone(&issued));
            async move { Ok::<_, Infallible>(issue(&key, &issued, req).await) }
        }
    };
    listener::serve(
        listener,
        "floor",
        None,
        no_caps(),
        Arc::new(|_| Box::pin(async {})),
        service_for,
        stop,
    )
    .await;
    Ok(())
}

async fn issue(key: &SigningKey, issued: &AtomicU64, req: Request<Incoming>) -> Response<Body> {
    if req.into_body().collect().await.is_err() {
        return status(StatusCode::BAD_REQUEST);
    }
    let now = SystemClock.now().as_millis() / 1000;
    let jti = issued.fetch_add(1, Ordering::Relaxed);
    let claims = json!({"iss": "http://127.0.0.1", "sub": "cli_0RtZcHh8y2hBq3xYt7aKfWm1",
        "aud": "orders", "exp": now + 600, "iat": now, "nbf": now,
        "jti": format!("{jti:022}"), "client_id": "cli_0RtZcHh8y2hBq3xYt7aKfWm1",
        "scope": "orders:read"});
    let Ok(token) = key.sign_jwt("at+jwt", &claims) else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let body = json!({"access_token": token, "token_type": "Bearer", "expires_in": 600,
        "scope": "orders:read"});
    let mut answer = Response::new(Body::from(body.to_string()));
    let headers = answer.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    answer
}
