//! Running the real `gatehouse` binary: servers in their own temp directories, admin
//! commands against them, and the SQLite file underneath.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The master key of most tests: 64 hex digits.
pub const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// How long anything may take before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);

/// The `gatehouse` binary with an environment free of the caller's `GATEHOUSE_*`
/// variables, running in `cwd`.
pub fn gatehouse(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GATEHOUSE_") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_LOG").current_dir(cwd);
    cmd
}

/// Runs `cmd` to completion within the deadline, killing it if it hangs.
pub fn run(cmd: Command) -> Output {
    run_with_input(cmd, None)
}

/// Like [`run`], writing `input` to the command's standard input.
pub fn run_with_input(cmd: Command, input: Option<&str>) -> Output {
    run_until(cmd, input, DEADLINE)
}

/// Like [`run`] with a deadline of its own, for a command that does more than one
/// request — a third-party client driving a browser.
pub fn run_within(cmd: Command, deadline: Duration) -> Output {
    run_until(cmd, None, deadline)
}

fn run_until(mut cmd: Command, input: Option<&str>, deadline: Duration) -> Output {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn gatehouse");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_end(&mut bytes).expect("read output");
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait(&mut child, deadline).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {deadline:?}");
    });
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Waits for `child` to exit, up to `deadline`.
fn wait(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(POLL);
    }
    None
}

/// Polls `done` until it holds, failing the test after the deadline.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// Text of a command's stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Text of a command's stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the command failed with exactly one line on stderr, `error: …`, and
/// returns that line.
pub fn failure(out: &Output) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected failure, got {out:?}");
    assert!(err.starts_with("error: "), "stderr: {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err:?}");
    err.trim_end().to_owned()
}

/// Asserts a `serve` failed: non-zero exit, and after any log lines, one last line
/// `error: …`, which is returned.
pub fn serve_failure(out: &Output) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected failure, got {out:?}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "stderr: {err:?}");
    assert_eq!(err.matches("error: ").count(), 1, "stderr: {err:?}");
    last.to_owned()
}

/// Whether `text` is an API key with prefix `gk`: `gk_` and 46 base62 characters.
pub fn is_gk_key(text: &str) -> bool {
    text.strip_prefix("gk_")
        .is_some_and(|body| body.len() == 46 && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A free TCP port on 127.0.0.1, released for the caller to use.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A temp directory holding one server's data dir (`data/`) and the logs of each run.
pub struct Home {
    dir: tempfile::TempDir,
    runs: usize,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            runs: 0,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir().join("gatehouse.db")
    }

    /// `gatehouse serve --listen 127.0.0.1:0 --data-dir data` with the test master key.
    pub fn serve(&mut self) -> Command {
        let mut cmd = self.serve_bare();
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.data_dir())
            .env("GATEHOUSE_MASTER_KEY", MASTER_KEY);
        cmd
    }

    /// `gatehouse serve` with no flags and no master key.
    pub fn serve_bare(&mut self) -> Command {
        let mut cmd = gatehouse(self.path());
        cmd.arg("serve");
        cmd
    }

    /// Starts `cmd` (a `serve` command) and waits until it is ready.
    pub fn start(&mut self, cmd: Command) -> Server {
        self.start_with(cmd, None)
    }

    /// Like [`Home::start`] for a server with `[tls]` whose certificate chains to
    /// `server_ca` (PEM): its URL is `https://…`, and it is ready when `/readyz`
    /// answers over TLS.
    pub fn start_https(&mut self, cmd: Command, server_ca: &[u8]) -> Server {
        self.start_with(cmd, Some(server_ca))
    }

    fn start_with(&mut self, cmd: Command, server_ca: Option<&[u8]>) -> Server {
        self.runs += 1;
        let logs = self.path().join(format!("run{}", self.runs));
        let mut server = Server::spawn(cmd, &logs);
        server.server_ca = server_ca.map(<[u8]>::to_vec);
        server.wait_ready();
        server
    }

    /// Starts the standard server and returns it with its bootstrap admin key.
    pub fn start_first(&mut self) -> (Server, String) {
        let cmd = self.serve();
        let server = self.start(cmd);
        let key = server.admin_key();
        (server, key)
    }
}

/// A running `gatehouse serve`; killed when dropped if still running.
pub struct Server {
    child: Child,
    addr: Option<SocketAddr>,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The PEM CA of the server's certificate when it serves HTTPS.
    server_ca: Option<Vec<u8>>,
}

