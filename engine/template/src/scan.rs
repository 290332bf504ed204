//! Finding the patterns in a template, and leaving every other brace alone.
//!
//! HyperShell scans with `\{(.*?)\}` and rejects any `{…}` that is not a pattern, which breaks
//! ordinary shell code (`${HOME}`, `awk '{print $1}'`, `{ a; b; }`). hs decides brace by brace:
//!
//! - `{=` starts an expression that runs to the first `=}` outside a quoted string;
//! - `{%` starts a shell command that runs to the first `%}`;
//! - any other `{` is a pattern only if the text up to the next `}` contains no `{` and, trimmed,
//!   is one of the simple patterns or starts with `[` and ends with `]` (a slice);
//! - everything else, including the `{` itself, is literal text, and scanning resumes right after
//!   that `{`, so nested braces in shell or awk code never hide a real pattern that follows.
//!
//! The scanner only classifies; validating slices, expressions and commands is the caller's job.

use super::error::{TemplateError, column_of};

/// One of the fixed patterns that need no further parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simple {
    /// `{}`: the args verbatim.
    Args,
    /// `{.}`: dirname.
    Dirname,
    /// `{..}`: dirname of dirname.
    Dirname2,
    /// `{/}`: basename.
    Basename,
    /// `{/-}`: basename without its last extension.
    Stem,
    /// `{-}`: path without its last extension.
    WithoutExt,
    /// `{+}`: last extension with its dot.
    ExtWithDot,
    /// `{++}`: last extension without its dot.
    ExtWithoutDot,
}

impl Simple {
    /// The pattern named by the trimmed text between the braces, if any.
    fn from_inner(inner: &str) -> Option<Simple> {
        Some(match inner {
            "" => Simple::Args,
            "." => Simple::Dirname,
            ".." => Simple::Dirname2,
            "/" => Simple::Basename,
            "/-" => Simple::Stem,
            "-" => Simple::WithoutExt,
            "+" => Simple::ExtWithDot,
            "++" => Simple::ExtWithoutDot,
            _ => return None,
        })
    }
}

/// What a pattern is, with its body still unparsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    Simple(Simple),
    /// The text between `[` and `]`.
    Slice(&'a str),
    /// The text between `{=` and `=}`.
    Expression(&'a str),
    /// The text between `{%` and `%}`.
    Command(&'a str),
}

/// A pattern found in the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    pub kind: Kind<'a>,
    /// The whole pattern as written, braces included (for error messages).
    pub text: &'a str,
    /// 1-based character column of its opening brace.
    pub column: usize,
}

/// A template cut into literal text and patterns, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Pattern(Found<'a>),
}

/// Cuts `text` into pieces. Adjacent literal text is returned as one piece. Fails only for an
/// unterminated `{=` or `{%`.
pub fn scan(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find('{') {
        let open = search_from + offset;
        let Some((kind, end)) = classify(text, open)? else {
            // Not a pattern: the `{` stays literal and anything after it is scanned afresh.
            search_from = open + 1;
            continue;
        };
        if literal_start < open {
            pieces.push(Piece::Literal(&text[literal_start..open]));
        }
        pieces.push(Piece::Pattern(Found {
            kind,
            text: &text[open..end],
            column: column_of(text, open),
        }));
        literal_start = end;
        search_from = end;
    }
    if literal_start < text.len() {
        pieces.push(Piece::Literal(&text[literal_start..]));
    }
    Ok(pieces)
}

/// Classifies the brace at byte `open`: `Some((kind, end))` for a pattern ending before byte
/// `end`, `None` for a literal brace.
fn classify(text: &str, open: usize) -> Result<Option<(Kind<'_>, usize)>, TemplateError> {
    let rest = &text[open + 1..];
    if let Some(body_and_more) = rest.strip_prefix('=') {
        let body_start = open + 2;
        let close =
            find_expression_end(body_and_more).ok_or(TemplateError::UnterminatedExpression {
                column: column_of(text, open),
            })?;
        let body = &text[body_start..body_start + close];
        return Ok(Some((Kind::Expression(body), body_start + close + 2)));
    }
    if let Some(body_and_more) = rest.strip_prefix('%') {
        let body_start = open + 2;
        let close = body_and_more
            .find("%}")
            .ok_or(TemplateError::UnterminatedCommand {
                column: column_of(text, open),
            })?;
        let body = &text[body_start..body_start + close];
        return Ok(Some((Kind::Command(body), body_start + close + 2)));
    }
    let Some(close) = rest.find(['{', '}']) else {
        return Ok(None);
    };
    if rest.as_bytes().get(close) != Some(&b'}') {
        return Ok(None);
    }
    let end = open + 1 + close + 1;
    let inner = rest[..close].trim();
    if let Some(simple) = Simple::from_inner(inner) {
        return Ok(Some((Kind::Simple(simple), end)));
    }
    if inner.len() >= 2 && inner.starts_with('[') && inner.ends_with(']') {
        return Ok(Some((Kind::Slice(&inner[1..inner.len() - 1]), end)));
    }
    Ok(None)
}

