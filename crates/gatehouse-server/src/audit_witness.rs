//! The witness file: checkpoints of the audit trail's head, kept outside the store.
//!
//! Every second in which the trail's committed head moved, and once more at shutdown,
//! a checkpoint (core's `audit::checkpoint`) is appended to `[audit] witness_file`,
//! opened with `O_APPEND`, created with mode 0600, and fsynced per checkpoint: a
//! checkpoint is never ahead of what the store committed, so a store behind the
//! witness was tampered with or rolled back. Writing happens on the blocking pool once
//! a second, never on a request's path.
//!
//! With `[audit] witness_syslog`, each checkpoint line is also sent to syslog (a unix
//! datagram, RFC 3164 framing, facility auth): a copy a remote log host keeps; with
//! `[audit] witness_url`, it is POSTed as JSON. Both are best effort — a send that fails
//! is logged and the file remains the record, the only copy read back at start.
//!
//! The default file sits in the data directory, which protects only against someone
//! who edits the database alone (or restores an old copy of the database file). Against
//! someone who can write the whole data directory, put the witness where they cannot:
//! another disk or machine, an append-only file (`chattr +a`), a log shipper.

use crate::audit_log::Head;
use crate::clock::Clock;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::checkpoint::{Checkpoint, Witnessed, read_witness};
use gatehouse_core::audit::{ChainHash, MacKey};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the head is checkpointed while it moves.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long a POST of a checkpoint may take: the next one is due a second later.
const POST_TIMEOUT: Duration = Duration::from_secs(2);

/// The open witness file and the key its checkpoints are MAC'd under.
#[derive(Debug)]
pub struct Witness {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    key: MacKey,
    keyed_from: u64,
    /// The last head written, so an idle trail adds no lines.
    last: Mutex<Option<Head>>,
    /// The syslog socket that also gets each checkpoint.
    syslog: Option<PathBuf>,
    /// The HTTP endpoint that also gets each checkpoint.
    endpoint: Option<(reqwest::Client, String)>,
}

impl Witness {
    /// Opens (creating, mode 0600) the witness at `path` for appending checkpoints of
    /// a trail whose keyed chain starts at `keyed_from`.
    pub fn open(path: &Path, key: MacKey, keyed_from: u64) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        terminate_torn_line(path, &mut file)?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            key,
            keyed_from,
            last: Mutex::new(None),
            syslog: None,
            endpoint: None,
        })
    }

    /// Also POSTs each checkpoint to `url`, with `client`.
    #[must_use]
    pub fn with_endpoint(mut self, client: reqwest::Client, url: Option<String>) -> Self {
        self.endpoint = url.map(|url| (client, url));
        self
    }

    /// POSTs a checkpoint `line` to the endpoint, if one is configured; a failure is
    /// logged.
    pub async fn post(&self, line: &str) {
        let Some((client, url)) = &self.endpoint else {
            return;
        };
        let sent = client
            .post(url)
            .timeout(POST_TIMEOUT)
            .header("content-type", "application/json")
            .body(line.trim_end().to_owned())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot POST an audit checkpoint to audit.witness_url");
        }
    }

    /// Also sends each checkpoint to the syslog socket at `socket`.
    #[must_use]
    pub fn with_syslog(mut self, socket: Option<PathBuf>) -> Self {
        self.syslog = socket;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a checkpoint of `head` taken at `now`, unless it is the head last
    /// written; fsyncs before returning. Returns the line written, if any, for
    /// [`Witness::post`].
    pub fn write(&self, head: Head, now: UnixTime) -> std::io::Result<Option<String>> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if *last == Some(head) {
            return Ok(None);
        }
        let (seq, hash) = head.unwrap_or((0, ChainHash::GENESIS));
        let checkpoint = Checkpoint {
            seq,
            hash,
            keyed_from: self.keyed_from,
            time: now,
        };
        let line = checkpoint.to_line(&self.key);
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        *last = Some(head);
        if let Some(socket) = &self.syslog
            && let Err(e) = send_syslog(socket, line.trim_end())
        {
            tracing::warn!(error = %e, socket = %socket.display(), "cannot send an audit checkpoint to syslog");
        }
        Ok(Some(line))
    }
}

/// Ends a line a crash cut short with `\n`, so the next checkpoint starts a line of its
/// own instead of being glued to the fragment (and lost with it).
fn terminate_torn_line(path: &Path, file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut reader = std::fs::File::open(path)?;
    if reader.seek(SeekFrom::End(0))? == 0 {
        return Ok(());
    }
    reader.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    reader.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
        file.sync_data()?;
    }
    Ok(())
}

