//! Load wrk cannot generate: refresh grants (a refresh token is single use, and
//! presenting a spent one revokes its whole family), password logins (each needs a
//! fresh login page, its hidden fields and its CSRF cookie), and GETs over HTTPS with
//! a client certificate (wrk has no client certificates).
//!
//! ```text
//! GATEHOUSE_URL=http://127.0.0.1:4000 GATEHOUSE_ADMIN_KEY=gk_… \
//!   flow_load refresh [--workers 64] [--seconds 10] [--scope "orders:read"] [--server-pid PID]
//!   flow_load login   [--workers 8]  [--seconds 10] [--server-pid PID]
//! flow_load get --url URL [--workers 64] [--seconds 10] [--ca CA.pem] [--identity CERT+KEY.pem]
//!   [--header "Name: value"] [--server-pid PID]
//! ```
//!
//! `get`: every worker keeps one keep-alive connection (its own client, handshake made
//! before the clock starts) and GETs `url` in a loop; anything but a 200 is an error,
//! counted, and makes the exit status 1. `--ca` replaces the system roots, `--identity`
//! is a PEM certificate followed by its key. It needs neither environment variable.
//!
//! Each run creates its own user and client through the admin API. `refresh`: every
//! worker first gets a refresh token through the real authorization code flow (login
//! page, password, consent, code, PKCE exchange), then for the measured seconds
//! refreshes it with `client_secret_basic`, always with the token the last answer
//! gave. `login`: every worker loops over a fresh browser (no cookies) that loads the
//! login page and posts the right password; a 303 is a login. Any other answer is an
//! error: it is reported, stops that worker (a refresh chain may be revoked; failed
//! logins feed the throttle) and makes the exit status 1.
//!
//! Prints one line of `name value` pairs on stdout (for `bench/run-flows.sh`):
//! completed count, rate, latency percentiles and, with `--server-pid`, the CPU the
//! server and this process used during the measured seconds, in cores.

use anyhow::{Context, bail};
use gatehouse_core::oauth::{CodeChallenge, CodeVerifier};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const CALLBACK: &str = "https://app.example.com/callback";
const CALLBACK_ENCODED: &str = "https%3A%2F%2Fapp.example.com%2Fcallback";
/// The user's scopes; the client may also ask for `openid`.
const USER_SCOPE: &str = "orders:read";
/// Errors kept verbatim per worker; the rest are only counted.
const ERRORS_KEPT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Refresh,
    Login,
    Get,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Refresh => "refresh",
            Self::Login => "login",
            Self::Get => "get",
        }
    }
}

#[derive(Debug)]
struct Options {
    mode: Mode,
    workers: usize,
    seconds: u64,
    scope: String,
    server_pid: Option<u32>,
    /// `get`: what to fetch, the roots to trust, the client's certificate and key,
    /// extra headers.
    url: Option<String>,
    ca: Option<PathBuf>,
    identity: Option<PathBuf>,
    headers: Vec<(String, String)>,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mode = match args.first().map(String::as_str) {
            Some("refresh") => Mode::Refresh,
            Some("login") => Mode::Login,
            Some("get") => Mode::Get,
            _ => bail!(
                "usage: flow_load refresh|login|get [--workers N] [--seconds S] [--scope SCOPE] [--server-pid PID] \
                 [--url URL] [--ca PEM] [--identity PEM] [--header 'Name: value']"
            ),
        };
        let mut options = Self {
            mode,
            workers: if mode == Mode::Login { 8 } else { 64 },
            seconds: 10,
            scope: USER_SCOPE.to_owned(),
            server_pid: None,
            url: None,
            ca: None,
            identity: None,
            headers: Vec::new(),
        };
        let mut rest = args[1..].iter();
        while let Some(flag) = rest.next() {
            let value = rest
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--workers" => options.workers = value.parse()?,
                "--seconds" => options.seconds = value.parse()?,
                "--scope" => options.scope.clone_from(value),
                "--server-pid" => options.server_pid = Some(value.parse()?),
                "--url" => options.url = Some(value.clone()),
                "--ca" => options.ca = Some(value.into()),
                "--identity" => options.identity = Some(value.into()),
                "--header" => {
                    let (name, value) = value
                        .split_once(':')
                        .with_context(|| format!("--header {value:?} is not \"Name: value\""))?;
                    options
                        .headers
                        .push((name.trim().to_owned(), value.trim().to_owned()));
                }
                _ => bail!("unknown option {flag}"),
            }
        }
        anyhow::ensure!(options.workers > 0, "--workers must be at least 1");
        anyhow::ensure!(
            (options.mode == Mode::Get) == options.url.is_some(),
            "--url is for get, and get needs it"
        );
        Ok(options)
    }
}

