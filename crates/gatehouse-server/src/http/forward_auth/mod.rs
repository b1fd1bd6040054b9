//! `/v1/forward-auth`: the gateway's decision for a proxy in front of the upstream —
//! nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`, Envoy `ext_authz`
//! (HTTP). 200 carries the identity headers; refusals are 401, 403 or 429 (and 503
//! when an issuer is unreachable).
//!
//! The original request is read from exactly one source, the one `[forward_auth]
//! proxy` names (`original.rs`): a proxy overwrites its own forwarding headers but
//! passes on every other header the client sent, so a check that also carries
//! another proxy's forwarding headers, or one of them twice, is refused (400) rather
//! than guessed at. So is a check carrying an `X-Gatehouse-*` header in any spelling:
//! only a client can have sent it, and the proxy would pass it to the upstream.
//!
//! A request that matches no route is refused with 403, not 404: the proxy in front
//! turns an unexpected status into a 500, and deny by default means "no".

mod original;

use crate::gateway::admission::{Admitted, Asking, admit};
use crate::gateway::respond;
use crate::state::{AppState, RequestContext};
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::audit::Outcome;
use gatehouse_proxy::hygiene::check_path;
use std::sync::Arc;

/// The prefix under which Envoy appends the original path.
pub const PATH: &str = "/v1/forward-auth";

/// `ANY /v1/forward-auth[/{original path}]` — authenticate and authorize the original
/// request for its gateway route. No scope of its own: the route names what it needs.
pub async fn forward_auth(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    req: Request,
) -> Response {
    let headers = req.headers();
    let mut event = ctx.event(
        state.clock.now(),
        "gateway.forward_auth",
        Outcome::Denied,
        0,
    );
    let original = match original::read(&req, state.settings.forward_auth) {
        Ok(original) => original,
        Err(bad) => {
            tracing::warn!(error = %bad, "forward-auth check refused: its original request is not clear");
            event.reason = Some(bad.code().into());
            let response = bad.response();
            event.status = Some(response.status().as_u16());
            state.audit.record(event).await;
            return response;
        }
    };
    let (method, uri, host) = (original.method, original.uri, original.host);
    event.method = Some(method.as_str().into());
    event.path = Some(uri.path().into());
    let routes = state.gateway.routes();
    // The same path rules as the gateway's own: the proxy in front may normalize
    // differently from the upstream behind it.
    let response = if let Err(refusal) = check_path(uri.path()) {
        event.reason = Some(refusal.code().into());
        respond::refused(refusal)
    } else {
        let asking = Asking {
            host: host.as_deref(),
            method: &method,
            path: uri.path(),
            headers,
            // The connection is the proxy's, not the client's: its certificate (if
            // any) says nothing about who the proxied request comes from.
            client_cert: None,
        };
        let admitted = admit(&state, &routes, asking, &ctx.request_id).await;
        match admitted {
            Err(not) => {
                not.record(&mut event);
                not.response(StatusCode::FORBIDDEN)
            }
            Ok(Admitted {
                route,
                who,
                mut identity,
                rate,
                ..
            }) => {
                event.route = Some(route.name().into());
                event.attribute_to(&who);
                event.outcome = Outcome::Allowed;
                if let Some(bucket) = &rate {
                    respond::rate_limit_headers(&mut identity, bucket);
                }
                (StatusCode::OK, identity).into_response()
            }
        }
    };
    event.status = Some(response.status().as_u16());
    state.audit.record(event).await;
    response
}
