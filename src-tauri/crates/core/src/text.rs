//! Text from outside Signet — an identity provider's `error_description`, a catalog's or a kubeconfig's
//! names, a claim — made safe to show on a terminal, in a log line or in a desktop notification
//! (DESIGN.md §6: "text from an IdP or a catalog is stripped of control characters before it reaches a
//! terminal or a notification").
//!
//! A control character in such text can move the cursor, clear the screen, retitle the terminal or forge
//! a line that looks like Signet's own (`\r`), and Unicode bidirectional overrides can make a name read
//! backwards. This module escapes them (`\u{1b}`), so the person still sees that something odd was there.
//! It must not change ordinary text, and it does not deal with markup: the notification module escapes
//! that for the notification server.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a notification as it is: C0 and C1 controls, DEL, and the
/// Unicode characters that reorder or hide text (bidirectional overrides and isolates, zero-width
/// marks, line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with every [unsafe](is_unsafe) character written as a Rust-style escape (`\u{1b}`); borrowed
/// when there is nothing to escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`printable`], but keeps line breaks and tabs (for multi-line text such as a notification body);
/// a lone `\r` is still escaped, since it rewrites the line it ends.
pub fn printable_multiline(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in ["alice@example.com", "prod-eu", "Grüße, 世界", "a b\tc"] {
            let shown = printable_multiline(text);
            assert!(matches!(shown, Cow::Borrowed(_)), "{text:?} was copied");
            assert_eq!(shown, text);
        }
        assert!(matches!(printable("prod"), Cow::Borrowed("prod")));
    }

    #[test]
    fn controls_and_reordering_characters_are_escaped_visibly() {
        assert_eq!(
            printable("bad\u{1b}]0;pwned\u{7}\r\nok"),
            "bad\\u{1b}]0;pwned\\u{7}\\u{d}\\u{a}ok"
        );
        assert_eq!(printable("admin\u{202e}gpj.exe"), "admin\\u{202e}gpj.exe");
        assert_eq!(
            printable("\u{85}\u{9b}2J"),
            "\\u{85}\\u{9b}2J",
            "C1 controls"
        );
        assert_eq!(printable("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(
            printable_multiline("line one\nline\rtwo\u{1b}"),
            "line one\nline\\u{d}two\\u{1b}"
        );
    }
}
