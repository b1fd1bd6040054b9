//! Why a route was refused.

use super::UpstreamError;

/// Why a route was refused, or a URI could not be built for it. Messages name the
/// route and the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The route's name is empty or holds control characters.
    #[error("route {0:?}: name must be non-empty and free of control characters")]
    BadName(String),
    /// The `path_prefix` field is invalid.
    #[error("route {route:?}: path_prefix {value:?} {reason}")]
    PathPrefix {
        /// The route's name.
        route: String,
        /// The value as configured.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `host` field is invalid.
    #[error("route {route:?}: host {value:?} {reason}")]
    Host {
        /// The route's name.
        route: String,
        /// The value as configured.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `methods` field is invalid.
    #[error("route {route:?}: methods {reason}")]
    Methods {
        /// The route's name.
        route: String,
        /// What is wrong with it, quoting the bad entry if there is one.
        reason: String,
    },
    /// The `upstream` field is invalid.
    #[error("route {route:?}: upstream {value:?} {source}")]
    Upstream {
        /// The route's name.
        route: String,
        /// The value as configured.
        value: String,
        /// What is wrong with it.
        #[source]
        source: UpstreamError,
    },
    /// Two routes share a name.
    #[error("route {0:?} is declared more than once; route names must be unique")]
    DuplicateName(String),
    /// [`Route::upstream_uri`](super::Route::upstream_uri) was given a path this route does not match.
    #[error("route {route:?}: request path {path:?} is not under path_prefix {prefix:?}")]
    PathOutsidePrefix {
        /// The route's name.
        route: String,
        /// The request path.
        path: String,
        /// The route's path prefix.
        prefix: String,
    },
    /// The joined path and query do not form a valid URI.
    #[error("route {route:?}: cannot build an upstream URI for {path:?}")]
    UpstreamUri {
        /// The route's name.
        route: String,
        /// The request path.
        path: String,
    },
}
