//! Typing a value the user wrote for a column (`-w FIELD OP VALUE`, `hs update FIELD=VALUE`).
//!
//! Rules, per the column's [`FieldKind`]:
//! - `null` / `none` (any case) is [`Value::Null`] for every kind: "missing".
//! - One pair of matching surrounding quotes (`'…'` or `"…"`) is stripped, and a quoted value
//!   is taken literally: `args == 'null'` is the text `null`, `args == ' a '` keeps its spaces.
//!   HyperShell strips no quotes, but a shell user who quotes twice (`-w "args == 'x y'"`)
//!   means the inner text, and quoting is the only way to ask for the text `null`.
//! - Unquoted values have surrounding whitespace removed.
//! - Text: literal. Int: a decimal `i64` (`-2` too); `memory` also takes a size (`2G`).
//!   Float: a finite number. Bool: `true`/`false`/`1`/`0`. Uuid: any form `uuid` parses.
//!   Time: see [`parse_time`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use hs_broker::store::{Field, FieldKind, Value};
use hs_engine::task::MAX_SECONDS;

use super::size::parse_bytes;

/// The value did not fit the column; the message says what it takes instead.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub expected: &'static str,
}

/// What a column accepts, for error messages.
pub(crate) fn expected(field: Field) -> &'static str {
    match field.kind() {
        FieldKind::Int if field == Field::Memory => {
            "an integer number of bytes or a size like 512M (or null)"
        }
        FieldKind::Int if field == Field::Timeout => {
            "a whole number of seconds from 0 to 1000000000 (or null)"
        }
        FieldKind::Int => "an integer (or null)",
        FieldKind::Float => "a number (or null)",
        FieldKind::Bool => "true or false (or 1/0)",
        FieldKind::Text => "text (or null)",
        FieldKind::Uuid => "a UUID (or null)",
        FieldKind::Time => {
            "a time: RFC 3339, YYYY-MM-DD[ HH:MM[:SS]] (UTC), now, or -N followed by s/m/h/d/w for that long ago (or null)"
        }
        FieldKind::Json => "tags, which are set with KEY:VALUE and searched with -t KEY[:VALUE]",
    }
}

/// Remove one pair of matching surrounding quotes; the flag says whether there were any.
pub(crate) fn unquote(text: &str) -> (&str, bool) {
    for q in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(q) && text.ends_with(q) {
            return (&text[1..text.len() - 1], true);
        }
    }
    (text, false)
}

fn is_null_word(text: &str) -> bool {
    text.eq_ignore_ascii_case("null") || text.eq_ignore_ascii_case("none")
}

/// Type `raw` for `field` (see the module docs). `now` anchors relative times.
pub(crate) fn coerce(field: Field, raw: &str, now: DateTime<Utc>) -> Result<Value, Invalid> {
    let trimmed = raw.trim();
    let (text, quoted) = unquote(trimmed);
    if !quoted && is_null_word(text) {
        return Ok(Value::Null);
    }
    let invalid = Invalid {
        expected: expected(field),
    };
    let value = match field.kind() {
        FieldKind::Text => Some(Value::Text(text.to_string())),
        FieldKind::Int => text
            .parse::<i64>()
            .ok()
            .or_else(|| {
                (field == Field::Memory)
                    .then(|| parse_bytes(text).ok())
                    .flatten()
            })
            // A walltime no clock can time would fail the task where it runs.
            .filter(|n| field != Field::Timeout || (0..=MAX_SECONDS as i64).contains(n))
            .map(Value::Int),
        FieldKind::Float => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float),
        FieldKind::Bool => parse_bool(text).map(Value::Bool),
        FieldKind::Uuid => uuid::Uuid::parse_str(text).ok().map(Value::Uuid),
        FieldKind::Time => parse_time(text, now).map(Value::Time),
        FieldKind::Json => None,
    };
    value.ok_or(invalid)
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") || text == "1" {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") || text == "0" {
        Some(false)
    } else {
        None
    }
}

