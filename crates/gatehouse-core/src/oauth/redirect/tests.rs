use super::*;
use proptest::prelude::*;

const APP: &str = "https://app.example.com/callback";

fn uri(s: &str) -> RedirectUri {
    RedirectUri::parse(s).unwrap()
}

fn refused(s: &str) -> RedirectError {
    RedirectUri::parse(s).unwrap_err()
}

fn accepted(registered: &str, presented: &str, kind: ClientKind) -> bool {
    matches(&[uri(registered)], presented, kind).is_some()
}

#[test]
fn https_uri_with_path_query_and_port_is_kept_exactly_as_written() {
    for s in [
        APP,
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com:8443/cb?tenant=a&x=%20y",
        "https://192.0.2.1/cb",
        "https://[2001:db8::1]:8443/cb",
        "https://xn--bcher-kva.example/cb",
    ] {
        let parsed = uri(s);
        assert_eq!(parsed.as_str(), s);
        assert_eq!(parsed.to_string(), s);
        assert_eq!(parsed.kind(), RedirectKind::Https);
    }
}

#[test]
fn http_is_registered_only_for_loopback_hosts() {
    for s in [
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://localhost:5000/cb",
    ] {
        assert_eq!(uri(s).kind(), RedirectKind::Loopback, "{s}");
    }
    for s in [
        "http://example.com/cb",
        "http://127.0.0.2/cb",
        "http://localhost.evil.com/cb",
        "http://[::2]/cb",
        "http://0.0.0.0/cb",
    ] {
        assert_eq!(refused(s), RedirectError::InsecureHttp, "{s}");
    }
}

#[test]
fn private_use_scheme_needs_a_dot_and_a_single_slash() {
    let parsed = uri("com.example.app:/callback");
    assert_eq!(parsed.kind(), RedirectKind::PrivateUse);
    assert_eq!(uri("com.example.app:/").as_str(), "com.example.app:/");
    assert_eq!(refused("myapp:/cb"), RedirectError::SchemeNotAllowed);
    assert_eq!(refused("com..app:/cb"), RedirectError::SchemeNotAllowed);
    assert_eq!(refused("com.example.:/cb"), RedirectError::SchemeNotAllowed);
    assert_eq!(
        refused("Com.Example.App:/cb"),
        RedirectError::SchemeNotAllowed
    );
    assert_eq!(
        refused("com.example.app://cb"),
        RedirectError::PrivateUseForm
    );
    assert_eq!(refused("com.example.app:cb"), RedirectError::PrivateUseForm);
    assert_eq!(refused("com.example.app:"), RedirectError::PrivateUseForm);
    assert_eq!(
        refused("com.example.app:/a/../b"),
        RedirectError::InvalidPath
    );
}

#[test]
fn script_data_file_and_dotless_schemes_are_refused() {
    for s in [
        "javascript:alert(1)",
        "javascript://app.example.com/%0aalert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "vbscript:msgbox",
        "myapp:/cb",
        "HTTPS://app.example.com/callback",
        "Https://app.example.com/callback",
        "ftp://app.example.com/callback",
    ] {
        assert_eq!(refused(s), RedirectError::SchemeNotAllowed, "{s}");
    }
}

#[test]
fn fragments_are_refused() {
    assert_eq!(refused("https://a/cb#frag"), RedirectError::Fragment);
    assert_eq!(refused("https://a/cb#"), RedirectError::Fragment);
    assert_eq!(refused("com.example.app:/cb#x"), RedirectError::Fragment);
}

#[test]
fn relative_references_are_refused() {
    for s in [
        "",
        "/cb",
        "//evil.com/cb",
        "cb",
        "?x=1",
        ":cb",
        "1http://a/cb",
        "/a:b",
    ] {
        assert_eq!(refused(s), RedirectError::NotAbsolute, "{s:?}");
    }
}

#[test]
fn userinfo_is_refused_in_any_position() {
    for s in [
        "https://app.example.com@evil.com/callback",
        "https://evil@app.example.com/callback",
        "https://user:pass@app.example.com/callback",
        "https://@app.example.com/callback",
        "http://127.0.0.1@evil.com/cb",
    ] {
        assert_eq!(refused(s), RedirectError::UserInfo, "{s}");
    }
}

