//! Fetching and caching the issuer's keys: discovery, rotation, rate limits, outages
//! and hostile answers.

use super::idp::{Idp, dead_base, endless_server};
use super::*;
use crate::issuers::MAX_DOCUMENT_BYTES;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn keys_are_found_by_oidc_discovery() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    // With a trailing slash, as Auth0 writes its issuers: discovery strips it.
    let iss = format!("{}/", idp.base);
    idp.discover_as(&iss);
    let issuers = issuers(IssuerSettings {
        issuer: iss.clone(),
        ..settings(None)
    });
    let token = sign(&key, &claims_with(json!({ "iss": iss })));

    assert_eq!(outcome(only(&issuers), &token).await, Ok(()));
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
    assert_eq!(outcome(only(&issuers), &token).await, Ok(()));
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_unavailable() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    idp.discover_as(&format!("{}/other-tenant", idp.base));
    let issuers = issuers(IssuerSettings {
        issuer: idp.base.clone(),
        ..settings(None)
    });
    let token = sign(&key, &claims_with(json!({ "iss": idp.base })));

    assert_eq!(
        outcome(only(&issuers), &token).await,
        Err(ExternalRejection::Unavailable)
    );
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 0));
}

#[tokio::test]
async fn discovery_pointing_at_plain_http_elsewhere_is_unavailable() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    *idp.state.discovery.lock() =
        json!({ "issuer": idp.base, "jwks_uri": "http://idp.example/jwks.json" }).to_string();
    let issuers = issuers(IssuerSettings {
        issuer: idp.base.clone(),
        ..settings(None)
    });
    let token = sign(&key, &claims_with(json!({ "iss": idp.base })));

    assert_eq!(
        outcome(only(&issuers), &token).await,
        Err(ExternalRejection::Unavailable)
    );
}

#[tokio::test]
async fn a_new_key_is_fetched_on_first_sight_and_old_tokens_still_verify() {
    let idp = Idp::start().await;
    let (old, new) = (es256(), es256());
    idp.publish(&[&old]);
    let issuers = issuers_timed(settings(Some(idp.jwks_uri())), IMPATIENT);
    let issuer = only(&issuers);
    assert_eq!(outcome(issuer, &sign(&old, &claims())).await, Ok(()));

    idp.publish(&[&old, &new]);
    assert_eq!(outcome(issuer, &sign(&new, &claims())).await, Ok(()));
    assert_eq!(idp.jwks_hits(), 2);
    assert_eq!(outcome(issuer, &sign(&old, &claims())).await, Ok(()));
    assert_eq!(idp.jwks_hits(), 2, "known kids need no fetch");

    // Once the old key is withdrawn, the next fetch forgets it.
    idp.publish(&[&new]);
    assert_eq!(
        outcome(issuer, &token_with_kid("prompts-a-fetch")).await,
        invalid(TokenError::UnknownKey)
    );
    assert_eq!(issuer.cached_kids(), [new.kid()]);
    assert_eq!(
        outcome(issuer, &sign(&old, &claims())).await,
        invalid(TokenError::UnknownKey)
    );
}

#[tokio::test]
async fn a_flood_of_unknown_kids_is_not_a_flood_of_fetches() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = only(&issuers);

    for i in 0..50 {
        assert_eq!(
            outcome(issuer, &token_with_kid(&format!("random-{i}"))).await,
            invalid(TokenError::UnknownKey)
        );
    }
    assert_eq!(idp.jwks_hits(), 1);
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn an_issuer_down_from_the_start_is_unavailable_not_invalid() {
    let dead = dead_base().await;
    let failing = Idp::start().await;
    failing.fail(true);
    let cases = [
        settings(Some(format!("{dead}/jwks.json"))),
        settings(Some(failing.jwks_uri())),
        IssuerSettings {
            issuer: dead.clone(),
            ..settings(None)
        },
    ];

    for settings in cases {
        let issuers = issuers(settings.clone());
        let token = sign(&es256(), &claims_with(json!({ "iss": settings.issuer })));
        assert_eq!(
            outcome(only(&issuers), &token).await,
            Err(ExternalRejection::Unavailable),
            "{settings:?}"
        );
    }
}

#[tokio::test]
async fn cached_keys_still_verify_after_the_issuer_goes_down() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = only(&issuers);
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));

    idp.fail(true);
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn stale_keys_are_refreshed_and_kept_when_the_refresh_fails() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let issuers = issuers_timed(settings(Some(idp.jwks_uri())), ALWAYS_STALE);
    let issuer = only(&issuers);
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));
    assert_eq!(idp.jwks_hits(), 2, "stale keys are fetched again");

    idp.fail(true);
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));
    assert_eq!(idp.jwks_hits(), 3, "the refresh was tried");
    // A kid the old keys do not know cannot be judged while the issuer is down.
    assert_eq!(
        outcome(issuer, &token_with_kid("new-at-the-issuer")).await,
        Err(ExternalRejection::Unavailable)
    );
}

