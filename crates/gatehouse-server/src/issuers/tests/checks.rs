//! What a token must be, what settings must be, and reading `iss` unverified.

use super::idp::Idp;
use super::*;
use crate::issuers::unverified_issuer;

#[tokio::test]
async fn a_token_signed_by_the_issuers_key_verifies() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = issuers.find(ISSUER).unwrap();

    let verified = issuer.verify(&sign(&key, &claims()), NOW).await.unwrap();

    assert_eq!(verified.kid, key.kid());
    assert_eq!(verified.alg, Alg::Es256);
    assert_eq!(verified.claims.sub.as_deref(), Some("user-1"));
    assert_eq!(verified.claims.scope.as_deref(), Some("orders:read"));
    assert_eq!(idp.jwks_hits(), 1);
    // Fresh keys answer the next token without asking the issuer.
    issuer.verify(&sign(&key, &claims()), NOW).await.unwrap();
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn a_single_string_audience_is_enough_and_typ_is_not_checked() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let claims = claims_with(json!({"aud": "api"}));

    for typ in ["JWT", "at+jwt", "whatever"] {
        let token = key.sign_jwt(typ, &claims).unwrap();
        assert_eq!(outcome(only(&issuers), &token).await, Ok(()), "typ {typ}");
    }
}

#[tokio::test]
async fn a_token_for_another_audience_or_none_is_invalid() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = only(&issuers);

    for aud in [json!("billing"), json!(["billing", "API"]), Value::Null] {
        let token = sign(&key, &claims_with(json!({ "aud": aud })));
        assert_eq!(
            outcome(issuer, &token).await,
            invalid(TokenError::WrongAudience),
            "aud {aud}"
        );
    }
}

#[tokio::test]
async fn an_algorithm_outside_the_allow_list_is_refused_without_a_fetch() {
    let idp = Idp::start().await;
    let (es, ed) = (es256(), eddsa());
    idp.publish(&[&es, &ed]);
    let issuers = issuers(IssuerSettings {
        algorithms: vec![Alg::Rs256],
        ..settings(Some(idp.jwks_uri()))
    });

    for key in [&es, &ed] {
        assert_eq!(
            outcome(only(&issuers), &sign(key, &claims())).await,
            invalid(TokenError::AlgNotAllowed)
        );
    }
    assert_eq!(idp.jwks_hits(), 0);
}

#[tokio::test]
async fn time_claims_are_checked_with_sixty_seconds_of_leeway() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = only(&issuers);
    let check = |changes: Value| {
        let token = sign(&key, &claims_with(changes));
        async move { outcome(issuer, &token).await }
    };

    assert_eq!(check(json!({"exp": NOW_SECS - 30})).await, Ok(()));
    assert_eq!(
        check(json!({"exp": NOW_SECS - 60})).await,
        invalid(TokenError::Expired)
    );
    assert_eq!(check(json!({"nbf": NOW_SECS + 30})).await, Ok(()));
    assert_eq!(
        check(json!({"nbf": NOW_SECS + 61})).await,
        invalid(TokenError::NotYetValid)
    );
    assert_eq!(
        check(json!({"iat": NOW_SECS + 61})).await,
        invalid(TokenError::IssuedInFuture)
    );
    assert!(matches!(
        check(json!({"exp": null})).await,
        Err(ExternalRejection::Invalid(TokenError::BadClaims(_)))
    ));
}

#[tokio::test]
async fn a_token_naming_another_issuer_is_invalid() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));

    for iss in [
        json!("https://evil.example"),
        json!("https://idp.example/"),
        Value::Null,
    ] {
        let token = sign(&key, &claims_with(json!({ "iss": iss })));
        assert_eq!(
            outcome(only(&issuers), &token).await,
            invalid(TokenError::WrongIssuer),
            "iss {iss}"
        );
    }
}