/// The server and what this run created on it.
#[derive(Debug)]
struct Target {
    base: String,
    username: String,
    client_id: String,
    client_secret: String,
    scope: String,
}

impl Target {
    /// Creates a user and a client allowed the code and refresh grants.
    async fn create(base: String, admin_key: &str, scope: &str) -> anyhow::Result<Self> {
        let http = client()?;
        let tag = format!("bench-{}", std::process::id());
        let admin = |path: &str, body: Value| {
            http.post(format!("{base}/admin/v1/{path}"))
                .bearer_auth(admin_key)
                .json(&body)
        };
        let user = admin(
            "users",
            json!({"username": tag, "password": PASSWORD, "scopes": [USER_SCOPE]}),
        )
        .send()
        .await?;
        anyhow::ensure!(
            user.status() == 201,
            "creating the user: {}",
            excerpt(user).await
        );
        let client = admin(
            "clients",
            json!({"name": tag, "grant_types": ["authorization_code", "refresh_token"],
                   "redirect_uris": [CALLBACK], "scope": format!("openid {USER_SCOPE}")}),
        )
        .send()
        .await?;
        anyhow::ensure!(
            client.status() == 201,
            "creating the client: {}",
            excerpt(client).await
        );
        let client: Value = client.json().await?;
        let field = |name: &str| {
            client[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {name} in {client}"))
        };
        Ok(Self {
            client_id: field("client_id")?,
            client_secret: field("client_secret")?,
            username: tag,
            scope: scope.to_owned(),
            base,
        })
    }

    fn authorize_url(&self, challenge: &str) -> String {
        format!(
            "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={CALLBACK_ENCODED}&scope={}&state=s&code_challenge={challenge}&code_challenge_method=S256",
            self.base,
            self.client_id,
            self.scope.replace(' ', "%20"),
        )
    }
}

/// An HTTP client that, like a browser's fetch of a form, follows no redirects; one
/// per worker, so each keeps its own connection alive.
fn client() -> anyhow::Result<reqwest::Client> {
    Ok(client_builder().build()?)
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
}

/// A `get` worker's HTTPS client: trusting only `--ca` if given, presenting
/// `--identity` if given, sending `--header`s with every request.
fn get_client(options: &Options) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &options.headers {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes())?,
            reqwest::header::HeaderValue::from_str(value)?,
        );
    }
    let mut builder = client_builder().default_headers(headers);
    if let Some(ca) = &options.ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        builder = builder.tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem)?);
    }
    if let Some(identity) = &options.identity {
        let pem =
            std::fs::read(identity).with_context(|| format!("reading {}", identity.display()))?;
        builder = builder.identity(reqwest::Identity::from_pem(&pem)?);
    }
    Ok(builder.build()?)
}

/// A status and the start of a body, for error reports.
async fn excerpt(response: reqwest::Response) -> String {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    format!("{status} {}", body.chars().take(200).collect::<String>())
}

/// A browser's cookies for one visit: sent with every request, updated from every
/// answer.
#[derive(Debug, Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    async fn send(&mut self, request: reqwest::RequestBuilder) -> anyhow::Result<Page> {
        let request = if self.0.is_empty() {
            request
        } else {
            let cookie = self
                .0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request.header("cookie", cookie)
        };
        let response = request.send().await?;
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str()?.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0.retain(|(n, _)| n != name);
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await?;
        Ok(Page {
            status,
            location,
            body,
        })
    }
}

