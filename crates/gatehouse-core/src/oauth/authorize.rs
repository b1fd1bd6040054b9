//! The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636): which requests
//! may proceed to login and consent, which get an error page, and which are sent back
//! to the client with an error.
//!
//! The order matters (RFC 6749 §4.1.2.1): until the client and its redirect URI are
//! known good, nothing may be redirected — an attacker could otherwise use Gatehouse as
//! an open redirector — so those failures are pages. After that, errors go back to the
//! client's redirect URI with `state` and `iss` (RFC 9207).

use super::client::{ClientRecord, GrantType};
use super::grant::granted_scopes;
use super::pkce::CodeChallenge;
use super::redirect::{VerifiedRedirect, verify_redirect};
use crate::scope::ScopeSet;

/// Longest `state` or `nonce` accepted, in bytes.
pub const MAX_STATE: usize = 512;

/// The query of `GET /oauth/authorize`, as received.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// Required here (RFC 6749 lets a client with one URI omit it; requiring it
    /// keeps the token request's exact-match check meaningful).
    pub redirect_uri: Option<String>,
    /// Space-separated; none means the client's scopes.
    pub scope: Option<String>,
    /// Opaque value returned to the client.
    pub state: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method: only `S256`.
    pub code_challenge_method: Option<String>,
    /// OpenID Connect nonce, echoed in the ID token.
    pub nonce: Option<String>,
    /// OpenID Connect `prompt`: space-separated `none`, `login`, `consent`.
    pub prompt: Option<String>,
    /// OpenID Connect request object (OIDC Core §6.1): not supported, so refused
    /// with `request_not_supported` rather than ignored — its claims may say
    /// something other than the query, and silently acting on the query would
    /// not be what the client asked.
    pub request: Option<String>,
    /// A request object by reference (OIDC Core §6.2): refused likewise, with
    /// `request_uri_not_supported`.
    pub request_uri: Option<String>,
}

/// What the client asked of the login and consent pages (OIDC Core §3.1.2.1
/// `prompt`). `select_account` and unknown values are ignored: there is one account
/// per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// Show no page: answer at once or redirect with `login_required` or
    /// `consent_required`.
    pub none: bool,
    /// Ask for the password even with a live session.
    pub login: bool,
    /// Ask for consent even when it was given before.
    pub consent: bool,
}

impl Prompt {
    /// Parses the space-separated values; `none` with any other is contradictory.
    fn parse(raw: Option<&str>) -> Result<Self, &'static str> {
        let mut prompt = Self::default();
        for value in raw.unwrap_or_default().split(' ') {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => {}
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(prompt)
    }
}

/// An authorization request that may proceed to login and consent.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The client.
    pub client_id: String,
    /// Where the answer goes, exactly as the client sent it.
    pub redirect_uri: VerifiedRedirect,
    /// Requested ∩ the client's scopes (narrowed again by the user's).
    pub scopes: ScopeSet,
    /// Returned to the client unchanged.
    pub state: Option<String>,
    /// The PKCE challenge the token request must answer.
    pub challenge: CodeChallenge,
    /// OpenID Connect nonce.
    pub nonce: Option<String>,
    /// Which pages must or must not be shown.
    pub prompt: Prompt,
}

/// Why an authorization request stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; never redirected (unknown client, bad redirect URI).
    Page {
        /// Stable code.
        code: &'static str,
        /// Safe to show.
        message: String,
    },
    /// Sent back to the client (RFC 6749 §4.1.2.1).
    Redirect {
        /// The verified redirect URI.
        redirect_uri: String,
        /// RFC 6749 error code.
        error: &'static str,
        /// Safe to show.
        description: String,
        /// The request's state, if any.
        state: Option<String>,
    },
}

/// Checks an authorization request against the client it names (`None` if unknown).
pub fn check(
    params: &AuthorizeParams,
    client: Option<&ClientRecord>,
) -> Result<Authorization, AuthorizeError> {
    let page = |code, message: &str| AuthorizeError::Page {
        code,
        message: message.to_owned(),
    };
    let client = client
        .filter(|c| c.enabled && c.allows(GrantType::AuthorizationCode))
        .ok_or_else(|| {
            page(
                "invalid_client",
                "unknown client, or one not allowed to ask for authorization",
            )
        })?;
    let presented = params
        .redirect_uri
        .as_deref()
        .ok_or_else(|| page("invalid_redirect_uri", "the request names no redirect_uri"))?;
    let redirect_uri =
        verify_redirect(&client.redirect_uris, presented, client.kind()).map_err(|_| {
            page(
                "invalid_redirect_uri",
                "the redirect_uri is not one this client registered",
            )
        })?;
    // `state` is echoed back, so an oversized or unprintable one is refused without it.
    let state = match &params.state {
        Some(s) if s.len() > MAX_STATE || s.chars().any(char::is_control) => {
            return Err(redirect(
                &redirect_uri,
                "invalid_request",
                "state is too long or unprintable",
                None,
            ));
        }
        other => other.clone(),
    };
    let fail =
        |error, description: &str| redirect(&redirect_uri, error, description, state.clone());
    if params.request.is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects (the request parameter) are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    let challenge = CodeChallenge::parse(
        params.code_challenge.as_deref().unwrap_or_default(),
        params.code_challenge_method.as_deref(),
    )
    .map_err(|e| fail("invalid_request", &e.to_string()))?;
    if params
        .nonce
        .as_ref()
        .is_some_and(|n| n.len() > MAX_STATE || n.chars().any(char::is_control))
    {
        return Err(fail("invalid_request", "nonce is too long or unprintable"));
    }
    let prompt = Prompt::parse(params.prompt.as_deref()).map_err(|e| fail("invalid_request", e))?;
    let scopes = granted_scopes(client, params.scope.as_deref())
        .map_err(|e| fail("invalid_scope", e.description()))?;
    Ok(Authorization {
        prompt,
        client_id: client.id.clone(),
        redirect_uri,
        scopes,
        state,
        challenge,
        nonce: params.nonce.clone(),
    })
}

fn redirect(
    uri: &VerifiedRedirect,
    error: &'static str,
    description: &str,
    state: Option<String>,
) -> AuthorizeError {
    AuthorizeError::Redirect {
        redirect_uri: uri.as_str().to_owned(),
        error,
        description: description.to_owned(),
        state,
    }
}

/// `uri` with `pairs` appended to its query, each percent-encoded (RFC 3986 unreserved
/// characters kept).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::from(uri);
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (name, value) in pairs {
        out.push(sep);
        sep = '&';
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests;