/// Byte offset of the `=}` that ends an expression body, skipping `=}` inside quoted strings so
/// that `{= x + '=}' =}` works. If a quote is never closed, falls back to the first `=}` at all,
/// so the expression parser can then report the unterminated string precisely.
fn find_expression_end(body: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if body[i..].starts_with("=}") {
                    return Some(i);
                }
            }
        }
    }
    body.find("=}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        scan(text)
            .expect("scans")
            .iter()
            .map(|piece| match piece {
                Piece::Literal(l) => format!("L({l})"),
                Piece::Pattern(f) => format!("P({}@{})", f.text, f.column),
            })
            .collect()
    }

    #[test]
    fn finds_every_simple_pattern() {
        assert_eq!(
            kinds("{}{ }{.}{..}{/}{/-}{-}{+}{++}{ / }"),
            [
                "P({}@1)",
                "P({ }@3)",
                "P({.}@6)",
                "P({..}@9)",
                "P({/}@13)",
                "P({/-}@16)",
                "P({-}@20)",
                "P({+}@23)",
                "P({++}@26)",
                "P({ / }@30)"
            ]
        );
        let simple = |t: &str| match scan(t).expect("scans").as_slice() {
            [
                Piece::Pattern(Found {
                    kind: Kind::Simple(s),
                    ..
                }),
            ] => Some(*s),
            _ => None,
        };
        assert_eq!(simple("{ / }"), Some(Simple::Basename));
        assert_eq!(simple("{\t++\n}"), Some(Simple::ExtWithoutDot));
    }

    #[test]
    fn keeps_shell_braces_literal() {
        assert_eq!(kinds("echo ${HOME} {}"), ["L(echo ${HOME} )", "P({}@14)"]);
        assert_eq!(
            kinds("awk '{print $1}' {}"),
            ["L(awk '{print $1}' )", "P({}@18)"]
        );
        assert_eq!(
            kinds("awk '{ if (x) {print} }' {}"),
            ["L(awk '{ if (x) {print} }' )", "P({}@26)"]
        );
        assert_eq!(kinds("{ a; b; }"), ["L({ a; b; })"]);
        assert_eq!(kinds("echo {1..3} {a,b}"), ["L(echo {1..3} {a,b})"]);
        assert_eq!(kinds("{{}}"), ["L({)", "P({}@2)", "L(})"]);
        assert_eq!(kinds("a { b"), ["L(a { b)"]);
        assert_eq!(kinds("} {"), ["L(} {)"]);
        assert_eq!(kinds("${arr[0]}"), ["L(${arr[0]})"]);
    }

    #[test]
    fn finds_slices_expressions_and_commands() {
        assert_eq!(
            scan("{[1:3]} {= x*2 =} {% echo @ %}").expect("scans"),
            [
                Piece::Pattern(Found {
                    kind: Kind::Slice("1:3"),
                    text: "{[1:3]}",
                    column: 1
                }),
                Piece::Literal(" "),
                Piece::Pattern(Found {
                    kind: Kind::Expression(" x*2 "),
                    text: "{= x*2 =}",
                    column: 9
                }),
                Piece::Literal(" "),
                Piece::Pattern(Found {
                    kind: Kind::Command(" echo @ "),
                    text: "{% echo @ %}",
                    column: 19
                }),
            ]
        );
        assert_eq!(kinds("{ [x] }"), ["P({ [x] }@1)"]);
        assert_eq!(
            kinds("{% awk '{print $1}' <<< @ %}"),
            ["P({% awk '{print $1}' <<< @ %}@1)"]
        );
        assert_eq!(kinds("{= x == 1 =}"), ["P({= x == 1 =}@1)"]);
    }

    #[test]
    fn expression_end_skips_quoted_terminators() {
        assert_eq!(kinds("{= x + '=}' =}!"), ["P({= x + '=}' =}@1)", "L(!)"]);
        assert_eq!(kinds(r#"{= "a\"=}" =}"#), [r#"P({= "a\"=}" =}@1)"#]);
        // An unclosed quote falls back to the first terminator.
        assert_eq!(kinds("{= 'abc =} z"), ["P({= 'abc =}@1)", "L( z)"]);
    }

    #[test]
    fn unterminated_expressions_and_commands_are_errors() {
        assert_eq!(
            scan("echo {= x"),
            Err(TemplateError::UnterminatedExpression { column: 6 })
        );
        assert_eq!(
            scan("{=}"),
            Err(TemplateError::UnterminatedExpression { column: 1 })
        );
        assert_eq!(
            scan("printf '{%s}' {}"),
            Err(TemplateError::UnterminatedCommand { column: 9 })
        );
    }

    #[test]
    fn text_without_braces_is_one_literal() {
        assert_eq!(kinds("echo hello"), ["L(echo hello)"]);
        assert!(kinds("").is_empty());
    }
}
