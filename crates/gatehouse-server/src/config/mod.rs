//! Configuration: an optional TOML file, overridden by `GATEHOUSE_<SECTION>__<KEY>`
//! environment variables, overridden by command-line flags, parsed once into
//! [`Settings`]. Unknown keys are errors that name the key.

mod gateway;
mod tls;

pub use gateway::{AcceptedAuth, ForwardAuthProxy, GatewaySettings, RoutePolicy};

use crate::issuers::IssuerSettings;
use gatehouse_core::oauth::refresh::Lifetimes;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
pub use tls::{ClientAuth, TlsSettings};

/// The raw file format, `version = 1`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    version: Option<u32>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    keys: RawKeys,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    signing: RawSigning,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    gateway: gateway::RawGateway,
    #[serde(default)]
    jwt: gateway::RawJwt,
    #[serde(default)]
    forward_auth: gateway::RawForwardAuth,
    tls: Option<tls::RawTls>,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    auth: Option<String>,
}

/// Who may read `GET /metrics` (`[metrics] auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAuth {
    /// Anyone who can reach the API listener: the default when it listens on
    /// loopback only, where only this machine can.
    None,
    /// An API key holding `gatehouse:metrics` (Prometheus' `authorization` with a
    /// bearer credential): the default on any other address, since the metrics tell
    /// an outsider how busy the server is, what it refuses and how its keys fare.
    ApiKey,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    alg: Option<String>,
    rotate_after_days: Option<u32>,
    publish_lead_secs: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    /// Seconds (SPEC §3 names the key `tokens.max_access_ttl`).
    access_ttl: Option<u32>,
    max_access_ttl: Option<u32>,
    /// Seconds from the code exchange to the end of a refresh-token family.
    refresh_ttl: Option<u32>,
    /// Seconds a refresh token lives unless used.
    refresh_idle_ttl: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    public_url: Option<String>,
    max_connections: Option<u32>,
    max_connections_per_ip: Option<u32>,
    body_timeout_secs: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    data_dir: Option<PathBuf>,
    url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    default_prefix: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    retention_days: Option<u32>,
    witness_file: Option<PathBuf>,
    witness_syslog: Option<PathBuf>,
    witness_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    format: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address of the API listener.
    pub listen: SocketAddr,
    /// The externally visible base URL, without a trailing slash (the OAuth issuer).
    pub public_url: String,
    /// Connections open at once on both listeners together; more are closed at accept.
    pub max_connections: usize,
    /// Connections open at once from one client address, on both listeners together.
    pub max_connections_per_ip: usize,
    /// Time an API request may take to send its whole body, from the end of its head.
    pub body_timeout: std::time::Duration,
    /// Directory for the SQLite database and the dev-mode master key.
    pub data_dir: PathBuf,
    /// The SQLite database file.
    pub database_path: PathBuf,
    /// Prefix for new keys when the request names none.
    pub default_key_prefix: gatehouse_core::api_key::Prefix,
    /// Audit events older than this many days are deleted; 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Where checkpoints of the audit trail's head are appended (`audit.witness_file`,
    /// default `<data dir>/audit-witness.log`).
    pub audit_witness_file: PathBuf,
    /// A syslog socket (unix datagram, such as `/dev/log`) that also receives every
    /// checkpoint (`audit.witness_syslog`; none by default).
    pub audit_witness_syslog: Option<PathBuf>,
    /// An HTTP endpoint that is also POSTed every checkpoint as JSON
    /// (`audit.witness_url`; none by default).
    pub audit_witness_url: Option<String>,
    /// `tracing` filter directive, such as `info`.
    pub log_level: String,
    /// Log output format.
    pub log_format: LogFormat,
    /// Token signing keys.
    pub signing: SigningSettings,
    /// Access token lifetimes.
    pub tokens: TokenSettings,
    /// The gateway: listener and routes.
    pub gateway: GatewaySettings,
    /// External JWT issuers the gateway trusts.
    pub issuers: Vec<IssuerSettings>,
    /// The proxy in front of `/v1/forward-auth`, which says where the original
    /// request is read from.
    pub forward_auth: ForwardAuthProxy,
    /// HTTPS on both listeners, and client certificates.
    pub tls: Option<TlsSettings>,
    /// Who may read `GET /metrics`.
    pub metrics_auth: MetricsAuth,
    /// Where these settings came from, to read them again on reload.
    pub source: Source,
}

