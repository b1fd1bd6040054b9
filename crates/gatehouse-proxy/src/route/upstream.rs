//! Where a route sends its requests: `http://host[:port][/base/path]`.

use std::fmt;

use http::uri::{Authority, PathAndQuery};

/// A validated upstream address: plain HTTP, a host and optional port, and an optional
/// base path that every forwarded path is appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    authority: Authority,
    /// Either empty or `/seg[/seg...]`, never ending in `/`, so that joining it with a
    /// request path (which starts with `/`) cannot produce `//`.
    base_path: String,
}

/// Why an upstream address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Not of the form `scheme://authority[/path]`.
    #[error("is not an absolute URL; expected http://host[:port][/base/path]")]
    Malformed,
    /// An `https://` upstream.
    #[error(
        "uses https, but TLS upstreams are not supported yet; use http:// to an upstream \
         on a trusted network"
    )]
    TlsNotSupported,
    /// A scheme other than `http` or `https`.
    #[error("has an unsupported scheme; only http:// upstreams are supported")]
    UnsupportedScheme,
    /// A `user:password@` part: nothing would send it, and it would end up in logs
    /// wherever the route is printed.
    #[error("must not contain a user name or password (user@host)")]
    Userinfo,
    /// A `?query`: the client's query is forwarded, there is nothing to merge it with.
    #[error("must not contain a query (\"?...\"); the client's query is forwarded as is")]
    Query,
    /// A `#fragment`, which is never sent over HTTP.
    #[error("must not contain a fragment (\"#...\")")]
    Fragment,
    /// No host, or an unparsable host or port.
    #[error("must name a host, with an optional port between 1 and 65535")]
    BadAuthority,
    /// A base path with empty, `.` or `..` segments or characters not allowed in a path.
    #[error(
        "has an invalid base path: it must be made of non-empty segments other than \
         \".\" and \"..\", using only characters allowed in a URL path"
    )]
    BadBasePath,
}

impl Upstream {
    /// Parses `http://host[:port][/base/path]`; a trailing `/` on the base path is
    /// ignored.
    pub fn parse(value: &str) -> Result<Upstream, UpstreamError> {
        let (scheme, rest) = value.split_once("://").ok_or(UpstreamError::Malformed)?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(UpstreamError::TlsNotSupported);
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(UpstreamError::UnsupportedScheme);
        }
        if rest.contains('#') {
            return Err(UpstreamError::Fragment);
        }
        if rest.contains('?') {
            return Err(UpstreamError::Query);
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(UpstreamError::Userinfo);
        }
        let authority = Authority::try_from(authority).map_err(|_| UpstreamError::BadAuthority)?;
        // `Authority` accepts any digits as a port (`:99999`, or none after `:`).
        let has_port = authority.as_str().len() > authority.host().len();
        let port_ok = !has_port || authority.port_u16().is_some_and(|port| port != 0);
        if authority.host().is_empty() || !port_ok {
            return Err(UpstreamError::BadAuthority);
        }
        let base_path = path.trim_end_matches('/');
        if !base_path.is_empty() && !is_clean_path(base_path) {
            return Err(UpstreamError::BadBasePath);
        }
        Ok(Upstream {
            authority,
            base_path: base_path.to_owned(),
        })
    }

    /// The `host[:port]` to connect to.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The base path, empty or starting with `/` and never ending with one.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

/// True for `/seg[/seg...]` with non-empty segments other than `.` and `..`, made of
/// characters a URL path may hold. Shared with path prefix validation: both are joined
/// with request paths, where an empty or dot segment would change the meaning.
pub(super) fn is_clean_path(path: &str) -> bool {
    let Some(segments) = path.strip_prefix('/') else {
        return false;
    };
    let segments_ok = segments
        .split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    let chars_ok = !path.contains(['?', '#', '\\']) && PathAndQuery::try_from(path).is_ok();
    segments_ok && chars_ok
}
