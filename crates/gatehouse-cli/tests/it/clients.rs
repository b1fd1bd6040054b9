//! `gatehouse clients …` against a running server.

use crate::support::{Home, failure};

#[test]
fn the_client_lifecycle_from_the_command_line() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let out = server.ok(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "billing",
            "--scope",
            "orders:read",
            "--scope",
            "orders:write",
            "--audience",
            "orders",
            "--ttl",
            "300",
        ],
    );
    let header = out.lines().next().unwrap();
    for column in [
        "CLIENT ID",
        "NAME",
        "SCOPE",
        "AUDIENCE",
        "AUTH METHOD",
        "TTL",
        "STATE",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let secret_line = out
        .lines()
        .find(|l| l.starts_with("client_secret: "))
        .unwrap();
    let secret = secret_line.trim_start_matches("client_secret: ");
    assert!(secret.starts_with("gcs_") && secret.len() == 47, "{secret}");
    let row = out.lines().nth(1).unwrap();
    let id = row.split_whitespace().next().unwrap().to_owned();
    assert!(id.starts_with("cli_"), "{row}");

    let listed = server.json(&admin, &["clients", "list"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["scope"], "orders:read orders:write");
    assert!(
        !listed.to_string().contains(secret),
        "a secret is shown once"
    );

    let updated = server.json(
        &admin,
        &[
            "clients",
            "update",
            &id,
            "--disable",
            "--scope",
            "orders:read",
        ],
    );
    assert_eq!(updated[0]["enabled"], false);
    assert_eq!(updated[0]["scope"], "orders:read");

    let rotated = server.json(&admin, &["clients", "rotate-secret", &id]);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);

    let shown = server.json(&admin, &["clients", "show", &id]);
    assert_eq!(shown[0]["client_id"], id.as_str());
    server.ok(&admin, &["clients", "delete", &id]);
    let out = server.cli(&admin, &["clients", "show", &id]);
    assert!(!out.status.success());
    assert!(
        failure(&out).contains("no such client"),
        "{}",
        failure(&out)
    );
    let out = server.cli(
        &admin,
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--grant-type",
            "password",
        ],
    );
    assert!(!out.status.success());
    assert!(failure(&out).contains("not supported"), "{}", failure(&out));
}
