//! Gatehouse's domain logic, free of I/O.
//!
//! Everything here is a pure function of its inputs: no async, no sockets, no files,
//! no environment and no clock. Time arrives as a [`UnixTime`] parameter and
//! randomness through the [`Entropy`] trait, so every rule can be tested with a fixed
//! clock and fixed bytes.
//!
//! Start reading at [`api_key`] (the key format and the verification decision), then
//! [`auth`] (the proof type a request carries once authenticated), [`policy`] (what
//! an authenticated caller may do) and [`audit`] (the tamper-evident event chain).

pub mod api_key;
pub mod audit;
pub mod auth;
pub mod base62;
pub mod display_text;
pub mod entropy;
pub mod hex;
pub mod id;
pub mod jose;
pub mod mtls;
pub mod oauth;
pub mod policy;
pub mod rate_limit;
pub mod scope;
pub mod secret;
pub mod shared_str;
pub mod time;
pub mod user;

pub use entropy::{Entropy, EntropyUnavailable};
pub use secret::Secret;
pub use shared_str::SharedStr;
pub use time::UnixTime;
