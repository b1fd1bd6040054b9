//! Serving on a runtime per core: who answers, in what turn, and stopping.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The service: answers with the name of the thread that ran it.
fn thread_name(_req: Request<Incoming>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned();
    std::future::ready(Ok(Response::new(Body::from(name))))
}

/// One request on a connection of its own; the body of the answer.
async fn get(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

/// `serve_per_core` with `thread_name` on a loopback port: its address, its stop and
/// the task serving.
async fn start() -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let make_service_for = || |_: Peer| thread_name;
    let connections = ConnectionLimits::new(100, 100, Default::default());
    let serving = tokio::spawn(serve_per_core(
        listener,
        "test",
        None,
        connections,
        Arc::new(|_| Box::pin(async {})),
        make_service_for,
        stopped,
    ));
    (addr, stop, serving)
}

#[tokio::test]
async fn each_connection_is_served_on_a_worker_in_turn_and_stop_closes_the_listener() {
    let (addr, stop, serving) = start().await;

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut answered_by = Vec::new();
    for _ in 0..2 * cores {
        answered_by.push(get(addr).await);
    }
    // Connections one after another go round the workers: each serves two.
    let expected: Vec<String> = (0..2 * cores)
        .map(|i| format!("test-{}", i % cores))
        .collect();
    assert_eq!(answered_by, expected);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve_per_core returns once stopped")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn dropping_the_stop_sender_stops_it_too() {
    let (addr, stop, serving) = start().await;
    assert!(get(addr).await.starts_with("test-"));
    drop(stop);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve_per_core returns once its stop is gone")
        .unwrap();
}

/// A connected socket pair's server side, to hand out.
fn connection(listener: &std::net::TcpListener, limits: &Arc<ConnectionLimits>) -> Handed {
    let addr = listener.local_addr().unwrap();
    let _client = std::net::TcpStream::connect(addr).unwrap();
    let (stream, peer) = listener.accept().unwrap();
    let permit = limits.admit(peer.ip()).unwrap();
    (stream, peer, permit)
}

#[test]
fn a_full_or_finished_worker_is_passed_over_and_none_left_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let limits = ConnectionLimits::new(100, 100, Default::default());
    let worker = |room| {
        let (queue, handed) = mpsc::channel(room);
        let (_done, finished) = oneshot::channel();
        (Worker { queue, finished }, handed)
    };
    let (first, mut first_handed) = worker(1);
    let (second, second_handed) = worker(1);
    let workers = [first, second];
    let mut turn = 0;

    hand_out(&workers, &mut turn, connection(&listener, &limits)).unwrap();
    hand_out(&workers, &mut turn, connection(&listener, &limits)).unwrap();
    assert_eq!((first_handed.len(), second_handed.len()), (1, 1), "in turn");

    // Both full: nobody takes the third.
    assert!(hand_out(&workers, &mut turn, connection(&listener, &limits)).is_err());

    // The second is gone, the first has room again: on the second's turn, the first
    // takes it.
    drop(second_handed);
    first_handed.try_recv().unwrap();
    turn = 1;
    hand_out(&workers, &mut turn, connection(&listener, &limits)).unwrap();
    assert_eq!(first_handed.len(), 1);
}
