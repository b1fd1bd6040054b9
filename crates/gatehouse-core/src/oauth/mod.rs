//! OAuth 2.0 rules (RFC 6749, 7591, 9068): clients and their secrets, which client
//! registrations are coherent, which scopes a grant gets, the claims of an access
//! token, refresh-token rotation, and the token endpoint's error codes.

pub mod assertion;
pub mod authorize;
pub mod client;
pub mod grant;
pub mod introspection;
pub mod oidc;
pub mod pkce;
pub mod redirect;
pub mod refresh;
pub mod registration;

pub use assertion::{ASSERTION_TYPE, Assertion, claimed_client, verify_assertion};
pub use client::{
    CertBinding, ClientAuthMethod, ClientRecord, ClientSecret, GrantType, SecretDigest,
};
pub use grant::{OAuthError, access_claims, granted_scopes};
pub use introspection::may_introspect;
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
pub use redirect::{
    ClientKind, RedirectError, RedirectKind, RedirectUri, VerifiedRedirect, verify_redirect,
};
pub use registration::{MAX_REDIRECT_URIS, MetadataError, check_metadata, parse_redirect_uris};
