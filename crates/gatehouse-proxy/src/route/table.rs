//! The set of routes and the choice of one for a request.

use std::collections::HashSet;

use http::Method;

use super::host::{HostMatch, request_host};
use super::{Route, RouteError};

/// How well a route matched: path prefix length first, then how its host matched.
type Rank = (usize, HostMatch);

/// The configured routes, each with whatever the server attaches to it (`T`, its auth
/// policy), in declaration order.
///
/// Lookup is a linear scan: gateways have tens of routes, and a scan over them costs
/// less than the hashing a prefix tree would need, while keeping the tie-breaking rules
/// obvious.
#[derive(Debug, Clone)]
pub struct RouteTable<T> {
    routes: Vec<(Route, T)>,
}

impl<T> RouteTable<T> {
    /// Builds a table, refusing two routes with the same name.
    pub fn new(routes: Vec<(Route, T)>) -> Result<Self, RouteError> {
        let mut names = HashSet::with_capacity(routes.len());
        for (route, _) in &routes {
            if !names.insert(route.name()) {
                return Err(RouteError::DuplicateName(route.name().to_owned()));
            }
        }
        Ok(RouteTable { routes })
    }

    /// The route for a request, if any.
    ///
    /// A route matches when its path prefix matches `path` on a segment boundary, its
    /// methods (if any) include `method` and its host (if any) matches `host`, taken
    /// from the `Host` header or URI authority; a `:port` is ignored. Among matching
    /// routes the longest path prefix wins; on a tie a route whose host matches exactly
    /// beats one whose `*.` wildcard matches, which beats one with no host; then the
    /// first declared wins.
    pub fn find(&self, host: Option<&str>, method: &Method, path: &str) -> Option<(&Route, &T)> {
        let host = host.map(request_host);
        let mut best: Option<(Rank, &(Route, T))> = None;
        for entry in &self.routes {
            let Some(host_match) = entry.0.matches(host, method, path) else {
                continue;
            };
            let rank = (entry.0.path_prefix.len(), host_match);
            // Strictly greater, so that on a full tie the first declared route stays.
            if best.as_ref().is_none_or(|(best_rank, _)| rank > *best_rank) {
                best = Some((rank, entry));
            }
        }
        best.map(|(_, (route, value))| (route, value))
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are no routes (every request is then a 404).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The routes in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&Route, &T)> {
        self.routes.iter().map(|(route, value)| (route, value))
    }
}
