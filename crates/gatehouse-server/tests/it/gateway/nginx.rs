//! nginx (Debian's package, installed by `scripts/test`) with the shipped
//! `deploy/forward-auth/nginx.conf`: `auth_request` pointed at `/v1/forward-auth`
//! protects an upstream end to end, and the client cannot steer the check.

use super::front::{self, Front, Statuses};
use super::upstream::Upstream;

#[tokio::test]
async fn nginx_auth_request_protects_an_upstream_through_forward_auth() {
    let upstream = Upstream::start().await;
    let app = front::gatehouse_behind(&upstream, "nginx").await;
    let port = front::free_port();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         {}\n}}\n",
        front::reference("nginx.conf", port, &app.base, &upstream.url())
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let nginx = front::program("nginx");
    let args = ["-p", ".", "-c", "nginx.conf", "-e", "startup.log"];
    let front = Front::start(nginx.to_str().unwrap(), &args, dir, port).await;

    // nginx's auth_request knows only 2xx, 401 and 403: a 400 becomes its 500.
    front::attacks_are_stopped(&app, &front, &upstream, Statuses { bad_check: 500 }).await;
    let reasons = front::refusal_reasons(&app).await;
    assert!(
        reasons.iter().any(|r| r == "conflicting_forwarded_headers"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "client_sent_identity_header"),
        "{reasons:?}"
    );
}
