//! `/v1/forward-auth`: the gateway's decision for a proxy in front of the upstream —
//! nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`, Envoy `ext_authz`
//! (HTTP). The original request is read from `X-Forwarded-Method`,
//! `X-Forwarded-Uri` / `X-Original-URI` and `X-Forwarded-Host`; Envoy instead sends the
//! original method and path itself, under `/v1/forward-auth`. 200 carries the identity
//! headers; refusals are 401, 403 or 429 (and 503 when an issuer is unreachable).
//!
//! A request that matches no route is refused with 403, not 404: the proxy in front
//! turns an unexpected status into a 500, and deny by default means "no".

use crate::gateway::admission::{Admitted, Asking, admit};
use crate::gateway::respond;
use crate::state::{AppState, RequestContext};
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
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
    let (method, uri, host) = original(&req);
    let mut event = ctx.event(
        state.clock.now(),
        "gateway.forward_auth",
        Outcome::Denied,
        0,
    );
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

/// The original request's method, URI and host: from the forwarding headers when
/// present, else from this request itself (Envoy's form, minus the prefix).
fn original(req: &Request) -> (Method, Uri, Option<String>) {
    let headers = req.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let method = text("x-forwarded-method")
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or_else(|| req.method().clone());
    let uri = text("x-forwarded-uri")
        .or_else(|| text("x-original-uri"))
        .and_then(|u| u.parse::<Uri>().ok())
        .unwrap_or_else(|| envoy_path(req.uri()));
    let host = text("x-forwarded-host")
        .or_else(|| text("host"))
        .map(str::to_owned);
    (method, uri, host)
}

/// `/v1/forward-auth/orders/1?x` → `/orders/1?x`.
fn envoy_path(uri: &Uri) -> Uri {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let rest = path_and_query.strip_prefix(PATH).unwrap_or(path_and_query);
    let rest = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    rest.parse().unwrap_or_else(|_| Uri::from_static("/"))
}
