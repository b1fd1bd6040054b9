//! End-to-end tests of the `gatehouse` binary, run as a user would run it: real
//! servers on free ports in temp directories, admin commands against them, and the
//! SQLite file underneath for tampering and counting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod authorization;
mod ca;
mod clients;
mod config;
mod interop;
mod interop_code_flow;
mod interop_mtls;
mod keys;
mod secrets;
mod serve;
mod signing_keys;
mod support;
mod third_party;
mod users;
