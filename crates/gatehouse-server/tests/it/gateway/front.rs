//! A real proxy (nginx, Caddy) in front of Gatehouse's forward auth, run from the
//! reference configuration this repository ships in `deploy/forward-auth/`, and the
//! attacks each must stop.

use super::spawn_gateway;
use super::upstream::Upstream;
use crate::support::TestApp;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A proxy process on a loopback port; killed when dropped.
pub struct Front {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its working directory (configuration, logs).
    pub dir: tempfile::TempDir,
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// The shipped reference configuration `name`, with its documented addresses
/// (proxy 127.0.0.1:8000, Gatehouse 127.0.0.1:4000, API 127.0.0.1:9000) replaced by
/// the test's.
pub fn reference(name: &str, port: u16, gatehouse: &str, upstream: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/forward-auth")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let gatehouse = gatehouse.trim_start_matches("http://");
    let upstream = upstream.trim_start_matches("http://");
    let replaced = text
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:4000", gatehouse)
        .replace("127.0.0.1:9000", upstream);
    assert_ne!(
        replaced, text,
        "{name} names none of the documented addresses"
    );
    replaced
}

impl Front {
    /// Runs `program` with `args` in `dir` and waits until `port` accepts.
    pub async fn start(program: &str, args: &[&str], dir: tempfile::TempDir, port: u16) -> Self {
        let child = Command::new(program)
            .args(args)
            .current_dir(dir.path())
            // Caddy keeps state under $HOME or the XDG directories: the test's own.
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} is installed (scripts/test installs it): {e}"));
        let mut front = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            let exited = front.child.try_wait().unwrap();
            let log =
                std::fs::read_to_string(front.dir.path().join("stderr.log")).unwrap_or_default();
            assert!(exited.is_none(), "{program} exited: {log}");
            assert!(Instant::now() < deadline, "{program} did not start: {log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        front
    }
}

/// A program's path: `/usr/sbin/<name>` or `/usr/bin/<name>` when there, else the name.
pub fn program(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Gatehouse with forward auth behind `proxy`, an `orders` route (`orders:read`) and
/// an `admin` route (`admin:all`).
pub async fn gatehouse_behind(upstream: &Upstream, proxy: &str) -> TestApp {
    let extra = format!(
        r#"
[[gateway.routes]]
name = "admin"
path_prefix = "/admin"
upstream = "{}"
auth = ["api_key"]
require_scopes = ["admin:all"]

[forward_auth]
proxy = "{proxy}"
"#,
        upstream.url()
    );
    spawn_gateway(upstream, &extra).await
}

/// What a proxy answers a client whose check Gatehouse refused with 400: Caddy
/// passes it on, nginx's `auth_request` turns it into a 500.
pub struct Statuses {
    /// For a check Gatehouse answered 400.
    pub bad_check: u16,
}

/// The attacks the black-box review ran through a proxy, and the ordinary traffic
/// beside them: through `front`, `upstream` sees only what Gatehouse allowed, with the
/// identity Gatehouse wrote.
pub async fn attacks_are_stopped(
    app: &TestApp,
    front: &Front,
    upstream: &Upstream,
    statuses: Statuses,
) {
    let key = app.create_key("billing", &["orders:read"]).await;
    let other = app.create_key("other", &["invoices:read"]).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| client.get(format!("{}{path}", front.url));
    let with_header = |path: &str, name: &str, value: &str| {
        get(path).bearer_auth(&key.key).header(name, value).send()
    };

    assert_eq!(get("/orders/1").send().await.unwrap().status(), 401);
    let reply = get("/orders/1")
        .bearer_auth(&other.key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    let reply = get("/elsewhere")
        .bearer_auth(&key.key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403, "no route: denied by default");

    // The bypass: a request for /admin/secret that claims to be for /orders/1.
    for (name, value) in [
        ("X-Forwarded-Uri", "/orders/1"),
        ("X-Original-URI", "/orders/1"),
        ("X-Original-URL", "/orders/1"),
        ("X-Forwarded-Method", "GET"),
    ] {
        let reply = with_header("/admin/secret", name, value).await.unwrap();
        assert!(
            !reply.status().is_success(),
            "{name}: {} reached /admin/secret with orders:read",
            reply.status()
        );
    }
    // Identity headers the client sends: refused, or at least never forwarded.
    for (name, value) in [
        ("X-Gatehouse-Credential", "key_forged"),
        ("X-Gatehouse-Identity", "eyJforged"),
        ("X-Gatehouse-Subject", "root"),
    ] {
        let reply = with_header("/orders/1", name, value).await.unwrap();
        assert_eq!(reply.status(), statuses.bad_check, "{name}");
    }
    for (name, value) in [
        ("X_Gatehouse_Subject", "root"),
        ("X.Gatehouse.Scopes", "admin:all"),
    ] {
        let reply = with_header("/orders/1", name, value).await.unwrap();
        if reply.status().is_success() {
            let seen = upstream.last();
            assert!(seen.header(name).is_none(), "{name} reached the upstream");
        }
    }
    let before = upstream.hits();

    let reply = get("/orders/1?x=1")
        .bearer_auth(&key.key)
        .header("X-HTTP-Method-Override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let seen = upstream.last();
    assert_eq!(upstream.hits(), before + 1);
    assert_eq!(seen.uri, "/orders/1?x=1");
    assert_eq!(seen.header("x-gatehouse-subject"), Some("billing"));
    assert_eq!(seen.header("x-gatehouse-auth"), Some("api_key"));
    assert_eq!(seen.header("x-gatehouse-scopes"), Some("orders:read"));
    assert_eq!(
        seen.header("x-gatehouse-credential"),
        Some(key.info.id.as_str())
    );
    assert!(seen.header("x-gatehouse-request-id").is_some());
    assert!(seen.header("x-gatehouse-identity").is_none());
    assert!(seen.header("authorization").is_none());
    assert!(seen.header("x-http-method-override").is_none());
    // Nothing reached the upstream but the allowed requests.
    assert!(
        upstream
            .seen()
            .iter()
            .all(|s| s.uri.starts_with("/orders/"))
    );

    // Revoked: the very next request through the proxy is refused.
    app.post(
        &format!("/admin/v1/keys/{}/revoke", key.info.id),
        &serde_json::json!({}),
    )
    .await
    .expect(200);
    let reply = get("/orders/1").bearer_auth(&key.key).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(upstream.hits(), before + 1);
}

/// The reasons of the forward-auth checks Gatehouse refused.
pub async fn refusal_reasons(app: &TestApp) -> Vec<String> {
    app.audit("action=gateway.forward_auth&outcome=denied")
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}
