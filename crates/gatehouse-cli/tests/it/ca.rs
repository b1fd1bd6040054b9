//! `gatehouse ca …` against a running server: the CA, and client certificates written
//! to files that are checked the way a user would check them.

use crate::support::{Home, failure, stdout};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

const BEGIN_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

#[test]
fn the_ca_is_created_once_and_shown_as_pem() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let line = failure(&server.cli(&admin, &["ca", "show"]));
    assert!(line.contains("404"), "{line}");

    let created = server.ok(&admin, &["ca", "init"]);
    assert!(created.starts_with(BEGIN_CERTIFICATE), "{created}");
    assert_eq!(server.ok(&admin, &["ca", "show"]), created);
    let json = server.json(&admin, &["ca", "show"]);
    assert_eq!(json["certificate"].as_str().unwrap().trim(), created.trim());

    let line = failure(&server.cli(&admin, &["ca", "init"]));
    assert!(line.contains("409"), "{line}");
    assert_eq!(server.ok(&admin, &["ca", "show"]), created, "the CA stays");
}

#[test]
fn an_issued_certificate_is_written_listed_and_revoked() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let ca = server.ok(&admin, &["ca", "init"]);
    let out = home.path().join("certs/orders");
    let issue = [
        "ca",
        "issue",
        "--subject",
        "spiffe://example.org/orders",
        "--days",
        "7",
        "--scope",
        "orders:read",
        "--out",
        out.to_str().unwrap(),
    ];

    let issued = server.json(&admin, &issue);
    assert_eq!(issued["subject"], "spiffe://example.org/orders");
    assert_eq!(issued["scopes"], serde_json::json!(["orders:read"]));
    assert!(
        issued.get("private_key").is_none() && issued.get("ca_certificate").is_none(),
        "only the certificate part is printed: {issued}"
    );
    let serial = issued["serial"].as_str().unwrap().to_owned();

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&out.join("key.pem")), 0o600);
    let key = std::fs::read_to_string(out.join("key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    assert_eq!(std::fs::read_to_string(out.join("ca.pem")).unwrap(), ca);
    let cert = std::fs::read_to_string(out.join("cert.pem")).unwrap();
    assert!(cert.starts_with(BEGIN_CERTIFICATE), "{cert}");
    assert_eq!(issued["certificate"].as_str().unwrap().trim(), cert.trim());
    assert_eq!(issued["fingerprint"], sha256_hex(&pem_der(&cert)));

    // A second issue into the same directory refuses and leaves the files alone.
    let line = failure(&server.cli(&admin, &issue));
    assert!(line.contains("refusing to overwrite"), "{line}");
    assert_eq!(std::fs::read_to_string(out.join("key.pem")).unwrap(), key);
    assert_eq!(std::fs::read_to_string(out.join("cert.pem")).unwrap(), cert);
    let listed = server.json(&admin, &["ca", "list"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "nothing more was issued"
    );

    let table = server.ok(&admin, &["ca", "list"]);
    let header = table.lines().next().unwrap();
    for column in ["SERIAL", "SUBJECT", "SCOPES", "NOT AFTER", "STATE"] {
        assert!(header.contains(column), "{header}");
    }
    let row = row_of(&table, &serial);
    assert!(
        row.contains("orders:read") && row.ends_with("valid"),
        "{row}"
    );

    let revoked = server.ok(&admin, &["ca", "revoke", &serial]);
    assert!(row_of(&revoked, &serial).ends_with("revoked"), "{revoked}");
    let table = server.ok(&admin, &["ca", "list"]);
    assert!(row_of(&table, &serial).ends_with("revoked"), "{table}");
    let listed = server.json(&admin, &["ca", "list"]);
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");
}

#[test]
fn issuing_prints_a_row_and_never_the_private_key() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    server.ok(&admin, &["ca", "init"]);
    let out = home.path().join("web");
    let table = server.ok(
        &admin,
        &[
            "ca",
            "issue",
            "--subject",
            "web.internal",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    for column in ["SERIAL", "SUBJECT", "FINGERPRINT", "NOT AFTER"] {
        assert!(table.contains(column), "{table}");
    }
    assert!(table.contains("web.internal"), "{table}");
    assert!(!table.contains("PRIVATE KEY"), "{table}");
    let key = std::fs::read_to_string(out.join("key.pem")).unwrap();
    let body = key.lines().nth(1).unwrap();
    assert!(!table.contains(body), "the key's text is not on stdout");
}

#[test]
fn a_refused_issue_leaves_no_files_behind() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    let out = home.path().join("early");
    let args = [
        "ca",
        "issue",
        "--subject",
        "early",
        "--out",
        out.to_str().unwrap(),
    ];
    let line = failure(&server.cli(&admin, &args));
    assert!(line.contains("404"), "no CA yet: {line}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);

    server.ok(&admin, &["ca", "init"]);
    server.ok(&admin, &args);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
}

#[test]
fn a_serial_that_is_not_hex_is_refused_before_any_request() {
    let mut home = Home::new();
    let (server, admin) = home.start_first();
    for serial in ["../keys", "xyz", "12 34"] {
        let out = server.cli(&admin, &["ca", "revoke", serial]);
        assert!(stdout(&out).is_empty(), "{out:?}");
        let line = failure(&out);
        assert!(line.contains("not a certificate serial"), "{line}");
    }
}

/// The DER inside a PEM block, decoded by coreutils' `base64`.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| *l != BEGIN_CERTIFICATE)
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    pipe("base64", &["--decode"], body.as_bytes())
}

/// SHA-256 as lowercase hex, computed by coreutils' `sha256sum`: not by the code under
/// test.
fn sha256_hex(bytes: &[u8]) -> String {
    let out = pipe("sha256sum", &[], bytes);
    String::from_utf8(out).unwrap()[..64].to_owned()
}

/// The standard output of `program args` given `input`; the program must succeed.
fn pipe(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program}: {out:?}");
    out.stdout
}

/// The table line that begins with `serial`.
fn row_of<'t>(table: &'t str, serial: &str) -> &'t str {
    table
        .lines()
        .find(|l| l.starts_with(serial))
        .unwrap_or_else(|| panic!("no row for {serial} in\n{table}"))
        .trim_end()
}
