//! `gatehouse config example|check`, and configuration layers when serving.

use crate::support::{Home, MASTER_KEY, failure, free_port, gatehouse, run, stdout};
use std::path::Path;
use std::process::Command;

fn check(home: &Home, file: &Path) -> std::process::Output {
    let mut cmd = gatehouse(home.path());
    cmd.args(["config", "check"]).arg(file);
    run(cmd)
}

fn write(home: &Home, name: &str, text: &str) -> std::path::PathBuf {
    let path = home.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_example_config_passes_check() {
    let home = Home::new();
    let mut cmd = gatehouse(home.path());
    cmd.args(["config", "example"]);
    let out = run(cmd);
    assert!(out.status.success(), "{out:?}");
    let example = stdout(&out);
    assert!(example.contains("version = 1"), "{example}");
    assert!(example.contains("GATEHOUSE_MASTER_KEY"), "{example}");
    let file = write(&home, "gatehouse.toml", &example);
    let out = check(&home, &file);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), format!("{}: ok", file.display()));
}

#[test]
fn an_unknown_key_fails_check_naming_it() {
    let home = Home::new();
    let file = write(&home, "bad.toml", "[server]\nlisten_adr = \"x\"\n");
    let line = failure(&check(&home, &file));
    assert!(line.contains("server.listen_adr"), "{line}");
    let file = write(&home, "top.toml", "version = 1\nlisten = \"127.0.0.1:1\"\n");
    let line = failure(&check(&home, &file));
    assert!(line.contains("listen"), "{line}");
}

#[test]
fn an_unsupported_version_fails_check() {
    let home = Home::new();
    let file = write(&home, "v2.toml", "version = 2\n");
    let line = failure(&check(&home, &file));
    assert!(line.starts_with("error: version"), "{line}");
}

#[test]
fn bad_values_and_missing_files_fail_check_with_the_reason() {
    let home = Home::new();
    let file = write(&home, "listen.toml", "[server]\nlisten = \"nowhere\"\n");
    let line = failure(&check(&home, &file));
    assert!(line.contains("server.listen"), "{line}");
    let file = write(&home, "syntax.toml", "[server\n");
    let line = failure(&check(&home, &file));
    assert!(line.contains("syntax.toml"), "{line}");
    let line = failure(&check(&home, &home.path().join("absent.toml")));
    assert!(line.contains("absent.toml"), "{line}");
}

#[test]
fn environment_overrides_the_config_file_when_serving() {
    let mut home = Home::new();
    let (file_port, env_port) = (free_port(), free_port());
    let data = home.data_dir();
    let file = write(
        &home,
        "gatehouse.toml",
        &format!(
            "version = 1\n[server]\nlisten = \"127.0.0.1:{file_port}\"\n[storage]\ndata_dir = {:?}\n",
            data.display().to_string()
        ),
    );
    let mut cmd = home.serve_bare();
    cmd.arg("--config")
        .arg(&file)
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY)
        .env("GATEHOUSE_SERVER__LISTEN", format!("127.0.0.1:{env_port}"));
    let mut server = home.start(cmd);
    assert_eq!(server.addr().port(), env_port);
    server.admin_key();
    assert!(home.database().exists(), "data_dir from the file is used");
    server.stop();

    // The same through GATEHOUSE_CONFIG, and a flag beats the environment.
    let flag_port = free_port();
    let mut cmd = home.serve_bare();
    cmd.env("GATEHOUSE_CONFIG", &file)
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY)
        .env("GATEHOUSE_SERVER__LISTEN", format!("127.0.0.1:{env_port}"))
        .args(["--listen", &format!("127.0.0.1:{flag_port}")]);
    let mut server = home.start(cmd);
    assert_eq!(server.addr().port(), flag_port);
    assert!(
        server.admin_key_lines().is_empty(),
        "same data dir, no new admin key"
    );
    server.stop();
}

