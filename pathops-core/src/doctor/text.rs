//! Text from tools, made safe to print on a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that could drive a terminal shown escaped as `\u{…}`: C0
/// controls (ESC, BEL, CR, LF, TAB, …), DEL, C1 controls (CSI, OSC, …) and the Unicode
/// bidirectional controls that reorder what is displayed. Everything else is kept as is.
///
/// Messages the doctor reports come in part from the tools (an error body, a hook's last
/// response); a tool can put an ANSI or OSC sequence there that would recolour, retitle or
/// rewrite the operator's terminal. Renderers print report text through this function.
///
/// ```
/// use pathops_core::doctor::terminal_safe;
///
/// assert_eq!(terminal_safe("plain"), "plain");
/// assert_eq!(terminal_safe("\u{1b}]0;pwned\u{7}bad"), "\\u{1b}]0;pwned\\u{7}bad");
/// ```
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_is_escaped_and_nothing_else() {
        for c in (0u32..0x20)
            .chain([0x7f])
            .chain(0x80..0xa0)
            .filter_map(char::from_u32)
        {
            let shown = terminal_safe(&format!("a{c}b")).into_owned();
            assert_eq!(shown, format!("a\\u{{{:x}}}b", u32::from(c)));
        }
        assert_eq!(terminal_safe("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        for kept in ["ü ß 東京 — ✓", "tab-free text", "%{http_code}"] {
            assert!(matches!(terminal_safe(kept), Cow::Borrowed(_)), "{kept}");
        }
    }
}
