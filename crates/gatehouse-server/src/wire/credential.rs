//! The one credential reader: what a request presents in `Authorization` and
//! `X-API-Key`, read by one rule for every endpoint, the gateway and forward auth.
//!
//! The rule: at most one credential header, present once. A repeated `Authorization`
//! or `X-API-Key` (even with the same value) or both headers at once is ambiguous and
//! refused — two readers taking different copies is how a request authenticated by one
//! key gets attributed to another. Callers map [`CredentialError`] to their own
//! protocol's answer (problem+json, RFC 6750, RFC 6749 §5.2) and keep the audit reason
//! `ambiguous_credential`.

use axum::http::{HeaderMap, header};

/// Header carrying an API key, as an alternative to `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// A credential as presented, not yet checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// `Authorization: Bearer <value>` (the value trimmed; it may be empty).
    Bearer(&'a str),
    /// `Authorization: Basic <value>` (the base64 text, trimmed, not decoded).
    Basic(&'a str),
    /// `X-API-Key: <value>` (trimmed).
    ApiKey(&'a str),
}

/// Why no single credential could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    /// No `Authorization` and no `X-API-Key`.
    Missing,
    /// A repeated `Authorization` or `X-API-Key`, or both headers.
    Ambiguous,
    /// `Authorization` with a scheme the caller does not take, or no scheme at all, or
    /// a value that is not visible ASCII.
    WrongScheme,
    /// An `X-API-Key` value that is not visible ASCII.
    Unreadable,
}

/// The schemes a caller takes in `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schemes {
    /// `Bearer` only (API endpoints, the gateway, userinfo).
    Bearer,
    /// `Bearer` or `Basic` (introspection and revocation, where a client may send its
    /// Basic credentials or an API key).
    BearerOrBasic,
    /// `Basic` only (client authentication at the token endpoint).
    Basic,
}

/// Reads the one credential of `headers`: `Authorization` in one of `schemes`, or
/// `X-API-Key` (any of them at most once, and not both).
pub fn presented(headers: &HeaderMap, schemes: Schemes) -> Result<Presented<'_>, CredentialError> {
    let authorization = single(headers, header::AUTHORIZATION.as_str())?;
    let api_key = single(headers, API_KEY_HEADER)?;
    match (authorization, api_key) {
        (Some(_), Some(_)) => Err(CredentialError::Ambiguous),
        (None, None) => Err(CredentialError::Missing),
        (None, Some(value)) => value
            .to_str()
            .map(|v| Presented::ApiKey(v.trim()))
            .map_err(|_| CredentialError::Unreadable),
        (Some(value), None) => {
            let value = value.to_str().map_err(|_| CredentialError::WrongScheme)?;
            let (scheme, rest) = value.split_once(' ').ok_or(CredentialError::WrongScheme)?;
            let bearer = scheme.eq_ignore_ascii_case("bearer");
            let basic = scheme.eq_ignore_ascii_case("basic");
            match schemes {
                Schemes::Bearer | Schemes::BearerOrBasic if bearer => {
                    Ok(Presented::Bearer(rest.trim()))
                }
                Schemes::Basic | Schemes::BearerOrBasic if basic => {
                    Ok(Presented::Basic(rest.trim()))
                }
                _ => Err(CredentialError::WrongScheme),
            }
        }
    }
}

/// The RFC 6749 §5.2 answer to an ambiguous credential at the OAuth endpoints: a
/// request that "utilizes more than one mechanism for authenticating the client" is an
/// `invalid_request`.
pub fn ambiguous_oauth() -> gatehouse_core::oauth::OAuthError {
    gatehouse_core::oauth::OAuthError::InvalidRequest(
        "send one Authorization header, and no X-API-Key beside it".into(),
    )
}

/// The value of `name` if it is present exactly once; a second line is ambiguous.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a axum::http::HeaderValue>, CredentialError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        (_, Some(_)) => Err(CredentialError::Ambiguous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn one_bearer_or_one_api_key_is_read() {
        let bearer = headers(&[("authorization", "Bearer  abc ")]);
        assert_eq!(
            presented(&bearer, Schemes::Bearer),
            Ok(Presented::Bearer("abc"))
        );
        let lower = headers(&[("authorization", "bearer abc")]);
        assert_eq!(
            presented(&lower, Schemes::Bearer),
            Ok(Presented::Bearer("abc"))
        );
        let key = headers(&[("x-api-key", "gk_x")]);
        assert_eq!(
            presented(&key, Schemes::Bearer),
            Ok(Presented::ApiKey("gk_x"))
        );
        assert_eq!(
            presented(&HeaderMap::new(), Schemes::Bearer),
            Err(CredentialError::Missing)
        );
    }

    #[test]
    fn a_repeated_header_is_ambiguous_even_with_the_same_value() {
        for lines in [
            &[("authorization", "Bearer a"), ("authorization", "Bearer b")][..],
            &[("authorization", "Bearer a"), ("authorization", "Bearer a")],
            &[("x-api-key", "a"), ("x-api-key", "a")],
            &[("authorization", "Bearer a"), ("x-api-key", "a")],
            &[("authorization", "Basic a"), ("x-api-key", "a")],
            &[("authorization", "Basic a"), ("authorization", "Basic a")],
        ] {
            for schemes in [Schemes::Bearer, Schemes::Basic, Schemes::BearerOrBasic] {
                assert_eq!(
                    presented(&headers(lines), schemes),
                    Err(CredentialError::Ambiguous),
                    "{lines:?}"
                );
            }
        }
    }

    #[test]
    fn a_scheme_the_caller_does_not_take_is_the_wrong_scheme() {
        let basic = headers(&[("authorization", "Basic YTpi")]);
        assert_eq!(
            presented(&basic, Schemes::Bearer),
            Err(CredentialError::WrongScheme)
        );
        assert_eq!(
            presented(&basic, Schemes::Basic),
            Ok(Presented::Basic("YTpi"))
        );
        assert_eq!(
            presented(&basic, Schemes::BearerOrBasic),
            Ok(Presented::Basic("YTpi"))
        );
        let bearer = headers(&[("authorization", "Bearer t")]);
        assert_eq!(
            presented(&bearer, Schemes::Basic),
            Err(CredentialError::WrongScheme)
        );
        for odd in ["Digest x", "Bearer", "token"] {
            let odd = headers(&[("authorization", odd)]);
            assert_eq!(
                presented(&odd, Schemes::BearerOrBasic),
                Err(CredentialError::WrongScheme)
            );
        }
    }

    #[test]
    fn non_ascii_values_are_refused() {
        let mut map = HeaderMap::new();
        map.insert("x-api-key", HeaderValue::from_bytes(b"gk_\xff").unwrap());
        assert_eq!(
            presented(&map, Schemes::Bearer),
            Err(CredentialError::Unreadable)
        );
        let mut map = HeaderMap::new();
        map.insert(
            "authorization",
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(
            presented(&map, Schemes::Bearer),
            Err(CredentialError::WrongScheme)
        );
    }
}
