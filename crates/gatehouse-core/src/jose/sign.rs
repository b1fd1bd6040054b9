//! Signing keys: parsed once from PKCS#8, never re-parsed per signature.

use super::{Alg, Jwk, b64};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use serde::Serialize;

/// A private key Gatehouse signs tokens with, and its public JWK.
pub struct SigningKey {
    pair: Pair,
    public: Jwk,
}

enum Pair {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// Why a key cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The PKCS#8 document is not a valid key for the algorithm.
    #[error("not a valid {0} private key")]
    BadKey(Alg),
    /// An RSA key shorter than 2048 bits.
    #[error("RSA keys must have at least 2048 bits")]
    WeakKey,
    /// The claims could not be serialized.
    #[error("claims do not serialize: {0}")]
    Claims(String),
    /// The signature primitive failed.
    #[error("signing failed")]
    Failed,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 (DER) private key for `alg`. Its `kid` is the RFC 7638
    /// thumbprint of the public key, so the same key always has the same id.
    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> Result<Self, SignError> {
        let bad = |_| SignError::BadKey(alg);
        let pair = match alg {
            Alg::Es256 => Pair::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(bad)?,
            ),
            Alg::EdDsa => {
                Pair::EdDsa(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(bad)?)
            }
            Alg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                if pair.public_modulus_len() < 256 {
                    return Err(SignError::WeakKey);
                }
                Pair::Rs256(pair)
            }
        };
        Self::with_pair(pair)
    }

    #[cfg(test)]
    pub(crate) fn from_ed25519_seed(seed: &[u8], public: &[u8]) -> Result<Self, SignError> {
        let pair = Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map_err(|_| SignError::BadKey(Alg::EdDsa))?;
        Self::with_pair(Pair::EdDsa(pair))
    }

    fn with_pair(pair: Pair) -> Result<Self, SignError> {
        let mut public = public_jwk(&pair)?;
        let kid = public.thumbprint().map_err(|_| SignError::Failed)?;
        public.kid = Some(kid);
        Ok(Self { pair, public })
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        self.public.kid.as_deref().unwrap_or_default()
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        match self.pair {
            Pair::Es256(_) => Alg::Es256,
            Pair::EdDsa(_) => Alg::EdDsa,
            Pair::Rs256(_) => Alg::Rs256,
        }
    }

    /// The public key as published in the JWK Set.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// A compact JWT of `claims` with header `{"alg", "typ", "kid"}`.
    pub fn sign_jwt(&self, typ: &str, claims: &impl Serialize) -> Result<String, SignError> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'a str,
            kid: &'a str,
        }
        let header = Header {
            alg: self.alg().as_str(),
            typ,
            kid: self.kid(),
        };
        let header = serde_json::to_vec(&header).map_err(|e| SignError::Claims(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| SignError::Claims(e.to_string()))?;
        let mut token = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64::encode(signature));
        Ok(token)
    }

    /// The JWS signature of `input` in its JOSE form (ECDSA as fixed-size r‖s).
    pub(crate) fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.pair {
            Pair::Es256(pair) => pair
                .sign(&SystemRandom::new(), input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError::Failed),
            Pair::EdDsa(pair) => Ok(pair.sign(input).as_ref().to_vec()),
            Pair::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input,
                    &mut signature,
                )
                .map_err(|_| SignError::Failed)?;
                Ok(signature)
            }
        }
    }
}

fn public_jwk(pair: &Pair) -> Result<Jwk, SignError> {
    let empty = Jwk {
        kty: String::new(),
        kid: None,
        alg: None,
        key_use: Some("sig".into()),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
        has_private: false,
    };
    Ok(match pair {
        Pair::Es256(pair) => {
            let point = pair.public_key().as_ref();
            let (x, y) = match point {
                [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                _ => return Err(SignError::BadKey(Alg::Es256)),
            };
            Jwk {
                kty: "EC".into(),
                alg: Some("ES256".into()),
                crv: Some("P-256".into()),
                x: Some(b64::encode(x)),
                y: Some(b64::encode(y)),
                ..empty
            }
        }
        Pair::EdDsa(pair) => Jwk {
            kty: "OKP".into(),
            alg: Some("EdDSA".into()),
            crv: Some("Ed25519".into()),
            x: Some(b64::encode(pair.public_key().as_ref())),
            ..empty
        },
        Pair::Rs256(pair) => {
            let public = pair.public_key();
            Jwk {
                kty: "RSA".into(),
                alg: Some("RS256".into()),
                n: Some(b64::encode(
                    public.modulus().big_endian_without_leading_zero(),
                )),
                e: Some(b64::encode(
                    public.exponent().big_endian_without_leading_zero(),
                )),
                ..empty
            }
        }
    })
}
