//! Client authentication for the OAuth endpoints (RFC 6749 §2.3), shared by token,
//! introspection and revocation. Their answers are `oauth_answer.rs`'s.

use crate::authorization::Verdict;
use crate::state::AppState;
use crate::wire::credential::{self, CredentialError, Presented, Schemes};
use axum::http::HeaderMap;
use base64::Engine;
use gatehouse_core::mtls::CertIdentity;
use gatehouse_core::oauth::{
    ASSERTION_TYPE, ClientAuthMethod, ClientRecord, OAuthError, SecretDigest, claimed_client,
    verify_assertion,
};
use serde::Deserialize;
use std::sync::Arc;

/// The client credentials a form may carry.
#[derive(Debug, Default, Deserialize)]
pub struct FormCredentials {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// Client authentication (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705 §2.1): HTTP Basic,
/// the form's `client_id` and `client_secret`, a signed `client_assertion`, or the
/// `client_id` of a client whose certificate is on the connection (`client_cert`,
/// verified in the TLS handshake) — exactly one of them, and the one the client
/// registered.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormCredentials,
    client_cert: Option<&CertIdentity>,
) -> Result<Arc<ClientRecord>, OAuthError> {
    let basic = basic_credentials(headers)?;
    if let Some(assertion) = &form.client_assertion {
        if basic.is_some() || form.client_secret.is_some() {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ));
        }
        return authenticate_assertion(state, form, assertion);
    }
    let client_id = form.client_id.as_deref();
    let (id, secret, method) = match (basic, form.client_secret.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ));
        }
        (Some((id, secret)), None) => {
            if client_id.is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id differs from the authenticated client".into(),
                ));
            }
            (id, secret, ClientAuthMethod::ClientSecretBasic)
        }
        (None, Some(secret)) => {
            let id = client_id.ok_or_else(|| {
                OAuthError::InvalidRequest("client_secret without client_id".into())
            })?;
            (
                id.to_owned(),
                secret.to_owned(),
                ClientAuthMethod::ClientSecretPost,
            )
        }
        (None, None) => {
            let client = client_id
                .and_then(|id| state.clients.get(id))
                .filter(|c| c.enabled);
            return match client {
                // A public client (RFC 6749 §2.1) names itself and proves nothing; it
                // may only redeem codes, which PKCE binds to the app that asked.
                Some(c) if c.auth_method == ClientAuthMethod::None => Ok(c),
                Some(c) if c.auth_method == ClientAuthMethod::TlsClientAuth => {
                    let presented = c
                        .tls_client_auth
                        .as_ref()
                        .zip(client_cert)
                        .is_some_and(|(binding, cert)| binding.matches(cert));
                    if presented {
                        Ok(c)
                    } else {
                        Err(OAuthError::InvalidClient(
                            "this client must present its registered certificate over TLS".into(),
                        ))
                    }
                }
                _ => Err(OAuthError::InvalidClient(
                    "client authentication is required".into(),
                )),
            };
        }
    };
    // Reserved before the comparison, for unknown ids too (so the answer does not
    // tell which exist): a flood of guesses gets the policy's number of checks.
    let now = state.clock.now();
    let throttle = &state.authorizations.client_secrets;
    let verdict = throttle.attempt(&id, now);
    if verdict != Verdict::Allow {
        let wait = verdict.retry_after(now);
        let retry_after_secs = wait
            .as_secs()
            .saturating_add(u64::from(wait.subsec_nanos() > 0))
            .max(1);
        return Err(OAuthError::Throttled { retry_after_secs });
    }
    let client = state.clients.get(&id);
    // The digest comparison runs for unknown clients too, so timing does not tell
    // which client ids exist.
    let digest = client
        .as_ref()
        .map_or(SecretDigest([0; 32]), |c| c.secret_digest);
    let secret_ok = digest.matches(&secret);
    if secret_ok && client.is_some() {
        // The secret was right (whatever else is wrong): not a guess.
        throttle.record_success(&id);
    }
    match client {
        // A public client has no secret: the one in its record was never shown (or
        // was dropped when it became public), so none may authenticate it; it names
        // itself with client_id alone (above).
        Some(client) if client.auth_method == ClientAuthMethod::None => Err(
            OAuthError::InvalidClient("unknown client, wrong secret, or client disabled".into()),
        ),
        Some(client) if secret_ok && client.enabled && client.auth_method == method => Ok(client),
        Some(client) if secret_ok && client.enabled => Err(OAuthError::InvalidClient(format!(
            "this client authenticates with {}",
            client.auth_method.as_str()
        ))),
        _ => Err(OAuthError::InvalidClient(
            "unknown client, wrong secret, or client disabled".into(),
        )),
    }
}

/// `private_key_jwt`: the assertion names its client, which must have registered that
/// method and the key that signed it; each assertion is accepted once.
fn authenticate_assertion(
    state: &AppState,
    form: &FormCredentials,
    assertion: &str,
) -> Result<Arc<ClientRecord>, OAuthError> {
    if form.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return Err(OAuthError::InvalidRequest(format!(
            "client_assertion_type must be {ASSERTION_TYPE}"
        )));
    }
    let refused = || OAuthError::InvalidClient("unknown client or bad client assertion".into());
    let id = claimed_client(assertion).ok_or_else(refused)?;
    if form
        .client_id
        .as_deref()
        .is_some_and(|form_id| form_id != id)
    {
        return Err(OAuthError::InvalidRequest(
            "client_id differs from the assertion's client".into(),
        ));
    }
    let client = state
        .clients
        .get(&id)
        .filter(|c| c.enabled && c.auth_method == ClientAuthMethod::PrivateKeyJwt)
        .ok_or_else(refused)?;
    let issuer = &state.settings.public_url;
    let token_endpoint = format!("{issuer}/oauth/token");
    let now = state.clock.now();
    let verified = verify_assertion(assertion, &client, &[issuer, &token_endpoint], now)?;
    if !state.clients.first_use(&client.id, &verified, now) {
        return Err(OAuthError::InvalidClient(
            "client assertion already used (jti replay)".into(),
        ));
    }
    Ok(client)
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let encoded = match credential::presented(headers, Schemes::Basic) {
        Ok(Presented::Basic(encoded)) => encoded,
        Err(CredentialError::Ambiguous) => return Err(credential::ambiguous_oauth()),
        Err(CredentialError::WrongScheme) => {
            return Err(OAuthError::InvalidClient(
                "the token endpoint takes Basic client credentials".into(),
            ));
        }
        // No Authorization (an X-API-Key alone is not client authentication).
        Ok(Presented::Bearer(_) | Presented::ApiKey(_))
        | Err(CredentialError::Missing | CredentialError::Unreadable) => return Ok(None),
    };
    let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((
        form_decode(id).ok_or_else(bad)?,
        form_decode(secret).ok_or_else(bad)?,
    )))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` and `%XX`).
fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%2Fc%3a").as_deref(), Some("a b/c:"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
    }
}
