//! Raw HTTP/1 bytes sent to a hyper server whose service runs `check_request`, to see
//! which smuggling shapes hyper refuses itself, which it rewrites, and which reach the
//! service. The findings are summarized in `src/hygiene/mod.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_proxy::{Refusal, check_request};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the service saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Gate {
    /// Requests that reached the service at all.
    calls: AtomicUsize,
    /// Requests that passed `check_request` and would have been forwarded.
    accepted: Mutex<Vec<Seen>>,
}

struct Outcome {
    status_line: String,
    /// Every status line the connection produced, in order.
    all_status_lines: Vec<String>,
    calls: usize,
    accepted: Vec<Seen>,
}

async fn handle(
    gate: Arc<Gate>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    gate.calls.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let (status, text) = match check_request(&parts, 16 * 1024) {
        Err(refusal) => {
            let status = match refusal {
                Refusal::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, refusal.code())
        }
        Ok(()) => {
            let body = body.collect().await?.to_bytes();
            let seen = Seen {
                path: parts.uri.path().to_owned(),
                headers: parts.headers,
                body,
            };
            gate.accepted.lock().unwrap().push(seen);
            (StatusCode::OK, "ok")
        }
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(text)))
        .unwrap())
}

async fn spawn_server(gate: Arc<Gate>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let gate = gate.clone();
            let service = service_fn(move |request| handle(gate.clone(), request));
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    addr
}

/// Sends `raw` on a fresh connection and reads until the server closes it. Every case
/// ends in a close: hyper closes after a parse error, and the requests that would
/// otherwise keep the connection open say `Connection: close`.
async fn exchange(raw: &[u8]) -> Outcome {
    let gate = Arc::new(Gate::default());
    let addr = spawn_server(gate.clone()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server should close the connection")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let all_status_lines: Vec<String> = text
        .lines()
        .filter(|line| line.starts_with("HTTP/1."))
        .map(str::to_owned)
        .collect();
    let accepted = gate.accepted.lock().unwrap().clone();
    Outcome {
        status_line: all_status_lines.first().cloned().unwrap_or_default(),
        all_status_lines,
        calls: gate.calls.load(Ordering::SeqCst),
        accepted,
    }
}

fn assert_refused_by_hyper(outcome: &Outcome) {
    assert!(
        outcome.status_line.starts_with("HTTP/1.1 400"),
        "{}",
        outcome.status_line
    );
    assert_eq!(
        outcome.calls, 0,
        "hyper should refuse before the service is called"
    );
}

fn assert_refused_by_check(outcome: &Outcome, status: &str) {
    assert!(
        outcome
            .status_line
            .starts_with(&format!("HTTP/1.1 {status}")),
        "{}",
        outcome.status_line
    );
    assert_eq!(outcome.calls, 1, "the request should reach the service");
    assert!(
        outcome.accepted.is_empty(),
        "check_request should refuse it"
    );
}

#[tokio::test]
async fn content_length_with_chunked_is_decoded_as_chunked_and_the_connection_closed() {
    // hyper drops Content-Length, decodes the chunked body and closes the connection
    // after answering, so the bytes after the chunked body are never read as a second
    // request (the classic CL.TE smuggle).
    for (first, second) in [
        ("Content-Length: 4", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "Content-Length: 4"),
    ] {
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: x\r\n{first}\r\n{second}\r\n\r\n0\r\n\r\n\
             GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let outcome = exchange(raw.as_bytes()).await;
        assert_eq!(
            outcome.all_status_lines,
            ["HTTP/1.1 200 OK"],
            "{first} / {second}"
        );
        assert_eq!(outcome.calls, 1);
        let seen = &outcome.accepted[0];
        assert_eq!(seen.path, "/");
        assert!(seen.headers.get("content-length").is_none());
        assert_eq!(seen.headers.get("transfer-encoding").unwrap(), "chunked");
        assert!(seen.body.is_empty());
    }
}

#[tokio::test]
async fn equal_duplicate_content_lengths_reach_the_service_as_one() {
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let outcome = exchange(raw).await;
    assert!(
        outcome.status_line.starts_with("HTTP/1.1 200"),
        "{}",
        outcome.status_line
    );
    let seen = &outcome.accepted[0];
    assert_eq!(seen.headers.get_all("content-length").iter().count(), 1);
    assert_eq!(seen.body, "hello");
}

#[tokio::test]
async fn differing_duplicate_content_lengths_are_refused_by_hyper() {
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert_refused_by_hyper(&exchange(raw).await);
}

#[tokio::test]
async fn content_length_lists_and_signs_are_refused_by_hyper() {
    for value in ["5, 5", "+5", "5 5", "0x5"] {
        let raw = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nhello");
        assert_refused_by_hyper(&exchange(raw.as_bytes()).await);
    }
}

#[tokio::test]
async fn a_transfer_encoding_not_ending_in_chunked_is_refused_by_hyper() {
    for value in ["gzip", "chunked, gzip", "xchunked"] {
        let raw = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {value}\r\n\r\n");
        assert_refused_by_hyper(&exchange(raw.as_bytes()).await);
    }
}

#[tokio::test]
async fn transfer_encoding_in_http_1_0_is_refused_by_hyper() {
    let raw = b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let outcome = exchange(raw).await;
    assert!(
        outcome.status_line.starts_with("HTTP/1.1 400")
            || outcome.status_line.starts_with("HTTP/1.0 400")
    );
    assert_eq!(outcome.calls, 0);
}

#[tokio::test]
async fn stacked_codings_ending_in_chunked_pass_hyper_and_are_refused_by_check_request() {
    let stacked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\
                   Connection: close\r\n\r\n0\r\n\r\n";
    let twice = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n";
    for raw in [stacked, twice] {
        assert_refused_by_check(&exchange(raw.as_bytes()).await, "400");
    }
}

#[tokio::test]
async fn a_plain_chunked_body_passes() {
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let outcome = exchange(raw).await;
    assert!(
        outcome.status_line.starts_with("HTTP/1.1 200"),
        "{}",
        outcome.status_line
    );
    assert_eq!(outcome.accepted[0].body, "hello");
}

#[tokio::test]
async fn obsolete_line_folding_and_space_before_colon_are_refused_by_hyper() {
    let folded = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n";
    let folded_te = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n";
    let spaced = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n";
    for raw in [folded, folded_te, spaced] {
        assert_refused_by_hyper(&exchange(raw.as_bytes()).await);
    }
}

#[tokio::test]
async fn dot_segments_encoded_separators_and_backslashes_pass_hyper_and_are_refused_by_check_request()
 {
    for path in [
        "/a/../b",
        "/a/%2e%2e/b",
        "/a/%2E./b",
        "/a%2fb",
        "/a%5Cb",
        "/a/..;/b",
        "/%61pi",
        "/a\\b",
        "/..",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let outcome = exchange(raw.as_bytes()).await;
        assert_refused_by_check(&outcome, "400");
    }
}

#[tokio::test]
async fn an_asterisk_target_passes_hyper_and_is_a_bad_path() {
    let outcome = exchange(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_refused_by_check(&outcome, "400");
}

#[tokio::test]
async fn headers_over_the_limit_pass_hyper_and_are_refused_by_check_request() {
    let big = "a".repeat(20 * 1024);
    let raw = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    assert_refused_by_check(&exchange(raw.as_bytes()).await, "431");
}
