//! The gateway listener: no router — the route table is the router.

use super::forward::handle;
use crate::listener::{self, Peer};
use crate::state::AppState;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves the gateway on `listener` until `stop` fires.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, stop: oneshot::Receiver<()>) {
    let tls = state.tls.clone();
    let service_for = move |peer: Peer| {
        let state = Arc::clone(&state);
        move |req| {
            let (state, peer) = (Arc::clone(&state), peer.clone());
            async move { Ok::<_, Infallible>(handle(state, peer, req).await) }
        }
    };
    listener::serve(listener, "gateway", tls, service_for, stop).await;
}
