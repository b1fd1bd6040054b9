//! The HTTP vocabulary the listener, the API and the gateway share: the one credential
//! reader, problem responses, `WWW-Authenticate` challenges and the request limits. It sits below all three, so none
//! imports another to speak it (issue 17 moves it into a crate of its own).

mod challenge;
pub mod credential;
mod problem;

pub use challenge::Challenge;
pub use problem::problem;

/// Largest JSON or form body accepted (SPEC §10).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest total size of request headers (SPEC §10).
pub const MAX_HEADERS: usize = 16 * 1024;