impl Server {
    /// Spawns `cmd` (a `serve` command) with its output in `<logs>.stdout` and
    /// `<logs>.stderr`, without waiting for anything.
    pub fn spawn(mut cmd: Command, logs: &Path) -> Self {
        let out = logs.with_extension("stdout");
        let err = logs.with_extension("stderr");
        let file = |p: &Path| std::fs::File::create(p).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err));
        let child = cmd.spawn().expect("spawn gatehouse serve");
        Self {
            child,
            addr: None,
            stdout: out,
            stderr: err,
            server_ca: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("server address")
    }

    pub fn url(&self) -> String {
        let scheme = if self.server_ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr())
    }

    /// An HTTP client for this server: over HTTPS, one that trusts only its CA.
    pub fn http_client(&self) -> reqwest::Client {
        let Some(ca) = &self.server_ca else {
            return reqwest::Client::new();
        };
        reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(ca).expect("server CA")])
            .build()
            .expect("HTTPS client")
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).expect("read server stdout")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).expect("read server stderr")
    }

    /// Lines `GATEHOUSE_ADMIN_KEY=…` printed so far, as the keys they carry.
    pub fn admin_key_lines(&self) -> Vec<String> {
        self.stdout()
            .lines()
            .filter_map(|l| l.strip_prefix("GATEHOUSE_ADMIN_KEY="))
            .map(str::to_owned)
            .collect()
    }

    /// The bootstrap admin key, waiting for the line on stdout.
    pub fn admin_key(&self) -> String {
        let start = Instant::now();
        loop {
            if let Some(key) = self.admin_key_lines().pop() {
                return key;
            }
            assert!(start.elapsed() < DEADLINE, "no admin key on stdout");
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the "listening" log line, then for `GET /readyz` to answer 200.
    fn wait_ready(&mut self) {
        // A bare HTTP/1.1 request cannot speak TLS: an HTTPS server is asked by
        // reqwest, on a runtime kept for the whole wait.
        let https = self.server_ca.is_some().then(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        });
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "server exited with {status} before it was ready:\n{}",
                    self.stderr()
                );
            }
            if self.addr.is_none() {
                self.addr = listening_addr(&self.stderr());
            }
            if let Some(addr) = self.addr
                && match &https {
                    None => {
                        http_get(addr, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
                    }
                    Some(runtime) => runtime.block_on(self.https_ready()),
                }
            {
                return;
            }
            std::thread::sleep(POLL);
        }
        panic!("server not ready within {DEADLINE:?}:\n{}", self.stderr());
    }

    /// Whether `GET /readyz` over HTTPS answers 200.
    async fn https_ready(&self) -> bool {
        self.http_client()
            .get(format!("{}/readyz", self.url()))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `TERM`) and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
        wait(&mut self.child, DEADLINE).expect("server did not stop after the signal")
    }

    /// SIGTERM, and asserts a clean exit.
    pub fn stop(&mut self) {
        let status = self.signal_and_wait("TERM");
        assert_eq!(status.code(), Some(0), "stderr:\n{}", self.stderr());
    }

    /// An admin command against this server, authenticated with `key`.
    pub fn cli(&self, key: &str, args: &[&str]) -> Output {
        let mut cmd = gatehouse(Path::new("/"));
        cmd.args(args)
            .env("GATEHOUSE_URL", self.url())
            .env("GATEHOUSE_ADMIN_KEY", key);
        run(cmd)
    }

    /// Like [`Server::cli`], with `input` on standard input.
    pub fn cli_with_input(&self, key: &str, args: &[&str], input: &str) -> Output {
        let mut cmd = gatehouse(Path::new("/"));
        cmd.args(args)
            .env("GATEHOUSE_URL", self.url())
            .env("GATEHOUSE_ADMIN_KEY", key);
        run_with_input(cmd, Some(input))
    }

    /// Like [`Server::cli`], asserting success; returns stdout.
    pub fn ok(&self, key: &str, args: &[&str]) -> String {
        let out = self.cli(key, args);
        assert!(out.status.success(), "{args:?} failed: {out:?}");
        stdout(&out)
    }

    /// Like [`Server::ok`] with `--json`, parsed.
    pub fn json(&self, key: &str, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(key, &args)).expect("JSON output")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address in the "gatehouse is listening addr=…" log line.
pub fn listening_addr(log: &str) -> Option<SocketAddr> {
    let line = log.lines().find(|l| l.contains("gatehouse is listening"))?;
    let value = line.split("addr=").nth(1)?;
    value.split_whitespace().next()?.parse().ok()
}

/// A bare HTTP/1.1 GET; the whole response, or `None` if the connection failed.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Runs SQL statements against a stopped or running server's database file; returns
/// the rows changed by each.
pub fn sql(database: &Path, statements: &[&'static str]) -> Vec<u64> {
    with_db(database, |pool| async move {
        let mut changed = Vec::new();
        for &s in statements {
            changed.push(
                sqlx::query(s)
                    .execute(&pool)
                    .await
                    .expect(s)
                    .rows_affected(),
            );
        }
        changed
    })
}

/// One integer from a `SELECT`.
pub fn sql_count(database: &Path, query: &'static str) -> i64 {
    with_db(database, |pool| async move {
        sqlx::query_scalar::<_, i64>(query)
            .fetch_one(&pool)
            .await
            .expect(query)
    })
}

pub fn with_db<F, Fut, T>(database: &Path, f: F) -> T
where
    F: FnOnce(sqlx::SqlitePool) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(database)
            .busy_timeout(DEADLINE);
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .expect("open database");
        let result = f(pool.clone()).await;
        pool.close().await;
        result
    })
}
