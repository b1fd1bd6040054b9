//! The rule for text people read: names, subjects and labels that end up in the
//! console, audit trail, CLI tables and `X-Gatehouse-*` headers.
//!
//! Such text must not carry characters that change how the text *around* it looks:
//! C0 and C1 controls (a newline forges a log line or a header), the line and
//! paragraph separators U+2028 and U+2029 (line breaks for JavaScript and many
//! viewers), and the Unicode bidirectional controls — U+202A–U+202E (embeddings and
//! overrides, the "Trojan Source" characters), U+2066–U+2069 (isolates),
//! U+200E/U+200F (marks) and U+061C (Arabic letter mark) — with which a name such as
//! `"admin\u{202E}txt.exe"` displays as something it is not. Everything else, any script, is allowed.

/// Why a text is not displayable as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a control, line-separator or bidirectional-control character (U+{0:04X}) is not allowed")]
pub struct DisplayTextError(pub u32);

/// Whether `c` may appear in display text.
pub fn is_allowed(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
        ))
}

/// `Ok` if every character of `text` is allowed; else the first one that is not.
pub fn check(text: &str) -> Result<(), DisplayTextError> {
    match text.chars().find(|&c| !is_allowed(c)) {
        Some(c) => Err(DisplayTextError(u32::from(c))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_separators_and_controls_are_refused() {
        for c in [
            '\u{202E}', '\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}',
            '\u{061C}', '\u{2028}', '\u{2029}', '\n', '\r', '\0', '\u{7F}', '\u{85}', '\u{9F}',
        ] {
            let text = format!("admin{c}txt");
            assert_eq!(check(&text), Err(DisplayTextError(u32::from(c))), "{c:?}");
        }
    }

    #[test]
    fn any_script_and_ordinary_punctuation_are_allowed() {
        for text in [
            "orders api",
            "Zoë's café",
            "חנות",
            "متجر",
            "注文",
            "a—b",
            "x\u{200D}y",
            "",
        ] {
            assert_eq!(check(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn the_error_names_the_character() {
        let e = check("a\u{202E}b").unwrap_err();
        assert!(e.to_string().contains("U+202E"), "{e}");
    }
}
