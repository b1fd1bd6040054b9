//! Who may learn what a token is (RFC 7662 §2.1, §4): introspection answers a client
//! only about tokens that concern it, so that a client holding another's token (a
//! leaked one, say) cannot learn whose it is, what it allows, or that it is live.

use super::client::ClientRecord;
use crate::jose::AccessClaims;
use crate::scope::INTROSPECT;

/// Whether `caller` may be told about an access token with these `claims`: the client
/// it was issued to; a resource server it is meant for (a client whose id is one of
/// the token's audiences); or a client registered with `gatehouse:introspect` (or
/// `gatehouse:admin`). Anyone else is answered `{"active": false}`, as for a token
/// that does not exist.
pub fn may_introspect(caller: &ClientRecord, claims: &AccessClaims) -> bool {
    claims.client_id.as_deref() == Some(caller.id.as_str())
        || claims
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(&caller.id))
        || caller.scopes.grants(INTROSPECT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::Audience;
    use crate::oauth::{ClientAuthMethod, GrantType, SecretDigest};
    use crate::scope::ScopeSet;
    use crate::time::UnixTime;

    fn client(id: &str, scopes: &str) -> ClientRecord {
        ClientRecord {
            id: id.into(),
            name: "app".into(),
            secret_digest: SecretDigest::of("s"),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::parse(scopes.split(' ').filter(|s| !s.is_empty())).unwrap(),
            audiences: Vec::new(),
            access_ttl_secs: None,
            jwks: None,
            tls_client_auth: None,
            redirect_uris: Vec::new(),
            enabled: true,
            created_at: UnixTime::from_millis(0),
            updated_at: UnixTime::from_millis(0),
        }
    }

    fn bare() -> AccessClaims {
        AccessClaims {
            iss: None,
            sub: None,
            aud: None,
            exp: 0,
            nbf: None,
            iat: None,
            jti: None,
            client_id: None,
            scope: None,
            cnf: None,
        }
    }

    fn token(client_id: &str, aud: &str) -> AccessClaims {
        AccessClaims {
            client_id: Some(client_id.into()),
            aud: Some(Audience::One(aud.into())),
            ..bare()
        }
    }

    #[test]
    fn the_token_s_own_client_may_introspect_it() {
        assert!(may_introspect(
            &client("cl_a", "orders:read"),
            &token("cl_a", "orders")
        ));
    }

    #[test]
    fn an_unrelated_client_may_not() {
        assert!(!may_introspect(
            &client("cl_b", "misc:read"),
            &token("cl_a", "orders")
        ));
    }

    #[test]
    fn the_resource_server_the_token_is_for_may() {
        assert!(may_introspect(
            &client("orders", "misc:read"),
            &token("cl_a", "orders")
        ));
        let many = AccessClaims {
            aud: Some(Audience::Many(vec!["billing".into(), "orders".into()])),
            ..token("cl_a", "x")
        };
        assert!(may_introspect(&client("orders", ""), &many));
    }

    #[test]
    fn a_client_with_the_introspection_scope_or_admin_may() {
        let claims = token("cl_a", "orders");
        assert!(may_introspect(
            &client("cl_c", "gatehouse:introspect"),
            &claims
        ));
        assert!(may_introspect(&client("cl_c", "gatehouse:admin"), &claims));
        assert!(!may_introspect(
            &client("cl_c", "gatehouse:verify"),
            &claims
        ));
    }

    #[test]
    fn a_token_without_client_or_audience_concerns_no_client() {
        assert!(!may_introspect(&client("cl_a", "orders:read"), &bare()));
    }
}
