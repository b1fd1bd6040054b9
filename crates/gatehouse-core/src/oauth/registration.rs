//! Which client registrations are coherent (RFC 7591 §2): the grants, the token
//! endpoint authentication method and the redirect URIs must fit together, so that the
//! authorization and token endpoints never meet a client they would have to
//! second-guess.
//!
//! The rules, checked on the whole record whether it is new or changed:
//!
//! - `refresh_token` only together with `authorization_code`, which issues the
//!   refresh tokens;
//! - a public client (`none`) has no credential, so it may use only
//!   `authorization_code` (where PKCE stands in for one) and `refresh_token`;
//! - a client allowed `authorization_code` registers 1 to 20 redirect URIs, each
//!   once; any other client registers none, since it would never be redirected to;
//! - loopback (`http://127.0.0.1`, `[::1]`, `localhost`) and private-use scheme
//!   redirect URIs only for public clients, which Gatehouse treats as native apps
//!   (RFC 8252): only an app on the user's device listens there. A confidential client
//!   is a web server and must use https, even on a developer's machine, so that a
//!   stolen code can be redeemed only by the server that holds the credential.

use super::client::{CertBinding, ClientAuthMethod, ClientRecord, GrantType};
use super::redirect::{ClientKind, RedirectError, RedirectKind, RedirectUri};

/// Most redirect URIs a client may register.
pub const MAX_REDIRECT_URIS: usize = 20;

/// Why a registration is refused. The message is safe to show the admin; it names a
/// redirect URI by its position, never by its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// A redirect URI that [`RedirectUri::parse`] refuses.
    #[error("redirect_uris[{index}]: {error}")]
    InvalidRedirectUri {
        /// Its position in `redirect_uris`.
        index: usize,
        /// Why it is refused.
        error: RedirectError,
    },
    /// More than [`MAX_REDIRECT_URIS`].
    #[error("at most 20 redirect_uris")]
    TooManyRedirectUris,
    /// The same URI twice.
    #[error("redirect_uris[{index}] repeats an earlier redirect URI")]
    DuplicateRedirectUri {
        /// The position of the repetition.
        index: usize,
    },
    /// A client allowed `authorization_code` without a redirect URI.
    #[error("a client allowed authorization_code needs at least one redirect URI")]
    MissingRedirectUri,
    /// Redirect URIs on a client that never redirects.
    #[error("redirect_uris are only for clients allowed authorization_code")]
    UnusedRedirectUris,
    /// `refresh_token` without `authorization_code`.
    #[error("refresh_token is only allowed together with authorization_code")]
    RefreshWithoutCode,
    /// A public client with a grant that needs a client credential.
    #[error(
        "a public client (token_endpoint_auth_method none) has no credential, so it may not use {0}; it may use authorization_code with PKCE and refresh_token"
    )]
    PublicClientGrant(&'static str),
    /// A loopback or private-use redirect URI on a confidential client.
    #[error(
        "redirect_uris[{index}]: loopback and private-use redirect URIs are only for native apps (token_endpoint_auth_method none); a confidential client needs https"
    )]
    NativeRedirectUri {
        /// Its position in `redirect_uris`.
        index: usize,
    },
    /// `tls_client_auth` without the certificate to expect, or such a certificate for
    /// another method.
    #[error(
        "tls_client_auth needs exactly one of tls_client_auth_subject and tls_client_auth_sha256 (a 64-digit hex SHA-256), and they are only for tls_client_auth"
    )]
    CertBinding,
}

impl MetadataError {
    /// The RFC 7591 §3.2.2 error code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidRedirectUri { .. }
            | Self::TooManyRedirectUris
            | Self::DuplicateRedirectUri { .. }
            | Self::MissingRedirectUri
            | Self::NativeRedirectUri { .. } => "invalid_redirect_uri",
            Self::UnusedRedirectUris
            | Self::RefreshWithoutCode
            | Self::PublicClientGrant(_)
            | Self::CertBinding => "invalid_client_metadata",
        }
    }
}

/// Parses the redirect URIs offered for registration: at most
/// [`MAX_REDIRECT_URIS`], each valid and none repeated, in the order given.
pub fn parse_redirect_uris(raw: &[String]) -> Result<Vec<RedirectUri>, MetadataError> {
    if raw.len() > MAX_REDIRECT_URIS {
        return Err(MetadataError::TooManyRedirectUris);
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw.len());
    for (index, text) in raw.iter().enumerate() {
        let uri = RedirectUri::parse(text)
            .map_err(|error| MetadataError::InvalidRedirectUri { index, error })?;
        if uris.contains(&uri) {
            return Err(MetadataError::DuplicateRedirectUri { index });
        }
        uris.push(uri);
    }
    Ok(uris)
}

/// Checks that the client's grants, authentication method and redirect URIs fit
/// together (the rules are in the module documentation). The URIs themselves are
/// already valid: [`RedirectUri`] cannot hold an invalid one.
pub fn check_metadata(client: &ClientRecord) -> Result<(), MetadataError> {
    let code = client.allows(GrantType::AuthorizationCode);
    if client.allows(GrantType::RefreshToken) && !code {
        return Err(MetadataError::RefreshWithoutCode);
    }
    if client.auth_method == ClientAuthMethod::None
        && let Some(grant) = client.grant_types.iter().find(|g| !public_may_use(**g))
    {
        return Err(MetadataError::PublicClientGrant(grant.as_str()));
    }
    // Lowercase, as fingerprints are compared as text.
    let sha256_ok = |hex: &str| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let binding_ok = match (&client.tls_client_auth, client.auth_method) {
        (None, method) => method != ClientAuthMethod::TlsClientAuth,
        (Some(CertBinding::Subject(s)), ClientAuthMethod::TlsClientAuth) => {
            crate::mtls::subject_placement(s).is_ok()
        }
        (Some(CertBinding::Sha256(hex)), ClientAuthMethod::TlsClientAuth) => sha256_ok(hex),
        (Some(_), _) => false,
    };
    if !binding_ok {
        return Err(MetadataError::CertBinding);
    }
    if client.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(MetadataError::TooManyRedirectUris);
    }
    match (code, client.redirect_uris.is_empty()) {
        (true, true) => return Err(MetadataError::MissingRedirectUri),
        (false, false) => return Err(MetadataError::UnusedRedirectUris),
        (true, false) | (false, true) => {}
    }
    for (index, uri) in client.redirect_uris.iter().enumerate() {
        if client.redirect_uris[..index].contains(uri) {
            return Err(MetadataError::DuplicateRedirectUri { index });
        }
        if !kind_may_register(client.kind(), uri.kind()) {
            return Err(MetadataError::NativeRedirectUri { index });
        }
    }
    Ok(())
}

/// Whether a public client may use `grant`: only where something other than a client
/// credential binds the tokens to the client.
const fn public_may_use(grant: GrantType) -> bool {
    match grant {
        GrantType::AuthorizationCode | GrantType::RefreshToken => true,
        GrantType::ClientCredentials => false,
    }
}

/// Whether a client of kind `client` may register a redirect URI of kind `uri`.
const fn kind_may_register(client: ClientKind, uri: RedirectKind) -> bool {
    match (client, uri) {
        (_, RedirectKind::Https) => true,
        (ClientKind::Native, RedirectKind::Loopback | RedirectKind::PrivateUse) => true,
        (ClientKind::Confidential, RedirectKind::Loopback | RedirectKind::PrivateUse) => false,
    }
}

#[cfg(test)]
mod tests;
