use http::{Method, Uri};
use proptest::prelude::*;

use super::*;

fn spec(name: &str, path_prefix: &str) -> RouteSpec {
    RouteSpec {
        name: name.to_owned(),
        host: None,
        path_prefix: path_prefix.to_owned(),
        methods: None,
        upstream: "http://127.0.0.1:9000".to_owned(),
        strip_prefix: false,
    }
}

fn route(name: &str, path_prefix: &str) -> Route {
    Route::parse(spec(name, path_prefix)).unwrap()
}

fn with_host(name: &str, path_prefix: &str, host: &str) -> Route {
    Route::parse(RouteSpec {
        host: Some(host.to_owned()),
        ..spec(name, path_prefix)
    })
    .unwrap()
}

fn table(routes: Vec<Route>) -> RouteTable<()> {
    RouteTable::new(routes.into_iter().map(|r| (r, ())).collect()).unwrap()
}

fn found<'t>(table: &'t RouteTable<()>, host: Option<&str>, path: &str) -> Option<&'t str> {
    table
        .find(host, &Method::GET, path)
        .map(|(route, ())| route.name())
}

fn forwarded(path_prefix: &str, upstream: &str, strip: bool, original: &str) -> String {
    let spec = RouteSpec {
        upstream: upstream.to_owned(),
        strip_prefix: strip,
        ..spec("r", path_prefix)
    };
    let route = Route::parse(spec).unwrap();
    route
        .upstream_uri(&original.parse::<Uri>().unwrap())
        .unwrap()
        .to_string()
}

#[test]
fn a_trailing_slash_in_the_prefix_is_normalized_away_except_for_the_root() {
    assert_eq!(route("r", "/api/").path_prefix(), "/api");
    assert_eq!(route("r", "/").path_prefix(), "/");
}

#[test]
fn invalid_prefixes_are_refused_with_a_message_naming_the_field() {
    for bad in [
        "api", "", "/a//b", "/a/../b", "/./a", "/a?x", "/a#x", "/a\\b", "/a b",
    ] {
        let err = Route::parse(spec("users", bad)).unwrap_err();
        assert!(
            matches!(err, RouteError::PathPrefix { .. }),
            "{bad:?}: {err}"
        );
        assert!(
            err.to_string().contains("route \"users\": path_prefix"),
            "{err}"
        );
    }
}

#[test]
fn a_prefix_matches_on_segment_boundaries_only() {
    let table = table(vec![route("api", "/api")]);
    for path in ["/api", "/api/", "/api/x", "/api/x/y"] {
        assert_eq!(found(&table, None, path), Some("api"), "{path}");
    }
    for path in ["/apix", "/ap", "/", "/API", "/x/api"] {
        assert_eq!(found(&table, None, path), None, "{path}");
    }
}

#[test]
fn the_root_prefix_matches_every_path() {
    let table = table(vec![route("all", "/")]);
    for path in ["/", "/x", "/api/deep/path"] {
        assert_eq!(found(&table, None, path), Some("all"));
    }
}

#[test]
fn the_longest_prefix_wins_regardless_of_declaration_order() {
    let table = table(vec![
        route("root", "/"),
        route("api", "/api"),
        route("users", "/api/users"),
    ]);
    assert_eq!(found(&table, None, "/api/users/7"), Some("users"));
    assert_eq!(found(&table, None, "/api/usersx"), Some("api"));
    assert_eq!(found(&table, None, "/other"), Some("root"));
}

#[test]
fn on_a_prefix_tie_a_matching_host_beats_no_host_and_then_the_first_declared_wins() {
    let table = table(vec![
        route("any", "/api"),
        route("any-again", "/api"),
        with_host("wild", "/api", "*.example.com"),
        with_host("exact", "/api", "api.example.com"),
    ]);
    assert_eq!(
        found(&table, Some("api.example.com"), "/api"),
        Some("exact")
    );
    assert_eq!(
        found(&table, Some("other.example.com"), "/api"),
        Some("wild")
    );
    assert_eq!(found(&table, Some("example.org"), "/api"), Some("any"));
    assert_eq!(found(&table, None, "/api"), Some("any"));
}

#[test]
fn hosts_compare_case_insensitively_and_ignore_the_port() {
    let table = table(vec![
        with_host("h", "/", "API.Example.com"),
        with_host("v6", "/", "[::1]"),
    ]);
    for host in [
        "api.example.com",
        "API.EXAMPLE.COM:8443",
        "api.example.com.",
        "api.example.com:",
    ] {
        assert_eq!(found(&table, Some(host), "/"), Some("h"), "{host}");
    }
    assert_eq!(found(&table, Some("[::1]:8080"), "/"), Some("v6"));
    assert_eq!(found(&table, Some("[::1]"), "/"), Some("v6"));
    assert_eq!(found(&table, Some("api.example.com.evil"), "/"), None);
    assert_eq!(found(&table, None, "/"), None);
}

