//! Host patterns: `api.example.com`, `*.example.com`, `127.0.0.1` or `[::1]`.

/// A validated host pattern, stored lowercase without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostPattern {
    /// The pattern as it is shown back (`*.example.com` for a wildcard).
    text: String,
    wildcard: bool,
}

/// How closely a host pattern matched; the route table prefers the higher one when
/// two routes have the same path prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum HostMatch {
    /// The route has no host and takes any.
    Any,
    /// A `*.example.com` pattern matched.
    Wildcard,
    /// The exact host matched.
    Exact,
}

impl HostPattern {
    /// Parses a configured host; the error explains what is wrong with it.
    pub(super) fn parse(value: &str) -> Result<HostPattern, &'static str> {
        let lower = value.to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        if lower == "*" {
            return Err("must not be \"*\": leave host out to match any host");
        }
        let (wildcard, name) = match lower.strip_prefix("*.") {
            Some(name) => (true, name),
            None => (false, lower),
        };
        if name.contains('*') {
            return Err("may only use \"*\" as the whole first label, as in \"*.example.com\"");
        }
        if name.starts_with('[') {
            if wildcard {
                return Err("cannot combine a wildcard with an IPv6 address");
            }
            let inner = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
            let is_ipv6 = inner.is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
            if !is_ipv6 {
                return Err("is not a valid bracketed IPv6 address such as \"[::1]\"");
            }
        } else if name.contains(':') {
            return Err("must not include a port: the request's port is ignored when matching");
        } else if !is_dns_name(name) {
            return Err(
                "must be a DNS name made of letters, digits, '-' and '_' separated by dots",
            );
        }
        Ok(HostPattern {
            text: lower.to_owned(),
            wildcard,
        })
    }

    /// The pattern, lowercase.
    pub(super) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `host` (a request's host, port already removed) matches, and how.
    pub(super) fn matches(&self, host: &str) -> Option<HostMatch> {
        let host = host.as_bytes();
        if self.wildcard {
            // `text` is "*.example.com": keep ".example.com" so at least one label
            // must come before it, and "example.com" itself does not match.
            let suffix = self.text.as_bytes().get(1..).unwrap_or_default();
            let tail = host
                .len()
                .checked_sub(suffix.len())
                .filter(|start| *start > 0)?;
            let matched = host
                .get(tail..)
                .is_some_and(|t| t.eq_ignore_ascii_case(suffix));
            matched.then_some(HostMatch::Wildcard)
        } else {
            host.eq_ignore_ascii_case(self.text.as_bytes())
                .then_some(HostMatch::Exact)
        }
    }
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The host part of a request's `Host` (or URI authority): `:port` removed, also after
/// a bracketed IPv6 address, and a trailing dot removed (`example.com.` is the same
/// name as `example.com`).
pub(super) fn request_host(host: &str) -> &str {
    let name = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => host.get(..=end).unwrap_or(host),
            None => host,
        }
    } else {
        match host.rsplit_once(':') {
            // More than one colon without brackets is not host:port; leave it alone.
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => host,
        }
    };
    name.strip_suffix('.').unwrap_or(name)
}
