//! Who is calling a route, and may they: the one decision the gateway and forward auth
//! share. Credentials are checked by core (keys through the in-memory index, tokens
//! through the verified-token cache or an external issuer's keys); the route's scopes
//! and rate limit come after.

use super::Gateway;
use crate::access_tokens::{CacheKey, Rejection};
use crate::ca::Standing;
use crate::config::RoutePolicy;
use crate::issuers::{ExternalRejection, unverified_issuer};
use crate::state::AppState;
use crate::wire::credential::{self, CredentialError, Schemes};
use axum::http::{HeaderMap, HeaderName, header};
use gatehouse_core::api_key::{ApiKey, Denial};
use gatehouse_core::auth::{AuthMethod, Authenticated};
use gatehouse_core::jose::{TokenError, VerifiedToken};
use gatehouse_core::mtls::CertIdentity;
use gatehouse_core::rate_limit::BucketState;
use gatehouse_core::scope::Scope;
use std::sync::Arc;

/// Header carrying an API key, as an alternative to `Authorization: Bearer` (the one
/// credential reader's, `wire::credential`).
const API_KEY_HEADER: HeaderName = HeaderName::from_static(credential::API_KEY_HEADER);

/// The headers a credential may arrive in: removed before forwarding unless the route
/// forwards the credential.
pub const CREDENTIAL_HEADERS: [HeaderName; 2] = [header::AUTHORIZATION, API_KEY_HEADER];

/// A request the route refuses, and who it was when the credential was good.
#[derive(Debug)]
pub struct Refused {
    /// Why.
    pub denied: Denied,
    /// The caller, when authentication succeeded and authorization did not.
    pub who: Option<Authenticated>,
}

/// A request the route lets through.
#[derive(Debug)]
pub struct Allowed {
    /// The caller.
    pub who: Authenticated,
    /// The route's rate limit after this request, when it has one.
    pub rate: Option<BucketState>,
}

/// Why a request is refused. Each maps to one status and one stable code
/// (`respond.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No credential, or one in a form the route does not take.
    Missing,
    /// Both `Authorization` and `X-API-Key`, or either of them repeated.
    Ambiguous,
    /// An API key that is malformed or refused by the index.
    InvalidKey(&'static str),
    /// A token that is malformed, forged, expired, revoked, for another audience….
    InvalidToken(&'static str),
    /// A client certificate Gatehouse revoked.
    InvalidCertificate(&'static str),
    /// A credential of a kind this route does not accept.
    NotAccepted(AuthMethod),
    /// Authenticated, but without a scope the route requires.
    InsufficientScope(Scope),
    /// Over a rate limit: the credential's own or the route's.
    RateLimited(BucketState),
    /// The issuer's keys cannot be fetched: not the caller's fault (503).
    IssuerUnavailable,
}

impl Denied {
    /// The stable reason for the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing_credential",
            Self::Ambiguous => "ambiguous_credential",
            Self::InvalidKey(r) | Self::InvalidToken(r) | Self::InvalidCertificate(r) => r,
            Self::NotAccepted(_) => "credential_not_accepted",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::RateLimited(_) => "rate_limited",
            Self::IssuerUnavailable => "issuer_unavailable",
        }
    }
}

/// The credential as presented: an API key already parsed, or a token not yet checked.
enum Presented<'a> {
    ApiKey(ApiKey),
    Token(&'a str),
}

/// Authenticates the request's credential for `route` — a header credential, else the
/// connection's verified client certificate — then authorizes it: scopes, then the
/// route's rate limit.
pub async fn decide(
    state: &AppState,
    gateway: &Gateway,
    route: &str,
    policy: &RoutePolicy,
    headers: &HeaderMap,
    client_cert: Option<&CertIdentity>,
) -> Result<Allowed, Refused> {
    let who = authenticate(state, gateway, policy, headers, client_cert)
        .await
        .map_err(|denied| Refused { denied, who: None })?;
    let refuse = |denied, who| {
        Err(Refused {
            denied,
            who: Some(who),
        })
    };
    if let Some(missing) = policy
        .require_scopes
        .iter()
        .find(|s| !who.scopes().grants(s.as_str()))
    {
        return refuse(Denied::InsufficientScope(missing.clone()), who);
    }
    let rate = match policy.rate_limit {
        None => None,
        Some(rate) => {
            let now = state.clock.now();
            let taken = gateway.limits.take(route, who.credential_id(), rate, now);
            if taken.retry_after_ms.is_some() {
                return refuse(Denied::RateLimited(taken), who);
            }
            Some(taken)
        }
    };
    Ok(Allowed { who, rate })
}

async fn authenticate(
    state: &AppState,
    gateway: &Gateway,
    policy: &RoutePolicy,
    headers: &HeaderMap,
    client_cert: Option<&CertIdentity>,
) -> Result<Authenticated, Denied> {
    let presented = match (presented(headers), client_cert) {
        (Err(Denied::Missing), Some(cert)) => {
            if !policy.auth.mtls {
                return Err(Denied::NotAccepted(AuthMethod::Mtls));
            }
            return certificate_holder(state, cert);
        }
        (presented, _) => presented?,
    };
    match presented {
        Presented::ApiKey(key) => {
            if !policy.auth.api_key {
                return Err(Denied::NotAccepted(AuthMethod::ApiKey));
            }
            api_key(state, &key)
        }
        Presented::Token(raw) => {
            if !policy.auth.jwt {
                return Err(Denied::NotAccepted(AuthMethod::Jwt));
            }
            let (token, method) = token(state, gateway, raw).await?;
            check_token(&token, policy, client_cert)?;
            Authenticated::token_bearer(&token, method).ok_or(Denied::InvalidToken("no_subject"))
        }
    }
}

