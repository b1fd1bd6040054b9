//! A large body streams through the gateway without being held in memory.

use super::spawn_gateway;
use super::upstream::Upstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// This process's resident set size, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_128_mib_body_streams_through_with_flat_memory() {
    const CHUNK: usize = 256 * 1024;
    const CHUNKS: usize = 512; // 128 MiB
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    let before = rss();

    let addr = app.gateway().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let total = CHUNK * CHUNKS;
    let head = format!(
        "POST /orders/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: {total}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; CHUNK];
    let mut peak = before;
    for _ in 0..CHUNKS {
        stream.write_all(&chunk).await.unwrap();
        peak = peak.max(rss());
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"bytes\"") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert_eq!(upstream.last().body_bytes, total as u64);
    // Other tests share this process, so the bound is loose — but a gateway that held
    // the body would grow by all of its 128 MiB.
    let grew = peak.saturating_sub(before);
    assert!(
        grew < 64 * 1024 * 1024,
        "memory grew by {} MiB while 128 MiB streamed through",
        grew / (1024 * 1024)
    );
}
