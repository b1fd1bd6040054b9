//! `[tls]`: HTTPS on the API and gateway listeners (SPEC §4). The files are read and
//! checked when the server starts and again whenever they change (`crate::tls`); here
//! only the shape of the section is checked.

use super::{ConfigError, key_error};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<OneOrMany>,
    client_auth: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

/// Whether clients present certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Not asked for.
    Off,
    /// Asked for and verified when presented; connections without one are served
    /// (routes then need another credential).
    Optional,
    /// Every connection must present a certificate that verifies.
    Required,
}

/// Validated `[tls]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain of the server, leaf first.
    pub cert: PathBuf,
    /// PEM private key of the server (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// PEM files of the CAs client certificates must chain to.
    pub client_ca: Vec<PathBuf>,
    /// Whether clients present certificates.
    pub client_auth: ClientAuth,
}

impl TlsSettings {
    /// Whether client certificates can authenticate a request (a route's `mtls`).
    pub fn verifies_clients(&self) -> bool {
        self.client_auth != ClientAuth::Off
    }
}

/// `None` without a `[tls]` section.
pub(super) fn tls(raw: Option<RawTls>) -> Result<Option<TlsSettings>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let (Some(cert), Some(key)) = (raw.cert, raw.key) else {
        return Err(key_error("tls", "needs both cert and key (PEM files)"));
    };
    let client_auth = match raw.client_auth.as_deref().unwrap_or("off") {
        "off" => ClientAuth::Off,
        "optional" => ClientAuth::Optional,
        "required" => ClientAuth::Required,
        other => {
            return Err(key_error(
                "tls.client_auth",
                format!("{other:?} is not \"off\", \"optional\" or \"required\""),
            ));
        }
    };
    let client_ca = match raw.client_ca {
        None => Vec::new(),
        Some(OneOrMany::One(path)) => vec![path],
        Some(OneOrMany::Many(paths)) => paths,
    };
    if client_auth != ClientAuth::Off && client_ca.is_empty() {
        return Err(key_error(
            "tls.client_ca",
            "client_auth needs at least one client CA file to verify certificates against",
        ));
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
    }))
}
