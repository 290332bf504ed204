//! How `hs list`, `hs info` and `hs wait --info` print tasks: the `normal`, `plain`, `table`,
//! `csv` and `json` formats of HyperShell (§3.4), built on one [`value::field_value`] so they
//! agree.
//!
//! Everything returns text and nothing is printed here. A [`Renderer`] turns rows into text
//! one at a time (`header`, `row` per task, `footer`) so `hs list` can print results as the
//! store yields them; only `table` holds rows back, since its widths depend on all of them.
//! [`render`] is the all-at-once form.

mod csv;
#[cfg(test)]
mod fixture;
mod info;
mod json;
mod normal;
mod plain;
mod style;
mod table;
pub mod value;

use std::fmt;
use std::str::FromStr;

use hs_broker::store::{Field, TaskRecord};

pub use info::{extract, info_json, info_normal, info_yaml};

/// Longest `-d` accepted (as HyperShell: a delimiter is usually one character).
const MAX_DELIMITER: usize = 100;

/// An output format of `hs list -f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A labelled block per task, every field (the default without FIELD arguments).
    Normal,
    /// One line per task, fields joined by the delimiter (the default with FIELD arguments).
    Plain,
    /// Aligned columns under a header.
    Table,
    /// A header and RFC 4180 records.
    Csv,
    /// An array of objects.
    Json,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Normal,
        Format::Plain,
        Format::Table,
        Format::Csv,
        Format::Json,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Normal => "normal",
            Format::Plain => "plain",
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// What `hs list` prints without `-f`: `normal` for all fields, `plain` for chosen ones.
    pub fn default_for(fields: Option<&[Field]>) -> Format {
        match fields {
            Some(f) if !f.is_empty() => Format::Plain,
            _ => Format::Normal,
        }
    }
}

/// The columns HyperShell 2.8.2 has, in its order: what `hs list` shows and `--fields` names
/// when no fields are chosen. hs's own `signal` column (the signal that ended a task) is shown
/// where it is named, so scripts that read HyperShell's columns by position keep working.
pub fn hypershell_fields() -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| *f != Field::Signal)
        .collect()
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = OutputError;

    fn from_str(s: &str) -> Result<Format, OutputError> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| OutputError::UnknownFormat(s.to_string()))
    }
}

/// A combination of format options that cannot work; each message says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("unknown format {0:?}: choose normal, plain, table, csv or json")]
    UnknownFormat(String),
    #[error(
        "the normal format shows every field: drop the FIELD arguments or choose another format (plain, table, csv, json)"
    )]
    NormalWithFields,
    #[error("--delimiter only applies to the plain and csv formats, not {0}")]
    DelimiterNotUsed(Format),
    #[error("--delimiter has {0} characters, at most 100 are allowed")]
    DelimiterTooLong(usize),
    #[error(
        "the csv format needs a one-character --delimiter other than a quote or a line break, not {0:?}"
    )]
    CsvDelimiter(String),
}

/// Turns task records into text in one format, row by row.
#[derive(Debug)]
pub struct Renderer {
    format: Format,
    fields: Vec<Field>,
    delimiter: String,
    color: bool,
    pretty: bool,
    width: Option<usize>,
    rows: usize,
    table: Option<table::Table>,
}

impl Renderer {
    /// Check the options and prepare. `fields`: `None` (or empty) means every field, in
    /// `hs list --fields` order. `delimiter`: plain/csv only; TAB and `,` by default.
    /// `color`: ANSI colour, and for `json` also indentation (see [`Renderer::pretty`]).
    pub fn new(
        format: Format,
        fields: Option<&[Field]>,
        delimiter: Option<&str>,
        color: bool,
    ) -> Result<Renderer, OutputError> {
        let chosen = fields.filter(|f| !f.is_empty());
        if format == Format::Normal && chosen.is_some_and(|f| f != Field::ALL) {
            return Err(OutputError::NormalWithFields);
        }
        let delimiter = check_delimiter(format, delimiter)?;
        let fields = chosen.map_or_else(hypershell_fields, <[Field]>::to_vec);
        Ok(Renderer {
            table: (format == Format::Table).then(|| table::Table::new(&fields)),
            format,
            fields,
            delimiter,
            color,
            pretty: color,
            width: None,
            rows: 0,
        })
    }