#[derive(Debug)]
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    fn expect(self, status: u16, what: &str) -> anyhow::Result<Self> {
        if self.status == status {
            Ok(self)
        } else {
            bail!(
                "{what}: {} {}",
                self.status,
                self.body.chars().take(200).collect::<String>()
            )
        }
    }

    /// The value of the hidden input `name` (values here are URL-safe tokens).
    fn hidden(&self, name: &str) -> anyhow::Result<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .with_context(|| format!("no hidden {name} in the page"))?
            + marker.len();
        Ok(self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned())
    }

    fn location(&self) -> anyhow::Result<&str> {
        self.location.as_deref().context("a 303 without Location")
    }
}

/// The query parameter `name` of a URL (the code is URL-safe).
fn param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A login page loaded and its form posted with the right password: the answer to
/// the POST.
async fn log_in(
    http: &reqwest::Client,
    target: &Target,
    jar: &mut Jar,
    challenge: &str,
) -> anyhow::Result<(Page, String, String)> {
    let page = jar
        .send(http.get(target.authorize_url(challenge)))
        .await?
        .expect(200, "login page")?;
    let (request, csrf) = (page.hidden("request")?, page.hidden("csrf")?);
    let answer = jar
        .send(
            http.post(format!("{}/oauth/authorize/login", target.base))
                .form(&[
                    ("request", request.as_str()),
                    ("csrf", csrf.as_str()),
                    ("username", target.username.as_str()),
                    ("password", PASSWORD),
                ]),
        )
        .await?;
    Ok((answer, request, csrf))
}

/// A refresh token through the whole flow: log in, consent (or find it remembered),
/// exchange the code with its PKCE verifier.
async fn first_refresh_token(
    http: &reqwest::Client,
    target: &Target,
    worker: usize,
) -> anyhow::Result<String> {
    let verifier = format!("flow-load-verifier-{worker:06}-of-at-least-43-characters");
    let challenge = CodeChallenge::s256(&CodeVerifier::parse(&verifier)?);
    let mut jar = Jar::default();
    let (login, request, csrf) = log_in(http, target, &mut jar, challenge.as_str()).await?;
    let login = login.expect(303, "login")?;
    let consent_url = format!("{}{}", target.base, login.location()?);
    let consent = jar.send(http.get(consent_url)).await?;
    let to_client = if consent.status == 303 {
        consent
    } else {
        consent.expect(200, "consent page")?;
        jar.send(
            http.post(format!("{}/oauth/authorize/consent", target.base))
                .form(&[
                    ("request", request.as_str()),
                    ("csrf", csrf.as_str()),
                    ("decision", "approve"),
                ]),
        )
        .await?
        .expect(303, "consent")?
    };
    let code = param(to_client.location()?, "code").context("no code in the redirect")?;
    let exchanged = http
        .post(format!("{}/oauth/token", target.base))
        .basic_auth(&target.client_id, Some(&target.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        exchanged.status() == 200,
        "code exchange: {}",
        excerpt(exchanged).await
    );
    let body: Value = exchanged.json().await?;
    body["refresh_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no refresh_token in {body}"))
}

/// What one worker saw in the measured seconds.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    errors: u64,
    error_samples: Vec<String>,
    /// Latency of the measured request (the refresh, or the login POST), in µs.
    latencies: Vec<u32>,
    /// Login mode: latency of loading the login page, in µs.
    page_latencies: Vec<u32>,
    /// Refresh mode: answers that carried an ID token.
    id_tokens: u64,
}

impl Tally {
    fn fail(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        if self.error_samples.len() < ERRORS_KEPT {
            self.error_samples.push(format!("{error:#}"));
        }
    }

