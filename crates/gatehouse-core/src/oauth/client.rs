//! OAuth clients as stored, and their secrets: at least 256 random bits, shown once,
//! kept only as SHA-256 and compared in constant time.

use super::redirect::{ClientKind, RedirectUri};
use crate::base62;
use crate::entropy::{Entropy, EntropyUnavailable};
use crate::jose::JwkSet;
use crate::scope::ScopeSet;
use crate::secret::Secret;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random base62 characters in a client secret: 43 × 5.95 ≥ 256 bits.
const SECRET_RANDOM_LEN: usize = 43;
/// Prefix of client secrets, so scanners can recognise a leaked one.
pub const SECRET_PREFIX: &str = "gcs_";

/// A grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.4: a machine acting for itself.
    ClientCredentials,
    /// RFC 6749 §4.1: a user signs in and consents, and the client exchanges the code
    /// it is sent (with PKCE, RFC 7636) for tokens.
    AuthorizationCode,
    /// RFC 6749 §6: new tokens for a refresh token that a code grant issued.
    RefreshToken,
}

impl GrantType {
    /// Every grant, in the order error messages list them.
    pub const ALL: [Self; 3] = [
        Self::ClientCredentials,
        Self::AuthorizationCode,
        Self::RefreshToken,
    ];

    /// The RFC name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// The grant named `name`, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1); the default.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT the client signs with its own private key (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// No authentication: a public client, such as a native or browser app, which
    /// cannot keep a secret (RFC 6749 §2.1). It may only use the authorization code
    /// grant, where PKCE stands in for the missing credential.
    None,
    /// A client certificate on the TLS connection (RFC 8705 §2.1), which must match
    /// the client's registered [`CertBinding`]; its access tokens are bound to it.
    TlsClientAuth,
}

impl ClientAuthMethod {
    /// Every method, in the order error messages list them.
    pub const ALL: [Self; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::TlsClientAuth,
        Self::None,
    ];

    /// The RFC 7591 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::None => "none",
        }
    }

    /// The method named `name`, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the client proves itself with the secret Gatehouse generated, so that
    /// the secret is shown to the admin (at creation and rotation). Every record has a
    /// digest, but for the other methods it is of a random secret nobody was shown.
    pub const fn uses_secret(self) -> bool {
        match self {
            Self::ClientSecretBasic | Self::ClientSecretPost => true,
            Self::PrivateKeyJwt | Self::TlsClientAuth | Self::None => false,
        }
    }
}

/// SHA-256 of a client secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest(pub [u8; 32]);

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(…)")
    }
}

impl SecretDigest {
    /// The digest of `presented`.
    pub fn of(presented: &str) -> Self {
        Self(Sha256::digest(presented.as_bytes()).into())
    }

    /// Whether `presented` is the secret, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        Self::of(presented).0.ct_eq(&self.0).into()
    }
}

/// A newly generated client secret. Shown once, then only its digest is kept.
#[derive(Debug)]
pub struct ClientSecret(Secret<String>);

impl ClientSecret {
    /// A new secret: `gcs_` and 43 random base62 characters.
    pub fn generate(entropy: &mut dyn Entropy) -> Result<Self, EntropyUnavailable> {
        let mut body = [0u8; SECRET_RANDOM_LEN];
        base62::fill_random(&mut body, entropy)?;
        let mut text = String::with_capacity(SECRET_PREFIX.len() + SECRET_RANDOM_LEN);
        text.push_str(SECRET_PREFIX);
        text.extend(body.iter().map(|&b| char::from(b)));
        body.fill(0);
        Ok(Self(Secret::new(text)))
    }

    /// The secret, for the one response that shows it.
    pub fn reveal(&self) -> &str {
        self.0.expose()
    }

    /// What is stored.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(self.0.expose())
    }
}

/// Which client certificate a `tls_client_auth` client presents (RFC 8705 §2.1.2):
/// one naming this subject — as Gatehouse reads a certificate's principal, SAN URI
/// else SAN DNS else CN — from a trusted CA, or exactly this certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertBinding {
    /// The certificate's principal.
    Subject(String),
    /// SHA-256 of the certificate's DER, lowercase hex.
    Sha256(String),
}

impl CertBinding {
    /// Whether `cert` (verified by the TLS layer) is the one this binding names.
    pub fn matches(&self, cert: &crate::mtls::CertIdentity) -> bool {
        match self {
            Self::Subject(subject) => cert.principal == *subject,
            Self::Sha256(hex) => cert.fingerprint() == *hex,
        }
    }
}

/// An OAuth client as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// Public identifier, `cli_…`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Digest of the current secret.
    pub secret_digest: SecretDigest,
    /// How it authenticates at the token endpoint.
    pub auth_method: ClientAuthMethod,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may be granted; also what it gets when it asks for none.
    pub scopes: ScopeSet,
    /// Audiences (`aud`) of its tokens; empty means the issuer itself.
    pub audiences: Vec<String>,
    /// Audiences this client serves as a resource server: it may introspect tokens
    /// whose `aud` names one of them (RFC 7662 §2.1). Empty for a client that only
    /// obtains tokens.
    pub resource_server_audiences: Vec<String>,
    /// Access token lifetime in seconds; `None` uses the server default. Capped by
    /// the server's maximum when a token is issued.
    pub access_ttl_secs: Option<u32>,
    /// Public keys of a `private_key_jwt` client (RFC 7523), which sign its assertions.
    pub jwks: Option<JwkSet>,
    /// Where the authorization endpoint may send the user back (RFC 6749 §3.1.2): one
    /// or more for a client allowed the authorization code grant, none otherwise.
    pub redirect_uris: Vec<RedirectUri>,
    /// The certificate a `tls_client_auth` client must present; `None` for others.
    pub tls_client_auth: Option<CertBinding>,
    /// A disabled client is refused.
    pub enabled: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

