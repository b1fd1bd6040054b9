//! The original request a forward-auth check asks about, read from the one source the
//! configured proxy writes, and nothing else.

use super::PATH;
use crate::config::ForwardAuthProxy;
use crate::wire::problem;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use gatehouse_proxy::hygiene::{folds_to, is_gatehouse};

/// What the client asked the proxy for.
#[derive(Debug)]
pub struct Original {
    /// The method.
    pub method: Method,
    /// The request target (origin form).
    pub uri: Uri,
    /// The host, when the proxy says.
    pub host: Option<String>,
}

/// Why a check is refused before its credential is looked at: each is 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unclear {
    /// An `X-Gatehouse-*` header in some spelling: only the client can have sent it,
    /// and the proxy would pass it on to the upstream.
    #[error("the request carries an X-Gatehouse-* header, which only Gatehouse may set")]
    IdentityHeader,
    /// A forwarding header that the configured proxy does not write: the client's.
    #[error("{0} is not what [forward_auth] proxy reads the original request from")]
    ForeignHeader(&'static str),
    /// A forwarding header the proxy writes, sent more than once.
    #[error("{0} appears more than once")]
    Repeated(&'static str),
    /// A forwarding header the proxy always writes is missing: the proxy is not the
    /// configured one, or not configured as documented.
    #[error("{0} is missing: the proxy in front does not send what [forward_auth] proxy names")]
    Missing(&'static str),
    /// A forwarding header whose value is not a method, an origin-form URI or a host.
    #[error("{0} is not a valid value")]
    Malformed(&'static str),
}

impl Unclear {
    /// The stable code of the problem answer and the audit reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IdentityHeader => "client_sent_identity_header",
            Self::ForeignHeader(_) => "conflicting_forwarded_headers",
            Self::Repeated(_) => "repeated_forwarded_header",
            Self::Missing(_) => "missing_forwarded_header",
            Self::Malformed(_) => "malformed_forwarded_header",
        }
    }

    /// The 400 answer.
    pub fn response(&self) -> Response {
        problem(
            StatusCode::BAD_REQUEST,
            self.code(),
            self.to_string(),
            HeaderMap::new(),
        )
    }
}

/// The forwarding headers of every supported proxy, by which part of the original
/// request they carry, in their folded spelling (`-`, any case).
const METHOD_HEADERS: [&str; 2] = ["x-forwarded-method", "x-original-method"];
const URI_HEADERS: [&str; 4] = [
    "x-forwarded-uri",
    "x-original-uri",
    "x-original-url",
    "x-rewrite-url",
];
const HOST_HEADERS: [&str; 2] = ["x-forwarded-host", "x-original-host"];

/// The headers `proxy` writes: method, URI, host. `None`: taken from the check
/// request itself.
fn headers_of(proxy: ForwardAuthProxy) -> Option<[&'static str; 3]> {
    match proxy {
        ForwardAuthProxy::Envoy => None,
        ForwardAuthProxy::Nginx => {
            Some(["x-forwarded-method", "x-original-uri", "x-forwarded-host"])
        }
        ForwardAuthProxy::Traefik => {
            Some(["x-forwarded-method", "x-forwarded-uri", "x-forwarded-host"])
        }
    }
}

/// Reads the original request as `proxy` describes it, refusing a check whose headers
/// leave any doubt about it.
pub fn read(req: &Request, proxy: ForwardAuthProxy) -> Result<Original, Unclear> {
    let headers = req.headers();
    let read_by_proxy = headers_of(proxy);
    for name in headers.keys() {
        let name = name.as_str();
        if is_gatehouse(name) {
            return Err(Unclear::IdentityHeader);
        }
        // Every spelling of every proxy's forwarding headers: only the exact names the
        // configured proxy writes may appear.
        if let Some(known) = forwarding(name) {
            let ours = read_by_proxy.is_some_and(|ours| ours.contains(&name));
            if !ours {
                return Err(Unclear::ForeignHeader(known));
            }
        }
    }
    let Some([method, uri, host]) = read_by_proxy else {
        let host = once(headers, header::HOST.as_str())?;
        return Ok(Original {
            method: req.method().clone(),
            uri: envoy_path(req.uri()),
            host: host.map(str::to_owned),
        });
    };
    let required = |name: &'static str| once(headers, name)?.ok_or(Unclear::Missing(name));
    let method_text = required(method)?;
    let uri_text = required(uri)?;
    let host_text = required(host)?;
    let method =
        Method::from_bytes(method_text.as_bytes()).map_err(|_| Unclear::Malformed(method))?;
    let uri = uri_text
        .parse::<Uri>()
        .ok()
        .filter(|u| u.scheme().is_none() && u.authority().is_none())
        .ok_or(Unclear::Malformed(uri))?;
    Ok(Original {
        method,
        uri,
        host: Some(host_text.to_owned()),
    })
}

/// The one value of `name`, if any; refused when repeated or not text.
fn once<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, Unclear> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Unclear::Repeated(name));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| Unclear::Malformed(name))
}

/// The forwarding header `name` folds to (any case; `-`, `_`, `.` alike), if any.
fn forwarding(name: &str) -> Option<&'static str> {
    METHOD_HEADERS
        .iter()
        .chain(&URI_HEADERS)
        .chain(&HOST_HEADERS)
        .find(|known| folds_to(name, known))
        .copied()
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
