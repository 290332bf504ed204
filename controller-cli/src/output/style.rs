//! ANSI colour, applied only when the caller says the output is a colour terminal.

pub(crate) const BOLD: &str = "1";
pub(crate) const KEY: &str = "1;34";
pub(crate) const STRING: &str = "32";
pub(crate) const NUMBER: &str = "36";
pub(crate) const LITERAL: &str = "35";

/// `text` wrapped in the SGR `code` when `on`, else unchanged.
pub(crate) fn paint(text: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
