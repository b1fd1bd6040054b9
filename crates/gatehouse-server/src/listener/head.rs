//! Request heads as they arrive, before hyper parses them: the shapes hyper accepts
//! but RFC 9112 does not let a server act on — a bare LF as a line ending, two `Host`
//! lines, `Content-Length` beside `Transfer-Encoding` — are noted here, and the
//! listener answers the request 400 in their place (`super::connection`).
//!
//! Why before hyper: hyper takes a lone LF as a line ending (a front proxy that does
//! not would see a different request), keeps one `Host` of two only in its own map
//! order, and drops `Content-Length` from the header map when `Transfer-Encoding` is
//! present — the service can no longer tell that the request was ambiguous.
//!
//! [`Inspected`] wraps a connection's reads and hands every byte to a [`HeadScanner`],
//! which follows the message framing (heads, then `Content-Length` or chunked bodies)
//! so a keep-alive connection's later heads are found too. Its per-byte work is a
//! `memchr` for line ends over head bytes; body bytes are skipped by count, except the
//! few bytes of chunk-size lines. On the first refused head, or where hyper takes over
//! the connection itself (an upgrade, `CONNECT`) or refuses the framing itself, it
//! stops looking: the connection ends at that request either way.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Why a request head is refused (each a 400 with this stable code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadRefusal {
    /// A line of the request line or headers ended by LF without CR before it.
    BareLf,
    /// More than one `Host` line (RFC 9112 §3.2: 400).
    DuplicateHost,
    /// `Content-Length` and `Transfer-Encoding` together (RFC 9112 §6.1): two parsers
    /// could disagree on where the body ends.
    AmbiguousLength,
}

impl HeadRefusal {
    /// The stable code of the problem answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::BareLf => "bare_lf",
            Self::DuplicateHost => "duplicate_host",
            Self::AmbiguousLength => "ambiguous_length",
        }
    }

    /// What the problem answer says.
    pub fn detail(self) -> &'static str {
        match self {
            Self::BareLf => "a line of the request head ends in LF without CR",
            Self::DuplicateHost => "the request has more than one Host header",
            Self::AmbiguousLength => "the request has both Content-Length and Transfer-Encoding",
        }
    }
}

/// What the scanner noted about one request head, for the connection's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noted {
    /// Refused: answer 400 and close.
    Refused(HeadRefusal),
    /// It asks for an upgrade (or is `CONNECT`): the scanner stopped looking, so unless
    /// the protocol switches, the connection must close after the answer.
    Upgrade,
}

impl Noted {
    fn index(self) -> u64 {
        match self {
            Self::Refused(HeadRefusal::BareLf) => 1,
            Self::Refused(HeadRefusal::DuplicateHost) => 2,
            Self::Refused(HeadRefusal::AmbiguousLength) => 3,
            Self::Upgrade => 4,
        }
    }

    fn from_index(index: u64) -> Option<Self> {
        match index {
            1 => Some(Self::Refused(HeadRefusal::BareLf)),
            2 => Some(Self::Refused(HeadRefusal::DuplicateHost)),
            3 => Some(Self::Refused(HeadRefusal::AmbiguousLength)),
            4 => Some(Self::Upgrade),
            _ => None,
        }
    }
}

/// What the scanner found, read by the connection's service: the one request (counted
/// from 0 on the connection) it noted something about — after that it stops looking.
/// Shared by the reading side and the service of one connection; hyper asks the
/// service for request `n` only after it has read head `n` through the scanner.
#[derive(Debug, Default)]
pub struct HeadLog {
    /// 0: nothing; else `(request index + 1) << 3 | Noted::index`.
    noted: AtomicU64,
    /// Requests handed to the service so far.
    requests: AtomicU64,
}

impl HeadLog {
    fn note(&self, request: u64, noted: Noted) {
        let value = (request.saturating_add(1) << 3) | noted.index();
        self.noted.store(value, Ordering::Release);
    }

    /// Counts the next request handed to the service, and says what was noted about
    /// its head, if anything.
    pub fn next_request(&self) -> Option<Noted> {
        let request = self.requests.fetch_add(1, Ordering::Relaxed);
        let noted = self.noted.load(Ordering::Acquire);
        if noted != 0 && (noted >> 3) == request.saturating_add(1) {
            Noted::from_index(noted & 7)
        } else {
            None
        }
    }
}

/// The longest head line kept while it arrives in pieces; a longer one is hyper's to
/// refuse (its head buffer is this size).
const MAX_LINE: usize = 64 * 1024;
/// The most buffer kept between lines for the pieces of the next.
const KEPT_LINE_BUFFER: usize = 1024;

