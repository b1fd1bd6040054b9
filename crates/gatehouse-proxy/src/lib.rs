//! Gatehouse's gateway plumbing: route matching, header hygiene and forwarding to
//! HTTP upstreams.
//!
//! This crate deliberately knows nothing of API keys, tokens, certificates or OAuth:
//! authentication and authorization are the server's job, done before anything here
//! forwards a request. What it does know is which route a request belongs to, which
//! headers may cross the gateway in each direction, and how to talk to an upstream.
//!
//! Start reading at [`route`] (a validated [`Route`] and the [`RouteTable`] that picks
//! one for a request), then [`hygiene`] (what is refused before forwarding and which
//! headers are stripped or added), then [`forward`] (the pooled upstream client and
//! the errors it reports).

pub mod forward;
pub mod hygiene;
pub mod route;

pub use forward::{ForwardError, Forwarder, ForwarderSettings, UpstreamBody};
pub use hygiene::{Forwarded, Refusal, Strip, check_request, prepare_request, prepare_response};
pub use route::{Route, RouteError, RouteSpec, RouteTable, Upstream, UpstreamError};