#[test]
fn empty_uppercase_encoded_or_non_canonical_hosts_are_refused() {
    for s in [
        "https:///cb",
        "https://:8443/cb",
        "https:cb",
        "https:/cb",
        "https://App.example.com/cb",
        "https://app%2eexample.com/cb",
        "https://app.example.com%2Fcallback",
        "https://app_x.example.com/cb",
        "https://app..example.com/cb",
        "https://.example.com/cb",
        "https://app.example.com./cb",
        "https://127.1/cb",
        "https://0x7f.0.0.1/cb",
        "https://2130706433/cb",
        "https://010.0.0.1/cb",
        "https://example.123/cb",
        "https://[::FFFF:1]/cb",
        "https://[0:0:0:0:0:0:0:1]/cb",
        "https://[fe80::1%25eth0]/cb",
        "https://[::1/cb",
        "https://[::1]x/cb",
    ] {
        assert_eq!(refused(s), RedirectError::InvalidHost, "{s}");
    }
}

#[test]
fn default_empty_zero_padded_or_out_of_range_ports_are_refused() {
    for s in [
        "https://app.example.com:443/cb",
        "http://127.0.0.1:80/cb",
        "https://app.example.com:/cb",
        "https://app.example.com:0/cb",
        "https://app.example.com:08443/cb",
        "https://app.example.com:65536/cb",
        "https://app.example.com:99999999/cb",
        "https://app.example.com:+1/cb",
        "https://app.example.com:1:2/cb",
    ] {
        assert_eq!(refused(s), RedirectError::InvalidPort, "{s}");
    }
    assert!(RedirectUri::parse("https://app.example.com:65535/cb").is_ok());
    assert!(RedirectUri::parse("http://127.0.0.1:443/cb").is_ok());
}

#[test]
fn dot_segments_and_encoded_separators_in_the_path_are_refused() {
    for s in [
        "https://app.example.com/callback/../callback",
        "https://app.example.com/./callback",
        "https://app.example.com/callback/.",
        "https://app.example.com/a/%2e%2E/callback",
        "https://app.example.com/a/.%2e/callback",
        "https://app.example.com/callback%2Fx",
        "https://app.example.com/callback%2f",
        "https://app.example.com/callback%5Cx",
    ] {
        assert_eq!(refused(s), RedirectError::InvalidPath, "{s}");
    }
    // A query is opaque to path resolution, so an encoded slash there is fine.
    assert!(RedirectUri::parse("https://app.example.com/cb?next=%2Fhome&u=..").is_ok());
}

#[test]
fn whitespace_controls_backslashes_and_non_ascii_are_refused() {
    for s in [
        " https://app.example.com/callback",
        "https://app.example.com/callback ",
        "https://app.example.com/call back",
        "https://app.example.com/callback\n",
        "https://app.example.com/callback\r\nSet-Cookie: a=b",
        "https://app.example.com/callback\t",
        "https://app.example.com/callback\0",
        "https://app.example.com\\callback",
        "https://app.example.com/callback\\",
        "https:\\\\evil.com/callback",
        "https://app.example.com/callbäck",
        "https://аpp.example.com/callback",
        "https://app.example.com/\"cb\"",
        "https://app.example.com/<cb>",
        "https://app.example.com/{cb}",
        "https://app.example.com/cb|x",
    ] {
        assert_eq!(refused(s), RedirectError::InvalidCharacter, "{s:?}");
    }
}

#[test]
fn malformed_percent_encoding_is_refused() {
    for s in [
        "https://app.example.com/cb%",
        "https://app.example.com/cb%2",
        "https://app.example.com/cb%zz",
        "https://app.example.com/cb?x=%g0",
    ] {
        assert_eq!(refused(s), RedirectError::BadPercentEncoding, "{s}");
    }
}

#[test]
fn uri_longer_than_2000_bytes_is_refused() {
    let base = "https://app.example.com/";
    let at_limit = format!("{base}{}", "a".repeat(MAX_REDIRECT_URI_LEN - base.len()));
    assert!(RedirectUri::parse(&at_limit).is_ok());
    assert_eq!(refused(&format!("{at_limit}a")), RedirectError::TooLong);
}

#[test]
fn registered_uri_matches_itself_for_every_client_kind() {
    for kind in [ClientKind::Confidential, ClientKind::Native] {
        assert!(accepted(APP, APP, kind));
        let registered = [uri("https://other.example.com/cb"), uri(APP)];
        assert_eq!(matches(&registered, APP, kind), Some(&registered[1]));
    }
}

