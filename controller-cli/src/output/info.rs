//! `hs info ID` and `hs wait --info`: one task, not a list.

use hs_broker::store::{Field, TaskRecord};
use serde_json::Value as Json;

use super::json::{Layout, object};
use super::normal::block;
use super::value::{field_value, format_tags};

/// The normal format for one task: the labelled block, without `hs list`'s `---`.
pub fn info_normal(record: &TaskRecord, color: bool) -> String {
    block(record, color)
}

/// `--json`: one object with every field, indented when `pretty`, ending in a newline.
pub fn info_json(record: &TaskRecord, pretty: bool, color: bool) -> String {
    let mut out = object(
        record,
        &super::hypershell_fields(),
        0,
        Layout { pretty, color },
    );
    out.push('\n');
    out
}

/// `--yaml`: one mapping with every field in column order, tags as a nested mapping. Strings are
/// written as JSON strings, which YAML reads back unchanged whatever they hold.
pub fn info_yaml(record: &TaskRecord) -> String {
    let mut out = String::new();
    for field in super::hypershell_fields() {
        match field_value(record, field) {
            Json::Object(tags) if tags.is_empty() => {
                out.push_str(&format!("{}: {{}}\n", field.name()))
            }
            Json::Object(tags) => {
                out.push_str(&format!("{}:\n", field.name()));
                for (key, value) in tags {
                    out.push_str(&format!("    {}: {}\n", Json::from(key), value));
                }
            }
            value => out.push_str(&format!("{}: {}\n", field.name(), value)),
        }
    }
    out
}

/// `-x FIELD` in the normal format: the raw value, so it can be used in scripts as it is
/// (text unescaped and unquoted, unlike HyperShell, which printed it JSON-escaped), null as
/// `null`, numbers and booleans as JSON, tags as `key:value, key`. No newline at the end.
pub fn extract(record: &TaskRecord, field: Field) -> String {
    match field_value(record, field) {
        Json::String(s) => s,
        Json::Object(_) => format_tags(&record.tag),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};

    #[test]
    fn extracts_single_fields() {
        assert_eq!(extract(&done(), Field::ExitStatus), "0");
        assert_eq!(extract(&fresh(), Field::ExitStatus), "null");
        assert_eq!(extract(&fresh(), Field::Args), "printf 'a,b\t\"c\"\n'");
        assert_eq!(extract(&done(), Field::Tag), "part:0, site:a");
        assert_eq!(
            extract(&done(), Field::CompletionTime),
            "2024-05-01 12:00:05"
        );
    }

    #[test]
    fn json_has_every_field_once() {
        let text = info_json(&done(), false, false);
        assert!(text.ends_with("}\n"));
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed.as_object().unwrap().len(),
            crate::output::hypershell_fields().len()
        );
        assert_eq!(parsed["memory"], 8589934592i64);
        assert!(info_json(&done(), true, false).starts_with("{\n    \"id\": \"0190a8e0"));
    }

    #[test]
    fn yaml_has_every_field_and_nested_tags() {
        let text = info_yaml(&done());
        assert_eq!(
            text.lines().filter(|l| !l.starts_with(' ')).count(),
            crate::output::hypershell_fields().len()
        );
        assert!(text.contains("\nexit_status: 0\n"), "{text}");
        assert!(text.contains("\ntag:\n    \"part\": 0\n"), "{text}");
        assert!(info_yaml(&fresh()).contains("\nexit_status: null\n"));
    }

    #[test]
    fn normal_has_no_separator() {
        assert!(info_normal(&done(), false).starts_with("          id: "));
    }
}
