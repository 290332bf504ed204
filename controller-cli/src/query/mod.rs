//! The search language of `hs list`, `hs update` and `hs info`, turned into the store's typed
//! values ([`Condition`], [`TagFilter`], [`Change`]) before any database is touched, so every
//! mistake is reported up front with one line that names the argument and says what to fix.
//!
//! Everything here is pure: no I/O and no database. The only outside input is the clock, for
//! relative times (`-1h`); the internal `*_at` variants take "now" explicitly so tests are
//! exact.
//!
//! [`Condition`]: hs_broker::store::Condition
//! [`TagFilter`]: hs_broker::store::TagFilter
//! [`Change`]: hs_broker::store::Change

pub mod alias;
mod change;
mod coerce;
mod error;
mod pattern;
mod size;
mod tag;
mod where_clause;

pub use change::{parse_change, parse_legacy_change};
pub use error::QueryError;
pub use size::parse_bytes;
pub use tag::{parse_tag, parse_tag_filter};
pub use where_clause::parse_where;

#[cfg(test)]
mod tests {
    use super::change::parse_change_at;
    use super::where_clause::parse_where_at;
    use super::*;
    use chrono::{TimeZone, Utc};

    /// Every parser answers (Ok or Err) on every 3-piece mix of awkward fragments.
    #[test]
    fn no_input_panics() {
        let pieces = [
            "",
            " ",
            "é",
            "'",
            "\"",
            "=",
            "==",
            "<",
            ">=",
            "<>",
            "~",
            ":",
            "-",
            "1",
            "9G",
            ".",
            "null",
            "exit_status",
            "args",
            "tag",
            "id",
            "memory",
            "submit_time",
            "[",
            "(",
            "\\",
            "*",
            "\u{0}",
            "-1h",
            "\t",
        ];
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}");
                    let _ = parse_where_at(&text, now);
                    let _ = parse_change_at(&text, now);
                    let _ = parse_tag(&text);
                    let _ = parse_tag_filter(&text);
                    let _ = parse_bytes(&text);
                    let _ = parse_legacy_change(a, &format!("{b}{c}"));
                }
            }
        }
    }
}
