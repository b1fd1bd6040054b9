//! `WWW-Authenticate` challenges (RFC 6750 §3 for bearer credentials, RFC 7617 for
//! Basic client authentication at the OAuth endpoints): written here only, so every
//! face names the same realm and the same error codes the same way.

use axum::http::{HeaderMap, HeaderValue, header};

/// The realm every challenge names.
const REALM: &str = "gatehouse";

/// What a refusal asks of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge<'a> {
    /// No credential was sent: the scheme and realm only, no error (RFC 6750 §3.1).
    Bearer,
    /// The request was malformed, e.g. two credentials (`invalid_request`).
    InvalidRequest,
    /// The credential is not valid (`invalid_token`), with a description or not.
    InvalidToken(Option<&'a str>),
    /// The credential lacks this scope (`insufficient_scope`).
    InsufficientScope(&'a str),
    /// Client authentication failed at an OAuth endpoint (RFC 6749 §5.2): Basic is
    /// the scheme offered.
    Basic,
}

impl Challenge<'_> {
    /// The header's value. Descriptions and scopes are quoted strings: a `"` or `\`
    /// in them is escaped rather than allowed to end the parameter.
    pub fn value(&self) -> HeaderValue {
        let text = match self {
            Self::Bearer => format!("Bearer realm=\"{REALM}\""),
            Self::InvalidRequest => format!("Bearer realm=\"{REALM}\", error=\"invalid_request\""),
            Self::InvalidToken(None) => {
                format!("Bearer realm=\"{REALM}\", error=\"invalid_token\"")
            }
            Self::InvalidToken(Some(description)) => format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(description)
            ),
            Self::InsufficientScope(scope) => format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
                quoted(scope)
            ),
            Self::Basic => format!("Basic realm=\"{REALM}\""),
        };
        HeaderValue::from_str(&text)
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"gatehouse\""))
    }

    /// Sets `WWW-Authenticate` in `headers`.
    pub fn insert_into(&self, headers: &mut HeaderMap) {
        headers.insert(header::WWW_AUTHENTICATE, self.value());
    }
}

/// The inside of a quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped, control
/// characters dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Challenge;

    fn text(challenge: Challenge<'_>) -> String {
        challenge.value().to_str().unwrap().to_owned()
    }

    #[test]
    fn each_challenge_reads_as_rfc_6750_writes_it() {
        assert_eq!(text(Challenge::Bearer), r#"Bearer realm="gatehouse""#);
        assert_eq!(
            text(Challenge::InvalidRequest),
            r#"Bearer realm="gatehouse", error="invalid_request""#
        );
        assert_eq!(
            text(Challenge::InvalidToken(None)),
            r#"Bearer realm="gatehouse", error="invalid_token""#
        );
        assert_eq!(
            text(Challenge::InvalidToken(Some("expired"))),
            r#"Bearer realm="gatehouse", error="invalid_token", error_description="expired""#
        );
        assert_eq!(
            text(Challenge::InsufficientScope("orders:read")),
            r#"Bearer realm="gatehouse", error="insufficient_scope", scope="orders:read""#
        );
        assert_eq!(text(Challenge::Basic), r#"Basic realm="gatehouse""#);
    }

    #[test]
    fn a_quote_in_a_description_cannot_end_it() {
        assert_eq!(
            text(Challenge::InvalidToken(Some("a\"b\\c\nd"))),
            r#"Bearer realm="gatehouse", error="invalid_token", error_description="a\"b\\cd""#
        );
    }
}
