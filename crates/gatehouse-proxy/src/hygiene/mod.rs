//! What may pass between client and upstream: request shapes refused before
//! forwarding, and headers removed or added in each direction.
//!
//! # What hyper 1.x already does (HTTP/1 server, measured in `tests/it/smuggling.rs`)
//!
//! - `Content-Length` together with `Transfer-Encoding: chunked`, in either order:
//!   hyper drops `Content-Length` from the header map, decodes the body as chunked and
//!   closes the connection after answering (RFC 9112 §6.1), so bytes after the chunked
//!   body are never parsed as a second request. The service sees a clean chunked
//!   request; [`Refusal::BothLengthAndChunked`] cannot arise behind it. Gatehouse's
//!   listener therefore refuses the shape itself, from the raw head, before hyper
//!   reads it (`gatehouse-server`'s `listener/head.rs`, with a bare LF line ending
//!   and a second `Host`, which hyper also accepts).
//! - Two equal `Content-Length` lines: hyper keeps one. Differing values, a list
//!   (`5, 5`), a sign (`+5`) or other non-digits: hyper answers 400 itself.
//! - A `Transfer-Encoding` whose last coding is not `chunked` (`gzip`,
//!   `chunked, gzip`), or any `Transfer-Encoding` in HTTP/1.0: hyper answers 400. But
//!   `gzip, chunked` and two `chunked` lines reach the service; [`check_request`]
//!   refuses them, as the gateway cannot relay a stacked coding faithfully.
//! - Obsolete line folding (a continuation line starting with a space) and
//!   whitespace before the colon (`Transfer-Encoding : chunked`): 400 from hyper.
//! - Paths: `.` and `..` segments, `%2e%2e`, `%2f`, `%5c`, `..;`, `%61` for `a` and
//!   a literal backslash all reach the service untouched (neither hyper nor `http::Uri`
//!   normalizes), as does the `*` of `OPTIONS *`.
//! - Header size: hyper's only bound is its read buffer (about 400 KiB by default), so
//!   SPEC §10's 16 KiB is enforced here ([`Refusal::HeadersTooLarge`]).
//!
//! So [`check_request`]'s framing rules are a second line of defence: they hold for
//! any front end (an HTTP/2 listener, a future hyper release, a test harness) rather
//! than relying on one parser's choices. Its path rules are the first line: hyper
//! passes dot segments and encoded slashes through untouched, and an upstream that
//! decodes or normalizes them could be steered outside the route's prefix.

mod names;
#[cfg(test)]
mod tests;

pub use names::{folds_to, is_gatehouse, is_routing};

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Why a request is refused before it is forwarded (each maps to 400 in the server,
/// except [`Refusal::HeadersTooLarge`], which maps to 431).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Both `Content-Length` and `Transfer-Encoding`: two parsers could disagree on
    /// where the body ends.
    #[error("the request has both Content-Length and Transfer-Encoding")]
    BothLengthAndChunked,
    /// More than one `Content-Length`, or a comma-separated list of them.
    #[error("the request has more than one Content-Length")]
    DuplicateContentLength,
    /// A `Content-Length` that is not a plain decimal number.
    #[error("the request's Content-Length is not a decimal number")]
    BadContentLength,
    /// A `Transfer-Encoding` other than a single `chunked`.
    #[error("the request's Transfer-Encoding is not supported; only \"chunked\" is")]
    UnsupportedTransferEncoding,
    /// Header names and values together exceed the limit.
    #[error("the request's headers are too large")]
    HeadersTooLarge,
    /// A dot segment, an encoded dot segment, an encoded slash or backslash, a
    /// backslash, or an encoded character that never needs encoding (`%61`) in the
    /// path: anything the upstream could read as a different path than the gateway.
    #[error("the request path contains a dot segment, an encoded slash or a backslash")]
    PathTraversal,
    /// A request target that is not an absolute path (`*`, or authority form), or a
    /// path with a malformed percent-encoding (`%zz`, a trailing `%`).
    #[error("the request target is not a path starting with \"/\"")]
    BadPath,
}

impl Refusal {
    /// A stable snake_case code for problem responses and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::BothLengthAndChunked => "ambiguous_length",
            Refusal::DuplicateContentLength => "duplicate_content_length",
            Refusal::BadContentLength => "bad_content_length",
            Refusal::UnsupportedTransferEncoding => "unsupported_transfer_encoding",
            Refusal::HeadersTooLarge => "headers_too_large",
            Refusal::PathTraversal => "path_traversal",
            Refusal::BadPath => "bad_path",
        }
    }
}

