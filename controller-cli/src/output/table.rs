//! The `table` format: a header, a rule, and aligned columns (numbers to the right).
//!
//! Column widths depend on every row, so rows are kept (as text) until the end; when the
//! table is wider than the terminal, the widest columns are narrowed to a common cap and long
//! values end in `…`. Widths count characters, not terminal cells.

use hs_broker::store::{Field, FieldKind, TaskRecord};

use super::style::{BOLD, paint};
use super::value::{cell, field_value};

/// Narrowest a column is squeezed to (room for `ab…` plus a little).
const MIN_WIDTH: usize = 5;
const GAP: &str = "  ";

/// Rows collected for one table.
#[derive(Debug)]
pub(crate) struct Table {
    fields: Vec<Field>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(fields: &[Field]) -> Self {
        Table {
            fields: fields.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, record: &TaskRecord) {
        let cells = self
            .fields
            .iter()
            .map(|f| cell(&field_value(record, *f)))
            .collect();
        self.rows.push(cells);
    }

    /// The whole table; `max_width` is the terminal's width, if known.
    pub(crate) fn render(&self, max_width: Option<usize>, color: bool) -> String {
        let natural: Vec<usize> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                self.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .fold(f.name().len(), usize::max)
            })
            .collect();
        let widths = fit(&natural, max_width);
        let numeric: Vec<bool> = self
            .fields
            .iter()
            .map(|f| matches!(f.kind(), FieldKind::Int | FieldKind::Float))
            .collect();

        let mut out = String::new();
        let names: Vec<String> = self.fields.iter().map(|f| f.name().to_string()).collect();
        let header = line(&names, &widths, &numeric);
        out.push_str(&paint(&header, BOLD, color && !header.is_empty()));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule, &widths, &numeric));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row, &widths, &numeric));
            out.push('\n');
        }
        out
    }
}

/// Widths that fit `max_width` if possible: every column keeps its natural width up to a
/// common cap, the largest cap that fits (never below [`MIN_WIDTH`]).
fn fit(natural: &[usize], max_width: Option<usize>) -> Vec<usize> {
    let gaps = GAP.len() * natural.len().saturating_sub(1);
    let total = |cap: usize| natural.iter().map(|w| (*w).min(cap)).sum::<usize>() + gaps;
    let widest = natural.iter().copied().max().unwrap_or(0);
    let cap = match max_width {
        Some(max) if total(widest) > max => {
            // Largest cap in [MIN_WIDTH, widest] with total(cap) <= max.
            let (mut lo, mut hi) = (MIN_WIDTH, widest);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if total(mid) <= max {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            lo
        }
        _ => widest,
    };
    natural.iter().map(|w| (*w).min(cap)).collect()
}

/// Cells padded (numbers to the right) and truncated to `widths`, without trailing spaces.
fn line(cells: &[String], widths: &[usize], numeric: &[bool]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .zip(numeric)
        .map(|((c, w), right)| {
            let c = truncate(c, *w);
            if *right {
                format!("{c:>w$}")
            } else {
                format!("{c:<w$}")
            }
        })
        .collect();
    padded.join(GAP).trim_end().to_string()
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    match width {
        0 => String::new(),
        w => text.chars().take(w - 1).chain(['…']).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};

    const FIELDS: [Field; 4] = [Field::Id, Field::Args, Field::ExitStatus, Field::Tag];

    fn table() -> Table {
        let mut t = Table::new(&FIELDS);
        t.push(&done());
        t.push(&fresh());
        t
    }

    #[test]
    fn aligned_at_natural_width() {
        assert_eq!(
            table().render(None, false),
            r#"id                                    args                 exit_status  tag
------------------------------------  -------------------  -----------  ------------------------
0190a8e0-0000-7000-8000-000000000001  echo hello                     0  {"part": 0, "site": "a"}
0190a8e0-0000-7000-8000-000000000005  printf 'a,b\t"c"\n'         null  {"flag": ""}
"#
        );
    }

    #[test]
    fn narrowed_to_the_terminal() {
        // 3 columns capped at 14 + exit_status (11) + 3 gaps of 2 = 59 <= 60.
        assert_eq!(
            table().render(Some(60), false),
            r#"id              args            exit_status  tag
--------------  --------------  -----------  --------------
0190a8e0-0000…  echo hello                0  {"part": 0, "…
0190a8e0-0000…  printf 'a,b\t…         null  {"flag": ""}
"#
        );
    }

    #[test]
    fn too_narrow_keeps_a_minimum_and_colour_is_optional() {
        let text = table().render(Some(1), true);
        assert!(
            text.starts_with("\x1b[1mid     args   exit…  tag\x1b[0m\n"),
            "{text}"
        );
        assert_eq!(
            Table::new(&FIELDS).render(Some(80), false).lines().count(),
            2
        );
    }

    #[test]
    fn widths() {
        assert_eq!(fit(&[10, 50, 3], Some(40)), vec![10, 23, 3]);
        assert_eq!(fit(&[10, 50, 3], None), vec![10, 50, 3]);
        assert_eq!(fit(&[], Some(10)), Vec::<usize>::new());
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("", 0), "");
        assert_eq!(truncate("abcd", 0), "");
    }
}