/// Follows a connection's request stream, byte slice by byte slice.
#[derive(Debug)]
pub struct HeadScanner {
    state: State,
    /// Heads completed so far on this connection.
    heads: u64,
    /// The start of a head line that has not ended yet in the bytes seen.
    partial: Vec<u8>,
    head: Head,
    log: Arc<HeadLog>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a request head (or between requests).
    Head,
    /// In a body of known length: this many bytes still to come.
    Length(u64),
    /// In a chunked body.
    Chunked(Chunk),
    /// Not looking any more.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// The chunk-size line: the size so far, and whether the hex digits have ended
    /// (extensions, whitespace, CR follow).
    Size { size: u64, digits_done: bool },
    /// Chunk data still to come.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk; whether the current line is still empty.
    Trailer { empty: bool },
}

/// What the lines of the current head said so far.
#[derive(Debug, Default, Clone, Copy)]
struct Head {
    /// The request line has been seen (empty lines before it are skipped, as hyper does).
    started: bool,
    connect: bool,
    hosts: u32,
    /// The `Content-Length` value; `Err` when lines disagree or a value is not a number.
    length: Option<Result<u64, ()>>,
    /// Whether there is a `Transfer-Encoding`, and whether its last coding is chunked.
    encoding: Option<bool>,
    upgrade: bool,
}

impl HeadScanner {
    /// A scanner for a new connection, reporting to `log`.
    pub fn new(log: Arc<HeadLog>) -> Self {
        Self {
            state: State::Head,
            heads: 0,
            partial: Vec::new(),
            head: Head::default(),
            log,
        }
    }

    /// Whether it still looks at what arrives.
    pub fn is_on(&self) -> bool {
        self.state != State::Off
    }

    /// Takes the next bytes read from the client.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Off => return,
                State::Head => self.head_bytes(bytes),
                State::Length(left) => {
                    let take = left.min(bytes.len() as u64);
                    self.state = match left - take {
                        0 => State::Head,
                        rest => State::Length(rest),
                    };
                    // `take` is at most `bytes.len()`.
                    usize::try_from(take).unwrap_or(bytes.len())
                }
                State::Chunked(chunk) => self.chunk_bytes(chunk, bytes),
            };
            bytes = bytes.get(used..).unwrap_or_default();
        }
    }

    /// Head bytes: each complete line is judged; returns how many bytes were used
    /// (fewer than given when the head ends and a body begins).
    fn head_bytes(&mut self, bytes: &[u8]) -> usize {
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'\n', &bytes[from..]) {
            let end = from + offset;
            let line: &[u8] = if self.partial.is_empty() {
                &bytes[from..end]
            } else {
                self.partial.extend_from_slice(&bytes[from..end]);
                &self.partial
            };
            from = end + 1;
            let verdict = match line.split_last() {
                Some((&b'\r', content)) => judge_line(&mut self.head, content),
                // An empty line before the request line, or a line ending in LF only.
                _ => Line::Refused(HeadRefusal::BareLf),
            };
            // A long line once is no reason to hold its buffer for the connection's life.
            if self.partial.capacity() > KEPT_LINE_BUFFER {
                self.partial = Vec::new();
            } else {
                self.partial.clear();
            }
            match verdict {
                Line::More => {}
                Line::Refused(refusal) => {
                    self.refuse(refusal);
                    return bytes.len();
                }
                Line::End => {
                    self.end_head();
                    return from;
                }
                Line::Stop => {
                    self.state = State::Off;
                    self.partial = Vec::new();
                    return bytes.len();
                }
            }
        }
        let rest = &bytes[from..];
        if self.partial.len() + rest.len() > MAX_LINE {
            self.state = State::Off;
            self.partial = Vec::new();
        } else {
            self.partial.extend_from_slice(rest);
        }
        bytes.len()
    }

    fn refuse(&mut self, refusal: HeadRefusal) {
        self.log.note(self.heads, Noted::Refused(refusal));
        self.state = State::Off;
        self.partial = Vec::new();
    }

    /// The empty line ending a head: decides it, and how its body is framed.
    fn end_head(&mut self) {
        let head = std::mem::take(&mut self.head);
        if head.hosts > 1 {
            return self.refuse(HeadRefusal::DuplicateHost);
        }
        if head.length.is_some() && head.encoding.is_some() {
            return self.refuse(HeadRefusal::AmbiguousLength);
        }
        if head.upgrade || head.connect {
            // After an upgrade the bytes are another protocol's; the listener closes
            // the connection after any upgrade request it does not switch.
            self.log.note(self.heads, Noted::Upgrade);
            self.state = State::Off;
            return;
        }
        self.heads += 1;
        self.state = match (head.encoding, head.length) {
            (Some(true), _) => State::Chunked(Chunk::Size {
                size: 0,
                digits_done: false,
            }),
            // Another coding last, or a bad length: hyper answers 400 and closes.
            (Some(false), _) | (None, Some(Err(()))) => State::Off,
            (None, Some(Ok(0)) | None) => State::Head,
            (None, Some(Ok(n))) => State::Length(n),
        };
    }

    /// Chunked body bytes from state `chunk`; returns how many were used.
    fn chunk_bytes(&mut self, chunk: Chunk, bytes: &[u8]) -> usize {
        if let Chunk::Data(left) = chunk {
            let take = left.min(bytes.len() as u64);
            self.state = State::Chunked(match left - take {
                0 => Chunk::DataEnd,
                rest => Chunk::Data(rest),
            });
            return usize::try_from(take).unwrap_or(bytes.len());
        }
        let mut chunk = chunk;
        for (i, &b) in bytes.iter().enumerate() {
            chunk = match (chunk, b) {
                (Chunk::Size { size, .. }, b'\n') if size > 0 => Chunk::Data(size),
                (Chunk::Size { .. }, b'\n') => Chunk::Trailer { empty: true },
                (
                    Chunk::Size {
                        size,
                        digits_done: false,
                    },
                    _,
                ) if b.is_ascii_hexdigit() => {
                    let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                    match size.checked_mul(16).and_then(|s| s.checked_add(digit)) {
                        Some(size) => Chunk::Size {
                            size,
                            digits_done: false,
                        },
                        // hyper refuses a size this large and closes.
                        None => {
                            self.state = State::Off;
                            return bytes.len();
                        }
                    }
                }
                (Chunk::Size { size, .. }, _) => Chunk::Size {
                    size,
                    digits_done: true,
                },
                (Chunk::DataEnd, b'\n') => Chunk::Size {
                    size: 0,
                    digits_done: false,
                },
                (Chunk::DataEnd, _) => Chunk::DataEnd,
                (Chunk::Trailer { empty: true }, b'\n') => {
                    self.state = State::Head;
                    return i + 1;
                }
                (Chunk::Trailer { .. }, b'\n') => Chunk::Trailer { empty: true },
                (Chunk::Trailer { empty }, b'\r') => Chunk::Trailer { empty },
                (Chunk::Trailer { .. }, _) => Chunk::Trailer { empty: false },
                (Chunk::Data(_), _) => {
                    self.state = State::Chunked(chunk);
                    return i;
                }
            };
            if let Chunk::Data(_) = chunk {
                self.state = State::Chunked(chunk);
                return i + 1;
            }
        }
        self.state = State::Chunked(chunk);
        bytes.len()
    }
}

