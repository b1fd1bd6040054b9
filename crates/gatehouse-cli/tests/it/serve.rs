//! `gatehouse serve`: first start, restart, shutdown, master key.

use crate::support::{
    Home, MASTER_KEY, Server, failure, free_port, gatehouse, is_gk_key, run, serve_failure,
    sql_count, stdout,
};

#[test]
fn first_start_prints_the_admin_key_once_and_a_restart_keeps_everything() {
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    assert!(is_gk_key(&admin), "admin key {admin:?}");
    let created = server.json(&admin, &["keys", "create", "--name", "svc"]);
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    server.stop();
    assert!(
        server.stderr().contains("gatehouse stopped"),
        "{}",
        server.stderr()
    );
    assert_eq!(server.admin_key_lines(), std::slice::from_ref(&admin));
    let printed = server.stdout();
    assert_eq!(printed.lines().count(), 1, "stdout: {printed:?}");
    assert!(
        printed.ends_with('\n'),
        "the key line ends the line: {printed:?}"
    );

    let cmd = home.serve();
    let mut again = home.start(cmd);
    let listed = again.json(&admin, &["keys", "list"]);
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()), "{ids:?}");
    let verified = again.ok(&admin, &["keys", "verify", &key]);
    assert!(verified.contains("VALID"), "{verified}");
    assert!(verified.contains(&id), "{verified}");
    again.stop();
    assert!(again.admin_key_lines().is_empty(), "{}", again.stdout());
    assert!(again.stdout().is_empty(), "{}", again.stdout());
}

#[test]
fn sigterm_shutdown_flushes_every_audit_event() {
    const N: usize = 24;
    let mut home = Home::new();
    let (mut server, admin) = home.start_first();
    let created = server.json(&admin, &["keys", "create", "--name", "svc"]);
    let key = created["key"].as_str().unwrap();
    // All at once, and the signal right after the last answer, so events may still be
    // queued when it arrives.
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..N)
            .map(|_| s.spawn(|| server.ok(&admin, &["keys", "verify", key])))
            .collect();
        for call in calls {
            assert!(call.join().unwrap().contains("VALID"));
        }
    });
    server.stop();
    let count = sql_count(
        &home.database(),
        "SELECT COUNT(*) FROM audit_events WHERE action = 'key.verify'",
    );
    assert_eq!(count, N as i64);
    let allowed = sql_count(
        &home.database(),
        "SELECT COUNT(*) FROM audit_events WHERE action = 'key.verify' AND outcome = 'allowed'",
    );
    assert_eq!(allowed, N as i64);
}

#[test]
fn sigint_stops_the_server_gracefully_too() {
    let mut home = Home::new();
    let (mut server, _admin) = home.start_first();
    let status = server.signal_and_wait("INT");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(
        server.stderr().contains("gatehouse stopped"),
        "{}",
        server.stderr()
    );
}

#[test]
fn dev_mode_creates_a_private_master_key_file_and_warns() {
    let mut home = Home::new();
    let mut cmd = home.serve_bare();
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(home.data_dir());
    let mut server = home.start(cmd);
    let admin = server.admin_key();
    let path = home.data_dir().join("master.key");
    let text = std::fs::read_to_string(&path).unwrap();
    let hex = text.trim();
    assert_eq!(hex.len(), 64, "{text:?}");
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{text:?}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let log = server.stderr();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("dev mode"))
        .unwrap_or_else(|| panic!("no dev-mode warning in:\n{log}"));
    assert!(warning.contains("master.key"), "{warning}");
    server.stop();

    // The next dev-mode start reuses the file: the store accepts it, the key still works.
    let mut cmd = home.serve_bare();
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(home.data_dir());
    let mut again = home.start(cmd);
    again.ok(&admin, &["keys", "list"]);
    again.stop();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_different_master_key_on_an_existing_data_dir_is_refused() {
    let mut home = Home::new();
    let (mut server, _admin) = home.start_first();
    server.stop();

    let mut other = home.serve();
    other.env("GATEHOUSE_MASTER_KEY", MASTER_KEY.replace('0', "f"));
    let line = failure(&run(other));
    assert!(line.contains("master key is not the one"), "{line}");
    assert!(line.contains("GATEHOUSE_MASTER_KEY"), "{line}");

    // Forgetting the variable is refused before dev mode invents a key for this store.
    let mut dev = home.serve();
    dev.env_remove("GATEHOUSE_MASTER_KEY");
    let line = failure(&run(dev));
    assert!(line.contains("neither is set"), "{line}");
    assert!(
        !home.data_dir().join("master.key").exists(),
        "no stray dev key is left behind"
    );

    let mut malformed = home.serve();
    malformed.env("GATEHOUSE_MASTER_KEY", "not-hex");
    let line = failure(&run(malformed));
    assert!(line.contains("64 hex digits"), "{line}");
    assert!(!line.contains("not-hex"), "the value is not echoed: {line}");

    // The original key still starts it.
    let cmd = home.serve();
    let mut back = home.start(cmd);
    back.stop();
}

