//! Who may learn what a token is (RFC 7662 §2.1, §4): introspection answers a client
//! only about tokens that concern it, so that a client holding another's token (a
//! leaked one, say) cannot learn whose it is, what it allows, or that it is live.

use super::client::ClientRecord;
use crate::jose::AccessClaims;
use crate::scope::INTROSPECT;

/// Whether `caller` may be told about an access token with these `claims`: the client
/// it was issued to; a resource server it is meant for (a client registered with one
/// of the token's audiences in its `resource_server_audiences`); or a client
/// registered with `gatehouse:introspect` (or `gatehouse:admin`). Anyone else is
/// answered `{"active": false}`, as for a token that does not exist.
///
/// A client is a resource server only by registration, never by its id: audiences are
/// names an admin chooses, like `orders`, and a client id (`cli_…`) is generated, so
/// an earlier rule "a client whose id is one of the token's audiences" never matched a
/// real deployment — a rule that looks like access control and grants none is a trap.
pub fn may_introspect(caller: &ClientRecord, claims: &AccessClaims) -> bool {
    claims.client_id.as_deref() == Some(caller.id.as_str())
        || claims.aud.as_ref().is_some_and(|aud| {
            caller
                .resource_server_audiences
                .iter()
                .any(|served| aud.contains(served))
        })
        || caller.scopes.grants(INTROSPECT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::Audience;

    fn client(id: &str, scopes: &str) -> ClientRecord {
        crate::oauth::client::fixture(id, scopes)
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

    fn resource_server(id: &str, serves: &[&str]) -> ClientRecord {
        ClientRecord {
            resource_server_audiences: serves.iter().map(|&a| a.to_owned()).collect(),
            ..client(id, "misc:read")
        }
    }

    #[test]
    fn a_client_registered_as_resource_server_for_the_audience_may() {
        let orders_api = resource_server("cli_api", &["orders"]);
        assert!(may_introspect(&orders_api, &token("cl_a", "orders")));
        let many = AccessClaims {
            aud: Some(Audience::Many(vec!["billing".into(), "orders".into()])),
            ..token("cl_a", "x")
        };
        assert!(may_introspect(&orders_api, &many));
        let serves_several = resource_server("cli_api", &["shipping", "billing"]);
        assert!(may_introspect(&serves_several, &many));
    }

    #[test]
    fn a_resource_server_for_another_audience_may_not() {
        let orders_api = resource_server("cli_api", &["orders"]);
        assert!(!may_introspect(&orders_api, &token("cl_a", "billing")));
        // Audiences are compared whole, not as prefixes or case-folded.
        assert!(!may_introspect(&orders_api, &token("cl_a", "orders-eu")));
        assert!(!may_introspect(&orders_api, &token("cl_a", "Orders")));
        let no_aud = AccessClaims {
            aud: None,
            ..token("cl_a", "x")
        };
        assert!(!may_introspect(&orders_api, &no_aud));
    }

    #[test]
    fn a_client_whose_id_is_the_audience_is_not_thereby_a_resource_server() {
        // The id rule is gone: only registration makes a resource server.
        assert!(!may_introspect(
            &client("orders", "misc:read"),
            &token("cl_a", "orders")
        ));
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
