//! The gateway: requests on `[gateway] listen` are matched to a route, their
//! credential is checked and authorized for it, and only then are they forwarded, with
//! the credential removed and the identity added. Forward auth (`/v1/forward-auth`)
//! makes the same decision for a proxy in front (nginx, Traefik, Caddy, Envoy).
//!
//! `gatehouse-proxy` does the plumbing (routes, hygiene, the upstream client); this
//! module only decides and audits. Routes and issuers are swapped whole on reload.

pub mod admission;
pub mod decision;
mod forward;
pub mod identity;
pub mod limits;
pub mod reload;
pub mod respond;
mod serve;

pub use serve::serve;

use crate::config::{RoutePolicy, Settings};
use crate::issuers::Issuers;
use gatehouse_proxy::route::RouteTable;
use limits::RouteLimits;
use parking_lot::RwLock;
use std::sync::Arc;

/// The gateway's state: routes, external issuers, rate-limit buckets. (The upstream
/// clients belong to the listener's runtimes: `serve`.)
pub struct Gateway {
    routes: RwLock<Arc<RouteTable<RoutePolicy>>>,
    issuers: RwLock<Arc<Issuers>>,
    /// Rate-limit buckets of the routes.
    pub limits: RouteLimits,
    http: reqwest::Client,
}

impl Gateway {
    /// The gateway `settings` describe; `http` fetches issuers' keys.
    pub fn new(settings: &Settings, http: reqwest::Client) -> Self {
        Self {
            routes: RwLock::new(Arc::clone(&settings.gateway.routes)),
            issuers: RwLock::new(Arc::new(Issuers::new(
                settings.issuers.clone(),
                http.clone(),
            ))),
            limits: RouteLimits::default(),
            http,
        }
    }

    /// The routes now.
    pub fn routes(&self) -> Arc<RouteTable<RoutePolicy>> {
        Arc::clone(&self.routes.read())
    }

    /// The external issuers now.
    pub fn issuers(&self) -> Arc<Issuers> {
        Arc::clone(&self.issuers.read())
    }

    /// Takes the routes and issuers of reloaded `settings`. Requests in flight finish
    /// with what they started with. Issuers' key caches start empty again.
    pub fn replace(&self, settings: &Settings) {
        *self.routes.write() = Arc::clone(&settings.gateway.routes);
        *self.issuers.write() = Arc::new(Issuers::new(settings.issuers.clone(), self.http.clone()));
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.routes.read().len())
            .finish_non_exhaustive()
    }
}
