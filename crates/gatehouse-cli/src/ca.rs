//! `gatehouse ca …`: the built-in certificate authority and the client certificates it
//! issues. A private key exists only in the answer to `issue`: it goes straight into a
//! file only its owner can read, never to standard output.

use crate::client::Client;
use crate::commands::{CaCommand, Global, IssueArgs};
use crate::keys::{fmt_time, print_json};
use crate::table;
use anyhow::Context;
use gatehouse_api::certificates::{
    CaCertificate, Certificate, IssueCertificate, IssuedCertificate,
};
use reqwest::Method;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub async fn run(global: &Global, command: CaCommand) -> anyhow::Result<ExitCode> {
    let client = Client::new(global)?;
    match command {
        CaCommand::Init => {
            let ca: CaCertificate = client.call(Method::POST, "/admin/v1/ca").await?;
            show_ca(global, &ca)?;
        }
        CaCommand::Show => {
            let ca: CaCertificate = client.get("/admin/v1/ca", &[]).await?;
            show_ca(global, &ca)?;
        }
        CaCommand::Issue(args) => issue(global, &client, args).await?,
        CaCommand::List => {
            let certificates: Vec<Certificate> = client.get("/admin/v1/certificates", &[]).await?;
            if global.json {
                print_json(&certificates)?;
            } else {
                show_certificates(&certificates);
            }
        }
        CaCommand::Revoke { serial } => {
            let revoked: Certificate = client.call(Method::POST, &revoke_path(&serial)?).await?;
            if global.json {
                print_json(&revoked)?;
            } else {
                show_certificates(std::slice::from_ref(&revoked));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Issues a certificate into `--out`. The three files are created (empty, exclusively)
/// before the request, so a directory that cannot take them costs no certificate whose
/// key would be lost; they are removed again if the server refuses.
async fn issue(global: &Global, client: &Client, args: IssueArgs) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut files = Outputs::default();
    let key = files.create(&args.out, "key.pem", 0o600)?;
    let cert = files.create(&args.out, "cert.pem", 0o644)?;
    let ca = files.create(&args.out, "ca.pem", 0o644)?;

    let body = IssueCertificate {
        subject: args.subject,
        days: args.days,
        scopes: args.scopes,
    };
    let issued: IssuedCertificate = client
        .send(Method::POST, "/admin/v1/certificates", &body)
        .await?;
    let serial = issued.certificate.serial.clone();
    for (index, pem) in [
        (key, &issued.private_key),
        (cert, &issued.certificate.certificate),
        (ca, &issued.ca_certificate),
    ] {
        files.write(index, pem).with_context(|| {
            format!(
                "certificate {serial} was issued but not saved (revoke it: gatehouse ca revoke {serial})"
            )
        })?;
    }
    files.keep();

    if global.json {
        return print_json(&issued.certificate);
    }
    let c = &issued.certificate;
    table::print(
        &["SERIAL", "SUBJECT", "FINGERPRINT", "NOT AFTER"],
        &[vec![
            c.serial.clone(),
            c.subject.clone(),
            c.fingerprint.clone(),
            fmt_time(c.not_after),
        ]],
    );
    println!();
    println!(
        "wrote cert.pem, key.pem (readable only by you) and ca.pem in {}",
        args.out.display()
    );
    Ok(())
}

/// Files created for `issue`, removed on drop unless kept: an error leaves no empty or
/// half-written file behind to be mistaken for a certificate.
#[derive(Default)]
struct Outputs {
    files: Vec<(PathBuf, File)>,
    keep: bool,
}

impl Outputs {
    /// Creates `dir/name` with `mode`; an existing file (or symlink) is an error, never
    /// overwritten. Returns its index for [`Outputs::write`].
    fn create(&mut self, dir: &Path, name: &str, mode: u32) -> anyhow::Result<usize> {
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    anyhow::anyhow!("{} exists; refusing to overwrite it", path.display())
                }
                _ => anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
            })?;
        self.files.push((path, file));
        Ok(self.files.len() - 1)
    }

    fn write(&mut self, index: usize, pem: &str) -> anyhow::Result<()> {
        let (path, file) = self.files.get_mut(index).context("no such output file")?;
        let mut text = pem.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        if !self.keep {
            for (path, _) in &self.files {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A serial as a path segment: hex digits only, so nothing to escape. Lowercased, as
/// the server stores it (`openssl x509 -serial` prints uppercase).
fn revoke_path(serial: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !serial.is_empty() && serial.bytes().all(|b| b.is_ascii_hexdigit()),
        "{serial:?} is not a certificate serial (hex digits, as `gatehouse ca list` shows)"
    );
    Ok(format!(
        "/admin/v1/certificates/{}/revoke",
        serial.to_ascii_lowercase()
    ))
}

fn show_ca(global: &Global, ca: &CaCertificate) -> anyhow::Result<()> {
    if global.json {
        return print_json(ca);
    }
    print!("{}", ca.certificate);
    if !ca.certificate.ends_with('\n') {
        println!();
    }
    Ok(())
}

fn show_certificates(certificates: &[Certificate]) {
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|c| {
            // Expiry shows in NOT AFTER: the wall clock is the server's to read.
            let state = if c.revoked_at.is_some() {
                "revoked"
            } else {
                "valid"
            };
            vec![
                c.serial.clone(),
                c.subject.clone(),
                c.scopes.join(" "),
                fmt_time(c.not_after),
                state.to_owned(),
            ]
        })
        .collect();
    table::print(
        &["SERIAL", "SUBJECT", "SCOPES", "NOT AFTER", "STATE"],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::revoke_path;

    #[test]
    fn only_hex_serials_reach_a_url_path() {
        assert_eq!(
            revoke_path("0A1b").unwrap(),
            "/admin/v1/certificates/0a1b/revoke"
        );
        for bad in ["", "xyz", "12/../34", "ab cd", "12%2f"] {
            assert!(revoke_path(bad).is_err(), "{bad:?}");
        }
    }
}
