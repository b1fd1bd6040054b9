//! Cursor pagination.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a list. Pass `next_cursor` as `cursor` to get the next page; it is
/// absent on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// Largest page size.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when none is given.
pub const DEFAULT_LIMIT: u32 = 100;
