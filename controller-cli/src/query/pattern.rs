//! A structural check of `~` patterns, so the commonest mistakes are reported before the query
//! reaches a database (whose own message would be dialect-specific and far from the clause).
//!
//! Deliberately minimal: the pattern runs on PostgreSQL (POSIX ARE) or SQLite (the broker's
//! regex function), which differ in details, so only what is broken in both is rejected:
//! unbalanced parentheses, an unclosed `[...]`, a trailing lone backslash, and a repetition
//! (`*`, `+`, `?`) with nothing before it. Anything else is left for the backend to judge.

/// `Err(reason)` when `pattern` cannot be a valid regular expression.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    let mut depth: usize = 0;
    // Whether a repetition here would have something to repeat.
    let mut operand = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if chars.next().is_none() {
                    return Err("it ends with a lone backslash".into());
                }
                operand = true;
            }
            '[' => {
                skip_class(&mut chars)?;
                operand = true;
            }
            '(' => {
                depth += 1;
                // `(?:`, `(?i)`…: the `?` is group syntax, not a repetition.
                if chars.peek() == Some(&'?') {
                    chars.next();
                }
                operand = false;
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "a \")\" has no matching \"(\"".to_string())?;
                operand = true;
            }
            '|' => operand = false,
            '*' | '+' | '?' if !operand => {
                return Err(format!("{c:?} has nothing before it to repeat"));
            }
            '*' | '+' | '?' => {
                // A lazy or possessive suffix (`*?`, `++`) is not a second repetition.
                if matches!(chars.peek(), Some('?') | Some('+')) {
                    chars.next();
                }
            }
            _ => operand = true,
        }
    }
    if depth > 0 {
        return Err("a \"(\" is never closed".into());
    }
    Ok(())
}

/// Consume a bracket expression after its `[`, up to and including the closing `]`.
fn skip_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<(), String> {
    let unclosed = || "a \"[\" is never closed".to_string();
    if chars.peek() == Some(&'^') {
        chars.next();
    }
    // A `]` first in the class is a literal.
    if chars.peek() == Some(&']') {
        chars.next();
    }
    while let Some(c) = chars.next() {
        match c {
            ']' => return Ok(()),
            '\\' => {
                chars.next().ok_or_else(unclosed)?;
            }
            // `[:alpha:]`, `[.x.]`, `[=x=]` inside a class end at their own `:]`.
            '[' if matches!(chars.peek(), Some(':') | Some('.') | Some('=')) => {
                let Some(delim) = chars.next() else {
                    return Err(unclosed());
                };
                let mut prev = None;
                loop {
                    let c = chars.next().ok_or_else(unclosed)?;
                    if c == ']' && prev == Some(delim) {
                        break;
                    }
                    prev = Some(c);
                }
            }
            _ => {}
        }
    }
    Err(unclosed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_patterns() {
        for p in [
            "",
            "^echo",
            "a.*b$",
            "(a|b)+",
            "(?i)hello",
            "(?:x)?",
            "[]a]",
            "[^]a]+",
            "[[:alpha:]]+",
            "[a-z\\]]",
            "\\(",
            "\\\\",
            "x*?",
            "a{2,3}",
        ] {
            assert_eq!(check_pattern(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_broken_patterns() {
        let cases = [
            ("(a", "a \"(\" is never closed"),
            ("a)", "a \")\" has no matching \"(\""),
            ("[a-z", "a \"[\" is never closed"),
            ("[[:alpha:", "a \"[\" is never closed"),
            ("a\\", "it ends with a lone backslash"),
            ("*a", "'*' has nothing before it to repeat"),
            ("a|+b", "'+' has nothing before it to repeat"),
            ("(?", "a \"(\" is never closed"),
            ("(*)", "'*' has nothing before it to repeat"),
        ];
        for (p, reason) in cases {
            assert_eq!(check_pattern(p), Err(reason.to_string()), "{p}");
        }
    }
}
