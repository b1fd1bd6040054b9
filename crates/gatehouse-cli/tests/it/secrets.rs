//! No key plaintext reaches the data directory or the logs.

use crate::support::{Home, Server};
use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Asserts that no file under `dir` holds any of `secrets` (whole, or the body after
/// the prefix); returns the file names checked.
fn assert_clean(dir: &Path, secrets: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for file in files(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in secrets {
            let body = secret.split_once('_').unwrap().1;
            assert!(
                !contains(&bytes, body),
                "{} holds the key {secret}",
                file.display()
            );
        }
        names.push(file.file_name().unwrap().to_string_lossy().into_owned());
    }
    names
}

/// Creates, verifies, rotates and updates keys; returns every plaintext seen.
fn session(server: &Server, admin: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let table = server.ok(admin, &["keys", "create", "--name", "t", "--scope", "a"]);
    let from_table = table.lines().find_map(|l| l.strip_prefix("key: ")).unwrap();
    keys.push(from_table.to_owned());
    let created = server.json(
        admin,
        &[
            "keys",
            "create",
            "--name",
            "j",
            "--prefix",
            "acme",
            "--ratelimit",
            "10/60s",
        ],
    );
    keys.push(created["key"].as_str().unwrap().to_owned());
    let id = created["id"].as_str().unwrap();
    let rotated = server.json(admin, &["keys", "rotate", id, "--grace", "60"]);
    keys.push(rotated["key"].as_str().unwrap().to_owned());
    let new_id = rotated["id"].as_str().unwrap();
    let rotated = server.json(admin, &["keys", "rotate", new_id, "--grace", "0"]);
    keys.push(rotated["key"].as_str().unwrap().to_owned());
    server.ok(
        admin,
        &[
            "keys",
            "update",
            rotated["id"].as_str().unwrap(),
            "--name",
            "u",
        ],
    );
    for key in &keys {
        // Valid, revoked or in grace: every outcome is logged and audited somewhere.
        server.cli(admin, &["keys", "verify", key]);
        server.cli(admin, &["keys", "verify", key, "--scope", "missing"]);
        // A key used as the admin credential goes through authentication instead.
        server.cli(key, &["keys", "list"]);
    }
    server.ok(admin, &["audit", "export"]);
    keys
}

#[test]
fn no_key_plaintext_reaches_the_data_dir_or_the_logs() {
    let mut home = Home::new();
    let mut cmd = home.serve();
    // The most talkative logging an operator could switch on.
    cmd.env("GATEHOUSE_LOG__LEVEL", "trace");
    let mut server = home.start(cmd);
    let admin = server.admin_key();
    let mut secrets = session(&server, &admin);
    secrets.push(admin.clone());

    // While running, the WAL holds the recent writes.
    let running = assert_clean(&home.data_dir(), &secrets);
    assert!(running.iter().any(|n| n == "gatehouse.db"), "{running:?}");
    server.stop();
    assert_clean(&home.data_dir(), &secrets);

    let log = server.stderr();
    assert!(log.contains("gatehouse stopped"), "the log is complete");
    assert!(
        log.contains("DEBUG sqlx::query"),
        "the log is verbose:\n{log}"
    );
    for secret in &secrets {
        let body = secret.split_once('_').unwrap().1;
        assert!(!log.contains(body), "the log holds {secret}");
    }
    let out = server.stdout();
    assert_eq!(
        out.matches(admin.split_once('_').unwrap().1).count(),
        1,
        "{out}"
    );
    assert_eq!(out, format!("GATEHOUSE_ADMIN_KEY={admin}\n"));
}
