//! Redirect URIs (RFC 6749 §3.1.2): which ones a client may register, and whether the
//! one an authorization request presents is one of them.
//!
//! Matching is exact string comparison (RFC 9700 §4.1.3): no case folding, no
//! trailing-slash, default-port or percent-decoding tolerance, because every
//! tolerance has been an open redirect somewhere. The one exception is RFC 8252 §7.3:
//! a native app listening on a loopback IP literal may present any port, since the
//! operating system picks it at run time. `localhost` gets no such exception (RFC 8252
//! §8.3 prefers IP literals; the name can resolve elsewhere).
//!
//! Registration is strict, so that what is stored is one unambiguous spelling: the
//! hand-written parser below refuses anything a browser or a server might read
//! differently (backslashes, userinfo, percent-encoded hosts, dot segments, explicit
//! default ports, non-canonical IP addresses) instead of normalizing it.
//!
//! A presented URI that does not match must be shown as an error page and never
//! redirected to (RFC 6749 §4.1.2.1), so errors never echo the URI: it is
//! attacker-controlled.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest redirect URI accepted, in bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// Why a redirect URI is refused. At registration every variant is RFC 7591's
/// `invalid_redirect_uri`; at the authorization endpoint it is an error page. The
/// message is a safe `error_description` and never contains the URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RedirectError {
    /// Longer than [`MAX_REDIRECT_URI_LEN`].
    #[error("redirect_uri is longer than 2000 characters")]
    TooLong,
    /// Whitespace, a control or non-ASCII character, a backslash, or another byte
    /// RFC 3986 does not allow in a URI.
    #[error(
        "redirect_uri contains a character not allowed in a URI, such as whitespace, a control character, non-ASCII text or a backslash"
    )]
    InvalidCharacter,
    /// A `%` not followed by two hexadecimal digits.
    #[error("redirect_uri has a malformed percent-encoding")]
    BadPercentEncoding,
    /// Empty, relative, or without a valid scheme.
    #[error("redirect_uri must be an absolute URI")]
    NotAbsolute,
    /// A fragment, which RFC 6749 §3.1.2 forbids.
    #[error("redirect_uri must not contain a fragment")]
    Fragment,
    /// A scheme other than https, http or a private-use scheme (RFC 8252 §7.1).
    #[error(
        "redirect_uri scheme must be https, http on a loopback host, or a lowercase private-use scheme in reverse-domain form such as com.example.app"
    )]
    SchemeNotAllowed,
    /// `http` to a host other than a loopback one (RFC 8252 §7.3, §8.3).
    #[error("redirect_uri may use http only with the host 127.0.0.1, [::1] or localhost")]
    InsecureHttp,
    /// A userinfo component (`user@host`), which makes the host ambiguous to readers.
    #[error("redirect_uri must not contain user information")]
    UserInfo,
    /// A missing host, or one that is not a lowercase DNS name or canonical IP address.
    #[error("redirect_uri host must be a lowercase DNS name or a canonical IP address")]
    InvalidHost,
    /// A port that is empty, zero, out of range, has leading zeros, or is the
    /// scheme's default.
    #[error(
        "redirect_uri port must be 1 to 65535 without leading zeros, and omitted when it is the default for the scheme"
    )]
    InvalidPort,
    /// A dot segment, or an encoded slash or backslash, in the path.
    #[error("redirect_uri path must not contain dot segments or encoded slashes or backslashes")]
    InvalidPath,
    /// A private-use URI not of the form `scheme:/path` (RFC 8252 §7.1).
    #[error(
        "a private-use redirect_uri must be the scheme, a colon and a single slash, as in com.example.app:/callback"
    )]
    PrivateUseForm,
    /// The presented URI matches none registered for the client.
    #[error("redirect_uri is not registered for this client")]
    NotRegistered,
}

impl RedirectError {
    /// A stable identifier for logs, audit events and tests; it never changes
    /// meaning, while the message may be reworded.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLong => "redirect_uri_too_long",
            Self::InvalidCharacter => "redirect_uri_invalid_character",
            Self::BadPercentEncoding => "redirect_uri_bad_percent_encoding",
            Self::NotAbsolute => "redirect_uri_not_absolute",
            Self::Fragment => "redirect_uri_fragment",
            Self::SchemeNotAllowed => "redirect_uri_scheme_not_allowed",
            Self::InsecureHttp => "redirect_uri_insecure_http",
            Self::UserInfo => "redirect_uri_userinfo",
            Self::InvalidHost => "redirect_uri_invalid_host",
            Self::InvalidPort => "redirect_uri_invalid_port",
            Self::InvalidPath => "redirect_uri_invalid_path",
            Self::PrivateUseForm => "redirect_uri_private_use_form",
            Self::NotRegistered => "redirect_uri_not_registered",
        }
    }
}

