//! The `plain` format: one task per line, the selected fields joined by the delimiter (a TAB
//! unless `-d` says otherwise), no header. Text is printed as it is (control characters
//! escaped so a row stays one line), null as `null`, other values as compact JSON. A value
//! that contains a custom delimiter is not quoted: use `csv` when that matters.

use hs_broker::store::{Field, TaskRecord};

use super::value::{cell, field_value};

/// One line for `record`, ending in a newline.
pub(crate) fn row(record: &TaskRecord, fields: &[Field], delimiter: &str) -> String {
    let mut line = fields
        .iter()
        .map(|f| cell(&field_value(record, *f)))
        .collect::<Vec<_>>()
        .join(delimiter);
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};

    #[test]
    fn tab_separated_by_default() {
        let fields = [
            Field::Id,
            Field::Args,
            Field::ExitStatus,
            Field::StartTime,
            Field::Tag,
        ];
        assert_eq!(
            row(&done(), &fields, "\t"),
            "0190a8e0-0000-7000-8000-000000000001\techo hello\t0\t2024-05-01 12:00:02.500000\t{\"part\": 0, \"site\": \"a\"}\n"
        );
        assert_eq!(
            row(&fresh(), &fields, "\t"),
            "0190a8e0-0000-7000-8000-000000000005\tprintf 'a,b\\t\"c\"\\n'\tnull\tnull\t{\"flag\": \"\"}\n"
        );
    }

    #[test]
    fn custom_delimiter() {
        let fields = [Field::Group, Field::Retried, Field::CoresMax];
        assert_eq!(row(&done(), &fields, " | "), "0 | false | 1.5\n");
        assert_eq!(row(&done(), &fields, ""), "0false1.5\n");
    }
}
