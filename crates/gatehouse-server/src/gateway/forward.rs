//! One gateway request: refuse unsafe framing, find the route, decide, forward, and
//! record the decision as one audit event.

use super::decision::{self, Allowed, Denied};
use super::{identity, respond};
use crate::http::MAX_HEADERS;
use crate::state::{AppState, RequestContext};
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, Version, header, request};
use gatehouse_core::audit::Outcome;
use gatehouse_proxy::hygiene::{self, Forwarded};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;

/// Answers one request that arrived on the gateway listener.
pub async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestContext {
        request_id: state.request_ids.next(),
        client_ip: Some(peer.ip().to_string()),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
    };
    let mut event = ctx.event(state.clock.now(), "gateway.request", Outcome::Denied, 0);
    let Handled {
        mut response,
        route,
        who,
        reason,
    } = route_and_forward(&state, peer, parts, body, &ctx.request_id).await;
    event.route = route;
    if let Some(who) = &who {
        event.principal = Some(who.principal().to_owned());
        event.credential_id = Some(who.credential_id().to_owned());
        event.auth_method = Some(who.method().as_str().to_owned());
    }
    match reason {
        None => event.outcome = Outcome::Allowed,
        Some(reason) => event.reason = Some(reason.to_owned()),
    }
    let status = response.status().as_u16();
    event.status = Some(status);
    event.latency_us = Some(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        response.headers_mut().insert("x-gatehouse-request-id", id);
    }
    state.metrics.response(status);
    state.audit.record(event).await;
    response
}

/// What happened to a request, for its audit event.
struct Handled {
    response: Response<Body>,
    route: Option<String>,
    who: Option<gatehouse_core::auth::Authenticated>,
    /// Why it was refused; `None` when it was forwarded (whatever the upstream said).
    reason: Option<&'static str>,
}

async fn route_and_forward(
    state: &AppState,
    peer: SocketAddr,
    mut parts: request::Parts,
    body: Incoming,
    request_id: &str,
) -> Handled {
    let refuse = |response, route: Option<String>, who, reason| Handled {
        response,
        route,
        who,
        reason: Some(reason),
    };
    if let Err(refusal) = hygiene::check_request(&parts, MAX_HEADERS) {
        return refuse(respond::refused(refusal), None, None, refusal.code());
    }
    let host = host_of(&parts).map(str::to_owned);
    let gateway = &state.gateway;
    let routes = gateway.routes();
    let Some((route, policy)) = routes.find(host.as_deref(), &parts.method, parts.uri.path())
    else {
        return refuse(
            respond::no_route(StatusCode::NOT_FOUND),
            None,
            None,
            "no_route",
        );
    };
    let name = Some(route.name().to_owned());
    let (decision, who) =
        decision::decide(state, gateway, route.name(), policy, &parts.headers).await;
    let Allowed { who: caller, rate } = match decision {
        Ok(allowed) => allowed,
        Err(denied) => {
            return refuse(respond::denied(&denied), name, who, denied.reason());
        }
    };
    let Ok(uri) = route.upstream_uri(&parts.uri) else {
        let refusal = hygiene::Refusal::BadPath;
        return refuse(respond::refused(refusal), name, who, refusal.code());
    };
    let remove = if policy.forward_credential {
        Vec::new()
    } else {
        decision::credential_headers().to_vec()
    };
    let forwarded = Forwarded {
        client_ip: peer.ip(),
        proto: "http",
        host: host.as_deref(),
    };
    hygiene::prepare_request(&mut parts.headers, &forwarded, &remove);
    // The upstream is addressed by its own authority; the client's Host went to
    // X-Forwarded-Host.
    parts.headers.remove(header::HOST);
    let signed = policy.identity_jwt.then(|| route.name());
    if identity::write(state, &mut parts.headers, &caller, request_id, signed).is_err() {
        let denied = Denied::InvalidToken("unrepresentable_identity");
        return refuse(respond::denied(&denied), name, who, denied.reason());
    }
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    match gateway
        .forwarder
        .send(Request::from_parts(parts, body))
        .await
    {
        Ok(upstream) => {
            let (mut head, body) = upstream.into_parts();
            hygiene::prepare_response(&mut head.headers);
            if let Some(bucket) = &rate {
                respond::rate_limit_headers(&mut head.headers, bucket);
            }
            Handled {
                response: Response::from_parts(head, Body::new(body)),
                route: name,
                who,
                reason: None,
            }
        }
        Err(error) => {
            tracing::warn!(route = route.name(), error = ?error, "upstream request failed");
            refuse(respond::upstream_failed(&error), name, who, error.code())
        }
    }
}

/// The host the client asked for: the `Host` header, else the request target's
/// authority (absolute-form).
pub fn host_of(parts: &request::Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}