#[test]
fn every_hostile_variant_of_a_registered_uri_is_refused() {
    let variants = [
        "https://app.example.com/callback/x",
        "https://app.example.com/callback/../callback",
        "https://app.example.com/./callback",
        "https://app.example.com//callback",
        "https://app.example.com/callback?x=1",
        "https://app.example.com/callback?",
        "https://app.example.com/callback/",
        "https://app.example.com/callback;",
        "https://app.example.com",
        "https://app.example.com/",
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://app.example.com/CALLBACK",
        "HTTPS://app.example.com/callback",
        "https://app.example.com@evil.com/callback",
        "https://evil@app.example.com/callback",
        "https://app.example.com:8443/callback",
        "https://app.example.com:443/callback",
        "https://app.example.com./callback",
        "https://app.example.com.evil.com/callback",
        "https://app.example.comevil.com/callback",
        "https://app.example.com/callback#frag",
        "https://app.example.com/callback#",
        "http://app.example.com/callback",
        "//app.example.com/callback",
        "https://app.example.com%2Fcallback",
        "https://app.example.com%2fcallback",
        "https://app.example.com/callback%2F",
        "https://app.example.com/%63allback",
        "https://app.example.com/callback%00",
        "https://app.example.com\\callback",
        "https://app.example.com/callback\\",
        " https://app.example.com/callback",
        "https://app.example.com/callback ",
        "https://app.example.com/callback\n",
        "https://app.example.com/callback\r\nLocation: https://evil.com",
        "https://app.example.com/callback%0d%0a",
        "https://app.example.com/callback\t",
        "https://app.example.com/callback\0",
        "",
    ];
    for kind in [ClientKind::Confidential, ClientKind::Native] {
        for presented in variants {
            assert!(!accepted(APP, presented, kind), "{kind:?} {presented:?}");
            assert_eq!(
                verify_redirect(&[uri(APP)], presented, kind),
                Err(RedirectError::NotRegistered)
            );
        }
    }
}

#[test]
fn native_client_may_present_any_port_on_a_registered_loopback_ip() {
    for (registered, presented) in [
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:1/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:65535/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:51234/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"),
        ("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5000/cb?x=1"),
        ("http://127.0.0.1", "http://127.0.0.1:5000"),
        ("http://[::1]/cb", "http://[::1]:51234/cb"),
    ] {
        assert!(
            accepted(registered, presented, ClientKind::Native),
            "{presented}"
        );
        assert!(
            !accepted(registered, presented, ClientKind::Confidential),
            "{presented}"
        );
    }
}

#[test]
fn loopback_port_exception_changes_nothing_but_the_port() {
    let registered = "http://127.0.0.1/cb";
    for presented in [
        "https://127.0.0.1:5000/cb",
        "http://127.0.0.2:5000/cb",
        "http://[::1]:5000/cb",
        "http://localhost:5000/cb",
        "http://127.0.0.1:5000/cb/",
        "http://127.0.0.1:5000/cB",
        "http://127.0.0.1:5000/cb?x=1",
        "http://127.0.0.1:5000/cb#x",
        "http://127.0.0.1:5000",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:051234/cb",
        "http://127.0.0.1:65536/cb",
        "http://127.0.0.1:+5000/cb",
        "http://127.0.0.1: 5000/cb",
        "http://127.0.0.1:5000:6000/cb",
        "http://127.0.0.1:5000@evil.com/cb",
        "http://127.0.0.1:5000.evil.com/cb",
        "http://127.0.0.1.evil.com/cb",
        "http://user@127.0.0.1:5000/cb",
        "http://127.0.0.1:5000\\cb",
    ] {
        assert!(
            !accepted(registered, presented, ClientKind::Native),
            "{presented:?}"
        );
    }
}

#[test]
fn localhost_gets_no_port_exception() {
    let registered = "http://localhost:5000/cb";
    assert!(accepted(registered, registered, ClientKind::Native));
    assert!(!accepted(
        registered,
        "http://localhost:5001/cb",
        ClientKind::Native
    ));
    assert!(!accepted(
        registered,
        "http://localhost/cb",
        ClientKind::Native
    ));
    assert!(!accepted(
        registered,
        "http://127.0.0.1:5000/cb",
        ClientKind::Native
    ));
}

#[test]
fn verified_redirect_is_the_presented_uri_with_its_port() {
    let registered = [uri(APP), uri("http://127.0.0.1/cb")];
    let native = verify_redirect(&registered, "http://127.0.0.1:51234/cb", ClientKind::Native);
    assert_eq!(native.unwrap().as_str(), "http://127.0.0.1:51234/cb");
    let web = verify_redirect(&registered, APP, ClientKind::Confidential);
    assert_eq!(web.unwrap().as_str(), APP);
    assert_eq!(
        verify_redirect(&[], APP, ClientKind::Native),
        Err(RedirectError::NotRegistered)
    );
}

#[test]
fn redirect_uri_round_trips_through_serde_and_refuses_invalid_ones() {
    let parsed = uri(APP);
    let json = serde_json::to_string(&parsed).unwrap();
    assert_eq!(json, format!("\"{APP}\""));
    assert_eq!(serde_json::from_str::<RedirectUri>(&json).unwrap(), parsed);
    assert!(serde_json::from_str::<RedirectUri>("\"http://evil.com/cb\"").is_err());
}

