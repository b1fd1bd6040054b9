use std::net::{IpAddr, Ipv6Addr};

use http::{HeaderMap, HeaderName, HeaderValue, Request};
use proptest::prelude::*;

use super::*;

fn head(path: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn check(path: &str, headers: &[(&str, &str)]) -> Result<(), Refusal> {
    check_request(&head(path, headers), 16 * 1024)
}

/// What the gateway strips from every route by default.
const DEFAULT: Strip<'static> = Strip {
    also: &[],
    drop_underscored: true,
};

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    headers
        .iter()
        .map(|(n, v)| {
            (
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn sorted_names(headers: &HeaderMap) -> Vec<&str> {
    let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    names
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

const CLIENT: Forwarded<'static> = Forwarded {
    client_ip: "203.0.113.7",
    proto: "https",
    host: Some("api.example.com"),
};

#[test]
fn ordinary_requests_pass() {
    assert_eq!(check("/", &[]), Ok(()));
    assert_eq!(
        check("/api/users?x=../y", &[("content-length", "12")]),
        Ok(())
    );
    assert_eq!(
        check(
            "/a/.well-known/b...c/%20%3A%25",
            &[("transfer-encoding", "Chunked")]
        ),
        Ok(())
    );
}

#[test]
fn content_length_with_transfer_encoding_is_ambiguous() {
    let refusal = check(
        "/",
        &[("content-length", "5"), ("transfer-encoding", "chunked")],
    );
    assert_eq!(refusal, Err(Refusal::BothLengthAndChunked));
    assert_eq!(Refusal::BothLengthAndChunked.code(), "ambiguous_length");
}

#[test]
fn repeated_or_listed_content_lengths_are_refused_even_when_equal() {
    let twice = check("/", &[("content-length", "5"), ("content-length", "5")]);
    assert_eq!(twice, Err(Refusal::DuplicateContentLength));
    assert_eq!(
        check("/", &[("content-length", "5, 5")]),
        Err(Refusal::DuplicateContentLength)
    );
}

#[test]
fn content_lengths_that_are_not_plain_digits_are_refused() {
    for bad in ["+5", "-1", "5 ", "0x10", "", "99999999999999999999999"] {
        assert_eq!(
            check("/", &[("content-length", bad)]),
            Err(Refusal::BadContentLength),
            "{bad:?}"
        );
    }
}

#[test]
fn transfer_encodings_other_than_a_single_chunked_are_refused() {
    let unsupported = Err(Refusal::UnsupportedTransferEncoding);
    for bad in [
        "gzip",
        "gzip, chunked",
        "chunked, chunked",
        "chunked;x=1",
        "identity",
    ] {
        assert_eq!(
            check("/", &[("transfer-encoding", bad)]),
            unsupported,
            "{bad:?}"
        );
    }
    let twice = check(
        "/",
        &[
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked"),
        ],
    );
    assert_eq!(twice, unsupported);
}

#[test]
fn dot_segments_and_encoded_separators_are_path_traversal() {
    let paths = [
        "/a/../b",
        "/a/./b",
        "/..",
        "/a/..",
        "/a/%2e%2e/b",
        "/a/%2E%2e/b",
        "/a/.%2E/b",
        "/a/%2e/b",
        "/a%2fb",
        "/a%2Fb",
        "/a%5cb",
        "/a%5Cb",
        "/a/..;x/b",
        "/a/%252e%252e/b",
        "/a%252fb",
    ];
    for path in paths {
        assert_eq!(check(path, &[]), Err(Refusal::PathTraversal), "{path}");
    }
    assert_eq!(Refusal::PathTraversal.code(), "path_traversal");
}

#[test]
fn a_target_that_is_not_an_absolute_path_is_a_bad_path() {
    assert_eq!(check("*", &[]), Err(Refusal::BadPath));
    assert_eq!(check("example.com:443", &[]), Err(Refusal::BadPath));
}

#[test]
fn encoded_characters_that_never_need_encoding_are_a_second_spelling_and_refused() {
    for path in [
        "/%61pi/users",
        "/api/%55sers",
        "/a%7Eb",
        "/a%2Db",
        "/file%2ename",
        "/a%5fb",
    ] {
        assert_eq!(check(path, &[]), Err(Refusal::PathTraversal), "{path}");
    }
}

#[test]
fn malformed_percent_encodings_are_a_bad_path() {
    for path in ["/a%zz", "/a%4", "/a%", "/%%32e", "/a%+f"] {
        assert_eq!(check(path, &[]), Err(Refusal::BadPath), "{path}");
    }
}

#[test]
fn headers_over_the_limit_are_too_large() {
    let parts = head("/", &[("x-a", "0123456789")]);
    assert_eq!(check_request(&parts, 13), Ok(()));
    assert_eq!(check_request(&parts, 12), Err(Refusal::HeadersTooLarge));
}

#[test]
fn codes_are_distinct_snake_case() {
    let all = [
        Refusal::BothLengthAndChunked,
        Refusal::DuplicateContentLength,
        Refusal::BadContentLength,
        Refusal::UnsupportedTransferEncoding,
        Refusal::HeadersTooLarge,
        Refusal::PathTraversal,
        Refusal::BadPath,
    ];
    let codes: std::collections::HashSet<_> = all.iter().map(Refusal::code).collect();
    assert_eq!(codes.len(), all.len());
    assert!(
        codes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    );
}

#[test]
fn hop_by_hop_and_connection_named_headers_are_not_forwarded() {
    let mut headers = header_map(&[
        ("connection", "keep-alive, X-Secret-Hop"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "x"),
        ("te", "trailers"),
        ("trailer", "x"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("proxy-authorization", "Basic x"),
        ("proxy-authenticate", "Basic"),
        ("x-secret-hop", "1"),
        ("accept", "*/*"),
    ]);
    prepare_request(&mut headers, &CLIENT, &DEFAULT);
    let names = sorted_names(&headers);
    assert_eq!(
        names,
        [
            "accept",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "x-real-ip"
        ]
    );
}

#[test]
fn client_sent_gatehouse_and_certificate_headers_are_removed() {
    let mut headers = header_map(&[
        ("X-Gatehouse-Subject", "admin"),
        ("x-gatehouse-scopes", "all"),
        ("X-Gatehouse-", "x"),
        ("client-cert", ":x:"),
        ("client-cert-chain", ":x:"),
        ("x-forwarded-client-cert", "x"),
        ("x-client-cert", "x"),
        ("ssl-client-cert", "x"),
        ("x-gatehousesubject", "kept"),
        ("authorization", "Bearer t"),
        ("x-api-key", "k"),
    ]);
    let also = [
        http::header::AUTHORIZATION,
        HeaderName::from_static("x-api-key"),
    ];
    prepare_request(
        &mut headers,
        &CLIENT,
        &Strip {
            also: &also,
            drop_underscored: true,
        },
    );
    let names = sorted_names(&headers);
    assert_eq!(
        names,
        [
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "x-gatehousesubject",
            "x-real-ip"
        ]
    );
}

#[test]
fn gatehouse_headers_in_every_spelling_an_upstream_folds_are_removed() {
    // WSGI, CGI and PHP read all of these as HTTP_X_GATEHOUSE_SUBJECT and friends.
    let spellings = [
        "X_Gatehouse_Subject",
        "x.gatehouse.scopes",
        "X-GATEHOUSE_Credential",
        "x_gatehouse-identity",
        "x.gatehouse_auth",
    ];
    for drop_underscored in [true, false] {
        let pairs: Vec<_> = spellings.iter().map(|n| (*n, "forged")).collect();
        let mut headers = header_map(&pairs);
        let strip = Strip {
            also: &[],
            drop_underscored,
        };
        prepare_request(&mut headers, &CLIENT, &strip);
        let forged: Vec<_> = headers
            .iter()
            .filter(|(_, v)| v.as_bytes() == b"forged")
            .map(|(n, _)| n.as_str().to_owned())
            .collect();
        assert!(
            forged.is_empty(),
            "{forged:?} reached the upstream (drop_underscored: {drop_underscored})"
        );
    }
    assert!(is_gatehouse("x-gatehouse-"));
    assert!(!is_gatehouse("x-gatehousesubject"));
    assert!(!is_gatehouse("x-gatehouse"));
}

#[test]
fn names_with_underscores_are_removed_unless_the_route_keeps_them() {
    let mut headers = header_map(&[("x_tenant", "a"), ("x-tenant", "b")]);
    prepare_request(&mut headers, &CLIENT, &DEFAULT);
    assert!(headers.get("x_tenant").is_none());
    assert_eq!(values(&headers, "x-tenant"), ["b"]);

    let mut headers = header_map(&[("x_tenant", "a")]);
    let keep = Strip {
        also: &[],
        drop_underscored: false,
    };
    prepare_request(&mut headers, &CLIENT, &keep);
    assert_eq!(values(&headers, "x_tenant"), ["a"]);
}

#[test]
fn routing_and_method_override_headers_from_the_client_are_removed() {
    let routing = [
        "Forwarded",
        "X-Real-IP",
        "X-Client-IP",
        "True-Client-IP",
        "X-Cluster-Client-IP",
        "X-Original-URL",
        "X-Original-URI",
        "X-Original-Method",
        "X-Rewrite-URL",
        "X-Forwarded-Uri",
        "X-Forwarded-Method",
        "X-Forwarded-Prefix",
        "X-Forwarded-Path",
        "X-Forwarded-Port",
        "X-Forwarded-Server",
        "X-Forwarded-Scheme",
        "X-Forwarded-Ssl",
        "X-Url-Scheme",
        "Front-End-Https",
        "X-HTTP-Method-Override",
        "X-Method-Override",
        "X-HTTP-Method",
        "x.http.method.override",
    ];
    let keep = Strip {
        also: &[],
        drop_underscored: false,
    };
    for name in routing {
        let mut headers = header_map(&[(name, "forged"), ("accept", "*/*")]);
        prepare_request(&mut headers, &CLIENT, &keep);
        let forged = headers.iter().any(|(_, v)| v.as_bytes() == b"forged");
        assert!(!forged, "{name} reached the upstream");
        assert_eq!(values(&headers, "accept"), ["*/*"]);
    }
    // X-Real-IP is the gateway's own: the client's address.
    let mut headers = header_map(&[("x-real-ip", "10.9.9.9")]);
    prepare_request(&mut headers, &CLIENT, &DEFAULT);
    assert_eq!(values(&headers, "x-real-ip"), ["203.0.113.7"]);
    assert!(folds_to("X_Forwarded.Uri", "x-forwarded-uri"));
    assert!(!folds_to("x-forwarded-ur", "x-forwarded-uri"));
    // Look-alikes that are not routing headers pass.
    for name in ["x-forwarded-uris", "x-real", "forwarded-x", "x-request-id"] {
        assert!(!is_routing(name), "{name}");
    }
}

#[test]
fn the_client_ip_is_appended_to_x_forwarded_for_and_proto_and_host_are_replaced() {
    let mut headers = header_map(&[
        ("x-forwarded-for", "10.0.0.1"),
        ("x-forwarded-for", "10.0.0.2, 10.0.0.3"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "evil.example"),
    ]);
    prepare_request(&mut headers, &CLIENT, &DEFAULT);
    assert_eq!(
        values(&headers, "x-forwarded-for"),
        ["10.0.0.1, 10.0.0.2, 10.0.0.3, 203.0.113.7"]
    );
    assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
    assert_eq!(values(&headers, "x-forwarded-host"), ["api.example.com"]);
}

#[test]
fn without_an_original_host_a_client_sent_forwarded_host_is_dropped() {
    let mut headers = header_map(&[("x-forwarded-host", "evil.example")]);
    let ipv6 = Forwarded {
        client_ip: "::1",
        proto: "http",
        host: None,
    };
    prepare_request(&mut headers, &ipv6, &DEFAULT);
    assert!(headers.get("x-forwarded-host").is_none());
    assert_eq!(values(&headers, "x-forwarded-for"), ["::1"]);
}

#[test]
fn an_ipv4_mapped_client_address_is_forwarded_as_plain_ipv4() {
    let ip = client_ip_text("::ffff:192.0.2.1".parse().unwrap());
    let mapped = Forwarded {
        client_ip: &ip,
        ..CLIENT
    };
    let mut headers = HeaderMap::new();
    prepare_request(&mut headers, &mapped, &DEFAULT);
    assert_eq!(values(&headers, "x-forwarded-for"), ["192.0.2.1"]);
    assert_eq!(client_ip_text(IpAddr::V6(Ipv6Addr::LOCALHOST)), "::1");
}

#[test]
fn responses_lose_hop_by_hop_headers_but_keep_the_rest() {
    let mut headers = header_map(&[
        ("connection", "close, x-internal"),
        ("x-internal", "1"),
        ("transfer-encoding", "chunked"),
        ("keep-alive", "timeout=5"),
        ("content-type", "text/plain"),
        ("set-cookie", "a=b"),
    ]);
    prepare_response(&mut headers);
    let names = sorted_names(&headers);
    assert_eq!(names, ["content-type", "set-cookie"]);
}

proptest! {
    #[test]
    fn check_request_never_panics_and_accepted_paths_have_no_dot_segments(
        path in "/[a-zA-Z0-9%./\\\\;_-]{0,30}",
        length in proptest::option::of("[ -~]{0,12}"),
    ) {
        let Ok(uri) = path.parse::<http::Uri>() else { return Ok(()) };
        let mut parts = head("/", &[]);
        parts.uri = uri;
        if let Some(length) = length.and_then(|l| HeaderValue::from_str(&l).ok()) {
            parts.headers.insert(http::header::CONTENT_LENGTH, length);
        }
        if check_request(&parts, 1024).is_ok() {
            let lower = parts.uri.path().to_ascii_lowercase();
            prop_assert!(!lower.contains("%2f") && !lower.contains("%2e") && !lower.contains('\\'));
            prop_assert!(lower.split('/').all(|s| s != "." && s != ".."));
        }
    }
}