    /// Indent JSON (default: as `color`). For a terminal with colour turned off.
    pub fn pretty(mut self, pretty: bool) -> Renderer {
        self.pretty = pretty;
        self
    }

    /// Fit a table into `width` characters (the terminal's width); other formats ignore it.
    pub fn width(mut self, width: usize) -> Renderer {
        self.width = Some(width);
        self
    }

    /// Text to print before the first row.
    pub fn header(&mut self) -> String {
        match self.format {
            Format::Csv => csv::header(&self.fields, self.csv_delimiter()),
            Format::Json => json::open().to_string(),
            Format::Normal | Format::Plain | Format::Table => String::new(),
        }
    }

    /// Text for one task (empty for `table`, which prints everything in the footer).
    pub fn row(&mut self, record: &TaskRecord) -> String {
        let index = self.rows;
        self.rows += 1;
        match self.format {
            Format::Normal => format!("---\n{}", normal::block(record, self.color)),
            Format::Plain => plain::row(record, &self.fields, &self.delimiter),
            Format::Csv => csv::row(record, &self.fields, self.csv_delimiter()),
            Format::Json => {
                let layout = self.layout();
                json::separator(index, layout) + &json::object(record, &self.fields, 1, layout)
            }
            Format::Table => {
                if let Some(t) = self.table.as_mut() {
                    t.push(record);
                }
                String::new()
            }
        }
    }

    /// Text to print after the last row.
    pub fn footer(&mut self) -> String {
        match self.format {
            Format::Json => json::close(self.rows, self.layout()).to_string(),
            Format::Table => self
                .table
                .as_ref()
                .map_or_else(String::new, |t| t.render(self.width, self.color)),
            Format::Normal | Format::Plain | Format::Csv => String::new(),
        }
    }

    fn layout(&self) -> json::Layout {
        json::Layout {
            pretty: self.pretty,
            color: self.color,
        }
    }

    /// Checked in `new` to be exactly one character for csv.
    fn csv_delimiter(&self) -> char {
        self.delimiter.chars().next().unwrap_or(',')
    }
}

/// The delimiter to use, or why the one given cannot be.
fn check_delimiter(format: Format, delimiter: Option<&str>) -> Result<String, OutputError> {
    let Some(d) = delimiter else {
        return Ok(match format {
            Format::Plain => "\t",
            Format::Csv => ",",
            _ => "",
        }
        .to_string());
    };
    if !matches!(format, Format::Plain | Format::Csv) {
        return Err(OutputError::DelimiterNotUsed(format));
    }
    let len = d.chars().count();
    if len > MAX_DELIMITER {
        return Err(OutputError::DelimiterTooLong(len));
    }
    if format == Format::Csv && (len != 1 || d.contains(['"', '\n', '\r'])) {
        return Err(OutputError::CsvDelimiter(d.to_string()));
    }
    Ok(d.to_string())
}

