//! Routes reload when the configuration file changes, without a restart; a broken file
//! changes nothing.

use super::config;
use super::upstream::Upstream;
use crate::support::{config_path, spawn_app_with};
use reqwest::Method;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_changed_file_reloads_routes_and_a_broken_one_keeps_them() {
    let upstream = Upstream::start().await;
    let app = spawn_app_with(&config(&upstream, "")).await;
    let key = app.create_key("svc", &["orders:read"]).await.key;
    let gateway = app.gateway();
    app.via(app.through(Method::GET, "/invoices").bearer_auth(&key))
        .await
        .problem(404, "no_route");

    let added = format!(
        "\n[[gateway.routes]]\nname = \"invoices\"\npath_prefix = \"/invoices\"\nupstream = \"{}\"\nauth = [\"api_key\"]\n",
        upstream.url()
    );
    std::fs::write(config_path(&app.dir), config(&upstream, "") + &added).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app
            .via(app.through(Method::GET, "/invoices").bearer_auth(&key))
            .await;
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "routes were not reloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.gateway(), gateway, "the listener stayed");

    // A file that does not validate: the routes in use stay.
    std::fs::write(
        config_path(&app.dir),
        "version = 1\n[gateway]\nlisten = 7\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .audit("action=config.reload&outcome=denied")
        .await
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the broken file was not noticed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.via(app.through(Method::GET, "/invoices").bearer_auth(&key))
        .await
        .expect(200);
}