#[test]
fn a_wildcard_host_needs_at_least_one_label_before_the_domain() {
    let table = table(vec![with_host("w", "/", "*.example.com")]);
    assert_eq!(found(&table, Some("a.example.com"), "/"), Some("w"));
    assert_eq!(found(&table, Some("a.b.Example.COM:80"), "/"), Some("w"));
    assert_eq!(found(&table, Some("example.com"), "/"), None);
    assert_eq!(found(&table, Some("badexample.com"), "/"), None);
    assert_eq!(found(&table, Some(".example.com"), "/"), None);
}

#[test]
fn invalid_hosts_are_refused_with_a_message_naming_the_field() {
    for bad in [
        "*",
        "a.*.com",
        "example.com:8080",
        "",
        "exa mple.com",
        "[::1",
        "*.[::1]",
        "a..b",
    ] {
        let spec = RouteSpec {
            host: Some(bad.to_owned()),
            ..spec("h", "/")
        };
        let err = Route::parse(spec).unwrap_err();
        assert!(matches!(err, RouteError::Host { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("route \"h\": host"), "{err}");
    }
}

#[test]
fn a_route_with_methods_does_not_match_other_methods() {
    let spec = RouteSpec {
        methods: Some(vec!["GET".into(), "POST".into()]),
        ..spec("rw", "/")
    };
    let table = table(vec![Route::parse(spec).unwrap(), route("fallback", "/")]);
    let name = |method: Method| table.find(None, &method, "/x").map(|(r, ())| r.name());
    assert_eq!(name(Method::GET), Some("rw"));
    assert_eq!(name(Method::POST), Some("rw"));
    assert_eq!(name(Method::DELETE), Some("fallback"));
}

#[test]
fn lowercase_or_empty_method_lists_are_refused() {
    for methods in [
        vec!["get".to_owned()],
        vec![],
        vec!["GE T".to_owned()],
        vec![String::new()],
    ] {
        let err = Route::parse(RouteSpec {
            methods: Some(methods),
            ..spec("m", "/")
        })
        .unwrap_err();
        assert!(matches!(err, RouteError::Methods { .. }), "{err}");
    }
}

#[test]
fn https_upstreams_are_refused_because_tls_is_not_supported_yet() {
    let spec = RouteSpec {
        upstream: "https://api.internal".into(),
        ..spec("t", "/")
    };
    let err = Route::parse(spec).unwrap_err();
    assert!(
        err.to_string()
            .contains("TLS upstreams are not supported yet"),
        "{err}"
    );
}

#[test]
fn upstreams_with_credentials_queries_fragments_or_no_host_are_refused() {
    let cases = [
        ("http://u:p@host", UpstreamError::Userinfo),
        ("http://host/a?x=1", UpstreamError::Query),
        ("http://host/a#f", UpstreamError::Fragment),
        ("ftp://host", UpstreamError::UnsupportedScheme),
        ("host:80", UpstreamError::Malformed),
        ("http://", UpstreamError::BadAuthority),
        ("http://:80/", UpstreamError::BadAuthority),
        ("http://host:0", UpstreamError::BadAuthority),
        ("http://host:99999", UpstreamError::BadAuthority),
        ("http://host:", UpstreamError::BadAuthority),
        ("http://host/a//b", UpstreamError::BadBasePath),
        ("http://host/a/../b", UpstreamError::BadBasePath),
    ];
    for (value, expected) in cases {
        assert_eq!(Upstream::parse(value), Err(expected), "{value}");
    }
}

#[test]
fn an_upstream_keeps_its_authority_and_base_path() {
    let upstream = Upstream::parse("HTTP://10.0.0.1:8080/v1/").unwrap();
    assert_eq!(upstream.authority().as_str(), "10.0.0.1:8080");
    assert_eq!(upstream.base_path(), "/v1");
    assert_eq!(upstream.to_string(), "http://10.0.0.1:8080/v1");
    assert_eq!(Upstream::parse("http://[::1]:80").unwrap().base_path(), "");
}

#[test]
fn strip_prefix_removes_the_prefix_and_keeps_the_query_verbatim() {
    let up = "http://u:1/v1";
    assert_eq!(
        forwarded("/api", up, true, "/api/users?x=1&y=%20"),
        "http://u:1/v1/users?x=1&y=%20"
    );
    assert_eq!(forwarded("/api", up, true, "/api"), "http://u:1/v1/");
    assert_eq!(forwarded("/api", up, true, "/api/"), "http://u:1/v1/");
    assert_eq!(forwarded("/api", up, true, "/api?q"), "http://u:1/v1/?q");
    assert_eq!(
        forwarded("/api", "http://u:1", true, "/api/x"),
        "http://u:1/x"
    );
    assert_eq!(forwarded("/", up, true, "/x/y"), "http://u:1/v1/x/y");
}

#[test]
fn without_strip_prefix_the_whole_path_is_appended_to_the_base() {
    assert_eq!(
        forwarded("/api", "http://u:1/v1/", false, "/api/x?a=b"),
        "http://u:1/v1/api/x?a=b"
    );
    assert_eq!(
        forwarded("/api", "http://u:1", false, "/api"),
        "http://u:1/api"
    );
    assert_eq!(forwarded("/", "http://u:1", false, "/"), "http://u:1/");
}

#[test]
fn upstream_uri_refuses_a_path_outside_the_prefix() {
    let route = route("r", "/api");
    let err = route.upstream_uri(&Uri::from_static("/apix")).unwrap_err();
    assert!(matches!(err, RouteError::PathOutsidePrefix { .. }));
}

#[test]
fn duplicate_route_names_are_refused() {
    let err = RouteTable::new(vec![(route("a", "/x"), ()), (route("a", "/y"), ())]).unwrap_err();
    assert_eq!(err, RouteError::DuplicateName("a".into()));
}

fn segments() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "ab", "b", "api", "v1"]),
        0..4,
    )
    .prop_map(|segs| format!("/{}", segs.join("/")))
}

