//! Turning the text of a `{= … =}` body into tokens.
//!
//! Every token records the template column where it starts, so syntax errors point at the exact
//! character in the user's `-t` string rather than at an offset inside the expression.

use super::value::Value;

/// A binary operator symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Plus,
    Minus,
    Star,
    Slash,
    DoubleSlash,
    Percent,
    DoubleStar,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Star => "*",
            Op::Slash => "/",
            Op::DoubleSlash => "//",
            Op::Percent => "%",
            Op::DoubleStar => "**",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A literal: integer, float or string.
    Literal(Value),
    /// An identifier or keyword (`x`, `len`, `and`, `True`, …).
    Name(String),
    Op(Op),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Dot,
    /// A single `=`: only valid to name an argument, `dt.timedelta(days=1)`.
    Assign,
    End,
}

impl Tok {
    /// How the token is quoted in "expected … but found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Literal(v) => format!("`{}`", v.repr()),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Op(op) => format!("`{}`", op.symbol()),
            Tok::LParen => String::from("`(`"),
            Tok::RParen => String::from("`)`"),
            Tok::LBracket => String::from("`[`"),
            Tok::RBracket => String::from("`]`"),
            Tok::Comma => String::from("`,`"),
            Tok::Colon => String::from("`:`"),
            Tok::Dot => String::from("`.`"),
            Tok::Assign => String::from(
                "`=` (use `==` to compare; a single `=` only names an argument, as in \
                 dt.timedelta(days=1))",
            ),
            Tok::End => String::from("the end of the expression"),
        }
    }
}

/// A token and the template column of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub column: usize,
}

/// Splits `body` into tokens, ending with [`Tok::End`]. `first_column` is the template column of
/// the body's first character.
pub fn tokenize(body: &str, first_column: usize) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let column = first_column + i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, len) = if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            number(&chars[i..], column)?
        } else if c == '\'' || c == '"' {
            string(&chars[i..], column)?
        } else if c.is_alphabetic() || c == '_' {
            let len = chars[i..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .count();
            (Tok::Name(chars[i..i + len].iter().collect()), len)
        } else {
            symbol(&chars[i..], column)?
        };
        tokens.push(Token { tok, column });
        i += len;
    }
    tokens.push(Token {
        tok: Tok::End,
        column: first_column + chars.len(),
    });
    Ok(tokens)
}

fn symbol(chars: &[char], column: usize) -> Result<(Tok, usize), String> {
    let next = chars.get(1).copied();
    let two = |op| Ok((Tok::Op(op), 2));
    let one = |tok| Ok((tok, 1));
    match (chars.first().copied().unwrap_or(' '), next) {
        ('*', Some('*')) => two(Op::DoubleStar),
        ('/', Some('/')) => two(Op::DoubleSlash),
        ('=', Some('=')) => two(Op::Eq),
        ('!', Some('=')) => two(Op::Ne),
        ('<', Some('=')) => two(Op::Le),
        ('>', Some('=')) => two(Op::Ge),
        ('+', _) => one(Tok::Op(Op::Plus)),
        ('-', _) => one(Tok::Op(Op::Minus)),
        ('*', _) => one(Tok::Op(Op::Star)),
        ('/', _) => one(Tok::Op(Op::Slash)),
        ('%', _) => one(Tok::Op(Op::Percent)),
        ('<', _) => one(Tok::Op(Op::Lt)),
        ('>', _) => one(Tok::Op(Op::Gt)),
        ('(', _) => one(Tok::LParen),
        (')', _) => one(Tok::RParen),
        ('[', _) => one(Tok::LBracket),
        (']', _) => one(Tok::RBracket),
        (',', _) => one(Tok::Comma),
        (':', _) => one(Tok::Colon),
        ('.', _) => one(Tok::Dot),
        ('=', _) => one(Tok::Assign),
        ('!', _) => Err(format!(
            "`!` at column {column} is not an operator: use `not` to negate or `!=` to compare"
        )),
        ('&', _) | ('|', _) => Err(format!(
            "`{}` at column {column} is not an operator: use `and` / `or`",
            chars.first().copied().unwrap_or(' ')
        )),
        (c, _) => Err(format!(
            "unexpected character `{c}` at column {column}; strings need quotes, e.g. 'text'"
        )),
    }
}