/// All of `records` in one string (see [`Renderer::new`] for the options).
#[cfg(test)]
pub fn render(
    records: &[TaskRecord],
    fields: Option<&[Field]>,
    format: Format,
    delimiter: Option<&str>,
    color: bool,
) -> Result<String, OutputError> {
    let mut r = Renderer::new(format, fields, delimiter, color)?;
    let mut out = r.header();
    for record in records {
        out.push_str(&r.row(record));
    }
    out.push_str(&r.footer());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixture::{done, fresh};

    const FIELDS: [Field; 3] = [Field::Id, Field::ExitStatus, Field::Tag];

    fn both(fields: Option<&[Field]>, format: Format, delimiter: Option<&str>) -> String {
        render(&[done(), fresh()], fields, format, delimiter, false).unwrap()
    }

    #[test]
    fn formats_by_name() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!(
            "yaml".parse::<Format>().unwrap_err().to_string(),
            r#"unknown format "yaml": choose normal, plain, table, csv or json"#
        );
        assert_eq!(Format::default_for(None), Format::Normal);
        assert_eq!(Format::default_for(Some(&[])), Format::Normal);
        assert_eq!(Format::default_for(Some(&FIELDS)), Format::Plain);
    }

    #[test]
    fn normal_separates_tasks() {
        let text = both(None, Format::Normal, None);
        assert_eq!(text.matches("---\n").count(), 2);
        assert!(text.starts_with("---\n          id: 0190a8e0-0000-7000-8000-000000000001\n"));
        assert_eq!(render(&[], None, Format::Normal, None, false).unwrap(), "");
        assert!(render(&[done()], Some(&Field::ALL), Format::Normal, None, false).is_ok());
    }

    #[test]
    fn plain_golden() {
        assert_eq!(
            both(Some(&FIELDS), Format::Plain, None),
            "0190a8e0-0000-7000-8000-000000000001\t0\t{\"part\": 0, \"site\": \"a\"}\n\
             0190a8e0-0000-7000-8000-000000000005\tnull\t{\"flag\": \"\"}\n"
        );
        assert_eq!(
            both(Some(&FIELDS[..2]), Format::Plain, Some(",")),
            "0190a8e0-0000-7000-8000-000000000001,0\n0190a8e0-0000-7000-8000-000000000005,null\n"
        );
        let all = both(None, Format::Plain, None);
        assert_eq!(all.lines().count(), 2);
        assert_eq!(
            all.lines().next().unwrap().split('\t').count(),
            hypershell_fields().len()
        );
    }

    #[test]
    fn csv_golden() {
        assert_eq!(
            both(Some(&FIELDS), Format::Csv, Some(";")),
            "id;exit_status;tag\n\
             0190a8e0-0000-7000-8000-000000000001;0;\"{\"\"part\"\": 0, \"\"site\"\": \"\"a\"\"}\"\n\
             0190a8e0-0000-7000-8000-000000000005;null;\"{\"\"flag\"\": \"\"\"\"}\"\n"
        );
        assert_eq!(
            render(&[], Some(&FIELDS), Format::Csv, None, false).unwrap(),
            "id,exit_status,tag\n"
        );
    }

    #[test]
    fn json_golden() {
        assert_eq!(
            both(Some(&FIELDS), Format::Json, None),
            "[{\"id\":\"0190a8e0-0000-7000-8000-000000000001\",\"exit_status\":0,\"tag\":{\"part\":0,\"site\":\"a\"}},\n\
             {\"id\":\"0190a8e0-0000-7000-8000-000000000005\",\"exit_status\":null,\"tag\":{\"flag\":\"\"}}]\n"
        );
        let mut r = Renderer::new(Format::Json, Some(&FIELDS[..1]), None, false)
            .unwrap()
            .pretty(true);
        let text = r.header() + &r.row(&done()) + &r.footer();
        assert_eq!(
            text,
            "[\n    {\n        \"id\": \"0190a8e0-0000-7000-8000-000000000001\"\n    }\n]\n"
        );
        let all = both(None, Format::Json, None);
        let parsed: serde_json::Value = serde_json::from_str(&all).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 2);
    }

    #[test]
    fn table_golden_and_streaming() {
        let mut r = Renderer::new(Format::Table, Some(&FIELDS[..2]), None, false)
            .unwrap()
            .width(120);
        assert_eq!(r.header(), "");
        assert_eq!(r.row(&done()), "");
        assert_eq!(r.row(&fresh()), "");
        assert_eq!(
            r.footer(),
            "id                                    exit_status\n\
             ------------------------------------  -----------\n\
             0190a8e0-0000-7000-8000-000000000001            0\n\
             0190a8e0-0000-7000-8000-000000000005         null\n"
        );
    }

    #[test]
    fn option_errors() {
        let err = |format, fields: Option<&[Field]>, d: Option<&str>| {
            Renderer::new(format, fields, d, false)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(Format::Normal, Some(&FIELDS), None),
            "the normal format shows every field: drop the FIELD arguments or choose another format (plain, table, csv, json)"
        );
        for f in [Format::Normal, Format::Table, Format::Json] {
            assert_eq!(
                err(f, None, Some(",")),
                format!("--delimiter only applies to the plain and csv formats, not {f}")
            );
        }
        assert_eq!(
            err(Format::Plain, None, Some(&"x".repeat(101))),
            "--delimiter has 101 characters, at most 100 are allowed"
        );
        assert!(Renderer::new(Format::Plain, None, Some(&"é".repeat(100)), false).is_ok());
        for d in ["", ";;", "\"", "\n"] {
            assert_eq!(
                err(Format::Csv, None, Some(d)),
                format!(
                    "the csv format needs a one-character --delimiter other than a quote or a line break, not {d:?}"
                )
            );
        }
        assert!(Renderer::new(Format::Csv, None, Some("é"), false).is_ok());
    }
}
