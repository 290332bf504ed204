//! `-w FIELD OP VALUE`: one condition of `hs list` / `hs update`.
//!
//! Two-character operators are matched before one-character ones, so `>=` and `<=` mean what
//! they say (HyperShell 2.8.2 read `exit_status >= 0` as `> "= 0"`: D3). Whitespace around the
//! operator is optional. The value is typed by the column (see `coerce`); for `~` it is a
//! regular expression, taken literally apart from one pair of surrounding quotes.

use chrono::{DateTime, Utc};
use hs_broker::store::{Condition, Field, Op, Value};

use super::QueryError;
use super::coerce::{coerce, unquote};
use super::pattern::check_pattern;

const CONTEXT: &str = "where clause";

/// Operators, longest first (D3).
const OPERATORS: [(&str, Op); 7] = [
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("<", Op::Lt),
    (">", Op::Gt),
    ("~", Op::Regex),
];

/// A clause split into its parts; `name` is not yet checked against the columns.
pub(crate) struct Parts<'a> {
    pub name: &'a str,
    pub op: Op,
    pub op_text: &'static str,
    /// Everything after the operator and the whitespace that follows it.
    pub value: &'a str,
}

/// Split `FIELD OP VALUE`. `Err` carries the mistaken operator text and what to use instead,
/// or nothing when the text is not a clause at all.
pub(crate) fn split(text: &str) -> Result<Parts<'_>, Option<(String, &'static str)>> {
    let text = text.trim_start();
    let name_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if name_len == 0 {
        return Err(None);
    }
    let (name, rest) = text.split_at(name_len);
    let rest = rest.trim_start();
    if let Some((op_text, op)) = OPERATORS.iter().find(|(t, _)| rest.starts_with(t)) {
        if *op == Op::Lt && rest.starts_with("<>") {
            return Err(Some(("<>".into(), "!=")));
        }
        return Ok(Parts {
            name,
            op: *op,
            op_text,
            value: rest[op_text.len()..].trim_start(),
        });
    }
    for (wrong, right) in [("=>", ">="), ("=<", "<="), ("=", "==")] {
        if rest.starts_with(wrong) {
            return Err(Some((wrong.into(), right)));
        }
    }
    Err(None)
}

/// Parse one `-w` clause; relative times (`-1h`) count back from the current time.
pub fn parse_where(text: &str) -> Result<Condition, QueryError> {
    parse_where_at(text, Utc::now())
}

