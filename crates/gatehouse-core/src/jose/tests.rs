use super::*;
use crate::time::UnixTime;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use serde_json::json;

const NOW_SECS: i64 = 1_800_000_000;
const NOW: UnixTime = UnixTime::from_millis(NOW_SECS * 1000);
const ISSUER: &str = "https://auth.example";

fn es256() -> SigningKey {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    SigningKey::from_pkcs8(Alg::Es256, der.as_ref()).unwrap()
}

fn eddsa() -> SigningKey {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    SigningKey::from_pkcs8(Alg::EdDsa, der.as_ref()).unwrap()
}

fn rs256() -> SigningKey {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    SigningKey::from_pkcs8(Alg::Rs256, der.as_ref()).unwrap()
}

fn verifier(key: &SigningKey) -> VerifyingKey {
    VerifyingKey::from_jwk(key.public_jwk()).unwrap()
}

fn claims() -> serde_json::Value {
    json!({
        "iss": ISSUER, "sub": "client-1", "aud": "orders", "exp": NOW_SECS + 600,
        "iat": NOW_SECS, "nbf": NOW_SECS, "jti": "t1", "client_id": "client-1",
        "scope": "orders:read"
    })
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        audience: Some("orders"),
        typ: Some("at+jwt"),
        leeway_secs: 30,
        max_len: Expected::MAX_LEN,
    }
}

/// A token with any header and payload, correctly signed by `key`.
fn forge(key: &SigningKey, header: &serde_json::Value, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(payload)
    );
    let signature = key.sign_bytes(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(signature))
}

fn header(key: &SigningKey) -> serde_json::Value {
    json!({"alg": key.alg().as_str(), "typ": "at+jwt", "kid": key.kid()})
}

fn check(token: &str, key: &VerifyingKey) -> Result<VerifiedToken, TokenError> {
    verify_jwt(
        token,
        |kid| (kid == key.kid()).then_some(key),
        &expected(),
        NOW,
    )
}

#[test]
fn rfc7638_thumbprint_of_the_example_rsa_key() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(VerifyingKey::from_jwk(&jwk).unwrap().alg(), Alg::Rs256);
}

#[test]
fn rfc8037_ed25519_thumbprint_and_signature() {
    let seed = b64::decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
    let public = b64::decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    let key = SigningKey::from_ed25519_seed(&seed, &public).unwrap();
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let signature = key.sign_bytes(input.as_bytes()).unwrap();
    assert_eq!(
        b64::encode(&signature),
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    );
    assert!(verifier(&key).verifies(input.as_bytes(), &signature));
}

#[test]
fn rfc7515_es256_example_verifies_and_a_flipped_bit_does_not() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }))
    .unwrap();
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let mut signature = b64::decode(
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
    )
    .unwrap();
    assert!(key.verifies(input.as_bytes(), &signature));
    signature[63] ^= 1;
    assert!(!key.verifies(input.as_bytes(), &signature));
}

#[test]
fn each_algorithm_signs_and_verifies_its_own_tokens() {
    for key in [es256(), eddsa(), rs256()] {
        let token = key.sign_jwt("at+jwt", &claims()).unwrap();
        let verified = check(&token, &verifier(&key)).unwrap();
        assert_eq!(verified.alg, key.alg());
        assert_eq!(verified.kid, key.kid());
        assert_eq!(verified.claims.sub.as_deref(), Some("client-1"));
        assert_eq!(verified.claims.scope.as_deref(), Some("orders:read"));
        let jwk = key.public_jwk();
        assert_eq!(jwk.key_use.as_deref(), Some("sig"));
        assert_eq!(jwk.alg.as_deref(), Some(key.alg().as_str()));
        assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
    }
}

#[test]
fn the_public_jwk_never_carries_private_material() {
    for key in [es256(), eddsa(), rs256()] {
        let text = serde_json::to_string(key.public_jwk()).unwrap();
        for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""] {
            assert!(!text.contains(private), "{text}");
        }
        assert!(!format!("{key:?}").contains("Pair"));
    }
}

#[test]
fn alg_none_and_hmac_are_refused() {
    let key = es256();
    let v = verifier(&key);
    let payload = b64::encode(claims().to_string());
    let none = format!(
        "{}.{payload}.",
        b64::encode(json!({"alg": "none", "typ": "at+jwt", "kid": key.kid()}).to_string())
    );
    assert_eq!(check(&none, &v).unwrap_err(), TokenError::AlgNotAllowed);
    // HS256 keyed with the public key's bytes: the classic RS/HS confusion.
    let public = serde_json::to_vec(key.public_jwk()).unwrap();
    let input = format!(
        "{}.{payload}",
        b64::encode(json!({"alg": "HS256", "typ": "at+jwt", "kid": key.kid()}).to_string())
    );
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &public),
        input.as_bytes(),
    );
    let hs = format!("{input}.{}", b64::encode(mac.as_ref()));
    assert_eq!(check(&hs, &v).unwrap_err(), TokenError::AlgNotAllowed);
}

