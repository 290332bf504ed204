//! Task field values as HyperShell 2.8.2 writes them into a task's environment.
//!
//! HyperShell turns each column of the task's row into text with Python's rules: `None` is
//! `null`, booleans are `true`/`false`, numbers are `str(n)`, and times are
//! `datetime.isoformat(sep=' ')`: `2024-05-01 12:00:02.500000+00:00`, the fraction left out when
//! it is zero. Scripts written for HyperShell parse these, so hs writes exactly the same text.
//!
//! Every function appends to the entry being built (see `TaskVars::set_with`): nothing here
//! allocates.

use std::io::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};
use uuid::Uuid;

/// What HyperShell writes for a missing value.
pub const NULL: &[u8] = b"null";

/// `2024-05-01 12:00:02.500000+00:00`, or `2024-05-01 12:00:02+00:00` on a whole second.
///
/// HyperShell 2.8.2 drops the `+00:00` of `TASK_SUBMIT_TIME` and `TASK_SCHEDULE_TIME` when its
/// store is SQLite (the column comes back without a zone) and keeps it with `--no-db` and
/// PostgreSQL; hs always writes it, so every time a task sees has one form.
pub fn put_time(buf: &mut Vec<u8>, t: DateTime<Utc>) {
    // Writing to a Vec cannot fail.
    let _ = write!(
        buf,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    // Python keeps microseconds; a leap second's nanoseconds go past 1e9 and are clamped.
    let micros = (t.nanosecond() / 1_000).min(999_999);
    if micros != 0 {
        let _ = write!(buf, ".{micros:06}");
    }
    buf.extend_from_slice(b"+00:00");
}

/// An id in its hyphenated lower-case form.
pub fn put_uuid(buf: &mut Vec<u8>, id: Uuid) {
    let mut text = Uuid::encode_buffer();
    buf.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
}

/// `true` or `false`.
pub fn put_bool(buf: &mut Vec<u8>, b: bool) {
    buf.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A value's text, or `null` when there is none.
pub fn put_opt<T>(buf: &mut Vec<u8>, value: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match value {
        Some(v) => put(buf, v),
        None => buf.extend_from_slice(NULL),
    }
}

/// A number by its `Display`: integers as Python writes them. (A whole `f64` prints without a
/// fraction, `30`, which is how HyperShell's integer `timeout` column reads.)
pub fn put_display(buf: &mut Vec<u8>, value: impl std::fmt::Display) {
    let _ = write!(buf, "{value}");
}

/// A tag's value: a string as it is, anything else as its JSON text (`null`, `true`, `3`,
/// `1.5`), which for the scalars tags hold is also Python's `str` of them.
pub fn put_tag_value(buf: &mut Vec<u8>, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(s) => buf.extend_from_slice(s.as_bytes()),
        serde_json::Value::Bool(b) => put_bool(buf, *b),
        other => {
            let _ = serde_json::to_writer(&mut *buf, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn text(put: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        put(&mut buf);
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn times_are_pythons_isoformat_with_a_space() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 12, 21, 27).unwrap()
            + chrono::Duration::microseconds(417_047);
        assert_eq!(text(|b| put_time(b, t)), "2026-12-06 12:21:27.417047+00:00");
        let early =
            Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(7);
        assert_eq!(
            text(|b| put_time(b, early)),
            "2024-01-02 03:04:05.000007+00:00",
            "zero-padded fields and fraction"
        );
    }

    #[test]
    fn a_whole_second_has_no_fraction_and_nanoseconds_are_cut_to_microseconds() {
        let whole = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(text(|b| put_time(b, whole)), "2024-01-02 03:04:05+00:00");
        let sub_micro = whole + chrono::Duration::nanoseconds(999);
        assert_eq!(
            text(|b| put_time(b, sub_micro)),
            "2024-01-02 03:04:05+00:00",
            "under a microsecond is nothing to Python"
        );
        let nanos = whole + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(
            text(|b| put_time(b, nanos)),
            "2024-01-02 03:04:05.123456+00:00"
        );
    }

    #[test]
    fn missing_values_are_null_and_booleans_lower_case() {
        assert_eq!(text(|b| put_opt(b, None::<i64>, put_display)), "null");
        assert_eq!(text(|b| put_opt(b, Some(4_i64), put_display)), "4");
        assert_eq!(text(|b| put_bool(b, true)), "true");
        assert_eq!(text(|b| put_bool(b, false)), "false");
        let id = Uuid::parse_str("936A5E02-8680-48E5-A9DE-07434E21D909").unwrap();
        assert_eq!(
            text(|b| put_uuid(b, id)),
            "936a5e02-8680-48e5-a9de-07434e21d909"
        );
    }

    #[test]
    fn numbers_and_tag_values_read_as_python_prints_them() {
        assert_eq!(text(|b| put_display(b, 30.0)), "30", "an integer column");
        assert_eq!(text(|b| put_display(b, 2.5)), "2.5");
        let cases = [
            (serde_json::json!("b"), "b"),
            (serde_json::json!(""), ""),
            (serde_json::json!(3), "3"),
            (serde_json::json!(-7), "-7"),
            (serde_json::json!(1.5), "1.5"),
            (serde_json::json!(2.0), "2.0"),
            (serde_json::json!(true), "true"),
            (serde_json::json!(null), "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(text(|b| put_tag_value(b, &value)), expected, "{value}");
        }
    }
}