impl ClientRecord {
    /// Which redirect URI matching rule the client gets.
    pub fn kind(&self) -> ClientKind {
        match self.auth_method {
            // Browser apps are public too, but Gatehouse registers a public client as
            // a native app (RFC 8252): it may use loopback and private-use redirect
            // URIs, which only an app on the user's device can listen on.
            ClientAuthMethod::None => ClientKind::Native,
            ClientAuthMethod::ClientSecretBasic
            | ClientAuthMethod::ClientSecretPost
            | ClientAuthMethod::PrivateKeyJwt
            | ClientAuthMethod::TlsClientAuth => ClientKind::Confidential,
        }
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A confidential client-credentials client `id` holding `scopes` (space-separated),
/// for core's tests.
#[cfg(test)]
pub(crate) fn fixture(id: &str, scopes: &str) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        name: "app".into(),
        secret_digest: SecretDigest::of("s"),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::ClientCredentials],
        scopes: ScopeSet::parse(scopes.split(' ').filter(|s| !s.is_empty()))
            .expect("the test's scopes parse"),
        audiences: Vec::new(),
        resource_server_audiences: Vec::new(),
        access_ttl_secs: None,
        jwks: None,
        tls_client_auth: None,
        redirect_uris: Vec::new(),
        enabled: true,
        created_at: UnixTime::from_millis(0),
        updated_at: UnixTime::from_millis(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl Entropy for Counter {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
            for b in dest {
                *b = self.0;
                self.0 = self.0.wrapping_add(13);
            }
            Ok(())
        }
    }

    #[test]
    fn a_secret_is_long_prefixed_and_matches_only_itself() {
        let secret = ClientSecret::generate(&mut Counter(1)).unwrap();
        assert!(secret.reveal().starts_with("gcs_"));
        assert_eq!(secret.reveal().len(), 4 + 43);
        let digest = secret.digest();
        assert!(digest.matches(secret.reveal()));
        assert!(!digest.matches(&secret.reveal()[..46]));
        assert!(!digest.matches(""));
        assert!(!format!("{secret:?}{digest:?}").contains(&secret.reveal()[4..]));
    }

    fn client(auth_method: ClientAuthMethod, grant_types: Vec<GrantType>) -> ClientRecord {
        ClientRecord {
            auth_method,
            grant_types,
            ..fixture("cli_1", "orders:read")
        }
    }

    #[test]
    fn names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::from_name(g.as_str()), Some(g));
        }
        for m in ClientAuthMethod::ALL {
            assert_eq!(ClientAuthMethod::from_name(m.as_str()), Some(m));
        }
        assert_eq!(GrantType::from_name("password"), None);
        assert_eq!(GrantType::from_name("implicit"), None);
        assert_eq!(GrantType::from_name("Authorization_Code"), None);
        assert_eq!(ClientAuthMethod::from_name("None"), None);
        assert_eq!(
            ClientAuthMethod::from_name("tls_client_auth"),
            Some(ClientAuthMethod::TlsClientAuth)
        );
        // RFC 8705's other method, a self-signed certificate registered by JWK: not
        // supported.
        assert_eq!(
            ClientAuthMethod::from_name("self_signed_tls_client_auth"),
            None
        );
    }

    #[test]
    fn the_code_flow_names_are_the_rfc_ones() {
        assert_eq!(
            GrantType::from_name("authorization_code"),
            Some(GrantType::AuthorizationCode)
        );
        assert_eq!(
            GrantType::from_name("refresh_token"),
            Some(GrantType::RefreshToken)
        );
        assert_eq!(
            ClientAuthMethod::from_name("none"),
            Some(ClientAuthMethod::None)
        );
        assert_eq!(GrantType::AuthorizationCode.as_str(), "authorization_code");
        assert_eq!(GrantType::RefreshToken.as_str(), "refresh_token");
        assert_eq!(ClientAuthMethod::None.as_str(), "none");
    }

    #[test]
    fn only_secret_methods_show_a_secret() {
        assert!(ClientAuthMethod::ClientSecretBasic.uses_secret());
        assert!(ClientAuthMethod::ClientSecretPost.uses_secret());
        assert!(!ClientAuthMethod::PrivateKeyJwt.uses_secret());
        assert!(!ClientAuthMethod::None.uses_secret());
    }

    #[test]
    fn a_public_client_is_a_native_app_and_the_rest_are_confidential() {
        let code = || vec![GrantType::AuthorizationCode];
        assert_eq!(
            client(ClientAuthMethod::None, code()).kind(),
            ClientKind::Native
        );
        for m in [
            ClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost,
            ClientAuthMethod::PrivateKeyJwt,
        ] {
            assert_eq!(client(m, code()).kind(), ClientKind::Confidential);
        }
    }

    #[test]
    fn a_client_allows_exactly_its_grants() {
        let c = client(
            ClientAuthMethod::None,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        );
        assert!(c.allows(GrantType::AuthorizationCode));
        assert!(c.allows(GrantType::RefreshToken));
        assert!(!c.allows(GrantType::ClientCredentials));
        let m2m = client(
            ClientAuthMethod::ClientSecretBasic,
            vec![GrantType::ClientCredentials],
        );
        assert!(m2m.allows(GrantType::ClientCredentials));
        assert!(!m2m.allows(GrantType::AuthorizationCode));
    }
}