#[tokio::test]
async fn a_failing_issuer_is_asked_at_most_once_per_interval() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    idp.fail(true);
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = only(&issuers);

    for _ in 0..10 {
        assert_eq!(
            outcome(issuer, &sign(&key, &claims())).await,
            Err(ExternalRejection::Unavailable)
        );
    }
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn keys_past_the_staleness_limit_are_not_used() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    let timing = Timing {
        max_stale: Duration::ZERO,
        ..ALWAYS_STALE
    };
    let issuers = issuers_timed(settings(Some(idp.jwks_uri())), timing);
    let issuer = only(&issuers);
    assert_eq!(outcome(issuer, &sign(&key, &claims())).await, Ok(()));

    idp.fail(true);
    assert_eq!(
        outcome(issuer, &sign(&key, &claims())).await,
        Err(ExternalRejection::Unavailable)
    );
}

#[tokio::test]
async fn an_oversized_jwks_is_unavailable() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish_raw(json!({
        "keys": [key.public_jwk()],
        "padding": "x".repeat(MAX_DOCUMENT_BYTES),
    }));
    let issuers = issuers(settings(Some(idp.jwks_uri())));

    assert_eq!(
        outcome(only(&issuers), &sign(&key, &claims())).await,
        Err(ExternalRejection::Unavailable)
    );
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn an_endless_jwks_without_length_is_cut_off_at_the_size_limit() {
    let base = endless_server().await;
    let issuers = issuers(settings(Some(format!("{base}/jwks.json"))));
    let started = tokio::time::Instant::now();

    assert_eq!(
        outcome(only(&issuers), &sign(&es256(), &claims())).await,
        Err(ExternalRejection::Unavailable)
    );
    // Stopped by the size limit, well before the fetch timeout would have.
    assert!(started.elapsed() < Timing::DEFAULT.fetch_timeout);
}

#[tokio::test]
async fn a_jwks_without_usable_keys_or_not_json_is_unavailable() {
    for body in [
        json!({"keys": []}),
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    ] {
        let idp = Idp::start().await;
        idp.publish_raw(body.clone());
        let issuers = issuers(settings(Some(idp.jwks_uri())));
        assert_eq!(
            outcome(only(&issuers), &token_with_kid("k")).await,
            Err(ExternalRejection::Unavailable),
            "{body}"
        );
    }
    for body in ["<html>", "{\"keys\": {}}", "[]", ""] {
        let idp = Idp::start().await;
        *idp.state.jwks.lock() = body.into();
        let issuers = issuers(settings(Some(idp.jwks_uri())));
        assert_eq!(
            outcome(only(&issuers), &token_with_kid("k")).await,
            Err(ExternalRejection::Unavailable),
            "{body}"
        );
    }
}

#[tokio::test]
async fn only_the_usable_keys_of_a_mixed_jwks_are_kept() {
    let idp = Idp::start().await;
    let (rsa, no_kid, private, encryption, ed) = (rs256(), es256(), es256(), es256(), eddsa());
    let jwk = |key: &SigningKey| serde_json::to_value(key.public_jwk()).unwrap();
    let mut without_kid = jwk(&no_kid);
    without_kid.as_object_mut().unwrap().remove("kid");
    let mut with_d = jwk(&private);
    with_d["d"] = json!("c2VjcmV0");
    let mut for_encryption = jwk(&encryption);
    for_encryption["use"] = json!("enc");
    idp.publish_raw(json!({ "keys": [
        jwk(&rsa),
        without_kid,
        with_d,
        for_encryption,
        jwk(&ed),
        {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": 5, "kid": "odd"},
        "not an object",
    ]}));
    let issuers = issuers(settings(Some(idp.jwks_uri())));
    let issuer = only(&issuers);

    assert_eq!(outcome(issuer, &sign(&rsa, &claims())).await, Ok(()));
    // Kept under its RFC 7638 thumbprint, which is also the kid Gatehouse's keys sign with.
    assert_eq!(outcome(issuer, &sign(&no_kid, &claims())).await, Ok(()));
    let mut kept = issuer.cached_kids();
    kept.sort();
    let mut expected = vec![rsa.kid().to_owned(), no_kid.kid().to_owned()];
    expected.sort();
    assert_eq!(kept, expected);
    for key in [&private, &encryption] {
        assert_eq!(
            outcome(issuer, &sign(key, &claims())).await,
            invalid(TokenError::UnknownKey)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_on_a_cold_cache_share_one_fetch() {
    let idp = Idp::start().await;
    let key = es256();
    idp.publish(&[&key]);
    idp.state.delay_ms.store(200, Ordering::SeqCst);
    let issuers = Arc::new(issuers(settings(Some(idp.jwks_uri()))));
    let token = sign(&key, &claims());

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (issuers, token) = (Arc::clone(&issuers), token.clone());
            tokio::spawn(async move { outcome(only(&issuers), &token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(()));
    }
    assert_eq!(idp.jwks_hits(), 1);
}
