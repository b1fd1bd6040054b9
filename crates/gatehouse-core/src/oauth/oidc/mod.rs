//! OpenID Connect Core 1.0 on top of the authorization code flow: the ID token issued
//! with an `openid` grant, the claims `/oauth/userinfo` answers with, and which scopes
//! concern the user's identity rather than an API.

use crate::jose::{Alg, b64};
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use crate::user::UserRecord;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

/// The scope that makes a request an OpenID Connect one.
pub const OPENID: &str = "openid";

/// Scopes about the user's own identity (OIDC Core §5.4). A user may grant these to a
/// client without holding them, since they give access to nothing but who the user
/// is; the client must still be allowed them.
pub const IDENTITY_SCOPES: [&str; 3] = [OPENID, "profile", "email"];

/// The claims `/oauth/userinfo` and discovery can name.
pub const CLAIMS_SUPPORTED: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "azp",
    "name",
    "preferred_username",
    "email",
];

/// Whether `scope` is one of [`IDENTITY_SCOPES`].
pub fn is_identity_scope(scope: &str) -> bool {
    IDENTITY_SCOPES.contains(&scope)
}

/// What `user` can grant of `requested`: the identity scopes, and the others the user
/// holds.
pub fn user_grantable(requested: &ScopeSet, user: &UserRecord) -> ScopeSet {
    ScopeSet::new(
        requested
            .iter()
            .filter(|s| is_identity_scope(s.as_str()) || user.scopes.contains(s.as_str()))
            .cloned(),
    )
}

/// The claims of an ID token (OIDC Core §2, §3.1.3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The client it is for.
    pub aud: String,
    /// Expiry, seconds.
    pub exp: i64,
    /// Issued at, seconds.
    pub iat: i64,
    /// When the user signed in, seconds.
    pub auth_time: i64,
    /// The authorization request's nonce, echoed (absent on refresh, §12.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of the hash of the access token issued with it (§3.1.3.6).
    pub at_hash: String,
    /// Authorized party: the client.
    pub azp: String,
}

/// What an ID token is about, apart from time.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenSubject<'a> {
    /// Issuer URL.
    pub issuer: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// The user.
    pub user_id: &'a str,
    /// When the user signed in.
    pub auth_time: UnixTime,
    /// The authorization request's nonce, if any and if this is not a refresh.
    pub nonce: Option<&'a str>,
}

/// The ID token claims for `subject`, issued at `now` for `ttl_secs` beside
/// `access_token`, signed with `alg`.
pub fn id_token_claims(
    subject: IdTokenSubject<'_>,
    alg: Alg,
    access_token: &str,
    now: UnixTime,
    ttl_secs: u32,
) -> IdTokenClaims {
    let now_secs = now.as_millis().div_euclid(1000);
    IdTokenClaims {
        iss: subject.issuer.to_owned(),
        sub: subject.user_id.to_owned(),
        aud: subject.client_id.to_owned(),
        exp: now_secs + i64::from(ttl_secs),
        iat: now_secs,
        auth_time: subject.auth_time.as_millis().div_euclid(1000),
        nonce: subject.nonce.map(str::to_owned),
        at_hash: at_hash(alg, access_token),
        azp: subject.client_id.to_owned(),
    }
}

/// `at_hash`: base64url of the left half of the access token's hash, with the hash of
/// the signing algorithm — SHA-256 for ES256 and RS256, SHA-512 for Ed25519 (the hash
/// of RFC 8032, as the OpenID working group settled for EdDSA).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    match alg {
        Alg::Es256 | Alg::Rs256 => {
            let hash = Sha256::digest(access_token.as_bytes());
            b64::encode(&hash[..16])
        }
        Alg::EdDsa => {
            let hash = Sha512::digest(access_token.as_bytes());
            b64::encode(&hash[..32])
        }
    }
}

/// The answer of `/oauth/userinfo` (OIDC Core §5.3): `sub` always; `name` and
/// `preferred_username` with `profile`; `email` with `email`. `email_verified` is not
/// claimed because Gatehouse does not verify addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// The user id, as in the tokens.
    pub sub: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Contact address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The userinfo claims of `user` that a token with `scopes` may read.
pub fn userinfo(user: &UserRecord, scopes: &ScopeSet) -> UserInfo {
    let profile = scopes.contains("profile");
    UserInfo {
        sub: user.id.clone(),
        name: user.display_name.clone().filter(|_| profile),
        preferred_username: profile.then(|| user.username.as_str().to_owned()),
        email: user.email.clone().filter(|_| scopes.contains("email")),
    }
}

#[cfg(test)]
mod tests;
