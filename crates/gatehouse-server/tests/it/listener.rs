//! What both listeners (API and gateway) do before any endpoint sees a request, on raw
//! sockets: ambiguous request heads are answered 400 and the connection closed, a
//! trickled body is cut off, connections over a cap are closed at accept.

use crate::gateway::spawn_gateway;
use crate::gateway::upstream::Upstream;
use crate::support::spawn_app_with;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` on a new connection and reads until the server closes it (within
/// `wait`): the whole answer, as text.
async fn exchange(base: &str, request: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    until_closed(&mut stream, wait).await
}

/// Everything the server sends until it closes the connection, within `wait`.
async fn until_closed(stream: &mut TcpStream, wait: Duration) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection in time");
    // A reset after the answer is a close too.
    if let Err(e) = read {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Asserts a single answer: status, problem `code`, and `Connection: close`.
#[track_caller]
fn assert_refused(answer: &str, status: u16, code: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}: {answer}"
    );
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        1,
        "one answer: {answer}"
    );
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close\r\n"), "{answer}");
    assert!(
        lower.contains("content-type: application/problem+json\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("\"code\":\"{code}\"")),
        "expected code {code}: {answer}"
    );
}

const WAIT: Duration = Duration::from_secs(5);

/// `gatehouse_http_responses_total{class="4xx"}`.
fn client_errors(app: &crate::support::TestApp) -> u64 {
    let metrics = app.state().metrics.render();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("gatehouse_http_responses_total{class=\"4xx\"}"))
        .unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn ambiguous_request_heads_are_refused_on_both_listeners_and_reach_nothing() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    let auth = format!("Authorization: Bearer {key}\r\n");
    let answered_4xx_before = client_errors(&app);
    for (base, path) in [
        (app.base.clone(), "/v1/keys/verify"),
        (app.gateway(), "/orders"),
    ] {
        let cases = [
            (
                format!("GET {path} HTTP/1.1\r\nHost: a\r\n{auth}Host: b\r\n\r\n"),
                "duplicate_host",
            ),
            (
                format!("GET {path} HTTP/1.1\r\nHost: a\r\n{auth}host: a\r\n\r\n"),
                "duplicate_host",
            ),
            (
                format!(
                    "POST {path} HTTP/1.1\r\nHost: a\r\n{auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET {path}/smuggled HTTP/1.1\r\nHost: a\r\n{auth}\r\n"
                ),
                "ambiguous_length",
            ),
            (
                format!(
                    "POST {path} HTTP/1.1\r\nHost: a\r\n{auth}transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n"
                ),
                "ambiguous_length",
            ),
            (
                format!("GET {path} HTTP/1.1\nHost: a\r\n{auth}\r\n"),
                "bare_lf",
            ),
            (
                format!("GET {path} HTTP/1.1\r\nHost: a\n{auth}\r\n"),
                "bare_lf",
            ),
            (format!("GET {path} HTTP/1.1\nHost: a\n{auth}\n"), "bare_lf"),
        ];
        for (request, code) in &cases {
            let answer = exchange(&base, request.as_bytes(), WAIT).await;
            assert_refused(&answer, 400, code);
        }
        // A refused head later on a keep-alive connection: the first request is
        // answered, the second refused, nothing after it is read.
        let answer = exchange(
            &base,
            format!(
                "GET {path} HTTP/1.1\r\nHost: a\r\n{auth}\r\nGET {path} HTTP/1.1\r\nHost: a\r\nHost: b\r\n{auth}\r\nGET {path} HTTP/1.1\r\nHost: a\r\n{auth}\r\n"
            )
            .as_bytes(),
            WAIT,
        )
        .await;
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 2, "{answer}");
        let second = &answer[answer.rfind("HTTP/1.1 ").unwrap()..];
        assert_refused(second, 400, "duplicate_host");
    }
    // Counted like every other answer: 7 cases and one keep-alive refusal a listener.
    assert!(client_errors(&app) >= answered_4xx_before + 16);
    // Only the gateway's one well-formed first request reached the upstream.
    assert_eq!(upstream.hits(), 1, "{:?}", upstream.seen());
    assert!(upstream.seen().iter().all(|s| !s.uri.contains("smuggled")));
    // Every refusal is a denied audit event with its code, on each listener: 8 each,
    // queued before it was answered.
    for (action, path) in [
        ("http.request", "/v1/keys/verify"),
        ("gateway.request", "/orders"),
    ] {
        let refused: Vec<_> = app
            .audit(&format!("action={action}&outcome=denied"))
            .await
            .into_iter()
            .filter(|e| e.status == Some(400))
            .collect();
        assert_eq!(refused.len(), 8, "{action}: {refused:?}");
        for event in &refused {
            let reason = event.reason.as_deref().unwrap_or_default();
            assert!(
                ["duplicate_host", "ambiguous_length", "bare_lf"].contains(&reason),
                "{event:?}"
            );
            assert_eq!(event.path.as_deref(), Some(path));
            assert_eq!(event.client_ip.as_deref(), Some("127.0.0.1"));
        }
    }
}

#[tokio::test]
async fn well_formed_requests_share_a_keep_alive_connection_with_bodies_of_both_framings() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    let auth = format!("Authorization: Bearer {key}\r\n");
    // A body that looks like a bad head is body: the next head is found after it.
    let trap = "GET / HTTP/1.1\nHost: a\nHost: b\n\n";
    let chunked = format!("{:x}\r\n{trap}\r\n0\r\n\r\n", trap.len());
    let request = format!(
        "POST /orders HTTP/1.1\r\nHost: a\r\n{auth}Content-Length: {}\r\n\r\n{trap}\
         POST /orders HTTP/1.1\r\nHost: a\r\n{auth}Transfer-Encoding: chunked\r\n\r\n{chunked}\
         GET /orders HTTP/1.1\r\nHost: a\r\n{auth}Connection: close\r\n\r\n",
        trap.len()
    );
    let answer = exchange(&app.gateway(), request.as_bytes(), WAIT).await;
    assert_eq!(answer.matches("HTTP/1.1 200 ").count(), 3, "{answer}");
    assert_eq!(upstream.hits(), 3);
    assert_eq!(upstream.seen()[1].body_bytes, trap.len() as u64);
}

/// A `POST /oauth/token` whose body trickles in, one byte a second: cut off within the
/// deadline (2 s here) on the API, within the upstream request timeout (1 s) on the
/// gateway. Either way the connection ends well before the body would.
#[tokio::test]
async fn a_trickled_body_is_cut_off_within_the_deadline_on_both_listeners() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "[server]\nbody_timeout_secs = 2\n").await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    for (base, head, limit) in [
        (
            app.base.clone(),
            "POST /oauth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n".to_owned(),
            Duration::from_secs(2),
        ),
        (
            app.gateway(),
            format!("POST /orders HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n"),
            Duration::from_secs(1),
        ),
    ] {
        let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .unwrap();
        let started = Instant::now();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        // One byte a second until the server has answered and closed (or resets).
        let closed_after = loop {
            assert!(
                started.elapsed() < limit + Duration::from_secs(5),
                "{base}: still open after {:?}",
                started.elapsed()
            );
            if stream.write_all(b"a").await.is_err() {
                break started.elapsed();
            }
            match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
                Err(_still_open) => {}
                Ok(Ok(0) | Err(_)) => break started.elapsed(),
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            }
        };
        assert!(closed_after >= limit, "{base}: cut off too early: {closed_after:?}");
        let answer = String::from_utf8_lossy(&answer);
        assert!(!answer.contains(" 200 "), "{base}: {answer}");
        if base == app.base {
            assert_refused(&answer, 408, "body_timeout");
        }
    }
}

#[tokio::test]
async fn an_oversized_form_is_413_whether_announced_or_chunked() {
    let app = spawn_app_with("").await;
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(70 * 1024)
    );
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        let announced = app
            .request(reqwest::Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone());
        app.send(announced).await.problem(413, "body_too_large");
        // 100 kB announced and never sent: refused at once, not waited for.
        let answer = exchange(
            &app.base,
            format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ngrant").as_bytes(),
            WAIT,
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        let chunked = format!(
            "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        );
        let answer = exchange(&app.base, chunked.as_bytes(), WAIT).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        assert!(answer.contains("\"code\":\"body_too_large\""), "{answer}");
    }
}

/// Opens a connection to `base` and completes one request on it, so the server has
/// surely accepted (and counted) it.
async fn held(base: &str) -> TcpStream {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 "), "answered");
    stream
}

/// Whether a new connection to `base` is served: `false` when the server closes it
/// without an answer.
async fn served(base: &str) -> bool {
    let answer = exchange(
        base,
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        WAIT,
    )
    .await;
    !answer.is_empty()
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_closed_at_accept_on_both_listeners() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "[server]\nmax_connections_per_ip = 3\n").await;
    let (api, gateway) = (app.base.clone(), app.gateway());
    let mut open = vec![held(&api).await, held(&api).await, held(&gateway).await];
    // The fourth from 127.0.0.1, on either listener, is closed unanswered.
    assert!(!served(&api).await);
    assert!(!served(&gateway).await);
    let refused = &app.state().metrics.connections_refused;
    assert_eq!(refused.load(Ordering::Relaxed), 2);
    // A place comes back once a connection ends (the server notices the close).
    drop(open.pop());
    let deadline = Instant::now() + WAIT;
    while !served(&api).await {
        assert!(Instant::now() < deadline, "the place never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(open);
}

/// A request the gateway refuses before forwarding (no credential), its body still
/// trickling: answered at once, and the connection does not wait for the rest.
#[tokio::test]
async fn a_refused_gateway_request_does_not_wait_for_its_trickled_body() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let mut stream = TcpStream::connect(app.gateway().trim_start_matches("http://"))
        .await
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\na")
        .await
        .unwrap();
    let answer = until_closed(&mut stream, WAIT).await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(started.elapsed() < WAIT);
    assert_eq!(upstream.hits(), 0);
}
