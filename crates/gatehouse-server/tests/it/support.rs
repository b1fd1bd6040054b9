//! `spawn_app()`: a real server on `127.0.0.1:0` over a temporary data directory, with
//! a manual clock, and an HTTP client that records every answer so a test can check
//! that no body ever carried a key it should not have.

use gatehouse_api::audit::Event;
use gatehouse_api::keys::{CreatedKey, Key};
use gatehouse_api::verify::Verdict;
use gatehouse_api::{Page, Problem};
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::{ApiKey, Prefix};
use gatehouse_core::{Entropy, EntropyUnavailable};
use gatehouse_server::{ManualClock, MasterKey, Overrides, RunningServer, Settings};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// Where every test's clock starts: 2027-01-15T08:00:00Z.
pub const START: UnixTime = UnixTime::from_millis(1_800_000_000_000);

/// A running server and everything a test needs to talk to it.
pub struct TestApp {
    server: Option<RunningServer>,
    /// The data directory; deleted when the app is dropped.
    pub dir: TempDir,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The bootstrap admin key's plaintext.
    pub admin_key: String,
    /// The server's clock.
    pub clock: Arc<ManualClock>,
    /// The HTTP client.
    pub client: reqwest::Client,
    replies: Mutex<Vec<Recorded>>,
}

/// One answer, as recorded for the leak check.
struct Recorded {
    method: Method,
    path: String,
    status: u16,
    body: Vec<u8>,
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status, showing the body if it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    /// The body as JSON of type `T`.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {}", self.text()))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with `status` and `code`, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Problem {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "a problem must be application/problem+json; body: {}",
            self.text()
        );
        let problem: Problem = self.json();
        assert_eq!(
            problem.status, status,
            "problem.status differs from HTTP status"
        );
        assert_eq!(problem.code, code, "detail: {}", problem.detail);
        problem
    }
}

/// The master key every test server runs with.
pub fn master_key() -> MasterKey {
    MasterKey::from_hex(&"11".repeat(32), "test").expect("master key")
}

/// How a test checks a trail its server wrote from the start: keyed from event 1,
/// under the test master key's chain key.
pub fn chain_key() -> gatehouse_core::audit::MacKey {
    gatehouse_server::audit_log::chain_key(&master_key())
}

/// Starts a fresh server over an empty data directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// Starts a fresh server with `config` as its configuration file (written to
/// `<data dir>/gatehouse.toml`; empty: no file).
pub async fn spawn_app_with(config: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary data directory");
    if !config.is_empty() {
        std::fs::write(config_path(&dir), config).expect("config file");
    }
    let clock = Arc::new(ManualClock::new(START));
    let mut server = start(&dir, &clock, "127.0.0.1:0").await;
    let admin_key = server
        .take_admin_key()
        .expect("a first start creates the admin key")
        .reveal()
        .to_owned();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    TestApp {
        base: format!("http://{}", server.addr()),
        server: Some(server),
        dir,
        admin_key,
        clock,
        client,
        replies: Mutex::new(Vec::new()),
    }
}

/// Where a test's configuration file lives.
pub fn config_path(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("gatehouse.toml")
}

async fn start(dir: &TempDir, clock: &Arc<ManualClock>, listen: &str) -> RunningServer {
    let overrides = Overrides {
        listen: Some(listen.into()),
        data_dir: Some(dir.path().to_path_buf()),
    };
    let file = config_path(dir);
    let file = file.exists().then_some(file.as_path());
    let settings = Settings::load(file, std::iter::empty(), &overrides).expect("settings");
    let master_key = master_key();
    let clock: Arc<dyn gatehouse_server::Clock> = clock.clone();
    gatehouse_server::start(settings, clock, &master_key)
        .await
        .expect("server starts")
}

impl TestApp {
    /// Stops the server gracefully (flushing usage and audit), keeping the data.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }

    /// Stops the server and starts a new one on the same data directory, clock and
    /// address (so the issuer of tokens stays the same). Returns the admin key the new
    /// start created, if it (wrongly) made one.
    pub async fn restart(&mut self) -> Option<String> {
        self.stop().await;
        self.start_again().await
    }

