//! Integration tests over real sockets: what hyper's HTTP/1 server lets through to
//! [`gatehouse_proxy::check_request`], and the forwarder against real upstreams.

// Test helpers outside #[test] functions: a failing helper should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod forward;
mod smuggling;
mod upstream;
