//! [`SharedStr`]: a cheaply cloned piece of a shared string.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// A range of an `Arc<str>`: cloning it bumps a reference count, and several pieces of
/// one allocation (a key's id and subject, say) share it.
#[derive(Clone)]
pub struct SharedStr {
    text: Arc<str>,
    start: u32,
    end: u32,
}

impl SharedStr {
    /// The piece `range` of `text`, or `None` when the range is out of bounds, not on
    /// character boundaries or beyond 4 GiB.
    pub fn slice(text: &Arc<str>, range: Range<usize>) -> Option<Self> {
        text.get(range.clone())?;
        Some(Self {
            text: Arc::clone(text),
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
        })
    }

    /// The text itself.
    pub fn as_str(&self) -> &str {
        // In bounds and on boundaries: checked when made, and `text` never changes.
        self.text
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        Self::from(Arc::<str>::from(text))
    }
}

impl From<Arc<str>> for SharedStr {
    fn from(text: Arc<str>) -> Self {
        let end = u32::try_from(text.len()).unwrap_or(0);
        Self {
            text,
            start: 0,
            end,
        }
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_share_one_allocation() {
        let text: Arc<str> = Arc::from("key_1svc");
        let id = SharedStr::slice(&text, 0..5).unwrap();
        let subject = SharedStr::slice(&text, 5..8).unwrap();
        assert_eq!((id.as_str(), &*subject), ("key_1", "svc"));
        assert_eq!(Arc::strong_count(&text), 3);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let text: Arc<str> = Arc::from("é");
        assert!(SharedStr::slice(&text, 0..1).is_none());
        assert!(SharedStr::slice(&text, 0..3).is_none());
        assert_eq!(SharedStr::slice(&text, 0..2).unwrap().as_str(), "é");
    }

    #[test]
    fn a_whole_string_converts() {
        assert_eq!(SharedStr::from("abc").as_str(), "abc");
    }
}