/// The file and flags settings were loaded from (the environment is read again).
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The configuration file, if any.
    pub file: Option<PathBuf>,
    /// The flag overrides.
    pub overrides: Overrides,
}

/// `[signing]`: the algorithm of new signing keys and their rotation schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSettings {
    /// Algorithm of new keys.
    pub alg: gatehouse_core::jose::Alg,
    /// A key is replaced after this many days; 0 turns scheduled rotation off.
    pub rotate_after_days: u32,
    /// A new key is published this many seconds before it signs, so caches of the JWK
    /// Set (Gatehouse serves it with `max-age=300`) know it before they meet it.
    pub publish_lead_secs: u32,
}

/// `[tokens]`: token lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    /// Lifetime when a client names none (default 600).
    pub access_ttl_secs: u32,
    /// Cap on any lifetime (default 3600, at most one day).
    pub max_access_ttl_secs: u32,
    /// Refresh tokens: absolute (default 30 days) and idle (default 7 days).
    pub refresh: Lifetimes,
}

/// A configuration error, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key is unknown or its value is of the wrong type.
    #[error("{key}: {message}")]
    Key {
        /// The dotted key, such as `server.listen`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// `tokens.refresh_ttl` (one hour to one year) and `tokens.refresh_idle_ttl` (one
/// minute to the absolute lifetime). A refresh token never lives for ever: an app
/// must send its user through a sign-in at least once a year.
fn refresh_lifetimes(raw: &RawTokens) -> Result<Lifetimes, ConfigError> {
    let defaults = Lifetimes::default();
    let absolute_secs = raw.refresh_ttl.unwrap_or(defaults.absolute_secs);
    if !(3600..=365 * 86_400).contains(&absolute_secs) {
        return Err(key_error(
            "tokens.refresh_ttl",
            "must be between 3600 (one hour) and 31536000 (one year)",
        ));
    }
    let idle_secs = raw
        .refresh_idle_ttl
        .unwrap_or(defaults.idle_secs)
        .min(absolute_secs);
    if idle_secs < 60 {
        return Err(key_error("tokens.refresh_idle_ttl", "must be at least 60"));
    }
    Ok(Lifetimes {
        absolute_secs,
        idle_secs,
    })
}

/// `server.max_connections` (default 10000) and `server.max_connections_per_ip`
/// (default 256, at most the overall cap): each at least 1.
fn connection_caps(raw: &RawServer) -> Result<(usize, usize), ConfigError> {
    let total = raw.max_connections.unwrap_or(10_000);
    if total == 0 {
        return Err(key_error("server.max_connections", "must be at least 1"));
    }
    let per_ip = raw.max_connections_per_ip.unwrap_or(256).min(total);
    if per_ip == 0 {
        return Err(key_error(
            "server.max_connections_per_ip",
            "must be at least 1",
        ));
    }
    let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    Ok((size(total), size(per_ip)))
}

fn key_error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Flag overrides, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Loads the file (if any), applies environment variables from `env` and then
    /// `overrides`, and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => read_table(path)?,
            None => toml::Table::new(),
        };
        apply_env(&mut table, env);
        if let Some(listen) = &overrides.listen {
            set(
                &mut table,
                "server",
                "listen",
                toml::Value::String(listen.clone()),
            );
        }
        if let Some(dir) = &overrides.data_dir {
            set(
                &mut table,
                "storage",
                "data_dir",
                toml::Value::String(dir.display().to_string()),
            );
        }
        let mut settings = Self::from_table(table)?;
        settings.source = Source {
            file: file.map(Path::to_path_buf),
            overrides: overrides.clone(),
        };
        Ok(settings)
    }

    /// Validates a file on its own (`gatehouse config check`).
    pub fn check_file(path: &Path) -> Result<Self, ConfigError> {
        Self::from_table(read_table(path)?)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let key = if path == "." {
                    String::from("(top level)")
                } else {
                    path
                };
                key_error(&key, e.into_inner().to_string())
            })?;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        match raw.version {
            None | Some(1) => {}
            Some(v) => {
                return Err(key_error(
                    "version",
                    format!("unsupported version {v}; this build reads 1"),
                ));
            }
        }
        let (max_connections, max_connections_per_ip) = connection_caps(&raw.server)?;
        let listen_text = raw
            .server
            .listen
            .unwrap_or_else(|| String::from("127.0.0.1:4000"));
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            key_error(
                "server.listen",
                format!("{listen_text:?} is not an address like 127.0.0.1:4000"),
            )
        })?;
        let metrics_auth = match raw.metrics.auth.as_deref() {
            None if listen.ip().is_loopback() => MetricsAuth::None,
            None => MetricsAuth::ApiKey,
            Some("none") => MetricsAuth::None,
            Some("api_key") => MetricsAuth::ApiKey,
            Some(other) => {
                return Err(key_error(
                    "metrics.auth",
                    format!("{other:?} is not \"none\" or \"api_key\""),
                ));
            }
        };
        let public_url = match raw.server.public_url {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.contains(char::is_whitespace)
                {
                    return Err(key_error(
                        "server.public_url",
                        "must be an http:// or https:// URL",
                    ));
                }
                url.trim_end_matches('/').to_owned()
            }
            None if raw.tls.is_some() => format!("https://{listen}"),
            None => format!("http://{listen}"),
        };
        let tls = tls::tls(raw.tls)?;
        let body_timeout_secs = raw.server.body_timeout_secs.unwrap_or(30);
        if !(1..=600).contains(&body_timeout_secs) {
            return Err(key_error(
                "server.body_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        let data_dir = raw
            .storage
            .data_dir
            .unwrap_or_else(|| PathBuf::from("gatehouse-data"));
        let database_path = match raw.storage.url {
            None => data_dir.join("gatehouse.db"),
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ => {
                    return Err(key_error(
                        "storage.url",
                        "only sqlite://PATH is supported by this build (PostgreSQL is planned)",
                    ));
                }
            },
        };
        let default_key_prefix = match raw.keys.default_prefix {
            None => gatehouse_core::api_key::Prefix::default_prefix(),
            Some(p) => gatehouse_core::api_key::Prefix::for_keys(&p)
                .map_err(|e| key_error("keys.default_prefix", e.to_string()))?,
        };
        let log_format = match raw.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(key_error(
                    "log.format",
                    format!("{other:?} is not \"text\" or \"json\""),
                ));
            }
        };
        let alg = match raw.signing.alg.as_deref() {
            None => gatehouse_core::jose::Alg::Es256,
            Some(name) => gatehouse_core::jose::Alg::from_name(name).ok_or_else(|| {
                key_error(
                    "signing.alg",
                    format!("{name:?} is not \"ES256\", \"EdDSA\" or \"RS256\""),
                )
            })?,
        };
        let publish_lead_secs = raw.signing.publish_lead_secs.unwrap_or(3600);
        if publish_lead_secs < 300 {
            return Err(key_error(
                "signing.publish_lead_secs",
                "must be at least 300 (the JWK Set's cache lifetime)",
            ));
        }
        let max_access_ttl_secs = raw.tokens.max_access_ttl.unwrap_or(3600);
        if !(60..=86_400).contains(&max_access_ttl_secs) {
            return Err(key_error(
                "tokens.max_access_ttl",
                "must be between 60 and 86400 (one day): access tokens are short-lived",
            ));
        }
        let access_ttl_secs = raw.tokens.access_ttl.unwrap_or(600);
        if !(1..=max_access_ttl_secs).contains(&access_ttl_secs) {
            return Err(key_error(
                "tokens.access_ttl",
                format!("must be between 1 and tokens.max_access_ttl ({max_access_ttl_secs})"),
            ));
        }
        let refresh = refresh_lifetimes(&raw.tokens)?;
        let audit_witness_url = match raw.audit.witness_url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(key_error(
                    "audit.witness_url",
                    "must be an http:// or https:// URL",
                ));
            }
            url => url,
        };
        let audit_witness_file = raw
            .audit
            .witness_file
            .unwrap_or_else(|| data_dir.join("audit-witness.log"));
        Ok(Self {
            gateway: gateway::gateway(raw.gateway, tls.as_ref())?,
            tls,
            issuers: gateway::issuers(raw.jwt, &public_url)?,
            forward_auth: gateway::forward_auth(raw.forward_auth)?,
            source: Source::default(),
            signing: SigningSettings {
                alg,
                rotate_after_days: raw.signing.rotate_after_days.unwrap_or(30),
                publish_lead_secs,
            },
            tokens: TokenSettings {
                access_ttl_secs,
                max_access_ttl_secs,
                refresh,
            },
            listen,
            metrics_auth,
            public_url,
            max_connections,
            max_connections_per_ip,
            body_timeout: std::time::Duration::from_secs(u64::from(body_timeout_secs)),
            data_dir,
            database_path,
            default_key_prefix,
            audit_retention_days: raw.audit.retention_days.unwrap_or(0),
            audit_witness_file,
            audit_witness_syslog: raw.audit.witness_syslog,
            audit_witness_url,
            log_level: raw.log.level.unwrap_or_else(|| String::from("info")),
            log_format,
        })
    }
}

fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// Applies `GATEHOUSE_<SECTION>__<KEY>=value`. Variables without `__`
/// (`GATEHOUSE_MASTER_KEY`, `GATEHOUSE_URL`, …) are not configuration keys.
fn apply_env(table: &mut toml::Table, env: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("GATEHOUSE_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        set(
            table,
            &section.to_ascii_lowercase(),
            &key.to_ascii_lowercase(),
            env_value(&value),
        );
    }
}

/// An environment value as the TOML type it reads as: integer, boolean, else string.
fn env_value(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match value {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(value.to_owned()),
    }
}

fn set(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    let entry = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = entry {
        t.insert(key.to_owned(), value);
    } else {
        // A scalar where a section belongs: replace it so the type error names the section.
        let mut t = toml::Table::new();
        t.insert(key.to_owned(), value);
        *entry = toml::Value::Table(t);
    }
}

/// An annotated example configuration (`gatehouse config example`).
pub const EXAMPLE: &str = include_str!("../../gatehouse.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(&path, toml).unwrap();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::load(Some(&path), env, &Overrides::default())
    }

    #[test]
    fn metrics_are_open_on_loopback_and_need_a_key_elsewhere_unless_configured() {
        let on = |toml: &str| load_str(toml, &[]).map(|s| s.metrics_auth);
        assert_eq!(on("").unwrap(), MetricsAuth::None);
        assert_eq!(
            on("[server]\nlisten = \"0.0.0.0:4000\"\n").unwrap(),
            MetricsAuth::ApiKey
        );
        assert_eq!(
            on("[server]\nlisten = \"[::]:4000\"\n[metrics]\nauth = \"none\"\n").unwrap(),
            MetricsAuth::None
        );
        assert_eq!(
            on("[metrics]\nauth = \"api_key\"\n").unwrap(),
            MetricsAuth::ApiKey
        );
        let err = on("[metrics]\nauth = \"basic\"\n").unwrap_err().to_string();
        assert!(err.contains("metrics.auth"), "{err}");
        let env = load_str("", &[("GATEHOUSE_METRICS__AUTH", "api_key")]).unwrap();
        assert_eq!(env.metrics_auth, MetricsAuth::ApiKey);
    }

    #[test]
    fn defaults_need_no_file() {
        let s = Settings::load(None, [], &Overrides::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(s.public_url, "http://127.0.0.1:4000");
        assert_eq!(
            s.database_path,
            PathBuf::from("gatehouse-data/gatehouse.db")
        );
    }

    #[test]
    fn the_audit_witness_defaults_to_the_data_dir_and_can_be_moved() {
        let s = load_str("", &[]).unwrap();
        assert_eq!(
            s.audit_witness_file,
            PathBuf::from("gatehouse-data/audit-witness.log")
        );
        let s = load_str(
            "version = 1\n[audit]\nwitness_file = \"/var/log/w.log\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.audit_witness_file, PathBuf::from("/var/log/w.log"));
        let s = load_str("", &[("GATEHOUSE_AUDIT__WITNESS_FILE", "/elsewhere/w.log")]).unwrap();
        assert_eq!(s.audit_witness_file, PathBuf::from("/elsewhere/w.log"));
        assert_eq!(s.audit_witness_syslog, None);
        let s = load_str("", &[("GATEHOUSE_AUDIT__WITNESS_SYSLOG", "/dev/log")]).unwrap();
        assert_eq!(s.audit_witness_syslog, Some(PathBuf::from("/dev/log")));
        let s = load_str("", &[("GATEHOUSE_AUDIT__WITNESS_URL", "https://log/cp")]).unwrap();
        assert_eq!(s.audit_witness_url.as_deref(), Some("https://log/cp"));
        let err = load_str("", &[("GATEHOUSE_AUDIT__WITNESS_URL", "ftp://log")]).unwrap_err();
        assert!(err.to_string().starts_with("audit.witness_url"), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = load_str("version = 1\n[server]\nlisten_addr = \"x\"\n", &[]).unwrap_err();
        assert!(err.to_string().starts_with("server.listen_addr"), "{err}");
        let err = load_str("versoin = 1\n", &[]).unwrap_err();
        assert!(err.to_string().contains("versoin"), "{err}");
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let toml =
            "version = 1\n[server]\nlisten = \"127.0.0.1:1000\"\n[audit]\nretention_days = 5\n";
        let s = load_str(
            toml,
            &[
                ("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:2000"),
                ("GATEHOUSE_AUDIT__RETENTION_DAYS", "9"),
            ],
        )
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:2000");
        assert_eq!(s.audit_retention_days, 9);
        let overrides = Overrides {
            listen: Some("127.0.0.1:3000".into()),
            data_dir: None,
        };
        let env = [(
            "GATEHOUSE_SERVER__LISTEN".to_owned(),
            "127.0.0.1:2000".to_owned(),
        )];
        let s = Settings::load(None, env, &overrides).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
    }

    #[test]
    fn non_config_gatehouse_variables_are_ignored() {
        let s = load_str(
            "version = 1\n",
            &[("GATEHOUSE_MASTER_KEY", "x"), ("GATEHOUSE_ADMIN_KEY", "y")],
        );
        assert!(s.is_ok());
    }

    #[test]
    fn unknown_environment_key_is_an_error() {
        let err = load_str("version = 1\n", &[("GATEHOUSE_SERVER__LISTN", "x")]).unwrap_err();
        assert!(err.to_string().starts_with("server.listn"), "{err}");
    }

    #[test]
    fn connection_caps_and_the_body_deadline_default_and_are_checked() {
        let settings = load_str("", &[]).unwrap();
        assert_eq!(
            (settings.max_connections, settings.max_connections_per_ip),
            (10_000, 256)
        );
        assert_eq!(settings.body_timeout, std::time::Duration::from_secs(30));
        let small = "[server]\nmax_connections = 10\nmax_connections_per_ip = 50\n";
        let settings = load_str(small, &[]).unwrap();
        assert_eq!(
            (settings.max_connections, settings.max_connections_per_ip),
            (10, 10),
            "the per-address cap is at most the overall one"
        );
        for (text, key) in [
            ("max_connections = 0", "server.max_connections"),
            (
                "max_connections_per_ip = 0",
                "server.max_connections_per_ip",
            ),
            ("body_timeout_secs = 0", "server.body_timeout_secs"),
            ("body_timeout_secs = 601", "server.body_timeout_secs"),
            ("max_connections = -1", "server.max_connections"),
        ] {
            let err = load_str(&format!("[server]\n{text}\n"), &[]).unwrap_err();
            assert!(err.to_string().starts_with(key), "{text}: {err}");
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(
            load_str("[server]\nlisten = \"nope\"\n", &[])
                .unwrap_err()
                .to_string()
                .starts_with("server.listen")
        );
        assert!(
            load_str("version = 2\n", &[])
                .unwrap_err()
                .to_string()
                .starts_with("version")
        );
        assert!(
            load_str("[keys]\ndefault_prefix = \"Bad\"\n", &[])
                .unwrap_err()
                .to_string()
                .starts_with("keys.default_prefix")
        );
        assert!(
            load_str("[keys]\ndefault_prefix = \"grt\"\n", &[])
                .unwrap_err()
                .to_string()
                .contains("reserved for refresh tokens")
        );
        assert!(
            load_str("[audit]\nretention_days = \"x\"\n", &[])
                .unwrap_err()
                .to_string()
                .starts_with("audit.retention_days")
        );
    }

    #[test]
    fn tls_is_checked_for_shape_and_mtls_routes_need_client_certificates() {
        let route = "[gateway]\nlisten = \"127.0.0.1:0\"\n[[gateway.routes]]\nname = \"a\"\n\
                     path_prefix = \"/a\"\nupstream = \"http://127.0.0.1:9\"\nauth = [\"mtls\"]\n";
        let tls = |extra: &str| format!("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n{extra}");
        let err = load_str(route, &[]).unwrap_err().to_string();
        assert!(err.contains("needs [tls]"), "{err}");
        let err = load_str(&format!("{}{route}", tls("")), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs [tls]"), "client_auth off: {err}");

        let s = load_str(
            &format!(
                "{}{route}",
                tls("client_ca = [\"a.pem\", \"b.pem\"]\nclient_auth = \"optional\"\n")
            ),
            &[],
        )
        .unwrap();
        let t = s.tls.unwrap();
        assert_eq!(t.client_auth, ClientAuth::Optional);
        assert_eq!(t.client_ca.len(), 2);
        assert!(s.public_url.starts_with("https://"), "{}", s.public_url);

        for (toml, key) in [
            ("[tls]\ncert = \"c.pem\"\n".to_owned(), "tls"),
            (tls("client_auth = \"maybe\"\n"), "tls.client_auth"),
            (tls("client_auth = \"required\"\n"), "tls.client_ca"),
            (tls("ciphers = \"all\"\n"), "tls.ciphers"),
        ] {
            let err = load_str(&toml, &[]).unwrap_err().to_string();
            assert!(err.starts_with(key), "{toml}: {err}");
        }
    }

    #[test]
    fn refresh_lifetimes_default_to_thirty_and_seven_days_and_are_bounded() {
        let s = load_str("", &[]).unwrap();
        assert_eq!(
            (s.tokens.refresh.absolute_secs, s.tokens.refresh.idle_secs),
            (30 * 86_400, 7 * 86_400)
        );
        let s = load_str("[tokens]\nrefresh_ttl = 7200\n", &[]).unwrap();
        assert_eq!(s.tokens.refresh.idle_secs, 7200, "idle capped by absolute");
        for (toml, key) in [
            ("[tokens]\nrefresh_ttl = 60\n", "tokens.refresh_ttl"),
            ("[tokens]\nrefresh_ttl = 40000000\n", "tokens.refresh_ttl"),
            (
                "[tokens]\nrefresh_idle_ttl = 5\n",
                "tokens.refresh_idle_ttl",
            ),
        ] {
            let err = load_str(toml, &[]).unwrap_err().to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }

    #[test]
    fn token_lifetimes_and_signing_use_the_spec_names() {
        let s = load_str(
            "[tokens]\naccess_ttl = 60\nmax_access_ttl = 120\n[signing]\nalg = \"EdDSA\"\n",
            &[("GATEHOUSE_SIGNING__ROTATE_AFTER_DAYS", "7")],
        )
        .unwrap();
        assert_eq!(
            (s.tokens.access_ttl_secs, s.tokens.max_access_ttl_secs),
            (60, 120)
        );
        assert_eq!(s.signing.alg, gatehouse_core::jose::Alg::EdDsa);
        assert_eq!(s.signing.rotate_after_days, 7);
        for (toml, key) in [
            (
                "[tokens]\nmax_access_ttl = 90000\n",
                "tokens.max_access_ttl",
            ),
            ("[tokens]\naccess_ttl = 7200\n", "tokens.access_ttl"),
            ("[signing]\nalg = \"HS256\"\n", "signing.alg"),
            (
                "[signing]\npublish_lead_secs = 10\n",
                "signing.publish_lead_secs",
            ),
        ] {
            let err = load_str(toml, &[]).unwrap_err().to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }

    #[test]
    fn the_shipped_example_is_valid() {
        assert!(load_str(EXAMPLE, &[]).is_ok());
    }
}
