//! End-to-end tests of the Gatehouse server: each test starts the real server on
//! `127.0.0.1:0` over a temporary store with a manual clock, and talks HTTP to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod audit_head;
mod audit_once;
mod audit_query;
mod audit_tamper;
mod authorization;
mod authorize;
mod bad_bodies;
mod bad_input;
mod clients_code_flow;
mod clients_resource_server;
mod code_flow;
mod credentials;
mod gateway;
mod introspection;
mod lifecycle;
mod listener;
mod oauth_token;
mod oidc;
mod openapi;
mod persistence;
mod private_key_jwt;
mod refresh;
mod rotation;
mod signing_keys;
mod support;
mod tls;
mod users;
mod verify;
