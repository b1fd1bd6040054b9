//! A real HTTP identity provider on 127.0.0.1:0 that serves a JWK Set and discovery
//! metadata from shared state and counts requests.

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::jose::SigningKey;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
pub struct IdpState {
    pub jwks: Mutex<String>,
    pub discovery: Mutex<String>,
    pub cache_control: Mutex<Option<String>>,
    /// Answer 503 to everything.
    pub failing: AtomicBool,
    /// Latency added to JWKS answers, in milliseconds.
    pub delay_ms: AtomicU64,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
}

pub struct Idp {
    /// `http://127.0.0.1:port`
    pub base: String,
    pub state: Arc<IdpState>,
}

impl Idp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IdpState::default());
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    /// Publishes these keys' public JWKs.
    pub fn publish(&self, keys: &[&SigningKey]) {
        let keys: Vec<_> = keys.iter().map(|k| k.public_jwk()).collect();
        self.publish_raw(serde_json::json!({ "keys": keys }));
    }

    pub fn publish_raw(&self, jwks: serde_json::Value) {
        *self.state.jwks.lock() = jwks.to_string();
    }

    /// Serves discovery metadata naming `issuer` and this server's JWKS.
    pub fn discover_as(&self, issuer: &str) {
        *self.state.discovery.lock() =
            serde_json::json!({ "issuer": issuer, "jwks_uri": self.jwks_uri() }).to_string();
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    pub fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }
}

async fn jwks(State(state): State<Arc<IdpState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        // Simulated network latency, so that concurrent verifications overlap.
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let body = state.jwks.lock().clone();
    let mut response = ([(CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(value) = state.cache_control.lock().clone() {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_str(&value).unwrap());
    }
    response
}

async fn discovery(State(state): State<Arc<IdpState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let body = state.discovery.lock().clone();
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// A URL on 127.0.0.1 where nothing listens: the port was bound, then released.
pub async fn dead_base() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A server that answers every request with an endless chunked body of JSON
/// whitespace, without a length. Returns its base URL.
pub async fn endless_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let size = 64 * 1024;
                let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
                // Until the client hangs up.
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    base
}