/// `12`, `1.5`, `.5`, `1.`, `1e5`, `2.5E-3`. A `.` followed by a letter is not part of the
/// number, so `1.x` lexes as `1`, `.`, `x`.
fn number(chars: &[char], column: usize) -> Result<(Tok, usize), String> {
    let digits = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut len = digits(0);
    let mut is_float = false;
    if chars.get(len) == Some(&'.') {
        let after = chars.get(len + 1);
        if !after.is_some_and(|c| c.is_alphabetic() || *c == '_') {
            is_float = true;
            len += 1 + digits(len + 1);
        }
    }
    if matches!(chars.get(len), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(len + 1), Some('+' | '-')));
        let exp_digits = digits(len + 1 + sign);
        if exp_digits > 0 {
            is_float = true;
            len += 1 + sign + exp_digits;
        }
    }
    let text: String = chars[..len].iter().collect();
    let tok = if is_float {
        let f = text
            .parse::<f64>()
            .map_err(|_| format!("invalid number `{text}` at column {column}"))?;
        Tok::Literal(Value::Float(f))
    } else {
        let i = text
            .parse::<num_bigint::BigInt>()
            .map_err(|_| format!("invalid number `{text}` at column {column}"))?;
        Tok::Literal(Value::from_big(i))
    };
    Ok((tok, len))
}

/// A quoted string with Python's common escapes (`\\ \' \" \n \t \r \0`); any other backslash
/// is kept as it is, like Python does for unknown escapes.
fn string(chars: &[char], column: usize) -> Result<(Tok, usize), String> {
    let quote = chars.first().copied().unwrap_or('\'');
    let mut out = String::new();
    let mut i = 1;
    while let Some(&c) = chars.get(i) {
        if c == quote {
            return Ok((Tok::Literal(Value::Str(out)), i + 1));
        }
        if c == '\\' {
            match chars.get(i + 1) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some(&e @ ('\\' | '\'' | '"')) => out.push(e),
                Some(&other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            }
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    Err(format!(
        "unterminated string starting at column {column}: close it with {quote}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text, 1)
            .expect("lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn int(i: i64) -> Tok {
        Tok::Literal(Value::Int(i))
    }

    fn float(f: f64) -> Tok {
        Tok::Literal(Value::Float(f))
    }

    #[test]
    fn lexes_numbers() {
        assert_eq!(toks("12"), [int(12), Tok::End]);
        assert_eq!(
            toks("1.5 .5 1. 1e3 2.5E-3"),
            [
                float(1.5),
                float(0.5),
                float(1.0),
                float(1000.0),
                float(0.0025),
                Tok::End
            ]
        );
        assert_eq!(
            toks("1.x"),
            [int(1), Tok::Dot, Tok::Name("x".into()), Tok::End]
        );
        assert_eq!(toks("2e"), [int(2), Tok::Name("e".into()), Tok::End]);
    }

    #[test]
    fn lexes_operators_and_punctuation() {
        use Op::*;
        assert_eq!(
            toks("+-***///%==!=<<=>>=()[],:."),
            [
                Tok::Op(Plus),
                Tok::Op(Minus),
                Tok::Op(DoubleStar),
                Tok::Op(Star),
                Tok::Op(DoubleSlash),
                Tok::Op(Slash),
                Tok::Op(Percent),
                Tok::Op(Eq),
                Tok::Op(Ne),
                Tok::Op(Lt),
                Tok::Op(Le),
                Tok::Op(Gt),
                Tok::Op(Ge),
                Tok::LParen,
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Comma,
                Tok::Colon,
                Tok::Dot,
                Tok::End
            ]
        );
    }

    #[test]
    fn lexes_strings_with_escapes() {
        let s = |v: &str| Tok::Literal(Value::Str(v.into()));
        assert_eq!(
            toks(r#"'a' "b" 'it\'s' "\n\t\\" '\d' "}""#),
            [
                s("a"),
                s("b"),
                s("it's"),
                s("\n\t\\"),
                s("\\d"),
                s("}"),
                Tok::End
            ]
        );
    }

    #[test]
    fn lexes_unicode_names_and_tracks_columns() {
        let tokens = tokenize("  é_1 + x", 10).expect("lexes");
        assert_eq!(tokens[0].tok, Tok::Name("é_1".into()));
        assert_eq!(tokens[0].column, 12);
        assert_eq!(tokens[1].column, 16);
        assert_eq!(tokens[2].column, 18);
        assert_eq!(tokens[3].column, 19);
    }

    #[test]
    fn reports_lexical_errors_helpfully() {
        assert_eq!(
            tokenize("'abc", 1),
            Err("unterminated string starting at column 1: close it with '".into())
        );
        assert!(tokenize("!x", 1).expect_err("error").contains("use `not`"));
        assert!(tokenize("a && b", 1).expect_err("error").contains("`and`"));
        assert!(
            tokenize("$x", 1)
                .expect_err("error")
                .contains("unexpected character `$`")
        );
        assert_eq!(
            tokenize("99999999999999999999", 1).map(|t| t[0].tok.clone()),
            Ok(Tok::Literal(Value::Big(
                "99999999999999999999".parse().expect("big")
            )))
        );
    }
}
