//! Request smuggling shapes and unsafe paths, sent as raw bytes over TCP: each is
//! refused with a 4xx before routing, and none reaches the upstream.

use super::spawn_gateway;
use super::upstream::Upstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (with `{key}` replaced) and returns the status line's code.
async fn raw(gateway: &str, request: &str) -> u16 {
    let addr = gateway.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the status line is complete (or the server closes).
    loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("the gateway answers")
            .unwrap();
        answer.extend_from_slice(&buf[..n]);
        if n == 0 || answer.windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    let line = String::from_utf8_lossy(&answer);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {line:?}"))
}

#[tokio::test]
async fn smuggling_shapes_and_traversal_are_refused_before_the_upstream() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    let gw = app.gateway();
    let auth = format!("Authorization: Bearer {key}\r\n");

    // The baseline: the same framing done right gets through.
    let ok = format!("POST /orders HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n\r\nhello");
    assert_eq!(raw(&gw, &ok).await, 200);
    assert_eq!(upstream.hits(), 1);

    let cases = [
        // Two different Content-Lengths, or a list of them.
        format!(
            "POST /orders HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
        ),
        format!("POST /orders HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5, 5\r\n\r\nhello"),
        // A transfer coding other than chunked.
        format!(
            "POST /orders HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
        ),
        // obs-fold: a header continued on the next line.
        format!("GET /orders HTTP/1.1\r\nHost: x\r\n{auth}X-Folded: a\r\n b\r\n\r\n"),
        // Path traversal, plain and encoded, and encoded slashes.
        format!("GET /orders/../admin HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
        format!("GET /orders/%2e%2e/admin HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
        format!("GET /orders%2F..%2Fadmin HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
        format!("GET /orders/.%2E/admin HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
        // Oversized headers (over 16 KiB).
        format!(
            "GET /orders HTTP/1.1\r\nHost: x\r\n{auth}X-Big: {}\r\n\r\n",
            "a".repeat(20_000)
        ),
    ];
    for (i, case) in cases.iter().enumerate() {
        let status = raw(&gw, case).await;
        assert!(
            (400..500).contains(&status),
            "case {i} answered {status}: {:?}",
            &case[..case.len().min(120)]
        );
    }
    assert_eq!(upstream.hits(), 1, "a refused request reached the upstream");
}

/// Reads everything until the gateway closes the connection (bounded by a timeout).
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the gateway closes the connection")
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Content-Length with Transfer-Encoding: hyper (measured in gatehouse-proxy's
/// `tests/it/smuggling.rs`) would drop the length and read the body as chunked; the
/// listener sees both in the raw head first and answers 400 `ambiguous_length`,
/// closing the connection (RFC 9112 §6.1), so neither the request nor the one hidden
/// after its body reaches the upstream.
#[tokio::test]
async fn a_request_smuggled_behind_length_and_chunked_never_reaches_the_upstream() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    let addr = app.gateway().trim_start_matches("http://").to_owned();
    for (cl, te) in [("Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n"); 2] {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n{cl}{te}\r\n0\r\n\r\nGET /orders/smuggled HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = until_closed(&mut stream).await;
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains("\"code\":\"ambiguous_length\""), "{answer}");
    }
    assert_eq!(upstream.hits(), 0, "{:?}", upstream.seen());
    // Two equal Content-Lengths are one length (RFC 9110 §8.6): forwarded with one.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    assert!(until_closed(&mut stream).await.starts_with("HTTP/1.1 200"));
    let seen = upstream.last();
    assert_eq!(seen.headers.get_all("content-length").iter().count(), 1);
    assert_eq!(seen.body_bytes, 5);
}

/// A client that sends half a request head and then nothing (slowloris) is cut off
/// after the header-read timeout, on the API and the gateway alike.
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let started = std::time::Instant::now();
    let mut streams = Vec::new();
    for base in [app.base.clone(), app.gateway()] {
        let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .unwrap();
        stream
            .write_all(b"GET /orders HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        streams.push(stream);
    }
    for mut stream in streams {
        let mut rest = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut rest),
        )
        .await
        .expect("the server closes the connection")
        .ok();
        let answer = String::from_utf8_lossy(&rest);
        assert!(!answer.contains(" 200 "), "{answer}");
    }
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(9),
        "cut off too early: {waited:?}"
    );
    assert_eq!(upstream.hits(), 0);
}