/// The credential from `Authorization: Bearer` or `X-API-Key`, exactly one, read by
/// the one credential reader. A bearer value that parses as an API key is one; anything
/// else there is a token.
fn presented(headers: &HeaderMap) -> Result<Presented<'_>, Denied> {
    match credential::presented(headers, Schemes::Bearer) {
        Ok(credential::Presented::ApiKey(key)) => ApiKey::parse(key)
            .map(Presented::ApiKey)
            .map_err(|_| Denied::InvalidKey("malformed")),
        Ok(credential::Presented::Bearer(value)) => Ok(match ApiKey::parse(value) {
            Ok(key) => Presented::ApiKey(key),
            Err(_) => Presented::Token(value),
        }),
        Err(CredentialError::Ambiguous) => Err(Denied::Ambiguous),
        Err(CredentialError::Unreadable) => Err(Denied::InvalidKey("malformed")),
        // Basic, Digest…: not a credential the gateway takes.
        Ok(credential::Presented::Basic(_))
        | Err(CredentialError::Missing | CredentialError::WrongScheme) => Err(Denied::Missing),
    }
}

fn api_key(state: &AppState, key: &ApiKey) -> Result<Authenticated, Denied> {
    // Scopes are the route's business (checked after, for every credential alike).
    let lookup = state.keys.verify(key, &[], state.clock.now());
    match lookup.decision {
        Ok(verified) => Ok(verified.who),
        Err(Denial::RateLimited(bucket)) => Err(Denied::RateLimited(bucket)),
        // The same codes the verify endpoint and the admin API record.
        Err(denial) => Err(Denied::InvalidKey(denial.code())),
    }
}

/// Checks a token: Gatehouse's own locally (no fetch), an external issuer's with its
/// keys. The `iss` read before verification only chooses whose keys to try.
async fn token(
    state: &AppState,
    gateway: &Gateway,
    raw: &str,
) -> Result<(Arc<VerifiedToken>, AuthMethod), Denied> {
    let now = state.clock.now();
    let own = |verified: Result<Arc<VerifiedToken>, Rejection>| {
        verified
            .map(|t| (t, AuthMethod::OAuth))
            .map_err(|r| match r {
                Rejection::Invalid(e) => Denied::InvalidToken(e.reason()),
                Rejection::Revoked => Denied::InvalidToken("revoked"),
            })
    };
    // A token seen before is answered from the cache, without decoding its payload.
    let key = CacheKey::of(raw);
    if let Some(verified) = state.access_tokens.verify_if_cached(&key, now) {
        return own(verified);
    }
    let issuer = unverified_issuer(raw).ok_or(Denied::InvalidToken("malformed"))?;
    if issuer == state.settings.public_url {
        let keys = &state.signing_keys;
        return own(state
            .access_tokens
            .verify_keyed(key, keys, raw, &issuer, now));
    }
    let issuers = gateway.issuers();
    let external = issuers
        .find(&issuer)
        .ok_or(Denied::InvalidToken(TokenError::WrongIssuer.reason()))?;
    external
        .verify(raw, now)
        .await
        .map(|t| (Arc::new(t), AuthMethod::Jwt))
        .map_err(|e| match e {
            ExternalRejection::Invalid(e) => Denied::InvalidToken(e.reason()),
            ExternalRejection::Unavailable => Denied::IssuerUnavailable,
        })
}

/// The holder of a verified client certificate. One the built-in CA issued carries
/// its scopes — unless revoked since, which ends connections already open at their
/// next request; one registered by fingerprint on an enabled `tls_client_auth` client
/// carries that client's scopes (SPEC §4); any other from a trusted CA proves who, and
/// may do only what needs no scope.
fn certificate_holder(state: &AppState, cert: &CertIdentity) -> Result<Authenticated, Denied> {
    let scopes = match state.certificates.standing(&cert.sha256) {
        Standing::Registered(scopes) => scopes,
        Standing::Revoked => return Err(Denied::InvalidCertificate("revoked_certificate")),
        Standing::Unknown => state
            .clients
            .by_certificate(&cert.fingerprint())
            .map(|c| c.scopes.clone())
            .unwrap_or_default(),
    };
    Ok(Authenticated::certificate_holder(cert, scopes))
}

/// What the route adds to a valid token: an audience it names, and, for a token bound
/// to a certificate (RFC 8705 §3), that very certificate on this connection — without
/// it the token is refused, never honoured as a plain bearer token.
fn check_token(
    token: &VerifiedToken,
    policy: &RoutePolicy,
    client_cert: Option<&CertIdentity>,
) -> Result<(), Denied> {
    if !policy.audiences.is_empty()
        && !token
            .claims
            .aud
            .as_ref()
            .is_some_and(|aud| policy.audiences.iter().any(|a| aud.contains(a)))
    {
        return Err(Denied::InvalidToken(TokenError::WrongAudience.reason()));
    }
    let Some(cnf) = &token.claims.cnf else {
        return Ok(());
    };
    let bound = cnf.x5t_s256.as_deref();
    match (bound, client_cert) {
        // A thumbprint is public (it is in the token): no need for constant time.
        (Some(thumbprint), Some(cert)) if thumbprint == cert.x5t_s256() => Ok(()),
        (Some(_), Some(_)) => Err(Denied::InvalidToken("certificate_binding_mismatch")),
        _ => Err(Denied::InvalidToken("certificate_binding_unproven")),
    }
}
