use super::*;
use crate::user::Username;

const T0: UnixTime = UnixTime::from_millis(1_700_000_000_500);

fn user() -> UserRecord {
    UserRecord {
        id: "usr_1".into(),
        username: Username::parse("alice").unwrap(),
        display_name: Some("Alice A.".into()),
        email: Some("alice@example.com".into()),
        password_hash: None,
        scopes: ScopeSet::parse(["orders:read"]).unwrap(),
        enabled: true,
        created_at: T0,
        updated_at: T0,
        password_changed_at: None,
    }
}

fn scopes(s: &[&str]) -> ScopeSet {
    ScopeSet::parse(s.iter().copied()).unwrap()
}

#[test]
fn at_hash_matches_the_oidc_core_example() {
    // OpenID Connect Core 1.0, Appendix A.4: this access token, signed with RS256.
    let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    assert_eq!(at_hash(Alg::Rs256, token), "77QmUPtjPfzWtF2AnpK9RQ");
    assert_eq!(at_hash(Alg::Es256, token), "77QmUPtjPfzWtF2AnpK9RQ");
    // Ed25519: left half of SHA-512 (computed independently with Python's hashlib).
    assert_eq!(
        at_hash(Alg::EdDsa, token),
        "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM"
    );
}

#[test]
fn id_token_claims_name_user_client_and_times_in_seconds() {
    let subject = IdTokenSubject {
        issuer: "https://id.example",
        client_id: "app",
        user_id: "usr_1",
        auth_time: UnixTime::from_millis(1_699_999_000_900),
        nonce: Some("n-0S6_WzA2Mj"),
    };
    let claims = id_token_claims(subject, Alg::Es256, "tok", T0, 600);
    assert_eq!(claims.iss, "https://id.example");
    assert_eq!((claims.sub.as_str(), claims.aud.as_str()), ("usr_1", "app"));
    assert_eq!(claims.azp, "app");
    assert_eq!((claims.iat, claims.exp), (1_700_000_000, 1_700_000_600));
    assert_eq!(claims.auth_time, 1_699_999_000);
    assert_eq!(claims.at_hash, at_hash(Alg::Es256, "tok"));
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(json["nonce"], "n-0S6_WzA2Mj");

    let refreshed = id_token_claims(
        IdTokenSubject {
            nonce: None,
            ..subject
        },
        Alg::Es256,
        "tok",
        T0,
        600,
    );
    let json = serde_json::to_value(&refreshed).unwrap();
    assert!(json.get("nonce").is_none(), "{json}");
}

#[test]
fn a_user_grants_identity_scopes_and_only_the_api_scopes_they_hold() {
    let asked = scopes(&["openid", "profile", "email", "orders:read", "orders:write"]);
    assert_eq!(
        user_grantable(&asked, &user()),
        scopes(&["openid", "profile", "email", "orders:read"])
    );
    assert!(user_grantable(&scopes(&["admin"]), &user()).is_empty());
}

#[test]
fn userinfo_reveals_only_what_the_scopes_allow() {
    let bare = userinfo(&user(), &scopes(&["openid"]));
    assert_eq!(
        serde_json::to_value(&bare).unwrap(),
        serde_json::json!({"sub": "usr_1"})
    );
    let full = userinfo(&user(), &scopes(&["openid", "profile", "email"]));
    assert_eq!(
        serde_json::to_value(&full).unwrap(),
        serde_json::json!({
            "sub": "usr_1",
            "name": "Alice A.",
            "preferred_username": "alice",
            "email": "alice@example.com"
        })
    );
}
