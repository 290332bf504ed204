//! The one error type of the template module, and the helpers that make its messages useful.
//!
//! Every message is a single line that names the offending pattern (as the user wrote it, shortened
//! if it is long) and its column, then says what to change. A task whose template fails ends with
//! `exit_status -2` and this message as its reason, so the message is all the user will see.

/// Why a template could not be parsed or expanded.
///
/// Columns are 1-based character offsets from the start of the template text (a template is one
/// line in practice; if it spans lines the count simply continues across them).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TemplateError {
    /// `{=` with no `=}` after it.
    #[error(
        "unterminated {{= … =}} starting at column {column}: close the expression with `=}}` \
         (to keep a literal `{{=` for the shell, put a space or quote between `{{` and `=`)"
    )]
    UnterminatedExpression { column: usize },

    /// `{%` with no `%}` after it.
    #[error(
        "unterminated {{% … %}} starting at column {column}: close the command with `%}}` \
         (to keep a literal `{{%` for the shell, e.g. printf '{{''%s}}', separate `{{` and `%` \
         with quotes)"
    )]
    UnterminatedCommand { column: usize },

    /// `{% %}` with nothing to run.
    #[error(
        "empty command in {pattern} at column {column}: write a shell command between `{{%` and `%}}`"
    )]
    EmptyCommand { pattern: String, column: usize },

    /// A `{[...]}` whose contents are not a Python index or slice.
    #[error(
        "invalid slice {pattern} at column {column}: {reason}; \
         write {{[i]}}, {{[start:stop]}} or {{[start:stop:step]}} with integers (each may be omitted)"
    )]
    InvalidSlice {
        pattern: String,
        column: usize,
        reason: String,
    },

    /// `{[i]}` where the args have too few fields.
    #[error(
        "{pattern} at column {column}: index {index} is out of range for args with {len} \
         whitespace-separated field(s) (valid: {valid}); use a slice such as {{[{index}:]}} to get \
         an empty result instead of an error"
    )]
    IndexOutOfRange {
        pattern: String,
        column: usize,
        index: i64,
        len: usize,
        valid: String,
    },

    /// A `{= =}` expression that does not parse.
    #[error("invalid expression {pattern} at column {column}: {message}")]
    ExpressionSyntax {
        pattern: String,
        column: usize,
        message: String,
    },

    /// A `{= =}` expression that parsed but failed for these args (division by zero, bad type…).
    #[error("expression {pattern} at column {column} failed for args {args}: {message}")]
    ExpressionEval {
        pattern: String,
        column: usize,
        args: String,
        message: String,
    },

    /// A `{% %}` command that could not be started at all.
    #[error("could not run command `{command}` from {{% %}} at column {column}: {reason}")]
    CommandSpawn {
        command: String,
        column: usize,
        reason: String,
    },

    /// A `{% %}` command that exited non-zero or was killed.
    #[error(
        "command `{command}` from {{% %}} at column {column} {}{}",
        describe_status(*.code),
        describe_stderr(.stderr)
    )]
    CommandFailed {
        command: String,
        column: usize,
        /// The exit status, or `-N` when the command was killed by signal N (HyperShell's
        /// convention for task exit statuses).
        code: i32,
        /// The first non-empty line of the command's stderr (may be empty).
        stderr: String,
    },

    /// A `{% %}` command that hs stopped: it outran the walltime or its output limit, or the
    /// task was cancelled while it ran.
    #[error("command `{command}` from {{% %}} at column {column} {reason}")]
    CommandStopped {
        command: String,
        column: usize,
        reason: String,
    },
}

fn describe_status(code: i32) -> String {
    if code < 0 {
        format!("was killed by signal {}", code.unsigned_abs())
    } else {
        format!("exited with status {code}")
    }
}

fn describe_stderr(stderr: &str) -> String {
    if stderr.is_empty() {
        String::from(" (no stderr output); make it exit 0 or fix its arguments")
    } else {
        format!(": {stderr}")
    }
}

/// Longest piece of user text (pattern, args, command) quoted verbatim in a message.
const MAX_QUOTED_CHARS: usize = 80;

/// Shortens user text for a message: keeps the first [`MAX_QUOTED_CHARS`] characters and marks
/// the cut with `…`, so a huge expression or args line cannot flood a log line. Control
/// characters are escaped as by [`one_line`].
pub(crate) fn abbreviate(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => one_line(text),
        Some((cut, _)) => format!("{}…", one_line(&text[..cut])),
    }
}

/// `text` with control characters written as escapes (`\n`): a template may span lines, and
/// a message that quotes it must still be one line.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// 1-based character column of byte offset `byte` in `text` (clamped to the text's length and
/// to a character boundary, so it never panics).
pub(crate) fn column_of(text: &str, byte: usize) -> usize {
    text.char_indices().take_while(|(i, _)| *i < byte).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviate_keeps_short_text_and_cuts_long_text() {
        assert_eq!(abbreviate("{= x =}"), "{= x =}");
        let long = "é".repeat(200);
        let short = abbreviate(&long);
        assert_eq!(short.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(abbreviate("{=\n1/0 =}"), "{=\\n1/0 =}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(column_of("abc", 0), 1);
        assert_eq!(column_of("abc", 2), 3);
        assert_eq!(column_of("éé{}", 4), 3);
        assert_eq!(column_of("ab", 99), 3);
    }

    #[test]
    fn command_failure_messages_name_status_and_stderr() {
        let failed = TemplateError::CommandFailed {
            command: "false".into(),
            column: 3,
            code: 1,
            stderr: String::new(),
        };
        assert_eq!(
            failed.to_string(),
            "command `false` from {% %} at column 3 exited with status 1 (no stderr output); \
             make it exit 0 or fix its arguments"
        );
        let killed = TemplateError::CommandFailed {
            command: "sleep 9".into(),
            column: 1,
            code: -9,
            stderr: "oops".into(),
        };
        assert_eq!(
            killed.to_string(),
            "command `sleep 9` from {% %} at column 1 was killed by signal 9: oops"
        );
    }
}
