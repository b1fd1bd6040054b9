//! The gateway listener: no router — the route table is the router.

use super::forward::handle;
use crate::listener::{self, Peer};
use crate::state::AppState;
use gatehouse_proxy::forward::Forwarder;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves the gateway on `listener` until `stop` fires, on a runtime per core
/// (`listener::serve_per_core`). Each runtime has its own pool of upstream
/// connections: a pooled connection is driven by a task on the runtime that opened it,
/// so sharing one pool would hand requests across threads.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, stop: oneshot::Receiver<()>) {
    let (tls, connections) = (state.tls.clone(), Arc::clone(&state.connections));
    let on_refused = state.audit_refusals();
    let make_service_for = move || {
        let forwarder = Forwarder::new(state.settings.gateway.forwarder.clone());
        let state = Arc::clone(&state);
        move |peer: Peer| {
            let (state, forwarder) = (Arc::clone(&state), forwarder.clone());
            move |req| {
                let (state, forwarder, peer) =
                    (Arc::clone(&state), forwarder.clone(), peer.clone());
                async move { Ok::<_, Infallible>(handle(state, forwarder, peer, req).await) }
            }
        }
    };
    listener::serve_per_core(
        listener,
        "gateway",
        tls,
        connections,
        on_refused,
        make_service_for,
        stop,
    )
    .await;
}