/// Checks a request head for smuggling shapes and unsafe paths; `max_header_bytes`
/// bounds the sum of name+value lengths.
pub fn check_request(head: &http::request::Parts, max_header_bytes: usize) -> Result<(), Refusal> {
    let header_bytes = head.headers.iter().fold(0usize, |sum, (name, value)| {
        sum.saturating_add(name.as_str().len() + value.len())
    });
    if header_bytes > max_header_bytes {
        return Err(Refusal::HeadersTooLarge);
    }
    check_framing(&head.headers)?;
    check_path(head.uri.path())
}

fn check_framing(headers: &HeaderMap) -> Result<(), Refusal> {
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let mut encodings = headers.get_all(header::TRANSFER_ENCODING).iter();
    let length = lengths.next();
    let encoding = encodings.next();
    if length.is_some() && encoding.is_some() {
        return Err(Refusal::BothLengthAndChunked);
    }
    if let Some(length) = length {
        let bytes = length.as_bytes();
        if lengths.next().is_some() || bytes.contains(&b',') {
            return Err(Refusal::DuplicateContentLength);
        }
        // Digits only (`str::parse` would also take a leading `+`), and within u64.
        let digits = !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
        let fits = length.to_str().is_ok_and(|s| s.parse::<u64>().is_ok());
        if !(digits && fits) {
            return Err(Refusal::BadContentLength);
        }
    }
    let unsupported =
        |encoding: &HeaderValue| !encoding.as_bytes().eq_ignore_ascii_case(b"chunked");
    if encoding.is_some_and(unsupported) || encodings.next().is_some() {
        return Err(Refusal::UnsupportedTransferEncoding);
    }
    Ok(())
}

/// Checks the raw, still percent-encoded path. Anything an upstream might decode into
/// `/`, `\` or a dot segment is refused rather than normalized: a gateway that
/// normalizes differently from its upstream is how prefix-based access rules get
/// bypassed. For the same reason a percent-encoded character that never needs encoding
/// (`%61` for `a`, `%2e` for `.`) is refused: `/%61pi` would miss the `/api` route here
/// and mean `/api` upstream.
pub fn check_path(path: &str) -> Result<(), Refusal> {
    if !path.starts_with('/') {
        return Err(Refusal::BadPath);
    }
    if path.contains('\\') {
        return Err(Refusal::PathTraversal);
    }
    for escape in path.split('%').skip(1) {
        let decoded = escape
            .get(..2)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .ok_or(Refusal::BadPath)?;
        if decoded.is_ascii_alphanumeric() || b"-._~/\\".contains(&decoded) {
            return Err(Refusal::PathTraversal);
        }
    }
    let lower = path.to_ascii_lowercase();
    // `%25` is an encoded `%`: `%252f` becomes `%2f` after one decode, and some
    // upstreams decode twice.
    if ["%252f", "%255c"].iter().any(|e| lower.contains(e)) {
        return Err(Refusal::PathTraversal);
    }
    let dot_segment = lower.split('/').any(|segment| {
        // Some servers (Tomcat, Jetty) drop `;parameters` before resolving segments,
        // turning `..;x` into `..`.
        let segment = segment.split(';').next().unwrap_or(segment);
        let dots = segment.replace("%252e", ".");
        dots == "." || dots == ".."
    });
    if dot_segment {
        return Err(Refusal::PathTraversal);
    }
    Ok(())
}

/// What the proxy tells the upstream about the client.
#[derive(Debug, Clone, Copy)]
pub struct Forwarded<'a> {
    /// The address of the peer that connected to the gateway, as [`client_ip_text`]
    /// writes it (made once per connection, not once per request).
    pub client_ip: &'a str,
    /// `http` or `https`: how the client reached the gateway.
    pub proto: &'a str,
    /// The `Host` the client asked for, if any.
    pub host: Option<&'a str>,
}