/// What sort of endpoint a registered URI points at. This module does not know which
/// client registers a URI; registration may use this to keep loopback and private-use
/// URIs for native clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedirectKind {
    /// An `https` URI.
    Https,
    /// `http` on `127.0.0.1`, `[::1]` or `localhost`: a native app's local listener.
    Loopback,
    /// A private-use scheme such as `com.example.app:/callback` (RFC 8252 §7.1).
    PrivateUse,
}

/// Which matching rule a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// Every client that is not a native app (web servers, and browser apps too):
    /// exact matching only.
    Confidential,
    /// A native app (RFC 8252): exact matching, plus any port on a registered
    /// loopback IP literal.
    Native,
}

/// A redirect URI fit to register: absolute, no fragment or userinfo, https (http
/// only on loopback) or a private-use scheme, at most 2000 bytes. It keeps the exact
/// string, because matching compares strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri {
    text: Box<str>,
    kind: RedirectKind,
    /// For `http://127.0.0.1` and `http://[::1]`: where the host ends and where the
    /// path begins, so that a presented URI can be compared on both sides of its port.
    loopback_ip: Option<(usize, usize)>,
}

impl RedirectUri {
    /// Parses a URI offered for registration.
    pub fn parse(s: &str) -> Result<Self, RedirectError> {
        if s.len() > MAX_REDIRECT_URI_LEN {
            return Err(RedirectError::TooLong);
        }
        if !s.bytes().all(is_uri_char) {
            return Err(RedirectError::InvalidCharacter);
        }
        if s.contains('#') {
            return Err(RedirectError::Fragment);
        }
        check_percent_encoding(s)?;
        let (scheme, rest) = split_scheme(s).ok_or(RedirectError::NotAbsolute)?;
        match scheme {
            "https" => Self::hierarchical(s, scheme, rest, 443),
            "http" => Self::hierarchical(s, scheme, rest, 80),
            _ if is_private_use_scheme(scheme) => {
                // RFC 8252 §7.1: no naming authority, so exactly one slash; `//`
                // would make the next segment read as a host.
                if !rest.starts_with('/') || rest.starts_with("//") {
                    return Err(RedirectError::PrivateUseForm);
                }
                check_path(rest)?;
                Ok(Self {
                    text: s.into(),
                    kind: RedirectKind::PrivateUse,
                    loopback_ip: None,
                })
            }
            _ => Err(RedirectError::SchemeNotAllowed),
        }
    }

    /// `rest` is what follows `scheme:` in `s`; `default_port` is the scheme's.
    fn hierarchical(
        s: &str,
        scheme: &str,
        rest: &str,
        default_port: u16,
    ) -> Result<Self, RedirectError> {
        let after = rest.strip_prefix("//").ok_or(RedirectError::InvalidHost)?;
        let authority_len = after.find(['/', '?']).unwrap_or(after.len());
        let (authority, path_and_query) = after.split_at(authority_len);
        if authority.contains('@') {
            return Err(RedirectError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        check_host(host)?;
        check_port(port, default_port)?;
        check_path(path_and_query)?;

        let host_start = scheme.len() + "://".len();
        let host_end = host_start + host.len();
        let path_start = host_start + authority.len();
        let (kind, loopback_ip) = if default_port == 443 {
            (RedirectKind::Https, None)
        } else {
            match host {
                "127.0.0.1" | "[::1]" => (RedirectKind::Loopback, Some((host_end, path_start))),
                "localhost" => (RedirectKind::Loopback, None),
                _ => return Err(RedirectError::InsecureHttp),
            }
        };
        Ok(Self {
            text: s.into(),
            kind,
            loopback_ip,
        })
    }

    /// The URI exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What sort of endpoint this URI points at.
    pub fn kind(&self) -> RedirectKind {
        self.kind
    }

    /// Whether `presented` is this URI under the rule for `client`.
    fn accepts(&self, presented: &str, client: ClientKind) -> bool {
        *self.text == *presented
            || (client == ClientKind::Native && self.accepts_on_any_port(presented).is_some())
    }

    /// RFC 8252 §7.3: the same URI but for the port, which may be absent or any valid
    /// port. Only for registered loopback IP literals.
    fn accepts_on_any_port(&self, presented: &str) -> Option<()> {
        let (host_end, path_start) = self.loopback_ip?;
        let after_host = presented.strip_prefix(self.text.get(..host_end)?)?;
        let rest = match after_host.strip_prefix(':') {
            Some(port_and_rest) => {
                let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
                let (port, rest) = port_and_rest.split_at_checked(digits)?;
                parse_port(port)?;
                rest
            }
            None => after_host,
        };
        (rest == self.text.get(path_start..)?).then_some(())
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for RedirectUri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for RedirectUri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The registered URI that `presented` matches for a client of `kind`, if any: exact
/// string equality, or for a native client a registered loopback IP literal that
/// differs only in the port.
///
/// Redirect to `presented`, not to the returned URI, which may lack the port the
/// native app listens on; [`verify_redirect`] returns the right one.
pub fn matches<'a>(
    registered: &'a [RedirectUri],
    presented: &str,
    kind: ClientKind,
) -> Option<&'a RedirectUri> {
    registered.iter().find(|r| r.accepts(presented, kind))
}

/// A presented `redirect_uri` that matched one of the client's registered URIs: the
/// URI to redirect to and to bind the authorization code to (RFC 6749 §4.1.3 compares
/// the token request against it). Only [`verify_redirect`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedRedirect(Box<str>);

impl VerifiedRedirect {
    /// The URI as presented, port included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the authorization request's `redirect_uri` against the client's
/// registrations. On error, show an error page: never redirect to an unverified URI.
pub fn verify_redirect(
    registered: &[RedirectUri],
    presented: &str,
    kind: ClientKind,
) -> Result<VerifiedRedirect, RedirectError> {
    matches(registered, presented, kind)
        .map(|_| VerifiedRedirect(presented.into()))
        .ok_or(RedirectError::NotRegistered)
}

/// RFC 3986 characters: unreserved, reserved and `%`. Everything else, including
/// space, controls, `\`, `"`, `<`, `>`, `{`, `}`, `|`, `^`, `` ` `` and non-ASCII, is
/// refused rather than guessed at.
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// Every `%` starts a `%HH` escape; a stray one is read differently by each decoder.
fn check_percent_encoding(s: &str) -> Result<(), RedirectError> {
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
            );
            if !ok {
                return Err(RedirectError::BadPercentEncoding);
            }
        }
    }
    Ok(())
}