    /// Starts a server again on the stopped one's data directory, clock and address;
    /// returns the admin key it created, if it (wrongly) made one.
    pub async fn start_again(&mut self) -> Option<String> {
        let addr = self.base.trim_start_matches("http://").to_owned();
        let mut server = start(&self.dir, &self.clock, &addr).await;
        let second_admin = server.take_admin_key().map(|k| k.reveal().to_owned());
        self.base = format!("http://{}", server.addr());
        self.server = Some(server);
        second_admin
    }

    /// The running server's shared state, for tests that reach its store directly.
    pub fn state(&self) -> &Arc<gatehouse_server::state::AppState> {
        self.server.as_ref().expect("the server is running").state()
    }

    /// `http://<gateway address>`, when the configuration runs a gateway.
    pub fn gateway(&self) -> String {
        let server = self.server.as_ref().expect("the server is running");
        format!(
            "http://{}",
            server.gateway_addr().expect("a gateway is configured")
        )
    }

    /// Verifies a JWT Gatehouse signed with the keys it publishes at
    /// `/.well-known/jwks.json`, as a third party would: issuer, `audience`, `typ`.
    pub async fn verify_published(
        &self,
        token: &str,
        audience: &str,
        typ: &str,
    ) -> gatehouse_core::jose::VerifiedToken {
        use gatehouse_core::jose::{Expected, JwkSet, VerifyingKey, verify_jwt};
        let set: JwkSet = self
            .send(self.request(Method::GET, "/.well-known/jwks.json"))
            .await
            .expect(200)
            .json();
        let keys: Vec<VerifyingKey> = set
            .keys
            .iter()
            .map(|k| VerifyingKey::from_jwk(k).expect("a published key parses"))
            .collect();
        let issuer = self.state().settings.public_url.clone();
        let expected = Expected {
            issuer: &issuer,
            audience: Some(audience),
            typ: Some(typ),
            leeway_secs: 0,
            max_len: Expected::MAX_LEN,
        };
        verify_jwt(
            token,
            |kid| keys.iter().find(|k| k.kid() == kid),
            &expected,
            START,
        )
        .expect("the token verifies with the published keys")
    }

    /// Moves the server's clock forward.
    pub fn advance_millis(&self, ms: i64) {
        self.clock.advance_millis(ms);
    }

