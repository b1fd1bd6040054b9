//! RFC 9457 problem details, the body of every error response.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of problem responses.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An error response. `code` is stable and meant for programs; `detail` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank`: see `code`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary: the HTTP status phrase.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong, for a person. Never contains secrets or internals.
    pub detail: String,
    /// Stable machine-readable code, such as `invalid_credential` or
    /// `insufficient_scope`. The request's id is in the `X-Gatehouse-Request-Id` header.
    pub code: String,
}
