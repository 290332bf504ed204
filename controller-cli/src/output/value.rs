//! One field of a task as a JSON value, and the text forms derived from it, written once so
//! every format agrees on what a value looks like.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use hs_broker::store::{Field, TaskRecord};
use serde_json::{Map, Value as Json};

/// `field` of `record` as JSON: ids as hyphenated strings, times as HyperShell prints them (see
/// [`format_time`]), missing values as null, non-finite floats as null, `tag` as an object.
pub fn field_value(record: &TaskRecord, field: Field) -> Json {
    fn opt<T: Into<Json>>(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
    let r = record;
    let text = |s: &Option<String>| opt(s.clone());
    let id = |u: &Option<uuid::Uuid>| opt(u.map(|u| u.to_string()));
    let time = |t: &Option<DateTime<Utc>>| opt(t.as_ref().map(format_time));
    match field {
        Field::Id => r.id.to_string().into(),
        Field::Group => r.group.into(),
        Field::Args => r.args.clone().into(),
        Field::SubmitId => r.submit_id.to_string().into(),
        Field::SubmitTime => format_time(&r.submit_time).into(),
        Field::SubmitHost => text(&r.submit_host),
        Field::Cores => opt(r.cores),
        Field::Memory => opt(r.memory),
        Field::CoresMax => opt(r.cores_max),
        Field::MemoryMax => opt(r.memory_max),
        Field::Timeout => opt(r.timeout),
        Field::ServerId => id(&r.server_id),
        Field::ServerHost => text(&r.server_host),
        Field::ScheduleTime => time(&r.schedule_time),
        Field::ClientId => id(&r.client_id),
        Field::ClientHost => text(&r.client_host),
        Field::Command => text(&r.command),
        Field::StartTime => time(&r.start_time),
        Field::CompletionTime => time(&r.completion_time),
        Field::ExitStatus => opt(r.exit_status),
        Field::Signal => opt(r.signal),
        Field::Outpath => text(&r.outpath),
        Field::Errpath => text(&r.errpath),
        Field::Csvpath => text(&r.csvpath),
        Field::Attempt => r.attempt.into(),
        Field::Retried => r.retried.into(),
        Field::Waited => opt(r.waited),
        Field::Duration => opt(r.duration),
        Field::PreviousId => id(&r.previous_id),
        Field::NextId => id(&r.next_id),
        Field::Tag => Json::Object(r.tag.clone()),
    }
}

/// A time as HyperShell prints what it reads back from its database: `2024-05-01 12:00:02.500000`
/// (Python's `str(datetime)`: a space, microseconds unless there are none, no offset). hs keeps
/// times in UTC, so these are UTC. `-w` reads this form back.
pub(crate) fn format_time(t: &DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// A value as one line of text: strings as they are (control characters escaped, so a row
/// stays one line and a tab cannot pose as a delimiter), null as `null`, anything else as
/// compact JSON.
pub(crate) fn cell(value: &Json) -> String {
    match value {
        Json::String(s) => escape_controls(s).into_owned(),
        Json::Object(_) | Json::Array(_) => python_json(value),
        other => other.to_string(),
    }
}

/// JSON on one line with the spacing Python's `json.dumps` uses (`{"a": 1, "b": [1, 2]}`), as
/// HyperShell prints tags in plain and CSV rows.
pub(crate) fn python_json(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Json::from(k.as_str()), python_json(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(python_json).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// Control characters as JSON writes them (`\n`, `\t`, `\r`, `\u001b`); everything else,
/// backslashes and quotes included, unchanged.
pub(crate) fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Tags as users write them: `key:value`, or just `key` for a naked tag, joined by `, `.
pub fn format_tags(tag: &Map<String, Json>) -> String {
    tag.iter()
        .map(|(k, v)| match v {
            Json::String(s) if s.is_empty() => escape_controls(k).into_owned(),
            v => format!("{}:{}", escape_controls(k), cell(v)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};
    use serde_json::json;

    #[test]
    fn every_field_of_a_finished_task() {
        let r = done();
        let all: Vec<Json> = Field::ALL.iter().map(|f| field_value(&r, *f)).collect();
        assert_eq!(
            Json::Array(all),
            json!([
                "0190a8e0-0000-7000-8000-000000000001", 0, "echo hello",
                "0190a8e0-0000-7000-8000-000000000002", "2024-05-01 12:00:00", "login1",
                2, 8589934592i64, 1.5, 536870912.0, 3600,
                "0190a8e0-0000-7000-8000-000000000003", "login1", "2024-05-01 12:00:01",
                "0190a8e0-0000-7000-8000-000000000004", "node1", "echo hello",
                "2024-05-01 12:00:02.500000", "2024-05-01 12:00:05", 0, null,
                "/tmp/o", null, null, 1, false, 2, 2, null, null, {"part": 0, "site": "a"}
            ])
        );
    }

    #[test]
    fn missing_values_are_null_and_nan_is_null() {
        let mut r = fresh();
        assert_eq!(field_value(&r, Field::ExitStatus), Json::Null);
        assert_eq!(field_value(&r, Field::ClientId), Json::Null);
        assert_eq!(field_value(&r, Field::StartTime), Json::Null);
        r.cores_max = Some(f64::NAN);
        assert_eq!(field_value(&r, Field::CoresMax), Json::Null);
    }

    #[test]
    fn cells() {
        assert_eq!(
            cell(&json!("a\tb\nc\\d\"e\u{1b}")),
            "a\\tb\\nc\\d\"e\\u001b"
        );
        assert_eq!(cell(&json!(null)), "null");
        assert_eq!(cell(&json!(1.5)), "1.5");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(
            cell(&json!({"a": "x y", "b": 1})),
            r#"{"a": "x y", "b": 1}"#
        );
    }

    #[test]
    fn tags() {
        let tag = json!({"flag": "", "n": 1, "ok": true, "site": "a", "z": null});
        let Json::Object(map) = tag else {
            unreachable!()
        };
        assert_eq!(format_tags(&map), "flag, n:1, ok:true, site:a, z:null");
        assert_eq!(format_tags(&Map::new()), "");
    }
}