/// A point in time: `now`; RFC 3339 (`T` or a space between date and time, so `hs list`
/// output can be pasted back); `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.f]]` (or with `T`) taken
/// as UTC; or `-N` plus a unit `s`, `m`, `h`, `d` or `w` meaning that long before `now`.
pub(crate) fn parse_time(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if text.eq_ignore_ascii_case("now") {
        return Some(now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        return relative(ago, now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const NAIVE: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    if let Some(t) = NAIVE
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// `N` + unit, subtracted from `now`; `None` on a bad unit or an out-of-range amount.
fn relative(ago: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let unit = ago.chars().last()?;
    let seconds_per: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let digits = &ago[..ago.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: i64 = digits.parse().ok()?;
    let delta = TimeDelta::try_seconds(amount.checked_mul(seconds_per)?)?;
    now.checked_sub_signed(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    fn ok(field: Field, raw: &str) -> Value {
        coerce(field, raw, now()).unwrap()
    }

    fn bad(field: Field, raw: &str) -> bool {
        coerce(field, raw, now()).is_err()
    }

    #[test]
    fn null_words_are_null_for_every_kind_unless_quoted() {
        for f in [
            Field::Args,
            Field::ExitStatus,
            Field::CoresMax,
            Field::Retried,
            Field::ClientId,
            Field::StartTime,
        ] {
            assert_eq!(ok(f, "null"), Value::Null, "{f:?}");
            assert_eq!(ok(f, "NONE"), Value::Null, "{f:?}");
            assert_eq!(ok(f, " Null "), Value::Null, "{f:?}");
        }
        assert_eq!(ok(Field::Args, "'null'"), Value::Text("null".into()));
        assert_eq!(ok(Field::Args, "\"None\""), Value::Text("None".into()));
        assert!(bad(Field::ExitStatus, "'null'"));
    }

    #[test]
    fn text_is_literal_except_one_pair_of_quotes() {
        assert_eq!(ok(Field::Args, "001"), Value::Text("001".into()));
        assert_eq!(
            ok(Field::Args, "echo 'a b'"),
            Value::Text("echo 'a b'".into())
        );
        assert_eq!(ok(Field::Args, "' a b '"), Value::Text(" a b ".into()));
        assert_eq!(ok(Field::Args, "\"'x'\""), Value::Text("'x'".into()));
        assert_eq!(ok(Field::Args, "'x\""), Value::Text("'x\"".into()));
        assert_eq!(ok(Field::Args, "''"), Value::Text(String::new()));
        assert_eq!(ok(Field::Args, "'"), Value::Text("'".into()));
        assert_eq!(ok(Field::Args, "  echo  "), Value::Text("echo".into()));
        assert_eq!(ok(Field::Args, "true"), Value::Text("true".into()));
    }

    #[test]
    fn integers_floats_and_memory_sizes() {
        assert_eq!(ok(Field::ExitStatus, "-2"), Value::Int(-2));
        assert_eq!(ok(Field::ExitStatus, "+3"), Value::Int(3));
        assert_eq!(ok(Field::ExitStatus, "'4'"), Value::Int(4));
        assert!(bad(Field::ExitStatus, "1.5"));
        assert!(bad(Field::ExitStatus, "= 0"));
        assert!(bad(Field::ExitStatus, "99999999999999999999"));
        assert!(bad(Field::Cores, "2G"));
        assert_eq!(ok(Field::Memory, "2G"), Value::Int(2 << 30));
        assert_eq!(ok(Field::Memory, "1024"), Value::Int(1024));
        assert_eq!(ok(Field::CoresMax, "1.5"), Value::Float(1.5));
        assert_eq!(ok(Field::CoresMax, "2"), Value::Float(2.0));
        assert!(bad(Field::CoresMax, "nan"));
        assert!(bad(Field::CoresMax, "inf"));
        assert!(bad(Field::CoresMax, "x"));
    }

    #[test]
    fn booleans_and_uuids() {
        assert_eq!(ok(Field::Retried, "TRUE"), Value::Bool(true));
        assert_eq!(ok(Field::Retried, "1"), Value::Bool(true));
        assert_eq!(ok(Field::Retried, "false"), Value::Bool(false));
        assert_eq!(ok(Field::Retried, "0"), Value::Bool(false));
        assert!(bad(Field::Retried, "yes"));
        let id = "0190a8e0-0000-7000-8000-000000000001";
        assert_eq!(
            ok(Field::Id, id),
            Value::Uuid(uuid::Uuid::parse_str(id).unwrap())
        );
        assert!(bad(Field::Id, "0190a8e0"));
    }

    #[test]
    fn times() {
        let at =
            |y, mo, d, h, mi, s| Value::Time(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap());
        let f = Field::SubmitTime;
        assert_eq!(ok(f, "2024-01-02"), at(2024, 1, 2, 0, 0, 0));
        assert_eq!(ok(f, "2024-01-02 03:04"), at(2024, 1, 2, 3, 4, 0));
        assert_eq!(ok(f, "2024-01-02 03:04:05"), at(2024, 1, 2, 3, 4, 5));
        assert_eq!(ok(f, "2024-01-02T03:04:05"), at(2024, 1, 2, 3, 4, 5));
        assert_eq!(ok(f, "2024-01-02T03:04:05Z"), at(2024, 1, 2, 3, 4, 5));
        assert_eq!(ok(f, "2024-01-02T05:04:05+02:00"), at(2024, 1, 2, 3, 4, 5));
        assert_eq!(ok(f, "2024-01-02 03:04:05+00:00"), at(2024, 1, 2, 3, 4, 5));
        assert_eq!(ok(f, "'2024-01-02 03:04'"), at(2024, 1, 2, 3, 4, 0));
        assert_eq!(ok(f, "now"), Value::Time(now()));
        assert_eq!(ok(f, "-1h"), at(2024, 5, 1, 11, 0, 0));
        assert_eq!(ok(f, "-30m"), at(2024, 5, 1, 11, 30, 0));
        assert_eq!(ok(f, "-2d"), at(2024, 4, 29, 12, 0, 0));
        assert_eq!(ok(f, "-1w"), at(2024, 4, 24, 12, 0, 0));
        assert_eq!(ok(f, "-10s"), at(2024, 5, 1, 11, 59, 50));
        for wrong in [
            "-1",
            "-h",
            "-1y",
            "-1H",
            "1h",
            "--1h",
            "-1.5h",
            "yesterday",
            "2024-13-01",
            "-99999999999999999999d",
            "-9999999999999999d",
        ] {
            assert!(bad(f, wrong), "{wrong}");
        }
    }

    #[test]
    fn tag_column_takes_nothing() {
        assert!(bad(Field::Tag, "x"));
        assert_eq!(ok(Field::Tag, "null"), Value::Null);
    }

    #[test]
    fn nullable_columns_follow_the_schema() {
        assert!(!Field::Group.nullable());
        assert!(!Field::Retried.nullable());
        assert!(Field::ExitStatus.nullable());
        assert!(Field::Memory.nullable());
    }
}
