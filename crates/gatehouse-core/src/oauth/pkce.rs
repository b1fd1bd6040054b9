//! PKCE (RFC 7636): the `code_challenge` an authorization request carries and the
//! `code_verifier` that redeems the code.
//!
//! Gatehouse requires PKCE of every client and supports `S256` only. `plain` is refused
//! because it protects nothing once the authorization request leaks (RFC 9700 §2.1.1),
//! and an absent `code_challenge_method` is refused too, since RFC 7636 §4.3 makes
//! absent mean `plain`. Both parsers refuse rather than repair, and no error echoes the
//! input: it is attacker-controlled and ends up in an error page or a log.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// The only `code_challenge_method` Gatehouse accepts, as listed in the server's
/// `code_challenge_methods_supported` metadata (RFC 8414 §2).
pub const S256: &str = "S256";

/// Length of an S256 challenge: 32 bytes in base64url without padding.
pub const CHALLENGE_LEN: usize = 43;

/// Shortest `code_verifier` (RFC 7636 §4.1).
pub const MIN_VERIFIER_LEN: usize = 43;

/// Longest `code_verifier` (RFC 7636 §4.1).
pub const MAX_VERIFIER_LEN: usize = 128;

/// Why a PKCE parameter is refused. Every variant is an `invalid_request` (RFC 7636
/// §4.4.1, RFC 6749 §4.1.2.1 and §5.2); the message is a safe `error_description`.
/// A well-formed verifier that does not match is not an error of this type: it is
/// `invalid_grant` (RFC 7636 §4.6), reported by [`CodeChallenge::verify`] as `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge_method`, which RFC 7636 §4.3 reads as `plain`.
    #[error(
        "code_challenge_method is required and must be S256 (absent means plain, which is not supported)"
    )]
    MethodMissing,
    /// A method other than `S256`, such as `plain`.
    #[error("code_challenge_method must be S256; plain and other methods are not supported")]
    MethodNotS256,
    /// The challenge is absent, or not the base64url SHA-256 of a verifier.
    #[error(
        "code_challenge is required and must be 43 base64url characters (the S256 hash of the code_verifier)"
    )]
    MalformedChallenge,
    /// The verifier is absent, of the wrong length, or has a character outside the
    /// RFC 3986 unreserved set.
    #[error("code_verifier is required and must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")]
    MalformedVerifier,
}

impl PkceError {
    /// A stable identifier for logs, audit events and tests; it never changes
    /// meaning, while the message may be reworded.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MethodMissing => "pkce_method_missing",
            Self::MethodNotS256 => "pkce_method_not_s256",
            Self::MalformedChallenge => "pkce_malformed_challenge",
            Self::MalformedVerifier => "pkce_malformed_verifier",
        }
    }
}

/// An S256 `code_challenge`: base64url of the SHA-256 of the client's verifier. It
/// travels through the browser, so it is not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodeChallenge {
    text: Box<str>,
    digest: [u8; 32],
}

impl CodeChallenge {
    /// Parses the authorization request's `code_challenge` and
    /// `code_challenge_method`. Pass `""` for an absent challenge and `None` for an
    /// absent method; an empty method counts as absent (RFC 6749 §3.1).
    ///
    /// The method is checked first, so a `plain` request is told that `plain` is the
    /// problem rather than that its challenge is too short.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, PkceError> {
        // Method names are compared exactly, as registered with IANA: `s256` is not
        // `S256`, and accepting variants would only hide a broken client.
        match method {
            None | Some("") => return Err(PkceError::MethodMissing),
            Some(S256) => {}
            Some(_) => return Err(PkceError::MethodNotS256),
        }
        if challenge.len() != CHALLENGE_LEN || !challenge.bytes().all(is_base64url) {
            return Err(PkceError::MalformedChallenge);
        }
        // The decoder refuses non-zero trailing bits, so only the one canonical
        // spelling of each digest is accepted.
        let decoded = URL_SAFE_NO_PAD
            .decode(challenge)
            .map_err(|_| PkceError::MalformedChallenge)?;
        let digest: [u8; 32] = decoded
            .try_into()
            .map_err(|_| PkceError::MalformedChallenge)?;
        Ok(Self {
            text: challenge.into(),
            digest,
        })
    }

    /// The S256 challenge of `verifier`: what a client sends, and what tests use to
    /// build a matching pair.
    pub fn s256(verifier: &CodeVerifier) -> Self {
        let digest: [u8; 32] = Sha256::digest(verifier.0.expose().as_bytes()).into();
        let text = URL_SAFE_NO_PAD.encode(digest);
        Self {
            text: text.into(),
            digest,
        }
    }

    /// Whether `verifier` hashes to this challenge (RFC 7636 §4.6), compared in
    /// constant time so a timing side channel cannot reveal the expected digest byte
    /// by byte. `false` is an `invalid_grant` at the token endpoint.
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        let presented = Sha256::digest(verifier.0.expose().as_bytes());
        presented.as_slice().ct_eq(&self.digest).into()
    }

    /// The challenge as sent, to store with the authorization code.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Serialize for CodeChallenge {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CodeChallenge {
    /// Reads a stored challenge; only S256 challenges are ever stored.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s, Some(S256)).map_err(serde::de::Error::custom)
    }
}

