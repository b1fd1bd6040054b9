//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3): the client signs a
//! short-lived JWT about itself with a key it registered.

use super::client::ClientRecord;
use super::grant::OAuthError;
use crate::jose::{AccessClaims, Expected, TokenError, VerifyingKey, verify_jwt};
use crate::time::UnixTime;
use base64::Engine;

/// `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest accepted assertion lifetime: a replay cache must remember each `jti` this
/// long.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 3600;

/// A verified assertion: what the replay check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Its unique id.
    pub jti: String,
    /// When it expires (seconds since the epoch).
    pub exp: i64,
}

/// The client an assertion claims to come from (`sub`), read without verification,
/// only to find the keys that will verify it.
pub fn claimed_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// Verifies `assertion` from `client`: signed by one of its registered keys, `iss` and
/// `sub` the client id, `aud` one of `audiences` (the issuer or the token endpoint),
/// unexpired, with a `jti` and a lifetime of at most an hour.
pub fn verify_assertion(
    assertion: &str,
    client: &ClientRecord,
    audiences: &[&str],
    now: UnixTime,
) -> Result<Assertion, OAuthError> {
    let refuse = |why: &str| OAuthError::InvalidClient(format!("client assertion: {why}"));
    let keys: Vec<VerifyingKey> = client
        .jwks
        .as_ref()
        .map(|set| {
            set.keys
                .iter()
                .filter_map(|k| VerifyingKey::from_jwk(k).ok())
                .collect()
        })
        .unwrap_or_default();
    let expected = Expected {
        issuer: &client.id,
        audience: None,
        typ: None,
        leeway_secs: 30,
        max_len: Expected::MAX_LEN,
    };
    let verified = verify_jwt(
        assertion,
        |kid| keys.iter().find(|k| k.kid() == kid),
        &expected,
        now,
    )
    .map_err(|e| match e {
        TokenError::UnknownKey => refuse("not signed by a key registered for this client (kid)"),
        other => refuse(&other.to_string()),
    })?;
    let AccessClaims {
        sub, aud, exp, jti, ..
    } = verified.claims;
    if sub.as_deref() != Some(client.id.as_str()) {
        return Err(refuse("sub must be the client id"));
    }
    if !aud.is_some_and(|aud| audiences.iter().any(|a| aud.contains(a))) {
        return Err(refuse("aud must name this server or its token endpoint"));
    }
    if exp > now.as_millis().div_euclid(1000) + MAX_ASSERTION_LIFETIME_SECS {
        return Err(refuse("lives longer than an hour"));
    }
    let jti = jti.ok_or_else(|| refuse("jti is required"))?;
    Ok(Assertion { jti, exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Alg, JwkSet, SigningKey};
    use crate::oauth::{ClientAuthMethod, GrantType, SecretDigest};
    use crate::scope::ScopeSet;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const AUD: &str = "https://auth.example/oauth/token";

    fn key() -> SigningKey {
        let der =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        SigningKey::from_pkcs8(Alg::Es256, der.as_ref()).unwrap()
    }

    fn client(key: &SigningKey) -> ClientRecord {
        ClientRecord {
            id: "cli_1".into(),
            name: "n".into(),
            secret_digest: SecretDigest([0; 32]),
            auth_method: ClientAuthMethod::PrivateKeyJwt,
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::default(),
            audiences: vec![],
            resource_server_audiences: Vec::new(),
            access_ttl_secs: None,
            jwks: Some(JwkSet {
                keys: vec![key.public_jwk().clone()],
            }),
            redirect_uris: vec![],
            tls_client_auth: None,
            enabled: true,
            created_at: UnixTime::from_millis(0),
            updated_at: UnixTime::from_millis(0),
        }
    }

    fn claims() -> serde_json::Value {
        json!({"iss": "cli_1", "sub": "cli_1", "aud": AUD, "exp": NOW + 60, "iat": NOW, "jti": "a1"})
    }

    fn check(
        key: &SigningKey,
        signer: &SigningKey,
        c: &serde_json::Value,
    ) -> Result<Assertion, OAuthError> {
        let assertion = signer.sign_jwt("JWT", c).unwrap();
        verify_assertion(
            &assertion,
            &client(key),
            &[AUD],
            UnixTime::from_millis(NOW * 1000),
        )
    }

    #[test]
    fn a_good_assertion_names_its_jti() {
        let k = key();
        let assertion = k.sign_jwt("JWT", &claims()).unwrap();
        assert_eq!(claimed_client(&assertion).as_deref(), Some("cli_1"));
        assert_eq!(
            check(&k, &k, &claims()).unwrap(),
            Assertion {
                jti: "a1".into(),
                exp: NOW + 60
            }
        );
    }

    #[test]
    fn bad_assertions_are_invalid_client() {
        let k = key();
        let mut cases = Vec::new();
        for (field, value) in [
            ("iss", json!("cli_2")),
            ("sub", json!("cli_2")),
            ("aud", json!("https://elsewhere.example")),
            ("exp", json!(NOW - 60)),
            ("exp", json!(NOW + 7200)),
            ("jti", serde_json::Value::Null),
        ] {
            let mut c = claims();
            c[field] = value;
            cases.push(c);
        }
        for c in &cases {
            assert_eq!(
                check(&k, &k, c).unwrap_err().code(),
                "invalid_client",
                "{c}"
            );
        }
        // Signed by a key the client did not register.
        assert_eq!(
            check(&k, &key(), &claims()).unwrap_err().code(),
            "invalid_client"
        );
    }
}
