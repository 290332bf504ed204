//! `hs update ARG…`: each ARG is `FIELD=VALUE` (a column) or `KEY:VALUE` (a tag), whichever
//! separator comes first, so `command=echo a:b` sets a column and `k:a=b` is a (rejected) tag.
//!
//! Guard rails, each with its own message: an ARG that reads as a where-clause
//! (`exit_status==1`) is refused rather than turned into a change; `id` never changes; `tag`
//! is changed with `KEY:VALUE`, not `tag=…`; NOT NULL columns cannot be set to null. Values
//! are typed like where-clause values (see `coerce`).

use chrono::{DateTime, Utc};
use hs_broker::store::{Change, Field, Value};

use super::QueryError;
use super::coerce::coerce;
use super::tag::parse_tag;
use super::where_clause::split;

const CONTEXT: &str = "update argument";

/// One `hs update` argument; relative times (`-1h`) count back from the current time.
pub fn parse_change(arg: &str) -> Result<Change, QueryError> {
    parse_change_at(arg, Utc::now())
}

/// [`parse_change`] with an explicit "now" for relative times.
pub fn parse_change_at(arg: &str, now: DateTime<Utc>) -> Result<Change, QueryError> {
    if looks_like_clause(arg) {
        return Err(QueryError::ClauseAsChange {
            arg: arg.to_string(),
        });
    }
    match arg.find(['=', ':']) {
        Some(i) if arg[i..].starts_with('=') => set_field(arg, &arg[..i], &arg[i + 1..], now),
        Some(_) => {
            let (key, value) = parse_tag(arg)?;
            Ok(Change::SetTag(key, value))
        }
        None => Err(QueryError::NotAChange {
            arg: arg.to_string(),
        }),
    }
}

/// The legacy form `hs update ID FIELD VALUE`: `tag` takes `KEY[:VALUE]`, other fields a value.
pub fn parse_legacy_change(field: &str, value: &str) -> Result<Change, QueryError> {
    if field.trim() == Field::Tag.name() {
        let (key, value) = parse_tag(value)?;
        return Ok(Change::SetTag(key, value));
    }
    set_field(&format!("{field} {value}"), field, value, Utc::now())
}

/// A where-clause shape: `NAME OP …` with a real operator right after the name. `name=value`
/// is not one (`=` is not an operator), and neither is a tag such as `k:x>y` or a value that
/// merely contains `==` further on (`args=a==b`).
fn looks_like_clause(arg: &str) -> bool {
    split(arg).is_ok()
}

fn set_field(arg: &str, name: &str, raw: &str, now: DateTime<Utc>) -> Result<Change, QueryError> {
    let name = name.trim();
    let text = || arg.to_string();
    if name == Field::Id.name() {
        return Err(QueryError::ImmutableId { arg: text() });
    }
    if name == Field::Tag.name() {
        return Err(QueryError::TagAsField { arg: text() });
    }
    let field = Field::parse(name).ok_or_else(|| QueryError::UnknownField {
        context: CONTEXT,
        text: text(),
        name: name.to_string(),
    })?;
    let value = coerce(field, raw, now).map_err(|e| QueryError::BadValue {
        context: CONTEXT,
        text: text(),
        field: field.name(),
        expected: e.expected,
        value: raw.trim().to_string(),
    })?;
    if value == Value::Null && !field.nullable() {
        return Err(QueryError::NotNullable {
            arg: text(),
            field: field.name(),
        });
    }
    Ok(Change::Set(field, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn ok(arg: &str) -> Change {
        parse_change_at(arg, now()).unwrap()
    }

    fn err(arg: &str) -> String {
        parse_change_at(arg, now()).unwrap_err().to_string()
    }

    #[test]
    fn field_changes_are_typed() {
        assert_eq!(ok("group=2"), Change::Set(Field::Group, Value::Int(2)));
        assert_eq!(
            ok("exit_status=-1"),
            Change::Set(Field::ExitStatus, Value::Int(-1))
        );
        assert_eq!(
            ok("exit_status=null"),
            Change::Set(Field::ExitStatus, Value::Null)
        );
        assert_eq!(
            ok("memory=8G"),
            Change::Set(Field::Memory, Value::Int(8 << 30))
        );
        assert_eq!(
            ok("retried=false"),
            Change::Set(Field::Retried, Value::Bool(false))
        );
        assert_eq!(
            ok("args=echo a=b:c"),
            Change::Set(Field::Args, Value::Text("echo a=b:c".into()))
        );
        assert_eq!(
            ok("args=a==b"),
            Change::Set(Field::Args, Value::Text("a==b".into()))
        );
        assert_eq!(
            ok("command='null'"),
            Change::Set(Field::Command, Value::Text("null".into()))
        );
        assert_eq!(
            ok("schedule_time=-2d"),
            Change::Set(
                Field::ScheduleTime,
                Value::Time(Utc.with_ymd_and_hms(2024, 4, 29, 12, 0, 0).unwrap())
            )
        );
    }

    #[test]
    fn tag_changes() {
        assert_eq!(ok("site:a"), Change::SetTag("site".into(), json!("a")));
        assert_eq!(ok("n:3"), Change::SetTag("n".into(), json!(3)));
        assert_eq!(ok("flag:"), Change::SetTag("flag".into(), json!("")));
        assert_eq!(
            err("k:a=b"),
            r#"tag "k:a=b": the value contains '=': only letters, digits and _ . + - are allowed"#
        );
    }

    #[test]
    fn legacy_form() {
        assert_eq!(
            parse_legacy_change("exit_status", "0").unwrap(),
            Change::Set(Field::ExitStatus, Value::Int(0))
        );
        assert_eq!(
            parse_legacy_change("tag", "site:a").unwrap(),
            Change::SetTag("site".into(), json!("a"))
        );
        assert_eq!(
            parse_legacy_change("id", "x").unwrap_err().to_string(),
            r#"update argument "id x": a task's id cannot be changed"#
        );
    }

    #[test]
    fn error_messages() {
        let cases = [
            (
                "exit_status==1",
                r#"update argument "exit_status==1" looks like a where clause: filter with -w/--where (changes are FIELD=VALUE or KEY:VALUE)"#,
            ),
            (
                "exit_status >= 0",
                r#"update argument "exit_status >= 0" looks like a where clause: filter with -w/--where (changes are FIELD=VALUE or KEY:VALUE)"#,
            ),
            (
                "args~x",
                r#"update argument "args~x" looks like a where clause: filter with -w/--where (changes are FIELD=VALUE or KEY:VALUE)"#,
            ),
            (
                "cancel",
                r#"update argument "cancel": expected FIELD=VALUE or TAGKEY:VALUE"#,
            ),
            (
                "id=0190a8e0-0000-7000-8000-000000000001",
                r#"update argument "id=0190a8e0-0000-7000-8000-000000000001": a task's id cannot be changed"#,
            ),
            (
                "tag={}",
                r#"update argument "tag={}": set tags with KEY:VALUE (remove them with --remove-tag KEY)"#,
            ),
            (
                "exit_code=1",
                r#"update argument "exit_code=1": unknown field "exit_code" (see `hs list --fields`)"#,
            ),
            (
                "group=x",
                r#"update argument "group=x": group takes an integer (or null), not "x""#,
            ),
            (
                "group=null",
                r#"update argument "group=null": group cannot be null"#,
            ),
            (
                "retried=none",
                r#"update argument "retried=none": retried cannot be null"#,
            ),
        ];
        for (arg, message) in cases {
            assert_eq!(err(arg), message, "{arg}");
        }
    }
}
