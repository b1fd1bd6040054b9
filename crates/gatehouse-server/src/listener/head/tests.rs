//! The head scanner on byte streams, whole and cut into every possible pair of pieces.

use super::*;

/// Feeds `stream` in pieces of `piece` bytes and returns, for each of `requests`
/// requests in turn, what was noted about its head.
fn verdicts(stream: &[u8], piece: usize, requests: usize) -> Vec<Option<Noted>> {
    let log = Arc::new(HeadLog::default());
    let mut scanner = HeadScanner::new(Arc::clone(&log));
    for part in stream.chunks(piece.max(1)) {
        scanner.feed(part);
    }
    (0..requests).map(|_| log.next_request()).collect()
}

/// The verdicts must not depend on how the bytes were cut.
fn check(stream: &str, requests: usize, expected: &[Option<Noted>]) {
    for piece in 1..=stream.len() {
        assert_eq!(
            verdicts(stream.as_bytes(), piece, requests),
            expected,
            "pieces of {piece} in {stream:?}"
        );
    }
}

const BARE_LF: Option<Noted> = Some(Noted::Refused(HeadRefusal::BareLf));
const DUPLICATE_HOST: Option<Noted> = Some(Noted::Refused(HeadRefusal::DuplicateHost));
const AMBIGUOUS_LENGTH: Option<Noted> = Some(Noted::Refused(HeadRefusal::AmbiguousLength));

#[test]
fn well_formed_requests_on_one_connection_are_not_refused() {
    check(
        "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\
         POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\nHost: b\
         POST /y HTTP/1.1\r\nhost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
         3;ext=1\r\n\n\n\n\r\n16\r\nHost: b\r\n\r\nHost: c\r\n\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n\
         GET /z HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        5,
        &[None, None, None, None, None],
    );
}

#[test]
fn a_bare_lf_anywhere_in_a_head_is_refused() {
    for stream in [
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\n",
        "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        check(stream, 2, &[BARE_LF, None]);
    }
}

#[test]
fn two_host_lines_are_refused_in_any_spelling() {
    check(
        "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nHOST:b\r\n\r\n",
        1,
        &[DUPLICATE_HOST],
    );
    check(
        "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
        1,
        &[DUPLICATE_HOST],
    );
}

#[test]
fn length_beside_transfer_encoding_is_refused_in_either_order() {
    for stream in [
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello",
    ] {
        check(stream, 1, &[AMBIGUOUS_LENGTH]);
    }
}

#[test]
fn a_refused_head_later_on_a_keep_alive_connection_is_counted_to_its_request() {
    // The second request's body holds what would be a bad head: it is body, not head.
    check(
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n\
         POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\nGET /\nHost:\n\
         GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        4,
        &[None, None, DUPLICATE_HOST, None],
    );
    check(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\ncd\r\n0\r\n\r\n\
         GET / HTTP/1.1\nHost: a\r\n\r\n",
        3,
        &[None, BARE_LF, None],
    );
}

#[test]
fn after_an_upgrade_or_an_unframeable_body_it_stops_looking() {
    // What follows an upgrade is another protocol; what follows a body hyper cannot
    // frame is never read as a request.
    for stream in [
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n\n\n\nHost: x\r\n\r\n",
        "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\nGET /\n",
    ] {
        check(stream, 2, &[Some(Noted::Upgrade), None]);
    }
    for stream in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nGET /\n\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nGET /\n\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nGET /\n\n",
    ] {
        check(stream, 2, &[None, None]);
    }
}

#[test]
fn the_http2_preface_turns_it_off_without_a_note() {
    check(
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\n\n\x04Host: a\r\nHost: b\r\n\r\n",
        3,
        &[None, None, None],
    );
}

#[test]
fn a_long_line_in_pieces_leaves_no_large_buffer_behind() {
    let mut scanner = HeadScanner::new(Arc::default());
    scanner.feed(b"GET / HTTP/1.1\r\nX-Long: ");
    for _ in 0..40 {
        scanner.feed(&[b'a'; 1000]);
    }
    assert!(scanner.partial.capacity() >= 40_000, "the pieces were kept");
    scanner.feed(b"\r\nHost: a\r\n\r\n");
    assert!(scanner.partial.capacity() <= KEPT_LINE_BUFFER);
    assert!(scanner.is_on());
}

#[test]
fn lengths_are_decimal_digits_within_u64() {
    assert_eq!(parse_length(b"0"), Ok(0));
    assert_eq!(parse_length(b"18446744073709551615"), Ok(u64::MAX));
    for bad in [
        &b""[..],
        b"18446744073709551616",
        b"+5",
        b"5,5",
        b"0x5",
        b"-1",
    ] {
        assert_eq!(parse_length(bad), Err(()), "{bad:?}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A well-formed request: a head of ordinary headers (and maybe a Host), then a
    /// body sent with `Content-Length`, chunked in the given chunk sizes, or none.
    fn request() -> impl Strategy<Value = Vec<u8>> {
        let header = ("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,30}");
        let body = proptest::collection::vec(any::<u8>(), 0..200);
        let framing = prop_oneof![Just(0u8), Just(1u8), Just(2u8)];
        let chunk_sizes = proptest::collection::vec(1usize..40, 0..6);
        (
            proptest::collection::vec(header, 0..6),
            body,
            framing,
            chunk_sizes,
        )
            .prop_map(|(headers, body, framing, sizes)| {
                let mut out = b"POST /x HTTP/1.1\r\nHost: a\r\n".to_vec();
                for (name, value) in headers {
                    let lower = name.to_ascii_lowercase();
                    // The framing and Host are this generator's to choose.
                    if ["host", "content-length", "transfer-encoding", "upgrade"]
                        .contains(&lower.as_str())
                    {
                        continue;
                    }
                    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                match framing {
                    0 => out.extend_from_slice(b"\r\n"),
                    1 => {
                        out.extend_from_slice(
                            format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                        );
                        out.extend_from_slice(&body);
                    }
                    _ => {
                        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                        let mut rest = &body[..];
                        for size in sizes {
                            if rest.is_empty() {
                                break;
                            }
                            let (chunk, after) = rest.split_at(size.min(rest.len()));
                            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                            out.extend_from_slice(chunk);
                            out.extend_from_slice(b"\r\n");
                            rest = after;
                        }
                        out.extend_from_slice(b"0\r\n\r\n");
                    }
                }
                out
            })
    }

    proptest! {
        #[test]
        fn well_formed_requests_are_never_refused_however_they_arrive(
            requests in proptest::collection::vec(request(), 1..5),
            piece in 1usize..64,
        ) {
            let stream: Vec<u8> = requests.concat();
            let noted = verdicts(&stream, piece, requests.len() + 1);
            prop_assert!(noted.iter().all(Option::is_none), "{noted:?}");
        }

        #[test]
        fn a_bad_head_after_good_requests_is_counted_to_its_own_request(
            requests in proptest::collection::vec(request(), 0..4),
            piece in 1usize..64,
        ) {
            let mut stream: Vec<u8> = requests.concat();
            stream.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
            let noted = verdicts(&stream, piece, requests.len() + 1);
            prop_assert_eq!(noted.last().copied().flatten(), DUPLICATE_HOST);
            prop_assert!(noted[..requests.len()].iter().all(Option::is_none));
        }

        #[test]
        fn any_bytes_at_all_are_scanned_without_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            piece in 1usize..64,
        ) {
            verdicts(&bytes, piece, 3);
        }
    }
}
