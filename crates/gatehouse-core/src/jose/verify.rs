//! Verifying a compact JWT: every check a token must pass, in an order that never
//! parses claims before the signature is good.

use super::claims::AccessClaims;
use super::{Alg, VerifyingKey, b64};
use crate::time::UnixTime;
use serde::Deserialize;

/// What a token must match.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// `iss`, exactly.
    pub issuer: &'a str,
    /// An audience `aud` must contain; `None` skips the check.
    pub audience: Option<&'a str>,
    /// The `typ` header (compared without case and an `application/` prefix, RFC 8725
    /// §3.11); `None` skips the check.
    pub typ: Option<&'a str>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (capped at 300).
    pub leeway_secs: i64,
    /// Longest token accepted, in bytes.
    pub max_len: usize,
}

impl Expected<'_> {
    /// Default size limit: far above any token Gatehouse issues, far below abuse.
    pub const MAX_LEN: usize = 8 * 1024;
}

/// A token that passed every check. Only [`verify_jwt`] makes one (`non_exhaustive`
/// keeps other crates from building it), so holding one proves the checks ran.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// The key that signed it.
    pub kid: String,
    /// Its algorithm.
    pub alg: Alg,
    /// Its claims.
    pub claims: AccessClaims,
}

/// Why a token was refused. [`TokenError::reason`] is the stable code for audit events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than the limit.
    #[error("token too large")]
    TooLarge,
    /// Not three base64url parts of JSON.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is not ES256, EdDSA or RS256 (includes `none` and HMAC).
    #[error("algorithm not allowed")]
    AlgNotAllowed,
    /// The header names a key source (`jku`, `x5u`, `jwk`, `x5c`).
    #[error("header parameter `{0}` is not accepted")]
    ForbiddenHeader(&'static str),
    /// The header marks an extension critical (`crit`); none are understood.
    #[error("unsupported critical header parameter")]
    UnknownCritical,
    /// `typ` is not the expected one.
    #[error("wrong token type")]
    WrongType,
    /// No key with the token's `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// The key found by `kid` is for another algorithm.
    #[error("algorithm does not match the key")]
    AlgMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A claim is missing or of the wrong type.
    #[error("invalid claims: {0}")]
    BadClaims(String),
    /// `iss` is not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
    /// Before `nbf`.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
}

impl TokenError {
    /// A stable snake_case reason for logs and audit events.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed(_) => "malformed",
            Self::AlgNotAllowed => "alg_not_allowed",
            Self::ForbiddenHeader(_) => "forbidden_header",
            Self::UnknownCritical => "unknown_critical",
            Self::WrongType => "wrong_type",
            Self::UnknownKey => "unknown_key",
            Self::AlgMismatch => "alg_mismatch",
            Self::BadSignature => "bad_signature",
            Self::BadClaims(_) => "bad_claims",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
        }
    }
}

/// The header members read; serde refuses a member given twice.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    #[serde(default)]
    jku: Option<serde_json::Value>,
    #[serde(default)]
    x5u: Option<serde_json::Value>,
    #[serde(default)]
    jwk: Option<serde_json::Value>,
    #[serde(default)]
    x5c: Option<serde_json::Value>,
}

/// Verifies `token` against the keys `find` returns by `kid`, for `expected`, at `now`.
pub fn verify_jwt<'k>(
    token: &str,
    find: impl Fn(&str) -> Option<&'k VerifyingKey>,
    expected: &Expected<'_>,
    now: UnixTime,
) -> Result<VerifiedToken, TokenError> {
    if token.len() > expected.max_len {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("a JWT has three parts"));
    };
    let header = b64::decode(header_b64).ok_or(TokenError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header)
        .map_err(|_| TokenError::Malformed("header is not a JSON object with an alg"))?;

    let alg = Alg::from_name(&header.alg).ok_or(TokenError::AlgNotAllowed)?;
    for (name, present) in [
        ("jku", header.jku.is_some()),
        ("x5u", header.x5u.is_some()),
        ("jwk", header.jwk.is_some()),
        ("x5c", header.x5c.is_some()),
    ] {
        if present {
            return Err(TokenError::ForbiddenHeader(name));
        }
    }
    if header.crit.is_some() {
        return Err(TokenError::UnknownCritical);
    }
    if let Some(want) = expected.typ
        && !header
            .typ
            .as_deref()
            .is_some_and(|t| same_media_type(t, want))
    {
        return Err(TokenError::WrongType);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(&find)
        .ok_or(TokenError::UnknownKey)?;
    if key.alg() != alg {
        return Err(TokenError::AlgMismatch);
    }
    let signature =
        b64::decode(signature_b64).ok_or(TokenError::Malformed("signature is not base64url"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verifies(signing_input.as_bytes(), &signature) {
        return Err(TokenError::BadSignature);
    }

    let payload =
        b64::decode(payload_b64).ok_or(TokenError::Malformed("payload is not base64url"))?;
    let claims: AccessClaims =
        serde_json::from_slice(&payload).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    check_claims(&claims, expected, now)?;
    Ok(VerifiedToken {
        kid: key.kid().to_owned(),
        alg,
        claims,
    })
}

fn check_claims(
    claims: &AccessClaims,
    expected: &Expected<'_>,
    now: UnixTime,
) -> Result<(), TokenError> {
    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err(TokenError::WrongIssuer);
    }
    if let Some(audience) = expected.audience
        && !claims
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(audience))
    {
        return Err(TokenError::WrongAudience);
    }
    let now = now.as_millis().div_euclid(1000);
    let leeway = expected.leeway_secs.clamp(0, 300);
    if now >= claims.exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(TokenError::NotYetValid);
    }
    if claims
        .iat
        .is_some_and(|iat| iat > now.saturating_add(leeway))
    {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

/// `at+jwt` equals `application/at+jwt` and `AT+JWT` (RFC 7515 §4.1.9).
fn same_media_type(got: &str, want: &str) -> bool {
    let strip = |t: &str| {
        let t = t.trim();
        match t.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => t[12..].to_owned(),
            _ => t.to_owned(),
        }
    };
    strip(got).eq_ignore_ascii_case(&strip(want))
}