#[test]
fn master_key_file_variable_is_read() {
    let mut home = Home::new();
    let file = home.path().join("master.hex");
    std::fs::write(&file, format!("{MASTER_KEY}\n")).unwrap();
    let mut cmd = home.serve();
    cmd.env_remove("GATEHOUSE_MASTER_KEY")
        .env("GATEHOUSE_MASTER_KEY_FILE", &file);
    let mut server = home.start(cmd);
    server.admin_key();
    server.stop();
    assert!(!home.data_dir().join("master.key").exists());
    // Same key through the other variable: the store accepts it.
    let cmd = home.serve();
    let mut again = home.start(cmd);
    again.stop();
}

#[test]
fn logs_written_to_a_file_carry_no_terminal_escape_codes() {
    let mut home = Home::new();
    let (mut server, _admin) = home.start_first();
    server.stop();
    let log = server.stderr();
    assert!(!log.contains('\u{1b}'), "escape codes in:\n{log:?}");
}

#[test]
fn health_endpoints_answer_without_credentials() {
    let mut home = Home::new();
    let (mut server, _admin) = home.start_first();
    let health = crate::support::http_get(server.addr(), "/healthz").unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = crate::support::http_get(server.addr(), "/metrics").unwrap();
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("# TYPE"), "{metrics}");
    server.stop();
    let mut cmd = gatehouse(home.path());
    cmd.arg("--version");
    let out = stdout(&run(cmd));
    assert!(out.starts_with("gatehouse "), "{out}");
}

#[test]
fn a_signal_as_soon_as_the_port_opens_still_shuts_down_cleanly() {
    for _ in 0..5 {
        let home = Home::new();
        let port = free_port();
        let mut cmd = gatehouse(home.path());
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(home.data_dir())
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY);
        let mut server = Server::spawn(cmd, &home.path().join("run"));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                start.elapsed() < crate::support::DEADLINE,
                "{}",
                server.stderr()
            );
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let status = server.signal_and_wait("TERM");
        assert_eq!(status.code(), Some(0), "{status}: {}", server.stderr());
        assert!(
            server.stderr().contains("gatehouse stopped"),
            "{}",
            server.stderr()
        );
    }
}

#[test]
fn a_first_start_that_cannot_listen_creates_no_admin_key_it_cannot_print() {
    let mut home = Home::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut blocked = home.serve_bare();
    blocked
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(home.data_dir())
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY);
    let out = run(blocked);
    let line = serve_failure(&out);
    assert!(line.contains("cannot listen"), "{line}");
    assert!(!stdout(&out).contains("GATEHOUSE_ADMIN_KEY="));
    drop(taken);

    // The next start on a free port is still the first start: it prints the key.
    let (mut server, admin) = home.start_first();
    assert!(is_gk_key(&admin));
    server.ok(&admin, &["keys", "list"]);
    server.stop();
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_the_store_are_private_to_the_server_s_user() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let mut home = Home::new();
    let (mut server, _admin) = home.start_first();
    assert_eq!(mode(&home.data_dir()), 0o700);
    for file in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        assert_eq!(mode(&home.data_dir().join(file)), 0o600, "{file}");
    }
    server.stop();
}
