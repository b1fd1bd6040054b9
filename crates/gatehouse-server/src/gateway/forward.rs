//! One gateway request: refuse unsafe framing, admit it to a route, forward it, and
//! record the decision as one audit event.

use super::admission::{Admitted, Asking, admit};
use super::decision::CREDENTIAL_HEADERS;
use super::respond;
use crate::listener::Peer;
use crate::state::{AppState, RequestContext};
use crate::wire::MAX_HEADERS;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, Version, header, request};
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_proxy::forward::Forwarder;
use gatehouse_proxy::hygiene::{self, Forwarded};
use hyper::body::Incoming;
use std::sync::Arc;
use tokio::time::Instant;

/// Answers one request that arrived on the gateway listener, forwarding it (if
/// admitted) over `forwarder`, the upstream connections of the runtime it runs on.
pub async fn handle(
    state: Arc<AppState>,
    forwarder: Forwarder<Incoming>,
    peer: Peer,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let ctx = RequestContext {
        request_id: state.request_ids.next(),
        client_ip: Some(Arc::clone(&peer.ip)),
        method: parts.method.as_str().into(),
        path: parts.uri.path().into(),
    };
    let mut event = ctx.into_event(state.clock.now(), "gateway.request", Outcome::Denied, 0);
    let mut response = route_and_forward(&state, &forwarder, &peer, parts, body, &mut event).await;
    let status = response.status().as_u16();
    event.status = Some(status);
    event.latency_us = Some(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    if let Ok(id) = HeaderValue::from_str(&event.request_id) {
        response.headers_mut().insert("x-gatehouse-request-id", id);
    }
    state.metrics.response(status);
    state.audit.record(event).await;
    response
}

/// Forwards the request if it is admitted, recording in `event` what happened; the
/// event stays denied with a reason unless the request reached the upstream.
async fn route_and_forward(
    state: &AppState,
    forwarder: &Forwarder<Incoming>,
    peer: &Peer,
    mut parts: request::Parts,
    body: Incoming,
    event: &mut EventBody,
) -> Response<Body> {
    if let Err(refusal) = hygiene::check_request(&parts, MAX_HEADERS) {
        event.reason = Some(refusal.code().into());
        return respond::refused(refusal);
    }
    let host = host_of(&parts).map(str::to_owned);
    let routes = state.gateway.routes();
    let asking = Asking {
        host: host.as_deref(),
        method: &parts.method,
        path: parts.uri.path(),
        headers: &parts.headers,
        client_cert: peer.client_cert.as_deref(),
    };
    let admitted = admit(state, &routes, asking, &event.request_id).await;
    let Admitted {
        route,
        policy,
        who,
        identity,
        rate,
    } = match admitted {
        Ok(admitted) => admitted,
        Err(not) => {
            not.record(event);
            return not.response(StatusCode::NOT_FOUND);
        }
    };
    event.route = Some(route.name().into());
    event.attribute_to(&who);
    let Ok(uri) = route.upstream_uri(&parts.uri) else {
        let refusal = hygiene::Refusal::BadPath;
        event.reason = Some(refusal.code().into());
        return respond::refused(refusal);
    };
    let strip = hygiene::Strip {
        also: if policy.forward_credential {
            &[]
        } else {
            &CREDENTIAL_HEADERS
        },
        drop_underscored: !policy.keep_underscored_headers,
    };
    let forwarded = Forwarded {
        client_ip: &peer.ip,
        proto: if state.tls.is_some() { "https" } else { "http" },
        host: host.as_deref(),
    };
    hygiene::prepare_request(&mut parts.headers, &forwarded, &strip);
    // The upstream is addressed by its own authority; the client's Host went to
    // X-Forwarded-Host.
    parts.headers.remove(header::HOST);
    parts.headers.extend(identity);
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    match forwarder.send(Request::from_parts(parts, body)).await {
        Ok(upstream) => {
            event.outcome = Outcome::Allowed;
            let (mut head, body) = upstream.into_parts();
            hygiene::prepare_response(&mut head.headers);
            if let Some(bucket) = &rate {
                respond::rate_limit_headers(&mut head.headers, bucket);
            }
            Response::from_parts(head, Body::new(body))
        }
        Err(error) => {
            tracing::warn!(route = route.name(), error = ?error, "upstream request failed");
            event.reason = Some(error.code().into());
            respond::upstream_failed(&error)
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
