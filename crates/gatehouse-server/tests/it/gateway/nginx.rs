//! nginx (Debian's package, installed by `scripts/test`) with `auth_request` pointed at
//! `/v1/forward-auth` protects an upstream end to end.

use super::spawn_gateway;
use super::upstream::Upstream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An nginx process on a loopback port; killed when dropped.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    async fn start(gatehouse: &str, upstream: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_gatehouse;
      auth_request_set $gh_subject $upstream_http_x_gatehouse_subject;
      auth_request_set $gh_auth $upstream_http_x_gatehouse_auth;
      auth_request_set $gh_scopes $upstream_http_x_gatehouse_scopes;
      proxy_set_header X-Gatehouse-Subject $gh_subject;
      proxy_set_header X-Gatehouse-Auth $gh_auth;
      proxy_set_header X-Gatehouse-Scopes $gh_scopes;
      proxy_set_header Authorization "";
      proxy_pass {upstream};
    }}
    location = /_gatehouse {{
      internal;
      proxy_pass {gatehouse}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Host $host;
    }}
  }}
}}
"#
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let binary = if std::path::Path::new("/usr/sbin/nginx").exists() {
            "/usr/sbin/nginx"
        } else {
            "nginx"
        };
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg(dir.path().join("startup.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (scripts/test installs Debian's package)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "nginx did not start: {log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url,
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn nginx_auth_request_protects_an_upstream_through_forward_auth() {
    let upstream = Upstream::start().await;
    let app = spawn_gateway(&upstream, "").await;
    let key = app.create_key("billing", &["orders:read"]).await;
    let other = app.create_key("other", &["invoices:read"]).await;
    let nginx = Nginx::start(&app.base, &upstream.url()).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| client.get(format!("{}{path}", nginx.url));

    let reply = get("/orders/1").send().await.unwrap();
    assert_eq!(reply.status(), 401);
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
    assert_eq!(upstream.hits(), 0, "nginx forwarded a refused request");

    let reply = get("/orders/1?x=1")
        .bearer_auth(&key.key)
        .header("x-gatehouse-subject", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let seen = upstream.last();
    assert_eq!(seen.uri, "/orders/1?x=1");
    assert_eq!(seen.header("x-gatehouse-subject"), Some("billing"));
    assert_eq!(seen.header("x-gatehouse-auth"), Some("api_key"));
    assert_eq!(seen.header("x-gatehouse-scopes"), Some("orders:read"));
    assert!(seen.header("authorization").is_none());

    // Revoked: the very next request through nginx is refused.
    app.post(
        &format!("/admin/v1/keys/{}/revoke", key.info.id),
        &serde_json::json!({}),
    )
    .await
    .expect(200);
    let reply = get("/orders/1").bearer_auth(&key.key).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(upstream.hits(), 1);
}