/// What one head line means.
enum Line {
    More,
    End,
    Refused(HeadRefusal),
    /// Not HTTP/1 at all from here: stop looking.
    Stop,
}

/// Judges one line of a head, without its CRLF, into `head`.
fn judge_line(head: &mut Head, line: &[u8]) -> Line {
    if line.is_empty() {
        // Empty lines before the request line are skipped (RFC 9112 §2.2), as hyper does.
        return if head.started { Line::End } else { Line::More };
    }
    if !head.started {
        if line == b"PRI * HTTP/2.0" {
            // The HTTP/2 connection preface (prior knowledge): frames follow, not heads.
            return Line::Stop;
        }
        head.started = true;
        head.connect = line.starts_with(b"CONNECT ");
        return Line::More;
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        // Not a header line: hyper refuses it.
        return Line::More;
    };
    let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
    match name.len() {
        4 if name.eq_ignore_ascii_case(b"host") => head.hosts += 1,
        7 if name.eq_ignore_ascii_case(b"upgrade") => head.upgrade = true,
        14 if name.eq_ignore_ascii_case(b"content-length") => {
            let this = parse_length(value);
            head.length = Some(match head.length {
                None => this,
                Some(before) if before == this => this,
                Some(_) => Err(()),
            });
        }
        17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
            let last = value.rsplit(|&b| b == b',').next().map(trim);
            head.encoding = Some(last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")));
        }
        _ => {}
    }
    Line::More
}

/// A `Content-Length` value: decimal digits only, within u64.
fn parse_length(value: &[u8]) -> Result<u64, ()> {
    if value.is_empty() {
        return Err(());
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(());
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(())
    })
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

/// A connection whose reads pass through a [`HeadScanner`] on their way to hyper.
#[derive(Debug)]
pub struct Inspected<I> {
    io: I,
    scanner: HeadScanner,
}

impl<I> Inspected<I> {
    /// Wraps `io`, reporting to `log`.
    pub fn new(io: I, log: Arc<HeadLog>) -> Self {
        Self {
            io,
            scanner: HeadScanner::new(log),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Inspected<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.scanner.is_on()
            && let Some(read) = buf.filled().get(before..)
        {
            this.scanner.feed(read);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Inspected<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