    /// A request to `path`, without credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Sends a request, reads the whole answer and records it. A 5xx fails the test:
    /// nothing a client sends may make the server fail.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        self.exchange(request, false).await
    }

    /// Like `send`, while a test has made the server's own parts fail (its store,
    /// say): a 5xx is then the right answer, not a failure.
    pub async fn send_during_a_fault(&self, request: RequestBuilder) -> Reply {
        self.exchange(request, true).await
    }

    async fn exchange(&self, request: RequestBuilder, fault: bool) -> Reply {
        let request = request.build().expect("request builds");
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let response = self
            .client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let status = response.status().as_u16();
        assert!(fault || status < 500, "{method} {path} answered {status}");
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        self.replies.lock().expect("lock").push(Recorded {
            method,
            path,
            status,
            body: body.clone(),
        });
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request with `key` as Bearer credential and an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, key: &str, body: Option<&Value>) -> Reply {
        let mut request = self.request(method, path).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// `GET` as the admin.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, &self.admin_key, None).await
    }

    /// `POST` a JSON body as the admin.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, &self.admin_key, Some(body))
            .await
    }

    /// `PATCH` a JSON body as the admin.
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, path, &self.admin_key, Some(body))
            .await
    }

    /// `DELETE` as the admin.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, &self.admin_key, None).await
    }

    /// Creates a key as the admin from a full request body.
    pub async fn create(&self, body: &Value) -> CreatedKey {
        self.post("/admin/v1/keys", body).await.expect(201).json()
    }

    /// Creates a key named `name` holding `scopes`.
    pub async fn create_key(&self, name: &str, scopes: &[&str]) -> CreatedKey {
        self.create(&json!({ "name": name, "scopes": scopes }))
            .await
    }

    /// One key as the admin sees it.
    pub async fn show(&self, id: &str) -> Key {
        self.get(&format!("/admin/v1/keys/{id}"))
            .await
            .expect(200)
            .json()
    }

    /// Verifies `key` for `scopes`, calling as the admin.
    pub async fn verify(&self, key: &str, scopes: &[&str]) -> Verdict {
        self.verify_as(&self.admin_key, key, scopes).await
    }

    /// Verifies `key` for `scopes`, calling with `caller`.
    pub async fn verify_as(&self, caller: &str, key: &str, scopes: &[&str]) -> Verdict {
        let body = json!({ "key": key, "scopes": scopes });
        self.call(Method::POST, "/v1/keys/verify", caller, Some(&body))
            .await
            .expect(200)
            .json()
    }

    /// Every key, walking the list with `limit` per page.
    pub async fn all_keys(&self, limit: u32) -> Vec<Key> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/admin/v1/keys?limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: Page<Key> = self.get(&path).await.expect(200).json();
            assert!(page.items.len() <= limit as usize, "page over its limit");
            keys.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return keys,
            }
            assert!(keys.len() < 10_000, "pagination does not end");
        }
    }

    /// One page of the audit trail with `query` (a query string without `?`).
    pub async fn audit_page(&self, query: &str) -> Page<Event> {
        self.get(&format!("/admin/v1/audit?{query}"))
            .await
            .expect(200)
            .json()
    }

    /// Every audit event matching `query`, oldest first.
    pub async fn audit(&self, query: &str) -> Vec<Event> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("order=asc&limit=1000&{query}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page = self.audit_page(&q).await;
            events.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return events,
            }
        }
    }

    /// Asserts that no recorded answer carried a known key's plaintext, except the
    /// create or rotate answer that issued that very key.
    #[track_caller]
    pub fn assert_no_key_leaked(&self) {
        let replies = self.replies.lock().expect("lock");
        let mut secrets = vec![self.admin_key.clone()];
        for r in replies.iter().filter(|r| issues_a_key(r)) {
            let created: CreatedKey = serde_json::from_slice(&r.body).expect("issued key");
            secrets.push(created.key);
        }
        for r in replies.iter() {
            let text = String::from_utf8_lossy(&r.body);
            let own: Option<String> = issues_a_key(r)
                .then(|| serde_json::from_slice::<CreatedKey>(&r.body).ok())
                .flatten()
                .map(|c| c.key);
            for secret in &secrets {
                if own.as_deref() != Some(secret) {
                    assert!(
                        !text.contains(secret.as_str()),
                        "{} {} ({}) leaked a key: {text}",
                        r.method,
                        r.path,
                        r.status
                    );
                }
            }
        }
        assert!(secrets.len() > 1, "the leak check saw no issued key");
    }
}

fn issues_a_key(r: &Recorded) -> bool {
    r.method == Method::POST
        && r.status == 201
        && (r.path == "/admin/v1/keys" || r.path.ends_with("/rotate"))
}

/// Deterministic bytes, for keys that are well formed but were never issued.
struct Counter(u8);

impl Entropy for Counter {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
        for b in dest {
            self.0 = self.0.wrapping_add(37) % 248;
            *b = self.0;
        }
        Ok(())
    }
}

/// A well-formed key (right prefix, length and checksum) that no server issued.
pub fn unissued_key(seed: u8) -> String {
    ApiKey::generate(&Prefix::default_prefix(), &mut Counter(seed))
        .expect("fixed entropy")
        .reveal()
        .to_owned()
}

/// `key` with one body character changed, so its checksum no longer matches.
pub fn with_bad_checksum(key: &str) -> String {
    let mut bytes = key.as_bytes().to_vec();
    let i = key.find('_').expect("a key has a prefix") + 5;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

/// An RFC 3339 timestamp `ms` after the test start.
pub fn at(ms: i64) -> String {
    gatehouse_api::timestamp::to_datetime(START.plus_millis(ms))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}
