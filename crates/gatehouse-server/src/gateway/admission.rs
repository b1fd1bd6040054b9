//! Admission to a route, shared by the gateway and forward auth: find the route, make
//! the decision, and write the identity the upstream will see. What each then does with
//! an admitted request — forward it, or answer 200 — is its own.

use super::decision::{self, Allowed, Denied, Refused};
use super::{identity, respond};
use crate::config::RoutePolicy;
use crate::state::AppState;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gatehouse_core::audit::EventBody;
use gatehouse_core::auth::Authenticated;
use gatehouse_core::mtls::CertIdentity;
use gatehouse_core::rate_limit::BucketState;
use gatehouse_proxy::route::{Route, RouteTable};

/// A request the route lets through.
#[derive(Debug)]
pub struct Admitted<'r> {
    /// The route.
    pub route: &'r Route,
    /// What it demands and does.
    pub policy: &'r RoutePolicy,
    /// The caller.
    pub who: Authenticated,
    /// The identity headers for the upstream (`X-Gatehouse-*`).
    pub identity: HeaderMap,
    /// The route's rate limit after this request, when it has one.
    pub rate: Option<BucketState>,
}

/// Why a request is not admitted.
#[derive(Debug)]
pub enum NotAdmitted {
    /// No route matches.
    NoRoute,
    /// The route refused it.
    Refused {
        /// The route's name.
        route: String,
        /// Why, and who it was.
        refused: Refused,
    },
}

impl NotAdmitted {
    /// The answer; `no_route` is the status for a request no route matches (404 on the
    /// gateway, 403 for forward auth).
    pub fn response(&self, no_route: StatusCode) -> Response {
        match self {
            Self::NoRoute => respond::no_route(no_route),
            Self::Refused { refused, .. } => respond::denied(&refused.denied),
        }
    }

    /// Records the refusal in `event`: route, caller when known, reason.
    pub fn record(&self, event: &mut EventBody) {
        match self {
            Self::NoRoute => event.reason = Some("no_route".into()),
            Self::Refused { route, refused } => {
                event.route = Some(route.as_str().into());
                if let Some(who) = &refused.who {
                    event.attribute_to(who);
                }
                event.reason = Some(refused.denied.reason().into());
            }
        }
    }
}

/// What admission looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    /// The host the client asked for.
    pub host: Option<&'a str>,
    /// The method.
    pub method: &'a Method,
    /// The path, not yet decoded.
    pub path: &'a str,
    /// The headers, credentials among them.
    pub headers: &'a HeaderMap,
    /// The client certificate the connection's TLS handshake verified, if any.
    pub client_cert: Option<&'a CertIdentity>,
}

/// Admits the request `asking` to one of `routes`.
pub async fn admit<'r>(
    state: &AppState,
    routes: &'r RouteTable<RoutePolicy>,
    asking: Asking<'_>,
    request_id: &str,
) -> Result<Admitted<'r>, NotAdmitted> {
    let (route, policy) = routes
        .find(asking.host, asking.method, asking.path)
        .ok_or(NotAdmitted::NoRoute)?;
    let refused = |refused| NotAdmitted::Refused {
        route: route.name().to_owned(),
        refused,
    };
    let Allowed { who, rate } = decision::decide(
        state,
        &state.gateway,
        route.name(),
        policy,
        asking.headers,
        asking.client_cert,
    )
    .await
    .map_err(refused)?;
    let mut identity = HeaderMap::new();
    let signed = policy.identity_jwt.then(|| route.name());
    if identity::write(state, &mut identity, &who, request_id, signed).is_err() {
        return Err(refused(Refused {
            denied: Denied::InvalidToken("unrepresentable_identity"),
            who: Some(who),
        }));
    }
    Ok(Admitted {
        route,
        policy,
        who,
        identity,
        rate,
    })
}
