//! The checks targets share.

use std::fmt::{Debug, Display};

/// A message a user may see must be one line (and say something).
pub fn one_line(what: &str, message: &str) {
    assert!(!message.trim().is_empty(), "{what}: an empty error message");
    assert!(
        !message.contains(['\n', '\r']),
        "{what}: a message of more than one line: {message:?}"
    );
}

/// [`one_line`] of an error's text, returning the outcome label of its variant.
pub fn error<E: Display + Debug>(what: &str, e: &E) -> String {
    one_line(what, &e.to_string());
    variant(e)
}

/// The variant name of a value's `Debug` text (`Malformed("x", ..)` → `Malformed`).
pub fn variant<T: Debug>(value: &T) -> String {
    let text = format!("{value:?}");
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    text[..end].to_string()
}

/// The label of a result: `ok`, or `err:` and the error variant (after checking it is one line).
pub fn outcome<T, E: Display + Debug>(what: &str, r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("err:{}", error(what, e)),
    }
}
