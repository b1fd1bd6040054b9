//! Gatehouse's server: the HTTP API, the in-memory key index, the audit writer and
//! the wiring between them and the store.
//!
//! The server is the imperative shell around `gatehouse-core`: it fetches records
//! (from memory, never the database, on the verification path), asks core for the
//! decision, persists and audits. It does not decide anything itself, and it is the
//! only crate that speaks HTTP. Errors become HTTP responses in one place,
//! `http/error.rs`.
//!
//! Start at [`app::start`], then `http/mod.rs` for the routes.

pub mod access_tokens;
pub mod app;
pub mod audit_integrity;
pub mod audit_log;
pub mod audit_witness;
pub mod authorization;
pub mod bootstrap;
pub mod ca;
pub mod clients;
pub mod clock;
pub mod config;
pub mod data_dir;
pub mod entropy;
pub mod gateway;
pub mod http;
pub mod issuers;
pub mod key_index;
pub mod listener;
pub mod master_key;
pub mod metrics;
pub mod passwords;
pub mod refresh_tokens;
pub mod sealed;
pub mod signing_keys;
pub mod state;
pub mod tls;
pub mod wire;

pub use app::{RunningServer, start};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, Overrides, Settings};
pub use master_key::{MasterKey, MasterKeySource};