    fn merge(&mut self, other: Self) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.error_samples.extend(other.error_samples);
        self.latencies.extend(other.latencies);
        self.page_latencies.extend(other.page_latencies);
        self.id_tokens += other.id_tokens;
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Refreshes `token` until `deadline`, each time with the token the last answer gave.
async fn refresh_loop(
    http: reqwest::Client,
    target: Arc<Target>,
    mut token: String,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let url = format!("{}/oauth/token", target.base);
    while Instant::now() < deadline {
        let started = Instant::now();
        let answer = async {
            let response = http
                .post(&url)
                .basic_auth(&target.client_id, Some(&target.client_secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .send()
                .await?;
            if response.status() != 200 {
                bail!("refresh: {}", excerpt(response).await);
            }
            let body: Value = response.json().await?;
            let next = body["refresh_token"]
                .as_str()
                .with_context(|| format!("no refresh_token in {body}"))?;
            Ok((next.to_owned(), body.get("id_token").is_some()))
        }
        .await;
        match answer {
            Ok((next, id_token)) => {
                tally.latencies.push(micros(started.elapsed()));
                tally.ok += 1;
                tally.id_tokens += u64::from(id_token);
                token = next;
            }
            Err(e) => {
                // The token may be spent or its family revoked: this chain is over.
                tally.fail(&e);
                break;
            }
        }
    }
    tally
}

/// Logs in with a fresh browser until `deadline`.
async fn login_loop(http: reqwest::Client, target: Arc<Target>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let challenge = CodeChallenge::s256(&match CodeVerifier::parse(
        "flow-load-login-verifier-of-at-least-43-characters",
    ) {
        Ok(v) => v,
        Err(e) => {
            tally.fail(&e.into());
            return tally;
        }
    });
    while Instant::now() < deadline {
        let started = Instant::now();
        let attempt = async {
            let mut jar = Jar::default();
            let page = jar
                .send(http.get(target.authorize_url(challenge.as_str())))
                .await?
                .expect(200, "login page")?;
            let (request, csrf) = (page.hidden("request")?, page.hidden("csrf")?);
            anyhow::ensure!(
                jar.0.iter().any(|(n, _)| n == "gatehouse_csrf"),
                "the login page set no gatehouse_csrf cookie"
            );
            let page_done = Instant::now();
            jar.send(
                http.post(format!("{}/oauth/authorize/login", target.base))
                    .form(&[
                        ("request", request.as_str()),
                        ("csrf", csrf.as_str()),
                        ("username", target.username.as_str()),
                        ("password", PASSWORD),
                    ]),
            )
            .await?
            .expect(303, "login")?;
            Ok((page_done - started, page_done.elapsed()))
        }
        .await;
        match attempt {
            Ok((page, login)) => {
                tally.page_latencies.push(micros(page));
                tally.latencies.push(micros(login));
                tally.ok += 1;
            }
            Err(e) => {
                // Another failure would count against the username: stop here.
                tally.fail(&e);
                break;
            }
        }
    }
    tally
}

/// One GET of `url` that must answer 200; the body is read to the end.
async fn get_once(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let response = http.get(url).send().await?;
    if response.status() != 200 {
        bail!("GET {url}: {}", excerpt(response).await);
    }
    response.bytes().await?;
    Ok(())
}

/// GETs `url` over the worker's connection until `deadline`. Unlike the flows, an
/// error does not stop the worker: the count is the error rate under load.
async fn get_loop(http: reqwest::Client, url: Arc<str>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let started = Instant::now();
        match get_once(&http, &url).await {
            Ok(()) => {
                tally.latencies.push(micros(started.elapsed()));
                tally.ok += 1;
            }
            Err(e) => tally.fail(&e),
        }
    }
    tally
}

/// Nearest-rank percentile of sorted µs samples, in ms.
fn percentile(sorted: &[u32], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').context("unreadable stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11).context("no utime")?.parse::<u64>()?
        + fields.get(12).context("no stime")?.parse::<u64>()?;
    // USER_HZ, the unit of these fields, is 100 on every Linux architecture we run on.
    Ok(ticks as f64 / 100.0)
}

/// A worker ready to start the clock: its client (connected), and what it loops on.
enum Worker {
    Refresh(reqwest::Client, Arc<Target>, String),
    Login(reqwest::Client, Arc<Target>),
    Get(reqwest::Client, Arc<str>),
}

/// Creates the user and client on the server, then every worker's own client (and
/// connection); refresh workers get their first token before the clock starts.
async fn flow_workers(options: &Options) -> anyhow::Result<Vec<Worker>> {
    let base = std::env::var("GATEHOUSE_URL").context("GATEHOUSE_URL is not set")?;
    let admin_key =
        std::env::var("GATEHOUSE_ADMIN_KEY").context("GATEHOUSE_ADMIN_KEY is not set")?;
    let target = Arc::new(Target::create(base, &admin_key, &options.scope).await?);
    let mut ready = Vec::with_capacity(options.workers);
    let mut setup = tokio::task::JoinSet::new();
    for worker in 0..options.workers {
        let target = Arc::clone(&target);
        let mode = options.mode;
        setup.spawn(async move {
            let http = client()?;
            anyhow::Ok(if mode == Mode::Refresh {
                let token = first_refresh_token(&http, &target, worker)
                    .await
                    .with_context(|| format!("worker {worker}'s first refresh token"))?;
                Worker::Refresh(http, target, token)
            } else {
                Worker::Login(http, target)
            })
        });
    }
    while let Some(done) = setup.join_next().await {
        ready.push(done??);
    }
    Ok(ready)
}

/// Every worker's own client, its connection opened (handshake included) by a first
/// GET before the clock starts.
async fn get_workers(options: &Options, url: &str) -> anyhow::Result<Vec<Worker>> {
    let url: Arc<str> = Arc::from(url);
    let mut ready = Vec::with_capacity(options.workers);
    let mut setup = tokio::task::JoinSet::new();
    for worker in 0..options.workers {
        let http = get_client(options)?;
        let url = Arc::clone(&url);
        setup.spawn(async move {
            get_once(&http, &url)
                .await
                .with_context(|| format!("worker {worker}'s first GET"))?;
            anyhow::Ok(Worker::Get(http, url))
        });
    }
    while let Some(done) = setup.join_next().await {
        ready.push(done??);
    }
    Ok(ready)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = Options::parse(&args)?;
    let ready = match &options.url {
        Some(url) => get_workers(&options, url).await?,
        None => flow_workers(&options).await?,
    };

    let server_pid = options.server_pid.map(|p| p.to_string());
    let cpu_before = match &server_pid {
        Some(pid) => Some((cpu_seconds(pid)?, cpu_seconds("self")?)),
        None => None,
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut running = tokio::task::JoinSet::new();
    for worker in ready {
        match worker {
            Worker::Refresh(http, target, token) => {
                running.spawn(refresh_loop(http, target, token, deadline))
            }
            Worker::Login(http, target) => running.spawn(login_loop(http, target, deadline)),
            Worker::Get(http, url) => running.spawn(get_loop(http, url, deadline)),
        };
    }
    let mut tally = Tally::default();
    while let Some(done) = running.join_next().await {
        tally.merge(done?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut line = format!(
        "{} workers {} seconds {elapsed:.2} ok {} errors {} per_s {:.1}",
        options.mode.name(),
        options.workers,
        tally.ok,
        tally.errors,
        tally.ok as f64 / elapsed,
    );
    tally.latencies.sort_unstable();
    write!(
        line,
        " p50_ms {:.2} p99_ms {:.2}",
        percentile(&tally.latencies, 50),
        percentile(&tally.latencies, 99)
    )?;
    match options.mode {
        Mode::Refresh => write!(line, " id_tokens {}", tally.id_tokens)?,
        Mode::Get => {}
        Mode::Login => {
            tally.page_latencies.sort_unstable();
            write!(
                line,
                " page_p50_ms {:.2} page_p99_ms {:.2}",
                percentile(&tally.page_latencies, 50),
                percentile(&tally.page_latencies, 99)
            )?;
        }
    }
    if let (Some(pid), Some((server, own))) = (&server_pid, cpu_before) {
        write!(
            line,
            " server_cores {:.2} load_cores {:.2}",
            (cpu_seconds(pid)? - server) / elapsed,
            (cpu_seconds("self")? - own) / elapsed
        )?;
    }
    println!("{line}");
    for sample in &tally.error_samples {
        eprintln!("error: {sample}");
    }
    if tally.errors > 0 {
        eprintln!(
            "{} errors: a benchmark of errors is worthless",
            tally.errors
        );
        std::process::exit(1);
    }
    Ok(())
}