/// A well-formed `code_verifier`: 43 to 128 characters of `[A-Za-z0-9-._~]`. It is
/// the secret that proves the token request comes from whoever started the flow, so
/// it is redacted in `Debug` and wiped when dropped.
#[derive(Debug)]
pub struct CodeVerifier(Secret<String>);

impl CodeVerifier {
    /// Parses the token request's `code_verifier` (RFC 7636 §4.1); pass `""` when it
    /// is absent.
    pub fn parse(verifier: &str) -> Result<Self, PkceError> {
        let ok = (MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&verifier.len())
            && verifier.bytes().all(is_unreserved);
        if ok {
            Ok(Self(Secret::new(verifier.to_owned())))
        } else {
            Err(PkceError::MalformedVerifier)
        }
    }
}

/// RFC 3986 §2.3 unreserved characters, the verifier's alphabet.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The base64url alphabet (RFC 4648 §5), without padding.
fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7636 Appendix B: the verifier and the challenge it yields.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn verifier(s: &str) -> CodeVerifier {
        CodeVerifier::parse(s).unwrap()
    }

    #[test]
    fn rfc_7636_appendix_b_verifier_matches_its_challenge() {
        let challenge = CodeChallenge::parse(RFC_CHALLENGE, Some("S256")).unwrap();
        assert!(challenge.verify(&verifier(RFC_VERIFIER)));
        assert_eq!(challenge.as_str(), RFC_CHALLENGE);
        assert_eq!(
            CodeChallenge::s256(&verifier(RFC_VERIFIER)).as_str(),
            RFC_CHALLENGE
        );
    }

    #[test]
    fn rfc_7636_appendix_b_verifier_is_the_encoding_of_its_octets() {
        // The RFC lists the 32 random octets behind the verifier; checking them pins
        // the vector above to the RFC rather than to a copy of it.
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        assert_eq!(URL_SAFE_NO_PAD.encode(octets), RFC_VERIFIER);
    }

    #[test]
    fn wrong_verifier_is_refused() {
        let challenge = CodeChallenge::parse(RFC_CHALLENGE, Some("S256")).unwrap();
        let mut other = RFC_VERIFIER.to_owned();
        other.replace_range(0..1, "e");
        assert!(!challenge.verify(&verifier(&other)));
        assert!(!challenge.verify(&verifier(&"a".repeat(43))));
    }

    #[test]
    fn plain_method_is_refused_even_with_a_valid_looking_challenge() {
        assert_eq!(
            CodeChallenge::parse(RFC_VERIFIER, Some("plain")),
            Err(PkceError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::parse(RFC_CHALLENGE, Some("plain")),
            Err(PkceError::MethodNotS256)
        );
    }

    #[test]
    fn absent_or_empty_method_is_refused_as_implicit_plain() {
        assert_eq!(
            CodeChallenge::parse(RFC_CHALLENGE, None),
            Err(PkceError::MethodMissing)
        );
        assert_eq!(
            CodeChallenge::parse(RFC_CHALLENGE, Some("")),
            Err(PkceError::MethodMissing)
        );
        assert!(PkceError::MethodMissing.to_string().contains("plain"));
    }

    #[test]
    fn method_names_are_matched_exactly() {
        for method in ["s256", "S256 ", " S256", "SHA256", "S512", "none"] {
            assert_eq!(
                CodeChallenge::parse(RFC_CHALLENGE, Some(method)),
                Err(PkceError::MethodNotS256),
                "{method:?}"
            );
        }
    }

    #[test]
    fn challenge_that_is_not_43_base64url_characters_is_refused() {
        let padded = format!("{RFC_CHALLENGE}=");
        let standard_alphabet = RFC_CHALLENGE.replace('-', "+");
        let cases = [
            "",
            &RFC_CHALLENGE[..42],
            &padded,
            &standard_alphabet,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c.",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c\n",
        ];
        for challenge in cases {
            assert_eq!(
                CodeChallenge::parse(challenge, Some(S256)),
                Err(PkceError::MalformedChallenge),
                "{challenge:?}"
            );
        }
    }

    #[test]
    fn challenge_with_non_canonical_trailing_bits_is_refused() {
        // `cM` and `cN` decode to the same bytes under a lenient decoder; only the
        // canonical spelling can be a real SHA-256 encoding.
        let non_canonical = RFC_CHALLENGE.replace("-cM", "-cN");
        assert_eq!(
            CodeChallenge::parse(&non_canonical, Some(S256)),
            Err(PkceError::MalformedChallenge)
        );
    }

    #[test]
    fn verifier_of_42_or_129_characters_is_refused() {
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            CodeVerifier::parse(&"a".repeat(42)).err(),
            Some(PkceError::MalformedVerifier)
        );
        assert_eq!(
            CodeVerifier::parse(&"a".repeat(129)).err(),
            Some(PkceError::MalformedVerifier)
        );
        assert_eq!(
            CodeVerifier::parse("").err(),
            Some(PkceError::MalformedVerifier)
        );
    }

    #[test]
    fn verifier_with_characters_outside_the_unreserved_set_is_refused() {
        for bad in ['+', '/', '=', ' ', '%', '\n', '\0', 'é'] {
            let mut s = "a".repeat(50);
            s.push(bad);
            assert_eq!(
                CodeVerifier::parse(&s).err(),
                Some(PkceError::MalformedVerifier),
                "{bad:?}"
            );
        }
        assert!(CodeVerifier::parse(&"aZ09-._~".repeat(6)).is_ok());
    }

    #[test]
    fn verifier_debug_output_never_contains_the_verifier() {
        let shown = format!("{:?}", verifier(RFC_VERIFIER));
        assert!(!shown.contains(RFC_VERIFIER));
    }

    #[test]
    fn error_messages_are_valid_error_descriptions_and_codes_are_distinct() {
        let all = [
            PkceError::MethodMissing,
            PkceError::MethodNotS256,
            PkceError::MalformedChallenge,
            PkceError::MalformedVerifier,
        ];
        for e in all {
            // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
            let ok = e
                .to_string()
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E));
            assert!(ok, "{e:?}");
        }
        let mut codes: Vec<_> = all.iter().map(PkceError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn challenge_round_trips_through_serde_and_refuses_garbage() {
        let challenge = CodeChallenge::parse(RFC_CHALLENGE, Some(S256)).unwrap();
        let json = serde_json::to_string(&challenge).unwrap();
        assert_eq!(json, format!("\"{RFC_CHALLENGE}\""));
        let back: CodeChallenge = serde_json::from_str(&json).unwrap();
        assert_eq!(back, challenge);
        assert!(serde_json::from_str::<CodeChallenge>("\"short\"").is_err());
    }

    proptest! {
        #[test]
        fn any_valid_verifier_verifies_against_its_own_challenge_only(
            a in "[A-Za-z0-9._~-]{43,128}",
            b in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let (va, vb) = (verifier(&a), verifier(&b));
            let challenge = CodeChallenge::s256(&va);
            let parsed = CodeChallenge::parse(challenge.as_str(), Some(S256)).unwrap();
            prop_assert_eq!(&parsed, &challenge);
            prop_assert!(parsed.verify(&va));
            prop_assert_eq!(parsed.verify(&vb), a == b);
        }

        #[test]
        fn parsers_never_panic_and_accept_only_their_grammar(
            s in ".{0,140}",
            method in proptest::option::of("S256|plain|.{0,8}"),
        ) {
            if CodeVerifier::parse(&s).is_ok() {
                prop_assert!((43..=128).contains(&s.len()));
                prop_assert!(s.bytes().all(is_unreserved));
            }
            if let Ok(c) = CodeChallenge::parse(&s, method.as_deref()) {
                prop_assert_eq!(method.as_deref(), Some(S256));
                prop_assert_eq!(c.as_str(), s.as_str());
                prop_assert_eq!(s.len(), CHALLENGE_LEN);
            }
        }

        #[test]
        fn challenge_parser_accepts_every_sha256_encoding(bytes in any::<[u8; 32]>()) {
            let text = URL_SAFE_NO_PAD.encode(bytes);
            let c = CodeChallenge::parse(&text, Some(S256)).unwrap();
            prop_assert_eq!(c.digest, bytes);
        }
    }
}