#[test]
fn a_token_cannot_pick_its_key_or_algorithm() {
    let key = es256();
    let v = verifier(&key);
    let mut forged_kid = header(&key);
    forged_kid["kid"] = json!("someone-elses-key");
    let token = forge(&key, &forged_kid, &claims().to_string());
    assert_eq!(check(&token, &v).unwrap_err(), TokenError::UnknownKey);

    let mut no_kid = header(&key);
    no_kid.as_object_mut().unwrap().remove("kid");
    let token = forge(&key, &no_kid, &claims().to_string());
    assert_eq!(check(&token, &v).unwrap_err(), TokenError::UnknownKey);

    // An EdDSA signature presented under the ES256 key's kid.
    let other = eddsa();
    let mut switched = header(&key);
    switched["alg"] = json!("EdDSA");
    let token = forge(&other, &switched, &claims().to_string());
    assert_eq!(check(&token, &v).unwrap_err(), TokenError::AlgMismatch);

    for (name, value) in [
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert")),
        ("jwk", serde_json::to_value(other.public_jwk()).unwrap()),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut h = header(&key);
        h[name] = value;
        let token = forge(&key, &h, &claims().to_string());
        assert_eq!(
            check(&token, &v).unwrap_err(),
            TokenError::ForbiddenHeader(name)
        );
    }
    let mut crit = header(&key);
    crit["crit"] = json!(["exp"]);
    crit["exp"] = json!(1);
    let token = forge(&key, &crit, &claims().to_string());
    assert_eq!(check(&token, &v).unwrap_err(), TokenError::UnknownCritical);
}

#[test]
fn forged_and_tampered_signatures_are_refused() {
    let key = es256();
    let v = verifier(&key);
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    let (input, _) = token.rsplit_once('.').unwrap();
    let zeros = format!("{input}.{}", b64::encode([0u8; 64]));
    assert_eq!(check(&zeros, &v).unwrap_err(), TokenError::BadSignature);
    let short = format!("{input}.{}", b64::encode([1u8; 10]));
    assert_eq!(check(&short, &v).unwrap_err(), TokenError::BadSignature);

    let mut escalated = claims();
    escalated["scope"] = json!("gatehouse:admin");
    let (_, signature) = token.rsplit_once('.').unwrap();
    let tampered = format!(
        "{}.{}.{signature}",
        b64::encode(header(&key).to_string()),
        b64::encode(escalated.to_string())
    );
    assert_eq!(check(&tampered, &v).unwrap_err(), TokenError::BadSignature);

    // Signed by another key of the same algorithm under this key's kid.
    let impostor = es256();
    let token = forge(&impostor, &header(&key), &claims().to_string());
    assert_eq!(check(&token, &v).unwrap_err(), TokenError::BadSignature);
}

#[test]
fn times_are_checked_with_bounded_leeway() {
    let key = eddsa();
    let v = verifier(&key);
    let sign = |patch: serde_json::Value| {
        let mut c = claims();
        for (k, val) in patch.as_object().unwrap() {
            c[k] = val.clone();
        }
        key.sign_jwt("at+jwt", &c).unwrap()
    };
    assert_eq!(
        check(&sign(json!({"exp": NOW_SECS - 31})), &v).unwrap_err(),
        TokenError::Expired
    );
    assert!(check(&sign(json!({"exp": NOW_SECS - 29})), &v).is_ok());
    assert_eq!(
        check(&sign(json!({"nbf": NOW_SECS + 31})), &v).unwrap_err(),
        TokenError::NotYetValid
    );
    assert_eq!(
        check(&sign(json!({"iat": NOW_SECS + 31})), &v).unwrap_err(),
        TokenError::IssuedInFuture
    );
    let mut lax = expected();
    lax.leeway_secs = 1_000_000;
    let old = sign(json!({"exp": NOW_SECS - 301}));
    assert_eq!(
        verify_jwt(&old, |_| Some(&v), &lax, NOW).unwrap_err(),
        TokenError::Expired,
        "leeway is capped at five minutes"
    );
}

#[test]
fn issuer_audience_and_type_must_match() {
    let key = es256();
    let v = verifier(&key);
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    assert_eq!(
        check(&key.sign_jwt("at+jwt", &c).unwrap(), &v).unwrap_err(),
        TokenError::WrongIssuer
    );
    let mut c = claims();
    c["aud"] = json!(["billing", "shipping"]);
    assert_eq!(
        check(&key.sign_jwt("at+jwt", &c).unwrap(), &v).unwrap_err(),
        TokenError::WrongAudience
    );
    c["aud"] = json!(["billing", "orders"]);
    assert!(check(&key.sign_jwt("at+jwt", &c).unwrap(), &v).is_ok());
    assert_eq!(
        check(&key.sign_jwt("JWT", &claims()).unwrap(), &v).unwrap_err(),
        TokenError::WrongType
    );
    assert!(check(&key.sign_jwt("application/AT+JWT", &claims()).unwrap(), &v).is_ok());
}

