//! The forwarder against real upstreams on 127.0.0.1.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_proxy::{
    ForwardError, Forwarded, Forwarder, ForwarderSettings, Route, RouteSpec, Strip, UpstreamBody,
};
use http::{HeaderName, Method, Request, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use tokio::net::{TcpSocket, TcpStream};

use crate::upstream::{
    BIG, PatternBody, spawn_echo, spawn_hangup, spawn_one_per_connection, spawn_silent,
};

fn forwarder<B>(request_timeout: Duration) -> Forwarder<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Forwarder::new(ForwarderSettings {
        request_timeout,
        ..ForwarderSettings::default()
    })
}

fn get(uri: String) -> Request<Empty<Bytes>> {
    Request::get(uri).body(Empty::new()).unwrap()
}

async fn text<B>(response: http::Response<UpstreamBody<B>>) -> String {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[test]
fn a_forwarder_is_cheap_to_share_between_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Forwarder<Empty<Bytes>>>();
    shareable::<Forwarder<Incoming>>();
    // Building needs no runtime.
    let _ = Forwarder::<Empty<Bytes>>::new(ForwarderSettings::default()).clone();
}

#[tokio::test]
async fn a_routed_request_reaches_the_upstream_with_its_query_and_cleaned_headers() {
    let echo = spawn_echo().await;
    let route = Route::parse(RouteSpec {
        name: "users".into(),
        host: None,
        path_prefix: "/api".into(),
        methods: None,
        upstream: format!("http://{}/base", echo.addr),
        strip_prefix: true,
    })
    .unwrap();
    let original: Uri = "/api/users?x=1&y=%20z".parse().unwrap();
    let mut request = Request::builder()
        .method(Method::PATCH)
        .uri(route.upstream_uri(&original).unwrap())
        .version(Version::HTTP_2)
        .header("x-gatehouse-subject", "forged")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("x-api-key", "secret")
        .header("accept", "text/plain")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let client = Forwarded {
        client_ip: "192.0.2.9",
        proto: "https",
        host: Some("gw.example"),
    };
    gatehouse_proxy::prepare_request(
        request.headers_mut(),
        &client,
        &Strip {
            also: &[HeaderName::from_static("x-api-key")],
            drop_underscored: true,
        },
    );

    let response = forwarder(Duration::from_secs(5))
        .send(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = text(response).await;
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("PATCH /base/users?x=1&y=%20z"));
    let headers: Vec<&str> = lines.collect();
    for expected in [
        "accept: text/plain",
        "x-forwarded-for: 192.0.2.9",
        "x-forwarded-proto: https",
        "x-forwarded-host: gw.example",
    ] {
        assert!(
            headers.contains(&expected),
            "{expected} missing from {headers:?}"
        );
    }
    assert!(
        headers.contains(&format!("host: {}", echo.addr).as_str()),
        "{headers:?}"
    );
    for absent in ["x-gatehouse-subject", "connection", "x-hop", "x-api-key"] {
        assert!(
            !headers.iter().any(|h| h.starts_with(&format!("{absent}:"))),
            "{absent} in {headers:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_reported_as_unreachable_without_detail() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = forwarder(Duration::from_secs(5))
        .send(get(format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, ForwardError::Connect(_)), "{err:?}");
    assert_eq!(
        (err.status(), err.code()),
        (StatusCode::BAD_GATEWAY, "upstream_unreachable")
    );
    assert_eq!(err.to_string(), "the upstream could not be reached");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause stays available for logs"
    );
}

#[tokio::test]
async fn a_connection_that_cannot_be_established_in_time_is_reported_as_unreachable() {
    // A listener that never accepts, with a backlog of one: once its queue is full the
    // kernel drops further SYNs, so connecting hangs until the connect timeout.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(stream) => queued.push(stream.unwrap()),
            Err(_) => break,
        }
        assert!(queued.len() < 64, "the accept queue never filled");
    }
    let settings = ForwarderSettings {
        connect_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_secs(10),
        ..ForwarderSettings::default()
    };
    let started = tokio::time::Instant::now();
    let err = Forwarder::new(settings)
        .send(get(format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, ForwardError::Connect(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out() {
    let addr = spawn_silent().await;
    let err = forwarder(Duration::from_millis(200))
        .send(get(format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, ForwardError::Timeout(_)), "{err:?}");
    assert_eq!(
        (err.status(), err.code()),
        (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
    );
}

#[tokio::test]
async fn an_upstream_that_hangs_up_without_answering_has_failed() {
    let addr = spawn_hangup().await;
    let err = forwarder(Duration::from_secs(5))
        .send(get(format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, ForwardError::Failed(_)), "{err:?}");
    assert_eq!(
        (err.status(), err.code()),
        (StatusCode::BAD_GATEWAY, "upstream_failed")
    );
    assert_eq!(err.to_string(), "the upstream failed to answer");
}

#[tokio::test]
async fn a_20_mb_streamed_body_reaches_the_upstream_intact() {
    const TOTAL: usize = 20 * 1024 * 1024;
    let echo = spawn_echo().await;
    let request = Request::post(format!("http://{}/count", echo.addr))
        .body(PatternBody::new(TOTAL))
        .unwrap();
    let response = forwarder(Duration::from_secs(30))
        .send(request)
        .await
        .unwrap();
    assert_eq!(text(response).await, format!("{TOTAL} true"));
}

#[tokio::test]
async fn sequential_requests_reuse_one_pooled_connection() {
    let echo = spawn_echo().await;
    let forwarder = forwarder::<Empty<Bytes>>(Duration::from_secs(5));
    for i in 0..20 {
        let response = forwarder
            .clone()
            .send(get(format!("http://{}/n/{i}", echo.addr)))
            .await
            .unwrap();
        assert!(text(response).await.starts_with(&format!("GET /n/{i}\n")));
    }
    assert_eq!(echo.connections.load(Ordering::SeqCst), 1);
}

fn pooled<B>(pool_idle_timeout: Duration, pool_max_idle_per_host: usize) -> Forwarder<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Forwarder::new(ForwarderSettings {
        pool_idle_timeout,
        pool_max_idle_per_host,
        ..ForwarderSettings::default()
    })
}

/// Lets `idle` pass on Tokio's clock, which the pool's idle times and its sweep read,
/// without waiting for it: time is paused, moved on, and let run again.
async fn idle_for(idle: Duration) {
    tokio::time::pause();
    tokio::time::advance(idle).await;
    tokio::time::resume();
}

#[tokio::test]
async fn a_connection_the_upstream_closes_after_answering_is_not_used_again() {
    let (addr, connections) = spawn_one_per_connection().await;
    let forwarder = forwarder::<Empty<Bytes>>(Duration::from_secs(5));
    // Each connection goes back to the pool when its answer ends, before hyper has seen
    // it close; the next request must find that out and open another.
    for _ in 0..5 {
        let response = forwarder
            .send(get(format!("http://{addr}/")))
            .await
            .unwrap();
        assert_eq!(text(response).await, "ok");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_response_body_dropped_unread_takes_its_connection_with_it() {
    let echo = spawn_echo().await;
    let forwarder = forwarder::<Empty<Bytes>>(Duration::from_secs(5));
    let mut response = forwarder
        .send(get(format!("http://{}/big", echo.addr)))
        .await
        .unwrap();
    let first = response.body_mut().frame().await.unwrap().unwrap();
    assert!(first.into_data().unwrap().len() < BIG, "read in one frame");
    drop(response);
    // The next request must not wait behind the rest of that body on its connection.
    let response = forwarder
        .send(get(format!("http://{}/next", echo.addr)))
        .await
        .unwrap();
    assert!(text(response).await.starts_with("GET /next\n"));
    assert_eq!(echo.connections.load(Ordering::SeqCst), 2);
    let big = forwarder
        .send(get(format!("http://{}/big", echo.addr)))
        .await
        .unwrap();
    assert_eq!(text(big).await.len(), BIG, "read to the end, it is whole");
}

#[tokio::test]
async fn answers_without_a_body_give_their_connection_back() {
    let echo = spawn_echo().await;
    let forwarder = forwarder::<Empty<Bytes>>(Duration::from_secs(5));
    for _ in 0..5 {
        let request = Request::head(format!("http://{}/", echo.addr))
            .body(Empty::new())
            .unwrap();
        let response = forwarder.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // Not read: nothing reads the body of an answer to HEAD.
        drop(response);
    }
    assert_eq!(echo.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_idle_past_the_idle_timeout_is_not_used_again() {
    let echo = spawn_echo().await;
    let forwarder = pooled::<Empty<Bytes>>(Duration::from_millis(200), 256);
    for idle in [Duration::ZERO, Duration::from_millis(400)] {
        idle_for(idle).await;
        let response = forwarder.send(get(format!("http://{}/", echo.addr))).await;
        text(response.unwrap()).await;
    }
    assert_eq!(echo.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn idle_connections_are_closed_once_the_idle_timeout_passes_without_traffic() {
    let echo = spawn_echo().await;
    let forwarder = pooled::<Empty<Bytes>>(Duration::from_secs(1), 256);
    let response = forwarder.send(get(format!("http://{}/", echo.addr))).await;
    text(response.unwrap()).await;
    assert_eq!(echo.closed.load(Ordering::SeqCst), 0, "kept while fresh");
    // The sweep runs every second: by three, the connection has been idle past one.
    idle_for(Duration::from_secs(3)).await;
    // Closing it is real I/O, which the upstream sees a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while echo.closed.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "never closed");
        tokio::task::yield_now().await;
    }
    assert_eq!(echo.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_connection_is_kept_when_no_idle_connection_may_be() {
    let echo = spawn_echo().await;
    let forwarder = pooled::<Empty<Bytes>>(Duration::from_secs(90), 0);
    for _ in 0..3 {
        let response = forwarder.send(get(format!("http://{}/", echo.addr))).await;
        text(response.unwrap()).await;
    }
    assert_eq!(echo.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_uri_that_is_not_absolute_http_is_refused_before_connecting() {
    for uri in ["/relative", "https://127.0.0.1:1/"] {
        let err = forwarder::<Empty<Bytes>>(Duration::from_secs(5))
            .send(get(uri.to_owned()))
            .await
            .unwrap_err();
        assert!(matches!(err, ForwardError::Connect(_)), "{uri}: {err:?}");
    }
}
