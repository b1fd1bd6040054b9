//! Caddy (Debian's package, installed by `scripts/test`) with the shipped
//! `deploy/forward-auth/Caddyfile`: `forward_auth` pointed at `/v1/forward-auth`
//! protects an upstream end to end, and the client cannot steer the check.

use super::front::{self, Front, Statuses};
use super::upstream::Upstream;

#[tokio::test]
async fn caddy_forward_auth_protects_an_upstream_through_forward_auth() {
    let upstream = Upstream::start().await;
    let app = front::gatehouse_behind(&upstream, "caddy").await;
    let port = front::free_port();
    let dir = tempfile::tempdir().unwrap();
    let conf = front::reference("Caddyfile", port, &app.base, &upstream.url());
    std::fs::write(dir.path().join("Caddyfile"), conf).unwrap();
    let caddy = front::program("caddy");
    let args = ["run", "--config", "Caddyfile", "--adapter", "caddyfile"];
    let front = Front::start(caddy.to_str().unwrap(), &args, dir, port).await;

    // Caddy passes Gatehouse's refusal on as it is.
    front::attacks_are_stopped(&app, &front, &upstream, Statuses { bad_check: 400 }).await;
    let reasons = front::refusal_reasons(&app).await;
    assert!(
        reasons.iter().any(|r| r == "client_sent_identity_header"),
        "{reasons:?}"
    );
}
