//! What survives a restart, and what never reaches the disk.

use crate::support::{TestApp, spawn_app};
use gatehouse_core::api_key::ApiKey;
use serde_json::json;
use std::path::Path;

#[tokio::test]
async fn every_key_survives_a_restart_and_no_second_admin_key_is_made() {
    let mut app = spawn_app().await;
    let plain = app.create_key("plain", &["a:read"]).await;
    let metered = app
        .create(&json!({"name": "metered", "remaining": 5}))
        .await;
    let revoked = app.create_key("revoked", &[]).await;
    let manager = app.create_key("manager", &["gatehouse:keys"]).await;
    app.post(
        &format!("/admin/v1/keys/{}/revoke", revoked.info.id),
        &json!({}),
    )
    .await
    .expect(200);
    assert_eq!(app.verify(&metered.key, &[]).await.remaining, Some(4));
    assert_eq!(app.verify(&metered.key, &[]).await.remaining, Some(3));
    let before = app.all_keys(1000).await;
    // The last verifications are answered but neither their usage nor their audit
    // events have been read back: a clean shutdown must still write both.
    assert_eq!(app.verify(&plain.key, &[]).await.code, "VALID");
    assert_eq!(app.verify(&metered.key, &[]).await.remaining, Some(2));

    assert_eq!(
        app.restart().await,
        None,
        "a restart must not bootstrap again"
    );
    let after = app.all_keys(1000).await;
    assert_eq!(after.len(), before.len());
    let admins = after
        .iter()
        .filter(|k| k.scopes == ["gatehouse:admin"])
        .count();
    assert_eq!(admins, 1);
    let ids =
        |keys: &[gatehouse_api::keys::Key]| keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before));

    assert_eq!(app.verify(&plain.key, &["a:read"]).await.code, "VALID");
    assert_eq!(app.verify(&manager.key, &[]).await.code, "VALID");
    assert_eq!(app.verify(&revoked.key, &[]).await.code, "REVOKED");
    let shown = app.show(&metered.info.id).await;
    assert_eq!(shown.remaining, Some(2), "usage was lost in the restart");
    assert_eq!(
        shown
            .last_used_at
            .map(gatehouse_api::timestamp::from_datetime),
        Some(crate::support::START)
    );
    let metered_after = app.verify(&metered.key, &[]).await;
    assert_eq!(metered_after.code, "VALID");
    assert_eq!(metered_after.remaining, Some(1));
    // Every verification before the shutdown is in the trail, which continues the
    // same chain.
    let events = app.audit("").await;
    let verifies: Vec<_> = events.iter().filter(|e| e.action == "key.verify").collect();
    assert_eq!(
        verifies.len(),
        4 + 4,
        "verify events were lost in the restart"
    );
    let of_metered = verifies
        .iter()
        .filter(|e| e.target.as_deref() == Some(metered.info.id.as_str()))
        .count();
    assert_eq!(of_metered, 4);
    let chain: Vec<_> = events
        .iter()
        .map(|e| gatehouse_core::audit::AuditEvent::try_from(e).unwrap())
        .collect();
    assert_eq!(
        gatehouse_core::audit::verify_chain(
            &chain,
            1,
            &gatehouse_core::audit::Links::keyed(1, &crate::support::chain_key())
        ),
        Ok(events.len() as u64)
    );
}

fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn issue_and_use_keys(app: &TestApp) -> Vec<String> {
    let mut keys = vec![app.admin_key.clone()];
    for i in 0..5 {
        let created = app
            .create(&json!({"name": format!("k{i}"), "remaining": 10, "metadata": {"i": i}}))
            .await;
        assert_eq!(app.verify(&created.key, &[]).await.code, "VALID");
        keys.push(created.key);
    }
    let old = app.create_key("rotated", &[]).await;
    let rotated: gatehouse_api::keys::RotatedKey = app
        .post(
            &format!("/admin/v1/keys/{}/rotate", old.info.id),
            &json!({"grace_period_seconds": 60}),
        )
        .await
        .expect(201)
        .json();
    keys.push(old.key);
    keys.push(rotated.key);
    keys
}

#[tokio::test]
async fn the_data_directory_never_holds_a_plaintext_key() {
    let mut app = spawn_app().await;
    let keys = issue_and_use_keys(&app).await;
    app.stop().await;
    let mut files = Vec::new();
    files_under(app.dir.path(), &mut files);
    assert!(!files.is_empty());
    let everything: Vec<u8> = files.iter().flat_map(|(_, bytes)| bytes.clone()).collect();
    for key in &keys {
        for (name, bytes) in &files {
            assert!(
                !contains(bytes, key.as_bytes()),
                "{name} holds a plaintext key"
            );
            // Not even the random part on its own.
            let body = key.split_once('_').unwrap().1;
            assert!(
                !contains(bytes, &body.as_bytes()[4..40]),
                "{name} holds a key body"
            );
        }
        // What is stored is the digest: proof these are the right files.
        let digest = ApiKey::parse(key).unwrap().digest();
        assert!(
            contains(&everything, &digest.0),
            "the digest of a key is not stored"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_files_are_private_to_the_server_s_user() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.create_key("one", &["orders:read"]).await;
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        let mode = std::fs::metadata(app.dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}