#[test]
fn serve_refuses_a_bad_configuration_naming_the_key() {
    let mut home = Home::new();
    let mut cmd = home.serve();
    cmd.env("GATEHOUSE_SERVER__LISTN", "127.0.0.1:1");
    let line = failure(&run(cmd));
    assert!(line.contains("server.listn"), "{line}");

    let file = write(&home, "v2.toml", "version = 2\n");
    let mut cmd = home.serve();
    cmd.arg("--config").arg(&file);
    let line = failure(&run(cmd));
    assert!(line.contains("version"), "{line}");
    assert!(
        !home.data_dir().exists(),
        "nothing created for a refused config"
    );
}

#[test]
fn check_validates_gateway_routes_and_issuers_naming_the_key() {
    let home = Home::new();
    let route = |extra: &str| {
        format!(
            "version = 1\n[gateway]\nlisten = \"127.0.0.1:8080\"\n[[gateway.routes]]\nname = \"orders\"\npath_prefix = \"/orders\"\nupstream = \"http://127.0.0.1:9000\"\n{extra}\n"
        )
    };
    let file = write(
        &home,
        "ok.toml",
        &route("auth = [\"api_key\", \"jwt\"]\nrate_limit = \"10/s\""),
    );
    let out = check(&home, &file);
    assert!(out.status.success(), "{out:?}");
    for (extra, key) in [
        ("", "gateway.routes[0]"),
        ("auth = []", "gateway.routes[0].auth"),
        ("auth = [\"password\"]", "gateway.routes[0].auth"),
        (
            "auth = [\"api_key\"]\nrate_limit = \"fast\"",
            "gateway.routes[0].rate_limit",
        ),
        (
            "auth = [\"api_key\"]\nrequire_scopes = [\"a b\"]",
            "gateway.routes[0].require_scopes",
        ),
        (
            "auth = [\"api_key\"]\nupstrem = \"x\"",
            "gateway.routes[0].upstrem",
        ),
    ] {
        let file = write(&home, "route.toml", &route(extra));
        let line = failure(&check(&home, &file));
        assert!(line.contains(key), "{extra:?}: {line}");
    }
    let file = write(
        &home,
        "upstream.toml",
        &route("auth = [\"api_key\"]").replace("http://127.0.0.1:9000", "https://api.example"),
    );
    let line = failure(&check(&home, &file));
    assert!(
        line.contains("gateway.routes[0]") && line.contains("https"),
        "{line}"
    );
    let file = write(
        &home,
        "issuer.toml",
        "version = 1\n[[jwt.issuers]]\nissuer = \"http://idp.example\"\naudiences = [\"orders\"]\nalgorithms = [\"RS256\"]\n",
    );
    let line = failure(&check(&home, &file));
    assert!(line.contains("jwt.issuers[0]"), "{line}");
}

#[test]
fn sighup_reloads_the_gateway_routes_and_the_server_keeps_serving() {
    let mut home = Home::new();
    let gateway = free_port();
    let file = write(
        &home,
        "gatehouse.toml",
        &format!(
            "version = 1\n[gateway]\nlisten = \"127.0.0.1:{gateway}\"\n[[gateway.routes]]\nname = \"orders\"\npath_prefix = \"/orders\"\nupstream = \"http://127.0.0.1:9\"\nauth = [\"api_key\"]\n"
        ),
    );
    let mut cmd = home.serve();
    cmd.arg("--config").arg(&file);
    let mut server = home.start(cmd);
    let admin = server.admin_key();
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    crate::support::wait_for("the SIGHUP reload in the audit trail", || {
        let events = server.json(&admin, &["audit", "list", "--action", "config.reload"]);
        events["items"].as_array().is_some_and(|e| {
            e.iter()
                .any(|e| e["reason"] == "sighup" && e["outcome"] == "allowed")
        })
    });
    assert!(stdout(&server.cli(&admin, &["keys", "list"])).contains("admin"));
    server.stop();
}
