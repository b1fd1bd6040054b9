//! Public JSON Web Keys (RFC 7517), their thumbprints (RFC 7638), and the parsed
//! verifying keys made from them.

use super::{Alg, b64};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A public key as JSON (only the members Gatehouse reads or writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`, `OKP` or `RSA`.
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The one algorithm this key is used with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use; `sig` for signing keys.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Curve, for `EC` and `OKP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// x coordinate (`EC`) or public key (`OKP`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// y coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Whether the JSON carried a private member (`d`): such a JWK is refused as a
    /// public key, and the private value is never kept.
    #[serde(default, rename = "d", deserialize_with = "present", skip_serializing)]
    pub has_private: bool,
}

/// `true` for any value: only the member's presence is kept.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// A JWK Set document (`/.well-known/jwks.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a JWK cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// A member the key type requires is missing.
    #[error("the JWK lacks `{0}`")]
    Missing(&'static str),
    /// The key type, curve or algorithm is not one Gatehouse accepts.
    #[error("unsupported key: {0}")]
    Unsupported(String),
    /// The key material does not decode or is not a valid key.
    #[error("invalid key material: {0}")]
    Invalid(&'static str),
}

impl Jwk {
    /// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic
    /// order, base64url. Used as the `kid` of Gatehouse's own keys.
    pub fn thumbprint(&self) -> Result<String, JwkError> {
        let members: Vec<(&str, &str)> = match self.kty.as_str() {
            "EC" => vec![
                ("crv", need(&self.crv, "crv")?),
                ("kty", "EC"),
                ("x", need(&self.x, "x")?),
                ("y", need(&self.y, "y")?),
            ],
            "OKP" => vec![
                ("crv", need(&self.crv, "crv")?),
                ("kty", "OKP"),
                ("x", need(&self.x, "x")?),
            ],
            "RSA" => vec![
                ("e", need(&self.e, "e")?),
                ("kty", "RSA"),
                ("n", need(&self.n, "n")?),
            ],
            other => return Err(JwkError::Unsupported(format!("kty {other}"))),
        };
        let mut canonical = String::from("{");
        for (i, (name, value)) in members.iter().enumerate() {
            if i > 0 {
                canonical.push(',');
            }
            // Names and base64url values never need escaping, but a hostile `crv` might.
            canonical.push_str(&serde_json::to_string(name).unwrap_or_default());
            canonical.push(':');
            canonical.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
        canonical.push('}');
        Ok(b64::encode(Sha256::digest(canonical.as_bytes())))
    }
}

fn need<'a>(member: &'a Option<String>, name: &'static str) -> Result<&'a str, JwkError> {
    member.as_deref().ok_or(JwkError::Missing(name))
}

/// A public key ready to check signatures: parsed once, its algorithm pinned.
#[derive(Debug)]
pub struct VerifyingKey {
    kid: String,
    alg: Alg,
    key: ParsedPublicKey,
}

impl VerifyingKey {
    /// Parses `jwk`. The algorithm comes from the key type (P-256 → ES256, Ed25519 →
    /// EdDSA, RSA → RS256); a JWK `alg` that disagrees is refused. The key id is the
    /// JWK's `kid`, or its thumbprint when it has none.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JwkError> {
        if jwk.has_private {
            return Err(JwkError::Invalid(
                "a public key must not carry its private part (d)",
            ));
        }
        let (alg, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some("P-256")) => {
                let x = coordinate(&jwk.x, "x")?;
                let y = coordinate(&jwk.y, "y")?;
                let point = [&[4u8][..], &x, &y].concat();
                let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|_| JwkError::Invalid("not a point on P-256"))?;
                (Alg::Es256, key)
            }
            ("OKP", Some("Ed25519")) => {
                let x = decode(&jwk.x, "x")?;
                if x.len() != 32 {
                    return Err(JwkError::Invalid("an Ed25519 key is 32 bytes"));
                }
                let key = ParsedPublicKey::new(&ED25519, x)
                    .map_err(|_| JwkError::Invalid("not an Ed25519 key"))?;
                (Alg::EdDsa, key)
            }
            ("RSA", None) => {
                let n = decode(&jwk.n, "n")?;
                let e = decode(&jwk.e, "e")?;
                let bits = n.iter().skip_while(|&&b| b == 0).count() * 8;
                if !(2048..=8192).contains(&bits) {
                    return Err(JwkError::Invalid("RSA keys have 2048 to 8192 bits"));
                }
                let der = rsa_public_key_der(&n, &e);
                let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
                    .map_err(|_| JwkError::Invalid("not an RSA key of 2048 to 8192 bits"))?;
                (Alg::Rs256, key)
            }
            (kty, crv) => {
                return Err(JwkError::Unsupported(format!(
                    "kty {kty}{}",
                    crv.map(|c| format!(", crv {c}")).unwrap_or_default()
                )));
            }
        };
        if let Some(named) = jwk.alg.as_deref()
            && named != alg.as_str()
        {
            return Err(JwkError::Unsupported(format!(
                "alg {named} with a {} key",
                alg.as_str()
            )));
        }
        let kid = match &jwk.kid {
            Some(kid) => kid.clone(),
            None => jwk.thumbprint()?,
        };
        Ok(Self { kid, alg, key })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Whether `signature` over `message` was made by this key.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

fn decode(member: &Option<String>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    b64::decode(need(member, name)?).ok_or(JwkError::Invalid("not base64url"))
}

fn coordinate(member: &Option<String>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let bytes = decode(member, name)?;
    if bytes.len() != 32 {
        return Err(JwkError::Invalid("a P-256 coordinate is 32 bytes"));
    }
    Ok(bytes)
}

/// DER of PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let body = [der_integer(n), der_integer(e)].concat();
    der(0x30, &body)
}

fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = match magnitude.iter().position(|&b| b != 0) {
        Some(first) => &magnitude[first..],
        None => &[0u8][..],
    };
    // A set high bit would read as negative: prefix a zero byte.
    let content = if trimmed[0] & 0x80 != 0 {
        [&[0u8][..], trimmed].concat()
    } else {
        trimmed.to_vec()
    };
    der(0x02, &content)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(content);
    out
}
