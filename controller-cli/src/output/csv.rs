//! The `csv` format: a header of field names, then one record per task. Text (ids and times
//! included) is written as it is; every other value is JSON-encoded (`null`, `1.5`, `true`,
//! `{"part":0}`), as HyperShell does. Quoting is RFC 4180's: a field is quoted when it holds
//! the delimiter, a quote or a line break, and quotes inside are doubled. Lines end in `\n`
//! (not RFC 4180's CRLF) to suit Unix pipelines; CSV readers accept both.

use hs_broker::store::{Field, TaskRecord};
use serde_json::Value as Json;

use super::value::field_value;

/// The header line.
pub(crate) fn header(fields: &[Field], delimiter: char) -> String {
    line(fields.iter().map(|f| f.name().to_string()), delimiter)
}

/// One record for `record`.
pub(crate) fn row(record: &TaskRecord, fields: &[Field], delimiter: char) -> String {
    let cells = fields.iter().map(|f| match field_value(record, *f) {
        Json::String(s) => s,
        other @ (Json::Object(_) | Json::Array(_)) => super::value::python_json(&other),
        other => other.to_string(),
    });
    line(cells, delimiter)
}

fn line(cells: impl Iterator<Item = String>, delimiter: char) -> String {
    let cells: Vec<String> = cells.collect();
    let mut out = if let [only] = cells.as_slice()
        && only.is_empty()
    {
        // A lone empty field would be a blank line, which readers skip.
        "\"\"".to_string()
    } else {
        cells
            .iter()
            .map(|c| quote(c, delimiter))
            .collect::<Vec<_>>()
            .join(&delimiter.to_string())
    };
    out.push('\n');
    out
}

fn quote(cell: &str, delimiter: char) -> String {
    if cell.contains([delimiter, '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};

    const FIELDS: [Field; 6] = [
        Field::Id,
        Field::Args,
        Field::ExitStatus,
        Field::CoresMax,
        Field::SubmitTime,
        Field::Tag,
    ];

    #[test]
    fn header_and_rows() {
        let text =
            header(&FIELDS, ',') + &row(&done(), &FIELDS, ',') + &row(&fresh(), &FIELDS, ',');
        assert_eq!(
            text,
            "id,args,exit_status,cores_max,submit_time,tag
0190a8e0-0000-7000-8000-000000000001,echo hello,0,1.5,2024-05-01 12:00:00,\"{\"\"part\"\": 0, \"\"site\"\": \"\"a\"\"}\"
0190a8e0-0000-7000-8000-000000000005,\"printf 'a,b\t\"\"c\"\"\n'\",null,null,2024-05-01 13:00:00,\"{\"\"flag\"\": \"\"\"\"}\"
"
        );
    }

    #[test]
    fn other_delimiter_changes_what_needs_quotes() {
        let fields = [Field::Args, Field::Group];
        let mut r = done();
        r.args = "a,b;c".into();
        assert_eq!(row(&r, &fields, ';'), "\"a,b;c\";0\n");
        assert_eq!(row(&r, &fields, '\t'), "a,b;c\t0\n");
    }

    #[test]
    fn lone_empty_field_is_quoted() {
        let mut r = done();
        r.args = String::new();
        assert_eq!(row(&r, &[Field::Args], ','), "\"\"\n");
        assert_eq!(row(&r, &[Field::Args, Field::Group], ','), ",0\n");
    }
}
