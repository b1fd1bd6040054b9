//! The wire types of Gatehouse's HTTP API, shared by the server (which answers with
//! them and documents them in OpenAPI) and the CLI (which sends and reads them).
//!
//! Types only: no HTTP, no I/O. Request types reject unknown fields, so a typo in a
//! field name is an error instead of a silently ignored setting. Times are RFC 3339
//! strings in UTC with millisecond precision.
//!
//! Start at [`keys`], then [`verify`], [`audit`] and [`problem`].

pub mod audit;
pub mod certificates;
pub mod clients;
pub mod keys;
pub mod page;
pub mod problem;
pub mod signing_keys;
pub mod timestamp;
pub mod users;
pub mod verify;

pub use page::Page;
pub use problem::Problem;