fn is_segment_prefix(prefix: &str, path: &str) -> bool {
    prefix == "/" || path == prefix || path.starts_with(&format!("{prefix}/"))
}

proptest! {
    #[test]
    fn find_only_returns_the_longest_route_whose_prefix_is_a_segment_prefix_of_the_path(
        prefixes in prop::collection::vec(segments(), 1..6),
        path in segments(),
        trailing in any::<bool>(),
    ) {
        let path = if trailing && path != "/" { format!("{path}/") } else { path };
        let routes = prefixes.iter().enumerate().map(|(i, p)| route(&i.to_string(), p)).collect();
        let table = table(routes);
        let longest = table.iter()
            .filter(|(r, ())| is_segment_prefix(r.path_prefix(), &path))
            .map(|(r, ())| r.path_prefix().len())
            .max();
        match table.find(None, &Method::GET, &path) {
            Some((r, ())) => {
                prop_assert!(is_segment_prefix(r.path_prefix(), &path));
                prop_assert_eq!(Some(r.path_prefix().len()), longest);
            }
            None => prop_assert_eq!(longest, None),
        }
    }

    #[test]
    fn upstream_uri_never_panics_and_never_joins_with_a_double_slash(
        prefix in segments(),
        base in segments(),
        raw in "[ -~]{0,40}",
        strip in any::<bool>(),
    ) {
        let upstream = format!("http://up:1{base}");
        let spec = RouteSpec { upstream, strip_prefix: strip, ..spec("p", &prefix) };
        let route = Route::parse(spec).unwrap();
        for candidate in [raw.clone(), format!("{prefix}{raw}"), format!("{prefix}/{raw}")] {
            let Ok(original) = candidate.parse::<Uri>() else { continue };
            if let Ok(uri) = route.upstream_uri(&original) {
                prop_assert!(uri.path().starts_with(route.upstream().base_path()));
                if !original.path().contains("//") {
                    prop_assert!(!uri.path().contains("//"), "{} -> {}", original, uri);
                }
                prop_assert_eq!(uri.query(), original.query());
            }
        }
    }

    #[test]
    fn parsing_and_matching_arbitrary_input_never_panics(
        name in ".{0,8}", host in proptest::option::of(".{0,20}"), prefix in ".{0,20}",
        upstream in ".{0,30}", request_host in proptest::option::of(".{0,20}"), path in ".{0,20}",
    ) {
        let spec = RouteSpec { name, host, path_prefix: prefix, methods: None, upstream, strip_prefix: true };
        if let Ok(route) = Route::parse(spec) {
            let table = table(vec![route]);
            let _ = table.find(request_host.as_deref(), &Method::GET, &path);
        }
    }
}
