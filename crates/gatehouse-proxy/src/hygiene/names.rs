//! Request header names the client may not send on to the upstream, in every spelling
//! an upstream might read them in.
//!
//! CGI, WSGI, PHP, Rack and many frameworks fold a header name into a variable
//! (`HTTP_X_GATEHOUSE_SUBJECT`), mapping `-`, `_` and `.` alike, and compare without
//! case. So `X_Gatehouse_Subject` and `X.Gatehouse.Scopes` reach such an upstream as
//! the identity headers the gateway alone may set. Names are therefore compared in a
//! folded form: ASCII lowercase (which `http::HeaderName` already is), `_` and `.` as
//! `-`.

/// Prefix of the identity headers only the gateway itself may set, folded.
const GATEHOUSE_PREFIX: &[u8] = b"x-gatehouse-";

/// The longest folded name [`is_routing`] can match; longer names are not looked up.
const LONGEST_ROUTING: usize = 24;

/// Whether `name` folds to an `X-Gatehouse-*` name (any case; `-`, `_`, `.` alike).
pub fn is_gatehouse(name: &str) -> bool {
    let name = name.as_bytes();
    name.len() >= GATEHOUSE_PREFIX.len()
        && name
            .iter()
            .zip(GATEHOUSE_PREFIX)
            .all(|(&have, &want)| fold(have) == want)
}

/// Whether `name` folds to a header that tells an upstream where a request came from,
/// where it was going or which method it really is — information the client must not
/// supply: `Forwarded`, `X-Real-IP` and the other client-address headers, the
/// original-URL headers of rewriting proxies, the forward-auth headers, and the
/// method overrides. The gateway sets `X-Forwarded-For`, `-Proto`, `-Host` and
/// `X-Real-IP` itself.
pub fn is_routing(name: &str) -> bool {
    let name = name.as_bytes();
    if name.len() > LONGEST_ROUTING
        || !matches!(name.first(), Some(b'x' | b'f' | b't' | b'X' | b'F' | b'T'))
    {
        return false;
    }
    let mut folded = [0u8; LONGEST_ROUTING];
    for (slot, &byte) in folded.iter_mut().zip(name) {
        *slot = fold(byte);
    }
    matches!(
        &folded[..name.len()],
        b"forwarded"
            | b"x-real-ip"
            | b"x-client-ip"
            | b"true-client-ip"
            | b"x-cluster-client-ip"
            | b"x-original-url"
            | b"x-original-uri"
            | b"x-original-method"
            | b"x-rewrite-url"
            | b"x-forwarded-uri"
            | b"x-forwarded-method"
            | b"x-forwarded-prefix"
            | b"x-forwarded-path"
            | b"x-forwarded-port"
            | b"x-forwarded-server"
            | b"x-forwarded-scheme"
            | b"x-forwarded-ssl"
            | b"x-url-scheme"
            | b"front-end-https"
            | b"x-http-method-override"
            | b"x-method-override"
            | b"x-http-method"
    )
}

/// Whether `name` folds to `canonical` (lowercase, with `-`): `X_Forwarded_Uri` and
/// `x.forwarded.uri` fold to `x-forwarded-uri`.
pub fn folds_to(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len()
        && name
            .bytes()
            .zip(canonical.bytes())
            .all(|(have, want)| fold(have) == want)
}

/// Whether `name` has a spelling nginx refuses by default (`underscores_in_headers
/// off`): an underscore. Such a name can fold into another header's variable upstream.
pub fn has_underscore(name: &str) -> bool {
    name.as_bytes().contains(&b'_')
}

/// One byte of a name, folded: lowercase, with `_` and `.` as `-`.
fn fold(byte: u8) -> u8 {
    match byte {
        b'_' | b'.' => b'-',
        other => other.to_ascii_lowercase(),
    }
}