#[tokio::test]
async fn a_signature_by_another_key_under_a_published_kid_is_invalid() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let good = sign(&key, &claims());
    let other = sign(&es256(), &claims());
    let forged = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );

    assert_eq!(
        outcome(only(&issuers), &forged).await,
        invalid(TokenError::BadSignature)
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_a_fetch() {
    let idp = Idp::start().await;
    idp.publish(&[&es256()]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = b64(claims());
    let cases = [
        ("not.a.jwt.at.all".to_owned(), "malformed"),
        ("abc".to_owned(), "malformed"),
        ("x".repeat(9000), "too_large"),
        (
            format!("{}.{payload}.", b64(json!({"alg": "none"}))),
            "alg_not_allowed",
        ),
        (
            format!(
                "{}.{payload}.c2ln",
                b64(json!({"alg": "HS256", "kid": "k"}))
            ),
            "alg_not_allowed",
        ),
        (
            format!(
                "{}.{payload}.c2ln",
                b64(json!({"alg": "ES256", "kid": "k", "jku": "https://evil.example"}))
            ),
            "forbidden_header",
        ),
        (
            format!("{}.{payload}.c2ln", b64(json!({"alg": "ES256"}))),
            "unknown_key",
        ),
    ];

    for (token, reason) in cases {
        let rejection = only(&issuers).verify(&token, NOW).await.unwrap_err();
        assert_eq!(rejection.reason(), reason);
        assert!(matches!(rejection, ExternalRejection::Invalid(_)));
        assert!(
            !rejection.to_string().contains(&payload),
            "no token in errors"
        );
    }
    assert_eq!(idp.jwks_hits(), 0);
}

#[test]
fn rejections_have_stable_reasons() {
    assert_eq!(
        ExternalRejection::Unavailable.reason(),
        "issuer_unavailable"
    );
    assert_eq!(
        ExternalRejection::Invalid(TokenError::WrongAudience).reason(),
        "wrong_audience"
    );
}

#[test]
fn issuers_are_found_by_exact_iss_and_the_first_duplicate_wins() {
    let other = IssuerSettings {
        issuer: "https://other.example".into(),
        ..settings(None)
    };
    let duplicate = IssuerSettings {
        audiences: vec!["second".into()],
        ..settings(None)
    };
    let issuers = Issuers::new(vec![settings(None), other, duplicate], http());

    assert_eq!(issuers.find(ISSUER).unwrap().issuer(), ISSUER);
    assert_eq!(issuers.find(ISSUER).unwrap().settings.audiences, ["api"]);
    assert!(issuers.find("https://idp.example/").is_none());
    assert!(issuers.find("https://IDP.example").is_none());
    assert_eq!(issuers.issuers.len(), 2);
    assert!(!issuers.is_empty());
    assert!(Issuers::new(Vec::new(), http()).is_empty());
}

#[test]
fn unverified_issuer_reads_iss_without_checking_anything() {
    let token = sign(&es256(), &claims());
    assert_eq!(unverified_issuer(&token).as_deref(), Some(ISSUER));
    // Unsigned garbage too: this only routes, it proves nothing.
    assert_eq!(
        unverified_issuer(&token_with_kid("x")).as_deref(),
        Some(ISSUER)
    );
}

#[test]
fn unverified_issuer_is_none_for_unreadable_tokens() {
    let b64 = |v: &str| URL_SAFE_NO_PAD.encode(v);
    for token in [
        String::new(),
        "a.b".into(),
        format!("h.{}.s.extra", b64(r#"{"iss":"x"}"#)),
        format!("h.{}.s", b64(r#"{"sub":"x"}"#)),
        format!("h.{}.s", b64(r#"{"iss":5}"#)),
        format!("h.{}.s", b64(r#"{"iss":"a","iss":"b"}"#)),
        format!("h.{}=.s", b64(r#"{"iss":"x"}"#)),
        format!(
            "h.{}.s",
            b64(&format!(r#"{{"iss":"{}"}}"#, "x".repeat(9000)))
        ),
    ] {
        assert_eq!(unverified_issuer(&token), None, "{token:.40}");
    }
}

#[test]
fn validate_accepts_https_and_loopback_http() {
    for uri in [
        "https://idp.example/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://127.8.9.10/jwks",
        "http://[::1]:9000/jwks",
        "http://localhost/jwks",
        "http://LOCALHOST:1/jwks",
    ] {
        assert_eq!(settings(Some(uri.into())).validate(), Ok(()), "{uri}");
    }
    assert_eq!(settings(None).validate(), Ok(()));
}

#[test]
fn validate_refuses_plain_http_to_other_hosts_and_other_schemes() {
    for uri in [
        "http://idp.example/jwks",
        "http://10.0.0.1/jwks",
        "http://[::ffff:127.0.0.1]/jwks",
        "http://localhost.evil.example/jwks",
        "ftp://idp.example/jwks",
        "file:///etc/jwks.json",
        "https://user:pass@idp.example/jwks",
        "not a url",
    ] {
        let refused = settings(Some(uri.into())).validate().unwrap_err();
        assert!(refused.contains("jwks_uri"), "{uri}: {refused}");
    }
    for issuer in ["http://idp.example", "https://idp.example?tenant=1", "idp"] {
        let discovery = IssuerSettings {
            issuer: issuer.into(),
            ..settings(None)
        };
        let refused = discovery.validate().unwrap_err();
        assert!(refused.contains("issuer"), "{issuer}: {refused}");
    }
    // With an explicit jwks_uri the issuer is only compared, never fetched.
    let opaque = IssuerSettings {
        issuer: "idp".into(),
        ..settings(Some("https://idp.example/jwks".into()))
    };
    assert_eq!(opaque.validate(), Ok(()));
}

#[test]
fn validate_refuses_empty_issuer_audiences_and_algorithms() {
    let cases = [
        IssuerSettings {
            issuer: String::new(),
            ..settings(Some("https://idp.example/jwks".into()))
        },
        IssuerSettings {
            audiences: Vec::new(),
            ..settings(None)
        },
        IssuerSettings {
            audiences: vec![String::new()],
            ..settings(None)
        },
        IssuerSettings {
            algorithms: Vec::new(),
            ..settings(None)
        },
    ];
    for case in cases {
        assert!(case.validate().is_err(), "{case:?}");
    }
}

#[test]
fn freshness_follows_max_age_within_bounds() {
    let t = Timing::DEFAULT;
    let secs = Duration::from_secs;
    assert_eq!(t.fresh_for(None), secs(300));
    assert_eq!(t.fresh_for(Some("public, max-age=600")), secs(600));
    assert_eq!(t.fresh_for(Some("max-age=5")), secs(60));
    assert_eq!(
        t.fresh_for(Some("MAX-AGE=86400, must-revalidate")),
        secs(3600)
    );
    assert_eq!(t.fresh_for(Some("no-store")), secs(60));
    assert_eq!(t.fresh_for(Some("max-age=600,no-cache")), secs(60));
    assert_eq!(t.fresh_for(Some("max-age=\"120\"")), secs(120));
    assert_eq!(t.fresh_for(Some("max-age=-1")), secs(300));
    assert_eq!(t.fresh_for(Some("public")), secs(300));
}
