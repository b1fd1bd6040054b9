//! The identity headers an upstream receives (SPEC §6), and the optional signed
//! `X-Gatehouse-Identity` JWT that lets an upstream trust them without trusting the
//! network.

use crate::state::AppState;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use gatehouse_core::auth::Authenticated;
use serde::Serialize;

/// Lifetime of an identity JWT: long enough to reach the upstream, too short to reuse.
const IDENTITY_TTL_SECS: i64 = 60;
/// `typ` of identity JWTs, so one is never mistaken for an access token.
pub const IDENTITY_TYP: &str = "gatehouse-identity+jwt";

const SUBJECT: HeaderName = HeaderName::from_static("x-gatehouse-subject");
const AUTH: HeaderName = HeaderName::from_static("x-gatehouse-auth");
const SCOPES: HeaderName = HeaderName::from_static("x-gatehouse-scopes");
const CREDENTIAL: HeaderName = HeaderName::from_static("x-gatehouse-credential");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-gatehouse-request-id");
const IDENTITY: HeaderName = HeaderName::from_static("x-gatehouse-identity");

/// A principal or credential id that cannot be sent as a header value (control
/// characters from an external issuer's `sub`, say): the request is refused rather
/// than forwarded with a mangled identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrepresentable;

/// Claims of an identity JWT.
#[derive(Serialize)]
struct IdentityClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    auth: &'a str,
    credential: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
}

/// Writes the identity headers for `who` into `headers` (replacing any), plus the
/// signed identity when `signed` names the route it is for.
pub fn write(
    state: &AppState,
    headers: &mut HeaderMap,
    who: &Authenticated,
    request_id: &str,
    signed: Option<&str>,
) -> Result<(), Unrepresentable> {
    let value = |s: &str| HeaderValue::from_str(s).map_err(|_| Unrepresentable);
    let scopes = who
        .scopes()
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    headers.insert(SUBJECT, value(who.principal())?);
    headers.insert(AUTH, HeaderValue::from_static(who.method().as_str()));
    headers.insert(SCOPES, value(&scopes)?);
    headers.insert(CREDENTIAL, value(who.credential_id())?);
    headers.insert(REQUEST_ID, value(request_id)?);
    if let Some(route) = signed {
        let now = state.clock.now().as_millis().div_euclid(1000);
        let claims = IdentityClaims {
            iss: &state.settings.public_url,
            sub: who.principal(),
            aud: route,
            iat: now,
            exp: now + IDENTITY_TTL_SECS,
            jti: request_id,
            auth: who.method().as_str(),
            credential: who.credential_id(),
            scope: &scopes,
        };
        let jwt = state
            .signing_keys
            .signer(state.clock.now())
            .and_then(|key| key.signer.sign_jwt(IDENTITY_TYP, &claims).ok());
        // No signing key is a broken server, not a broken request; forwarding without
        // the identity the route promised would be worse, so refuse.
        let jwt = jwt.ok_or(Unrepresentable)?;
        headers.insert(IDENTITY, value(&jwt)?);
    }
    Ok(())
}