#[test]
fn error_messages_never_echo_the_uri_and_are_valid_error_descriptions() {
    let all = [
        RedirectError::TooLong,
        RedirectError::InvalidCharacter,
        RedirectError::BadPercentEncoding,
        RedirectError::NotAbsolute,
        RedirectError::Fragment,
        RedirectError::SchemeNotAllowed,
        RedirectError::InsecureHttp,
        RedirectError::UserInfo,
        RedirectError::InvalidHost,
        RedirectError::InvalidPort,
        RedirectError::InvalidPath,
        RedirectError::PrivateUseForm,
        RedirectError::NotRegistered,
    ];
    for e in all {
        // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
        let message = e.to_string();
        let ok = message
            .bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E));
        assert!(ok, "{e:?}");
        assert!(!message.contains("evil"));
    }
    let mut codes: Vec<_> = all.iter().map(RedirectError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    assert!(
        !refused("https://evil.example@x/<script>")
            .to_string()
            .contains("evil")
    );
}

/// Registrable https URIs; a few generated ones are invalid (dot segments, default
/// port) and are dropped by the caller.
fn https_uri() -> impl Strategy<Value = String> {
    "https://[a-z]{1,5}(\\.[a-z0-9]{1,5}){0,2}(:[1-9][0-9]{0,3})?(/[a-zA-Z0-9._~-]{0,5}){0,3}(\\?[a-z]{1,3}=[a-z0-9]{0,3})?"
}

/// One of `registered`, perhaps changed by one edit, or arbitrary text.
fn presented(
    registered: &[RedirectUri],
    pick: prop::sample::Index,
    edit: u8,
    at: prop::sample::Index,
    c: char,
    junk: &str,
) -> String {
    let Some(base) = registered.get(pick.index(registered.len().max(1))) else {
        return junk.to_owned();
    };
    let mut s = base.as_str().to_owned();
    let at = at.index(s.len() + 1);
    match edit % 6 {
        0 => {}
        1 => s.insert(at, c),
        2 if at < s.len() => {
            s.remove(at);
        }
        3 => s = s.to_ascii_uppercase(),
        4 => s.push('/'),
        _ => s = junk.to_owned(),
    }
    s
}

proptest! {
    #[test]
    fn parse_never_panics_and_keeps_the_exact_string(
        s in prop_oneof![
            ".{0,120}",
            "[a-zA-Z.+-]{0,12}:(//)?[a-zA-Z0-9:@%./?#\\[\\]\\\\ _-]{0,40}",
            "(https|http|com\\.x):(//)?(127\\.0\\.0\\.1|\\[::1\\]|localhost|a\\.b)(:[0-9]{0,6})?[/?.%a-z0-9]{0,12}",
        ],
    ) {
        if let Ok(parsed) = RedirectUri::parse(&s) {
            prop_assert_eq!(parsed.as_str(), s.as_str());
            prop_assert!(s.len() <= MAX_REDIRECT_URI_LEN);
            prop_assert!(!s.contains('#'));
            prop_assert!(s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'));
            prop_assert!(s.starts_with("https://") || s.starts_with("http://") || s.split(':').next().is_some_and(|scheme| scheme.contains('.')));
        }
    }

    #[test]
    fn confidential_match_is_exact_string_equality(
        candidates in prop::collection::vec(https_uri(), 1..4),
        pick in any::<prop::sample::Index>(),
        edit in any::<u8>(),
        at in any::<prop::sample::Index>(),
        c in any::<char>(),
        junk in ".{0,40}",
    ) {
        let registered: Vec<RedirectUri> =
            candidates.iter().filter_map(|s| RedirectUri::parse(s).ok()).collect();
        let presented = presented(&registered, pick, edit, at, c, &junk);
        let expected = registered.iter().find(|r| r.as_str() == presented);
        for kind in [ClientKind::Confidential, ClientKind::Native] {
            // No https URI has a port exception, so native clients match exactly too.
            prop_assert_eq!(matches(&registered, &presented, kind), expected);
        }
    }

    #[test]
    fn native_loopback_matches_any_port_and_nothing_else(
        host in prop_oneof![Just("127.0.0.1"), Just("[::1]")],
        path in "(/[a-z0-9]{0,5}){0,2}(\\?[a-z]=[0-9])?",
        port in 1u16..,
        extra in "[a-z/?.:@]{1,3}",
    ) {
        let registered = [uri(&format!("http://{host}{path}"))];
        let presented = format!("http://{host}:{port}{path}");
        prop_assert!(matches(&registered, &presented, ClientKind::Native).is_some());
        prop_assert!(matches(&registered, &presented, ClientKind::Confidential).is_none());
        let altered = format!("{presented}{extra}");
        prop_assert!(matches(&registered, &altered, ClientKind::Native).is_none());
    }
}