/// `<37>gatehouse-audit: <line>`: facility auth (4), severity notice (5), RFC 3164's
/// framing as local syslog daemons read it (they add the time and host).
#[cfg(unix)]
fn send_syslog(socket: &Path, line: &str) -> std::io::Result<()> {
    let datagram = format!("<37>gatehouse-audit: {line}");
    let sender = std::os::unix::net::UnixDatagram::unbound()?;
    sender.send_to(datagram.as_bytes(), socket)?;
    Ok(())
}

#[cfg(not(unix))]
fn send_syslog(_socket: &Path, _line: &str) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "syslog sockets are unix-only",
    ))
}

/// The bytes of the witness a start reads: its last ones only, about 350 checkpoints.
/// The file gains a line a second while events flow and is never cut, so reading it
/// whole would make every start slower the longer the server has run; the last valid
/// checkpoint is all a start compares with. `GET /admin/v1/audit/verify` reads it whole.
const TAIL: u64 = 64 * 1024;

/// Reads the whole witness at `path`: nothing witnessed if the file does not exist.
/// Blocking: call it off the runtime.
pub fn read(path: &Path, key: &MacKey) -> std::io::Result<Witnessed> {
    read_from(path, key, 0)
}

/// Reads the last 64 KiB of the witness at `path` (from the first line that
/// starts in them).
pub fn read_tail(path: &Path, key: &MacKey) -> std::io::Result<Witnessed> {
    let len = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Witnessed::default()),
        Err(e) => return Err(e),
    };
    read_from(path, key, len.saturating_sub(TAIL))
}

fn read_from(path: &Path, key: &MacKey, from: u64) -> std::io::Result<Witnessed> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Witnessed::default()),
        Err(e) => return Err(e),
    };
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // Read from the middle of the file, the first line is a piece of one.
    let text = match from {
        0 => &text[..],
        _ => text.split_once('\n').map_or("", |(_, rest)| rest),
    };
    Ok(read_witness(text, key))
}

/// Checkpoints the committed head every [`EVERY`] while it moves.
pub fn spawn(
    witness: Arc<Witness>,
    mut committed: watch::Receiver<Head>,
    clock: Arc<dyn Clock>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        // A slow endpoint delays the next checkpoint rather than bunching them up.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !committed.has_changed().unwrap_or(false) {
                continue;
            }
            let head = *committed.borrow_and_update();
            let writer = Arc::clone(&witness);
            let now = clock.now();
            let written = tokio::task::spawn_blocking(move || writer.write(head, now));
            match written.await {
                Ok(Ok(Some(line))) => witness.post(&line).await,
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "cannot write the audit witness file"),
                Err(e) => tracing::error!(error = %e, "audit witness task failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MacKey {
        MacKey::new(&gatehouse_core::Secret::new([3; 32]))
    }

    #[test]
    fn a_start_reads_only_the_tail_and_finds_the_same_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.log");
        let witness = Witness::open(&path, key(), 1).unwrap();
        // About 2,000 lines: several times the tail a start reads.
        for seq in 1..=2_000u64 {
            let head = Some((seq, ChainHash([(seq % 251) as u8; 32])));
            witness
                .write(head, UnixTime::from_millis(seq as i64))
                .unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() > 3 * TAIL);
        let whole = read(&path, &key()).unwrap();
        let tail = read_tail(&path, &key()).unwrap();
        assert_eq!(tail.last, whole.last);
        assert_eq!(tail.last.map(|c| c.seq), Some(2_000));
        // The line the tail starts inside is skipped, not counted against the file.
        assert_eq!((tail.invalid_lines, tail.unreadable_lines), (0, 0));
        assert_eq!(
            read_tail(&dir.path().join("none"), &key()).unwrap().last,
            None
        );
    }

    #[test]
    fn a_line_cut_short_by_a_crash_does_not_swallow_the_next_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.log");
        let first = Witness::open(&path, key(), 1).unwrap();
        first
            .write(Some((4, ChainHash([4; 32]))), UnixTime::from_millis(1))
            .unwrap();
        drop(first);
        let mut torn = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        torn.write_all(b"{\"v\":1,\"seq\":").unwrap();
        drop(torn);

        let second = Witness::open(&path, key(), 1).unwrap();
        second
            .write(Some((6, ChainHash([6; 32]))), UnixTime::from_millis(2))
            .unwrap();
        let witnessed = read(&path, &key()).unwrap();
        assert_eq!(witnessed.last.map(|c| c.seq), Some(6));
        assert_eq!(
            (witnessed.invalid_lines, witnessed.unreadable_lines),
            (0, 1)
        );
        // An unchanged head adds no line.
        assert_eq!(
            second
                .write(Some((6, ChainHash([6; 32]))), UnixTime::from_millis(3))
                .unwrap(),
            None
        );
    }
}
