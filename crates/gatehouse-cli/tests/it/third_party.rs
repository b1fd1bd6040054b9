//! Third-party clients that no one here wrote, as `scripts/test` installs them
//! (`GATEHOUSE_INTEROP_PYTHON`, `GATEHOUSE_INTEROP_NODE_DIR`), and what running one of
//! the scripts in `interop/` against a real server takes: a server whose issuer is its
//! real address, admin calls to set it up, and the script's one line of JSON.

use crate::support::{DEADLINE, Home, MASTER_KEY, Server, free_port, run_within, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// `interop/python/<script>` under the installed Python.
pub fn python(script: &str) -> Command {
    let mut cmd = Command::new(installed("GATEHOUSE_INTEROP_PYTHON"));
    cmd.arg(interop_dir().join("python").join(script));
    cmd
}

/// `interop/node/<script>` under `node`, with the installed `node_modules` beside it.
pub fn node(script: &str) -> Command {
    let dir = installed("GATEHOUSE_INTEROP_NODE_DIR");
    assert!(
        dir.join("node_modules/openid-client").is_dir(),
        "no node_modules in {}: run the tests through scripts/test",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script));
    cmd
}

/// Starts a server on a fixed port; returns it and its admin key. Its logs go when it
/// returns: see [`start_server_in`] to keep them.
pub fn start_server() -> (Server, String) {
    start_server_in(&mut Home::new())
}

/// Like [`start_server`], in `home`, which keeps the server's logs while it lives.
pub fn start_server_in(home: &mut Home) -> (Server, String) {
    // A fixed port: the issuer (`iss`, metadata `issuer`) is derived from `--listen`,
    // and with port 0 it would read `http://127.0.0.1:0`.
    let mut serve = home.serve_bare();
    serve
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(home.data_dir())
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY);
    let server = home.start(serve);
    let admin = server.admin_key();
    (server, admin)
}

/// Runs `cmd`, an interop script, which must succeed within the usual deadline and
/// print one line of JSON.
pub fn run_json(cmd: Command) -> Value {
    json_of(run_within(cmd, DEADLINE), None)
}

/// Like [`run_json`], allowing `deadline` — for a script that drives a browser —
/// and showing the log of `server` (started by [`start_server_in`]) if it fails.
pub fn run_json_against(server: &Server, cmd: Command, deadline: Duration) -> Value {
    json_of(run_within(cmd, deadline), Some(server))
}

fn json_of(out: Output, server: Option<&Server>) -> Value {
    assert!(
        out.status.success(),
        "interop client failed ({}):\n{}{}{}",
        out.status,
        stdout(&out),
        stderr(&out),
        server.map_or_else(String::new, |s| format!("server log:\n{}", s.stderr()))
    );
    let text = stdout(&out);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not one JSON line ({e}): {text}"))
}

/// `POST <path>` on the admin API with `key`: the status and the JSON answer. Over
/// HTTPS when the server has `[tls]`, trusting only its CA.
pub fn admin_post(server: &Server, key: &str, path: &str, body: &Value) -> (u16, Value) {
    let url = format!("{}{path}", server.url());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = server
            .http_client()
            .post(url)
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    })
}

/// The path in `var`, which `scripts/test` sets after installing the clients.
fn installed(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: run the interop tests through scripts/test, \
             which installs the Python and Node clients"
        )
    });
    assert!(
        path.exists(),
        "{var}={} does not exist: run scripts/test",
        path.display()
    );
    path
}

/// `interop/` at the workspace root.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}
