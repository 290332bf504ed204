//! The `json` format: an array of objects, keys in field order, times as ISO strings, `tag`
//! as an object. Compact (one object per line) for pipes; indented by four spaces, like
//! HyperShell, and optionally coloured for a terminal.
//!
//! Written by hand rather than through `serde_json::Map` so field order survives whatever
//! map features other crates enable, and so rows can be streamed: `[`, the objects separated
//! by `,` and a line break, then `]`.

use hs_broker::store::{Field, TaskRecord};
use serde_json::Value as Json;

use super::style::{KEY, LITERAL, NUMBER, STRING, paint};
use super::value::field_value;

const INDENT: &str = "    ";

/// How to lay out JSON.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub pretty: bool,
    pub color: bool,
}

/// One task as an object; `depth` is its nesting level (1 inside the array).
pub(crate) fn object(
    record: &TaskRecord,
    fields: &[Field],
    depth: usize,
    layout: Layout,
) -> String {
    let values: Vec<(&str, Json)> = fields
        .iter()
        .map(|f| (f.name(), field_value(record, *f)))
        .collect();
    let mut out = String::new();
    write_object(&mut out, values.iter().map(|(k, v)| (*k, v)), depth, layout);
    out
}

/// The text before the first row.
pub(crate) fn open() -> &'static str {
    "["
}

/// The text before row number `index` (0-based).
pub(crate) fn separator(index: usize, layout: Layout) -> String {
    let comma = if index == 0 { "" } else { "," };
    if layout.pretty {
        format!("{comma}\n{INDENT}")
    } else if index == 0 {
        String::new()
    } else {
        format!("{comma}\n")
    }
}

/// The text after the last of `rows` rows.
pub(crate) fn close(rows: usize, layout: Layout) -> &'static str {
    if layout.pretty && rows > 0 {
        "\n]\n"
    } else {
        "]\n"
    }
}

fn write_object<'a>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a str, &'a Json)>,
    depth: usize,
    layout: Layout,
) {
    let mut empty = true;
    out.push('{');
    for (i, (key, value)) in entries.enumerate() {
        empty = false;
        if i > 0 {
            out.push(',');
        }
        newline(out, depth + 1, layout);
        out.push_str(&paint(&Json::from(key).to_string(), KEY, layout.color));
        out.push_str(if layout.pretty { ": " } else { ":" });
        write_value(out, value, depth + 1, layout);
    }
    if !empty {
        newline(out, depth, layout);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Json, depth: usize, layout: Layout) {
    match value {
        Json::Object(map) => {
            write_object(out, map.iter().map(|(k, v)| (k.as_str(), v)), depth, layout)
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1, layout);
                write_value(out, item, depth + 1, layout);
            }
            if !items.is_empty() {
                newline(out, depth, layout);
            }
            out.push(']');
        }
        Json::String(_) => out.push_str(&paint(&value.to_string(), STRING, layout.color)),
        Json::Number(_) => out.push_str(&paint(&value.to_string(), NUMBER, layout.color)),
        Json::Bool(_) | Json::Null => {
            out.push_str(&paint(&value.to_string(), LITERAL, layout.color))
        }
    }
}

fn newline(out: &mut String, depth: usize, layout: Layout) {
    if layout.pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(INDENT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};

    const FIELDS: [Field; 5] = [
        Field::Id,
        Field::Args,
        Field::ExitStatus,
        Field::StartTime,
        Field::Tag,
    ];
    const COMPACT: Layout = Layout {
        pretty: false,
        color: false,
    };
    const PRETTY: Layout = Layout {
        pretty: true,
        color: false,
    };

    fn stream(layout: Layout, records: &[TaskRecord]) -> String {
        let mut out = open().to_string();
        for (i, r) in records.iter().enumerate() {
            out.push_str(&separator(i, layout));
            out.push_str(&object(r, &FIELDS, 1, layout));
        }
        out + close(records.len(), layout)
    }

    #[test]
    fn compact_is_one_object_per_line_and_valid() {
        let text = stream(COMPACT, &[done(), fresh()]);
        assert_eq!(
            text,
            r#"[{"id":"0190a8e0-0000-7000-8000-000000000001","args":"echo hello","exit_status":0,"start_time":"2024-05-01 12:00:02.500000","tag":{"part":0,"site":"a"}},
{"id":"0190a8e0-0000-7000-8000-000000000005","args":"printf 'a,b\t\"c\"\n'","exit_status":null,"start_time":null,"tag":{"flag":""}}]
"#
        );
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[1]["args"], "printf 'a,b\t\"c\"\n'");
    }

    #[test]
    fn pretty_is_indented_by_four() {
        let text = stream(PRETTY, &[done()]);
        assert_eq!(
            text,
            r#"[
    {
        "id": "0190a8e0-0000-7000-8000-000000000001",
        "args": "echo hello",
        "exit_status": 0,
        "start_time": "2024-05-01 12:00:02.500000",
        "tag": {
            "part": 0,
            "site": "a"
        }
    }
]
"#
        );
        assert!(serde_json::from_str::<Json>(&stream(PRETTY, &[done(), fresh()])).is_ok());
    }

    #[test]
    fn empty_results_are_an_empty_array() {
        assert_eq!(stream(COMPACT, &[]), "[]\n");
        assert_eq!(stream(PRETTY, &[]), "[]\n");
        let mut r = fresh();
        r.tag.clear();
        assert_eq!(
            object(&r, &[Field::Tag], 1, PRETTY),
            "{\n        \"tag\": {}\n    }"
        );
    }

    #[test]
    fn colour_marks_keys_and_values() {
        let layout = Layout {
            pretty: true,
            color: true,
        };
        let text = object(
            &done(),
            &[Field::Args, Field::ExitStatus, Field::Retried],
            0,
            layout,
        );
        assert_eq!(
            text,
            "{\n    \x1b[1;34m\"args\"\x1b[0m: \x1b[32m\"echo hello\"\x1b[0m,\n    \x1b[1;34m\"exit_status\"\x1b[0m: \x1b[36m0\x1b[0m,\n    \x1b[1;34m\"retried\"\x1b[0m: \x1b[35mfalse\x1b[0m\n}"
        );
    }
}
