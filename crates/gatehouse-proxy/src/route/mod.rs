//! Routes: which requests go to which upstream, and the URI they are sent to.
//!
//! A [`RouteSpec`] is configuration as written; [`Route::parse`] turns it into a
//! [`Route`] that cannot be invalid, and a [`RouteTable`] picks the route for a
//! request. Paths are compared as the client sent them (still percent-encoded):
//! [`crate::hygiene::check_request`] has already refused encoded slashes and dot
//! segments, so there is no second spelling of a prefix to worry about.

mod error;
mod host;
mod table;
#[cfg(test)]
mod tests;
mod upstream;

use http::uri::{PathAndQuery, Scheme};
use http::{Method, Uri};

pub use error::RouteError;
use host::{HostMatch, HostPattern};
pub use table::RouteTable;
pub use upstream::{Upstream, UpstreamError};

/// A route as configured (plain data, from TOML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// Unique name, used in logs, metrics and error messages.
    pub name: String,
    /// Host to match (`api.example.com`, `*.example.com`); `None` matches any host.
    pub host: Option<String>,
    /// Path prefix to match on segment boundaries; must start with `/`.
    pub path_prefix: String,
    /// Method names to match (uppercase, e.g. `GET`); `None` matches any method.
    pub methods: Option<Vec<String>>,
    /// `http://host[:port][/base/path]` to forward to.
    pub upstream: String,
    /// Whether the path prefix is removed before the path is appended to the upstream.
    pub strip_prefix: bool,
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct Route {
    name: String,
    host: Option<HostPattern>,
    /// `/` or `/seg[/seg...]` without a trailing `/`.
    path_prefix: String,
    methods: Option<Vec<Method>>,
    upstream: Upstream,
    strip_prefix: bool,
}

impl Route {
    /// Validates a configured route.
    pub fn parse(spec: RouteSpec) -> Result<Route, RouteError> {
        let RouteSpec {
            name,
            host,
            path_prefix,
            methods,
            upstream,
            strip_prefix,
        } = spec;
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(RouteError::BadName(name));
        }
        let path_prefix = match parse_prefix(&path_prefix) {
            Ok(prefix) => prefix.to_owned(),
            Err(reason) => {
                return Err(RouteError::PathPrefix {
                    route: name,
                    value: path_prefix,
                    reason,
                });
            }
        };
        let host = match host.as_deref().map(HostPattern::parse).transpose() {
            Ok(host) => host,
            Err(reason) => {
                let value = host.unwrap_or_default();
                return Err(RouteError::Host {
                    route: name,
                    value,
                    reason,
                });
            }
        };
        let methods = match methods.map(parse_methods).transpose() {
            Ok(methods) => methods,
            Err(reason) => {
                return Err(RouteError::Methods {
                    route: name,
                    reason,
                });
            }
        };
        let upstream = match Upstream::parse(&upstream) {
            Ok(parsed) => parsed,
            Err(source) => {
                return Err(RouteError::Upstream {
                    route: name,
                    value: upstream,
                    source,
                });
            }
        };
        Ok(Route {
            name,
            host,
            path_prefix,
            methods,
            upstream,
            strip_prefix,
        })
    }

    /// The route's unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path prefix: `/`, or segments without a trailing `/`.
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    /// The host pattern (lowercase), if the route is limited to one.
    pub fn host(&self) -> Option<&str> {
        self.host.as_ref().map(HostPattern::as_str)
    }

    /// The methods the route is limited to, if any.
    pub fn methods(&self) -> Option<&[Method]> {
        self.methods.as_deref()
    }

    /// Whether the path prefix is removed before forwarding.
    pub fn strip_prefix(&self) -> bool {
        self.strip_prefix
    }

    /// Where the route forwards to.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The URI to send upstream for `original` (path + query of the client request):
    /// upstream base path joined with the path (prefix removed when `strip_prefix`),
    /// query kept verbatim.
    ///
    /// With prefix `/api`, base `/v1` and `strip_prefix`, `/api/users?x=1` becomes
    /// `/v1/users?x=1` and `/api` becomes `/v1/`. Fails if `original`'s path is not
    /// under the route's prefix, which [`RouteTable::find`] never returns.
    pub fn upstream_uri(&self, original: &Uri) -> Result<Uri, RouteError> {
        let path = original.path();
        let outside = || RouteError::PathOutsidePrefix {
            route: self.name.clone(),
            path: path.to_owned(),
            prefix: self.path_prefix.clone(),
        };
        let rest = prefix_rest(&self.path_prefix, path).ok_or_else(outside)?;
        let forwarded = match (self.strip_prefix, rest) {
            (false, _) => path,
            (true, "") => "/",
            (true, rest) => rest,
        };
        let base = self.upstream.base_path();
        let query = original.query();
        let mut joined =
            String::with_capacity(base.len() + forwarded.len() + query.map_or(0, |q| q.len() + 1));
        joined.push_str(base);
        joined.push_str(forwarded);
        if let Some(query) = query {
            joined.push('?');
            joined.push_str(query);
        }
        let bad_uri = || RouteError::UpstreamUri {
            route: self.name.clone(),
            path: path.to_owned(),
        };
        let path_and_query = PathAndQuery::try_from(joined).map_err(|_| bad_uri())?;
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.upstream.authority().clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| bad_uri())
    }

    /// How well this route matches a request, or `None` if it does not. `host` has
    /// already been through [`host::request_host`].
    fn matches(&self, host: Option<&str>, method: &Method, path: &str) -> Option<HostMatch> {
        prefix_rest(&self.path_prefix, path)?;
        if self
            .methods
            .as_ref()
            .is_some_and(|methods| !methods.contains(method))
        {
            return None;
        }
        match (&self.host, host) {
            (None, _) => Some(HostMatch::Any),
            (Some(pattern), Some(host)) => pattern.matches(host),
            (Some(_), None) => None,
        }
    }
}

/// What follows `prefix` in `path` if the prefix matches on a segment boundary: `""`
/// or a string starting with `/`. The root prefix `/` matches every path starting
/// with `/` and leaves the whole path.
fn prefix_rest<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    if prefix == "/" {
        return path.starts_with('/').then_some(path);
    }
    path.strip_prefix(prefix)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn parse_prefix(value: &str) -> Result<&str, &'static str> {
    if !value.starts_with('/') {
        return Err("must start with \"/\"");
    }
    if value == "/" {
        return Ok(value);
    }
    let trimmed = value.strip_suffix('/').unwrap_or(value);
    if !upstream::is_clean_path(trimmed) {
        return Err(
            "must be made of non-empty segments other than \".\" and \"..\", \
                    using only characters allowed in a URL path (no '?', '#' or '\\')",
        );
    }
    Ok(trimmed)
}

fn parse_methods(names: Vec<String>) -> Result<Vec<Method>, String> {
    if names.is_empty() {
        return Err(
            "is empty, which would match no request; leave methods out to allow any \
                    method"
                .to_owned(),
        );
    }
    names
        .iter()
        .map(|name| {
            let uppercase = !name.bytes().any(|b| b.is_ascii_lowercase());
            match Method::from_bytes(name.as_bytes()) {
                Ok(method) if uppercase => Ok(method),
                _ => Err(format!(
                    "entry {name:?} is not an uppercase HTTP method name such as \"GET\" \
                     (method names are case-sensitive)"
                )),
            }
        })
        .collect()
}