/// `scheme ":" rest`, with the scheme following RFC 3986 §3.1; `None` for a relative
/// reference.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// A lowercase reverse-domain scheme such as `com.example.app` (RFC 8252 §7.1): a dot
/// is what tells it apart from `javascript`, `data`, `file` and the like.
fn is_private_use_scheme(scheme: &str) -> bool {
    scheme.contains('.')
        && scheme.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-')
                })
        })
}

/// Splits `host[:port]`, where host may be a bracketed IPv6 literal.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), RedirectError> {
    let host_len = if authority.starts_with('[') {
        authority.find(']').ok_or(RedirectError::InvalidHost)? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, tail) = authority.split_at(host_len);
    if tail.is_empty() {
        Ok((host, None))
    } else {
        let port = tail.strip_prefix(':').ok_or(RedirectError::InvalidHost)?;
        Ok((host, Some(port)))
    }
}

/// A canonical IPv6 literal in brackets, a canonical dotted-quad IPv4 address, or a
/// lowercase DNS name. A name whose last label looks numeric is read as IPv4 by
/// browsers (`127.1`, `0x7f.1`), so it must be a canonical dotted quad instead.
fn check_host(host: &str) -> Result<(), RedirectError> {
    let ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // Zone identifiers (`%25eth0`) fail to parse, and the round trip refuses
        // upper-case hex and uncompressed spellings.
        inner
            .parse::<Ipv6Addr>()
            .is_ok_and(|ip| ip.to_string() == inner)
    } else {
        let last = host.rsplit('.').next().unwrap_or(host);
        let looks_numeric = last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x");
        if looks_numeric {
            host.parse::<Ipv4Addr>()
                .is_ok_and(|ip| ip.to_string() == host)
        } else {
            host.len() <= 253
                && host.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(RedirectError::InvalidHost)
    }
}

/// A port number from 1 to 65535, written in decimal without leading zeros.
fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.starts_with('0') || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

/// An explicit default port is refused: `https://a` and `https://a:443` are the same
/// place but different strings, and exact matching must not have to know that.
fn check_port(port: Option<&str>, default_port: u16) -> Result<(), RedirectError> {
    match port {
        None => Ok(()),
        Some(p) if parse_port(p).is_some_and(|n| n != default_port) => Ok(()),
        Some(_) => Err(RedirectError::InvalidPort),
    }
}

/// Browsers resolve dot segments (also percent-encoded ones) before they request a
/// URI, and servers disagree on whether an encoded slash or backslash separates
/// segments, so a registered path must contain none of them.
fn check_path(path_and_query: &str) -> Result<(), RedirectError> {
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path);
    let lower = path.to_ascii_lowercase();
    let dot_segment = lower
        .split('/')
        .any(|seg| matches!(seg, "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"));
    if dot_segment || lower.contains("%2f") || lower.contains("%5c") {
        Err(RedirectError::InvalidPath)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