/// [`parse_where`] with an explicit "now" for relative times.
pub fn parse_where_at(text: &str, now: DateTime<Utc>) -> Result<Condition, QueryError> {
    let clause = || text.to_string();
    let parts = split(text).map_err(|e| match e {
        Some((op, suggest)) => QueryError::BadOperator {
            clause: clause(),
            op,
            suggest,
        },
        None => QueryError::NotAClause { clause: clause() },
    })?;
    let field = Field::parse(parts.name).ok_or_else(|| QueryError::UnknownField {
        context: CONTEXT,
        text: clause(),
        name: parts.name.to_string(),
    })?;
    if field == Field::Tag {
        return Err(QueryError::TagColumn { clause: clause() });
    }
    let raw = parts.value.trim_end();
    if raw.is_empty() {
        return Err(QueryError::MissingValue {
            context: CONTEXT,
            text: clause(),
            after: parts.op_text.to_string(),
        });
    }
    let value = if parts.op == Op::Regex {
        let (pattern, _) = unquote(raw);
        // The structural check words the commonest mistakes best; the stores' own check
        // catches the rest (a reversed range, a bad repetition count) before a store is opened.
        let problem = check_pattern(pattern)
            .err()
            .or_else(|| hs_broker::store::regex_problem(pattern));
        if let Some(reason) = problem {
            return Err(QueryError::BadPattern {
                clause: clause(),
                reason,
            });
        }
        Value::Text(pattern.to_string())
    } else {
        coerce(field, raw, now).map_err(|e| QueryError::BadValue {
            context: CONTEXT,
            text: clause(),
            field: field.name(),
            expected: e.expected,
            value: raw.to_string(),
        })?
    };
    if value == Value::Null && !matches!(parts.op, Op::Eq | Op::Ne) {
        return Err(QueryError::NullOrdering { clause: clause() });
    }
    Ok(Condition {
        field,
        op: parts.op,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn cond(field: Field, op: Op, value: Value) -> Condition {
        Condition { field, op, value }
    }

    fn ok(text: &str) -> Condition {
        parse_where_at(text, now()).unwrap()
    }

    fn err(text: &str) -> String {
        parse_where_at(text, now()).unwrap_err().to_string()
    }

    #[test]
    fn two_character_operators_win_d3() {
        assert_eq!(
            ok("exit_status >= 0"),
            cond(Field::ExitStatus, Op::Ge, Value::Int(0))
        );
        assert_eq!(
            ok("exit_status <= -2"),
            cond(Field::ExitStatus, Op::Le, Value::Int(-2))
        );
        assert_eq!(
            ok("exit_status>=0"),
            cond(Field::ExitStatus, Op::Ge, Value::Int(0))
        );
        assert_eq!(
            ok("exit_status<=-2"),
            cond(Field::ExitStatus, Op::Le, Value::Int(-2))
        );
        assert_eq!(
            ok("exit_status < -2"),
            cond(Field::ExitStatus, Op::Lt, Value::Int(-2))
        );
        assert_eq!(
            ok("exit_status > 0"),
            cond(Field::ExitStatus, Op::Gt, Value::Int(0))
        );
        assert_eq!(
            ok("exit_status == 0"),
            cond(Field::ExitStatus, Op::Eq, Value::Int(0))
        );
        assert_eq!(
            ok("exit_status != 0"),
            cond(Field::ExitStatus, Op::Ne, Value::Int(0))
        );
        assert_eq!(
            ok("  attempt>1  "),
            cond(Field::Attempt, Op::Gt, Value::Int(1))
        );
    }

    #[test]
    fn null_handling() {
        assert_eq!(
            ok("exit_status == null"),
            cond(Field::ExitStatus, Op::Eq, Value::Null)
        );
        assert_eq!(
            ok("exit_status != None"),
            cond(Field::ExitStatus, Op::Ne, Value::Null)
        );
        assert_eq!(
            ok("client_host==NULL"),
            cond(Field::ClientHost, Op::Eq, Value::Null)
        );
        assert_eq!(
            ok("args == 'null'"),
            cond(Field::Args, Op::Eq, Value::Text("null".into()))
        );
        assert_eq!(
            err("exit_status < null"),
            r#"where clause "exit_status < null": null means "missing" and only works with == or !="#
        );
        assert_eq!(
            err("start_time >= none"),
            r#"where clause "start_time >= none": null means "missing" and only works with == or !="#
        );
    }

    #[test]
    fn text_values_are_literal_with_quotes_stripped_once() {
        assert_eq!(
            ok("args == 001"),
            cond(Field::Args, Op::Eq, Value::Text("001".into()))
        );
        assert_eq!(
            ok("args == 'echo a == b'"),
            cond(Field::Args, Op::Eq, Value::Text("echo a == b".into()))
        );
        assert_eq!(
            ok(r#"command == "echo 'x'""#),
            cond(Field::Command, Op::Eq, Value::Text("echo 'x'".into()))
        );
        assert_eq!(
            ok("args == ''"),
            cond(Field::Args, Op::Eq, Value::Text(String::new()))
        );
        assert_eq!(
            ok("args >= m"),
            cond(Field::Args, Op::Ge, Value::Text("m".into()))
        );
    }

    #[test]
    fn typed_values() {
        assert_eq!(
            ok("retried == true"),
            cond(Field::Retried, Op::Eq, Value::Bool(true))
        );
        assert_eq!(
            ok("cores_max > 1.5"),
            cond(Field::CoresMax, Op::Gt, Value::Float(1.5))
        );
        assert_eq!(
            ok("memory >= 2GB"),
            cond(Field::Memory, Op::Ge, Value::Int(2 << 30))
        );
        assert_eq!(
            ok("submit_time > -1h"),
            cond(
                Field::SubmitTime,
                Op::Gt,
                Value::Time(Utc.with_ymd_and_hms(2024, 5, 1, 11, 0, 0).unwrap())
            )
        );
        let id = uuid::Uuid::parse_str("0190a8e0-0000-7000-8000-000000000001").unwrap();
        assert_eq!(
            ok("previous_id == 0190a8e0-0000-7000-8000-000000000001"),
            cond(Field::PreviousId, Op::Eq, Value::Uuid(id))
        );
    }

    #[test]
    fn regex_values() {
        assert_eq!(
            ok("args ~ ^echo [0-9]+$"),
            cond(Field::Args, Op::Regex, Value::Text("^echo [0-9]+$".into()))
        );
        assert_eq!(
            ok("exit_status ~ '^-'"),
            cond(Field::ExitStatus, Op::Regex, Value::Text("^-".into()))
        );
        assert_eq!(
            ok("args ~ null"),
            cond(Field::Args, Op::Regex, Value::Text("null".into()))
        );
        assert_eq!(
            err("args ~ (a"),
            r#"where clause "args ~ (a": invalid regular expression (a "(" is never closed)"#
        );
        // Well formed, yet refused by the stores' regex engine: a usage error here too, on one
        // line, rather than a database error once the query runs.
        for (pattern, reason) in [
            (
                "[z-a]",
                "invalid character class range, the start must be <= the end",
            ),
            (
                "a{3,1}",
                "invalid repetition count range, the start must be <= the end",
            ),
        ] {
            let clause = format!("args ~ {pattern}");
            assert_eq!(
                err(&clause),
                format!("where clause {clause:?}: invalid regular expression ({reason})")
            );
        }
    }

    #[test]
    fn error_messages() {
        let cases = [
            (
                "exit_status",
                r#"where clause "exit_status" is not FIELD OP VALUE (e.g. "exit_status != 0"; OP is one of == != < <= > >= ~)"#,
            ),
            (
                "== 0",
                r#"where clause "== 0" is not FIELD OP VALUE (e.g. "exit_status != 0"; OP is one of == != < <= > >= ~)"#,
            ),
            (
                "",
                r#"where clause "" is not FIELD OP VALUE (e.g. "exit_status != 0"; OP is one of == != < <= > >= ~)"#,
            ),
            (
                "exit_status = 0",
                r#"where clause "exit_status = 0": "=" is not an operator, use "==" (OP is one of == != < <= > >= ~)"#,
            ),
            (
                "exit_status => 0",
                r#"where clause "exit_status => 0": "=>" is not an operator, use ">=" (OP is one of == != < <= > >= ~)"#,
            ),
            (
                "exit_status =< 0",
                r#"where clause "exit_status =< 0": "=<" is not an operator, use "<=" (OP is one of == != < <= > >= ~)"#,
            ),
            (
                "exit_status <> 0",
                r#"where clause "exit_status <> 0": "<>" is not an operator, use "!=" (OP is one of == != < <= > >= ~)"#,
            ),
            (
                "exit_code == 0",
                r#"where clause "exit_code == 0": unknown field "exit_code" (see `hs list --fields`)"#,
            ),
            (
                "Exit_Status == 0",
                r#"where clause "Exit_Status == 0": unknown field "Exit_Status" (see `hs list --fields`)"#,
            ),
            (
                "exit_status ==  ",
                r#"where clause "exit_status ==  ": missing a value after "==" (write null for a missing value, '' for empty text)"#,
            ),
            (
                "exit_status == abc",
                r#"where clause "exit_status == abc": exit_status takes an integer (or null), not "abc""#,
            ),
            (
                "exit_status === 0",
                r#"where clause "exit_status === 0": exit_status takes an integer (or null), not "= 0""#,
            ),
            (
                "retried == maybe",
                r#"where clause "retried == maybe": retried takes true or false (or 1/0), not "maybe""#,
            ),
            (
                "cores_max < x",
                r#"where clause "cores_max < x": cores_max takes a number (or null), not "x""#,
            ),
            (
                "client_id == 12",
                r#"where clause "client_id == 12": client_id takes a UUID (or null), not "12""#,
            ),
            (
                "submit_time > yesterday",
                r#"where clause "submit_time > yesterday": submit_time takes a time: RFC 3339, YYYY-MM-DD[ HH:MM[:SS]] (UTC), now, or -N followed by s/m/h/d/w for that long ago (or null), not "yesterday""#,
            ),
            (
                "memory > 10x",
                r#"where clause "memory > 10x": memory takes an integer number of bytes or a size like 512M (or null), not "10x""#,
            ),
            (
                "tag == a",
                r#"where clause "tag == a": tags are not searched with -w, use -t/--with-tag KEY or KEY:VALUE"#,
            ),
        ];
        for (text, message) in cases {
            assert_eq!(err(text), message, "{text}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "é == x",
            "args == é",
            "args ~ 'é",
            "x\u{0}==",
            "args==\"",
            "a~",
        ] {
            let _ = parse_where_at(text, now());
        }
    }
}