#[test]
fn claims_of_the_wrong_type_or_repeated_are_refused() {
    let key = es256();
    let v = verifier(&key);
    let h = header(&key);
    let cases = [
        r#"{"iss":"https://auth.example","aud":"orders","exp":1800000600,"nbf":"1800000000"}"#,
        r#"{"iss":"https://auth.example","aud":"orders","exp":"1800000600"}"#,
        r#"{"iss":"https://auth.example","aud":"orders","exp":1800000600.5}"#,
        r#"{"iss":"https://auth.example","aud":"orders"}"#,
        r#"{"iss":"https://auth.example","aud":7,"exp":1800000600}"#,
        r#"{"iss":"https://auth.example","aud":"orders","exp":1800000600,"exp":1900000000}"#,
        r#"{"iss":"https://auth.example","aud":"orders","exp":1800000600,"scope":["a"]}"#,
        r#"["not", "an", "object"]"#,
    ];
    for payload in cases {
        let token = forge(&key, &h, payload);
        assert!(
            matches!(check(&token, &v), Err(TokenError::BadClaims(_))),
            "{payload}"
        );
    }
    let mut twice = h.to_string();
    twice.insert_str(1, r#""alg":"none","#);
    let token = format!(
        "{}.{}.{}",
        b64::encode(&twice),
        b64::encode(claims().to_string()),
        b64::encode([0u8; 64])
    );
    assert!(matches!(check(&token, &v), Err(TokenError::Malformed(_))));
}

#[test]
fn malformed_and_oversized_tokens_are_refused() {
    let key = es256();
    let v = verifier(&key);
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    for bad in [
        String::new(),
        "a.b".into(),
        format!("{token}.extra"),
        format!("{token}="),
        token.replacen('.', "=.", 1),
        token.replacen('.', ".+", 1),
        format!("!{token}"),
    ] {
        assert!(
            matches!(
                check(&bad, &v),
                Err(TokenError::Malformed(_) | TokenError::BadSignature)
            ),
            "{bad}"
        );
    }
    let mut big = claims();
    big["pad"] = json!("x".repeat(Expected::MAX_LEN));
    let token = key.sign_jwt("at+jwt", &big).unwrap();
    assert_eq!(check(&token, &v).unwrap_err(), TokenError::TooLarge);
}

#[test]
fn unsupported_or_broken_jwks_are_refused() {
    let cases = [
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
        json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        json!({"kty": "EC", "crv": "P-256",
               "x": b64::encode([1u8; 32]), "y": b64::encode([2u8; 32])}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
        json!({"kty": "RSA", "n": b64::encode([0xffu8; 128]), "e": "AQAB"}),
        json!({"kty": "OKP", "crv": "Ed25519", "alg": "ES256",
               "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        json!({"kty": "OKP", "crv": "Ed25519",
               "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
               "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
    ];
    for jwk in cases {
        let parsed: Jwk = serde_json::from_value(jwk.clone()).unwrap();
        assert!(VerifyingKey::from_jwk(&parsed).is_err(), "{jwk}");
    }
}

#[test]
fn a_token_bearer_is_its_subject_with_its_well_formed_scopes() {
    use crate::auth::{AuthMethod, Authenticated};
    let key = es256();
    let mut payload = claims();
    payload["sub"] = json!("alice");
    payload["scope"] = json!("orders:read  bad\"scope orders:write");
    let token = forge(&key, &header(&key), &payload.to_string());
    let verified = check(&token, &verifier(&key)).unwrap();
    let who = Authenticated::token_bearer(&verified, AuthMethod::Jwt).unwrap();
    assert_eq!(who.principal(), "alice");
    assert_eq!(who.credential_id(), "client-1");
    assert_eq!(who.method().as_str(), "jwt");
    let scopes: Vec<&str> = who.scopes().iter().map(|s| s.as_str()).collect();
    assert_eq!(scopes, ["orders:read", "orders:write"]);

    // A token that names no one authenticates no one.
    let mut anonymous = claims();
    for claim in ["sub", "client_id", "jti"] {
        anonymous.as_object_mut().unwrap().remove(claim);
    }
    let token = forge(&key, &header(&key), &anonymous.to_string());
    let verified = check(&token, &verifier(&key)).unwrap();
    assert!(Authenticated::token_bearer(&verified, AuthMethod::OAuth).is_none());
}