/// A client's address as upstreams expect it in `X-Forwarded-For`: an IPv4 client on a
/// dual-stack listener shows up as `::ffff:a.b.c.d`, and is written as plain IPv4.
pub fn client_ip_text(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy `Proxy-Connection` and
/// `Keep-Alive`): they describe one connection and must not be relayed.
static HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// Headers through which a TLS-terminating proxy passes a client certificate. Only
/// the gateway's own mTLS listener may vouch for a certificate; a client-sent one
/// would let any client claim any certificate.
static CLIENT_CERT: [HeaderName; 5] = [
    HeaderName::from_static("client-cert"),
    HeaderName::from_static("client-cert-chain"),
    HeaderName::from_static("x-forwarded-client-cert"),
    HeaderName::from_static("x-client-cert"),
    HeaderName::from_static("ssl-client-cert"),
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Which client headers, beyond those always removed, a route removes.
#[derive(Debug, Clone, Copy)]
pub struct Strip<'a> {
    /// Names removed as they are, e.g. `authorization` or `x-api-key` when the
    /// credential is not to be forwarded.
    pub also: &'a [HeaderName],
    /// Remove every header whose name has an underscore (nginx's default): it can fold
    /// into another header's variable upstream. A route turns this off for an
    /// upstream that needs such headers; `X-Gatehouse-*` and routing headers in
    /// underscore spellings are removed either way.
    pub drop_underscored: bool,
}

/// Removes from request headers: hop-by-hop headers (Connection, Keep-Alive,
/// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization,
/// Proxy-Authenticate) and every header named in Connection; every header whose name
/// folds to `x-gatehouse-*` ([`is_gatehouse`]: any case, `-`, `_` and `.` alike);
/// the routing headers [`is_routing`] names (`Forwarded`, `X-Real-IP`,
/// `X-Original-URL`, the method overrides, …) in any such spelling; Client-Cert,
/// Client-Cert-Chain, X-Forwarded-Client-Cert, X-Client-Cert, SSL-Client-Cert; names
/// with an underscore unless `strip` keeps them; and the names in `strip.also`.
/// Then appends the client IP to X-Forwarded-For (comma-separated, keeping an
/// existing value), sets X-Forwarded-Proto, X-Forwarded-Host (the original Host) and
/// X-Real-IP (the client IP), replacing client-sent ones.
///
/// Call it before adding the gateway's own `X-Gatehouse-*` identity headers, which it
/// would otherwise remove. `Host` is left alone: remove it too to have the forwarder
/// send the upstream's own authority instead of the client's.
pub fn prepare_request(headers: &mut HeaderMap, forwarded: &Forwarded<'_>, strip: &Strip<'_>) {
    remove_where(headers, |name| {
        let text = name.as_str();
        CLIENT_CERT.contains(name)
            || names::is_gatehouse(text)
            || names::is_routing(text)
            || (strip.drop_underscored && names::has_underscore(text))
            || strip.also.contains(name)
    });

    let mut chain: Vec<u8> = Vec::new();
    for value in headers.get_all(&X_FORWARDED_FOR) {
        chain.extend_from_slice(value.as_bytes());
        chain.extend_from_slice(b", ");
    }
    chain.extend_from_slice(forwarded.client_ip.as_bytes());
    let chain =
        HeaderValue::from_bytes(&chain).or_else(|_| HeaderValue::from_str(forwarded.client_ip));
    set_or_remove(headers, &X_FORWARDED_FOR, chain.ok());
    set_or_remove(
        headers,
        &X_FORWARDED_PROTO,
        HeaderValue::from_str(forwarded.proto).ok(),
    );
    let host = forwarded
        .host
        .and_then(|host| HeaderValue::from_str(host).ok());
    set_or_remove(headers, &X_FORWARDED_HOST, host);
    set_or_remove(
        headers,
        &X_REAL_IP,
        HeaderValue::from_str(forwarded.client_ip).ok(),
    );
}

/// Removes hop-by-hop headers (and those named in Connection) from an upstream
/// response.
pub fn prepare_response(headers: &mut HeaderMap) {
    remove_where(headers, |_| false);
}

/// Removes the hop-by-hop headers, those named in Connection, and those `also` picks.
/// One pass over the names present, then a removal for each one found: a request
/// carries a handful of headers, far fewer than the names to look for.
fn remove_where(headers: &mut HeaderMap, also: impl Fn(&HeaderName) -> bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| HOP_BY_HOP.contains(name) || named.contains(name) || also(name))
        .cloned()
        .collect();
    for name in &doomed {
        headers.remove(name);
    }
}

fn set_or_remove(headers: &mut HeaderMap, name: &HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(value) => {
            headers.insert(name.clone(), value);
        }
        None => {
            headers.remove(name);
        }
    }
}
