//! The shipped reference configurations for proxies not installable here (Traefik,
//! Envoy), checked by shape: each sends the check what `[forward_auth] proxy` reads,
//! lets Gatehouse see a client's identity headers, replaces or clears every identity
//! header before the upstream, and keeps the credential from it. nginx and Caddy run
//! live (`nginx.rs`, `caddy.rs`).

use serde_json::Value;
use std::path::Path;

/// The identity headers Gatehouse writes.
const IDENTITY: [&str; 6] = [
    "X-Gatehouse-Subject",
    "X-Gatehouse-Auth",
    "X-Gatehouse-Scopes",
    "X-Gatehouse-Credential",
    "X-Gatehouse-Request-Id",
    "X-Gatehouse-Identity",
];

/// Headers the upstream must not get from the client.
const CLEARED: [&str; 6] = [
    "authorization",
    "x-api-key",
    "forwarded",
    "x-original-url",
    "x-http-method-override",
    "x-forwarded-uri",
];

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/forward-auth")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_traefik_configuration_checks_first_and_clears_what_the_upstream_must_not_see() {
    let fixed: toml::Table = shipped("traefik.toml").parse().unwrap();
    assert_eq!(
        fixed["providers"]["file"]["filename"].as_str(),
        Some("traefik-dynamic.toml")
    );
    let dynamic: toml::Table = shipped("traefik-dynamic.toml").parse().unwrap();
    let http = &dynamic["http"];
    let middlewares = &http["middlewares"];
    let router = &http["routers"]["api"];
    let order: Vec<_> = router["middlewares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["gatehouse", "gatehouse-cleanup"],
        "check, then clean up"
    );

    let auth = &middlewares["gatehouse"]["forwardAuth"];
    let address = auth["address"].as_str().unwrap();
    assert!(address.ends_with("/v1/forward-auth"), "{address}");
    assert_eq!(auth["trustForwardHeader"].as_bool(), Some(false));
    // Unset: the check sees every client header, forged identity headers included.
    assert!(auth.get("authRequestHeaders").is_none());
    let copied: Vec<_> = auth["authResponseHeaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(copied, IDENTITY, "every identity header is replaced");

    let cleared = middlewares["gatehouse-cleanup"]["headers"]["customRequestHeaders"]
        .as_table()
        .unwrap();
    for name in CLEARED {
        let value = cleared
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str().unwrap());
        assert_eq!(value, Some(""), "{name} is not cleared");
    }
}

#[test]
fn the_envoy_configuration_checks_by_path_and_clears_what_the_upstream_must_not_see() {
    let config: Value = serde_json::from_str(&shipped("envoy.json")).unwrap();
    let manager = &config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
    assert_eq!(
        manager["common_http_protocol_options"]["headers_with_underscores_action"],
        "REJECT_REQUEST"
    );
    let filters = manager["http_filters"].as_array().unwrap();
    assert_eq!(
        filters[0]["name"], "envoy.filters.http.ext_authz",
        "authorize first"
    );
    assert_eq!(filters.last().unwrap()["name"], "envoy.filters.http.router");
    let authz = &filters[0]["typed_config"];
    assert_eq!(authz["failure_mode_allow"], false);
    let service = &authz["http_service"];
    assert_eq!(service["path_prefix"], "/v1/forward-auth");
    let patterns = |v: &Value| -> Vec<(String, String)> {
        v["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p.as_object().unwrap().iter())
            .map(|(kind, value)| (kind.clone(), value.as_str().unwrap().to_owned()))
            .collect()
    };
    let to_check = patterns(&service["authorization_request"]["allowed_headers"]);
    for wanted in [
        ("exact", "authorization"),
        ("exact", "x-api-key"),
        ("prefix", "x-gatehouse"),
    ] {
        assert!(
            to_check.contains(&(wanted.0.to_owned(), wanted.1.to_owned())),
            "the check does not see {wanted:?}"
        );
    }
    let to_upstream = patterns(&service["authorization_response"]["allowed_upstream_headers"]);
    assert_eq!(
        to_upstream,
        [("prefix".to_owned(), "x-gatehouse-".to_owned())]
    );

    let route = &manager["route_config"]["virtual_hosts"][0]["routes"][0];
    let removed: Vec<_> = route["request_headers_to_remove"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for name in CLEARED {
        assert!(removed.contains(&name), "{name} is not removed");
    }
    assert_eq!(
        service["server_uri"]["cluster"], "gatehouse",
        "the check goes to Gatehouse's cluster"
    );
}
