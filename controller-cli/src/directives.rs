//! Inline `# HYPERSHELL: key:value …` directives in task input.
//!
//! On a task line, the directive applies to that task; on a line of its own it applies to every
//! following line (HyperShell 2.7). Only `#`, optional spaces, `HYPERSHELL` and an optional `:`
//! start a directive: any other `#` belongs to the command and reaches the shell intact (unlike
//! HyperShell 2.8.2, which cut every line at its first `#`). The keys `group`, `cores`, `memory`
//! (with units, e.g. `8G`) and `timeout` (seconds, rounded up) set those columns, `gpus` the
//! GPUs the task needs (kept with its job); every other key is a tag. `--from-json` objects set the same keys through [`Directives::add_value`].

use hs_broker::store::TaskRecord;
use hs_engine::task::{MAX_SECONDS, seconds_in_range};
use serde_json::Value as Json;

use crate::query::{QueryError, parse_bytes, parse_tag};

/// Settings a directive (or the command line) gives to tasks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directives {
    pub group: Option<i64>,
    pub cores: Option<i64>,
    pub memory: Option<i64>,
    pub gpus: Option<u32>,
    pub timeout: Option<i64>,
    pub tags: serde_json::Map<String, Json>,
}

impl Directives {
    /// Parse the text after `HYPERSHELL:`: whitespace-separated `key` or `key:value` items.
    pub fn parse(text: &str) -> Result<Directives, QueryError> {
        let mut d = Directives::default();
        for item in text.split_whitespace() {
            d.add(item)?;
        }
        Ok(d)
    }

    /// Add one `key[:value]` item.
    pub fn add(&mut self, item: &str) -> Result<(), QueryError> {
        let (key, value) = parse_tag(item)?;
        self.add_value(key, value)
            .map_err(|reason| QueryError::BadTag {
                tag: item.to_string(),
                reason,
            })
    }

    /// Set `key` (a column, else a tag) to `value`, checked the same way wherever the value
    /// was written (a directive, a `--from-json` object); the reason when `key` does not take it.
    pub fn add_value(&mut self, key: String, value: Json) -> Result<(), String> {
        let number = |what: &str| -> Result<i64, String> {
            value
                .as_i64()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{what} must be a whole number of 0 or more, not {value}"))
        };
        match key.as_str() {
            "group" => self.group = Some(number("group")?),
            "cores" => self.cores = Some(number("cores")?),
            "gpus" => {
                self.gpus = Some(
                    number("gpus")?
                        .try_into()
                        .map_err(|_| format!("gpus must be at most {}, not {value}", u32::MAX))?,
                )
            }
            "timeout" => self.timeout = Some(seconds(&value)?),
            "memory" => {
                self.memory = Some(match &value {
                    Json::String(s) => parse_bytes(s).map_err(|e| format!("memory {e}"))?,
                    _ => number("memory (bytes, or a size such as 8G)")?,
                })
            }
            _ => {
                self.tags.insert(key, value);
            }
        }
        Ok(())
    }

    /// Later settings win over earlier ones, key by key.
    pub fn merged(&self, later: &Directives) -> Directives {
        let mut tags = self.tags.clone();
        tags.extend(later.tags.clone());
        Directives {
            group: later.group.or(self.group),
            cores: later.cores.or(self.cores),
            memory: later.memory.or(self.memory),
            gpus: later.gpus.or(self.gpus),
            timeout: later.timeout.or(self.timeout),
            tags,
        }
    }

    /// Give these settings to a new task row (its tags move there).
    pub fn apply(self, row: &mut TaskRecord) {
        if let Some(g) = self.group {
            row.group = g;
        }
        row.cores = self.cores.or(row.cores);
        row.memory = self.memory.or(row.memory);
        if let Some(gpus) = self.gpus.filter(|g| *g > 0) {
            row.job.get_or_insert_with(Default::default).gpus = gpus;
        }
        row.timeout = self.timeout.or(row.timeout);
        row.tag.extend(self.tags);
    }
}

/// A task's timeout: whole seconds, a fraction rounded up as `task.timeout` is, at most
/// [`MAX_SECONDS`].
fn seconds(value: &Json) -> Result<i64, String> {
    match value.as_f64() {
        Some(t) if t >= 0.0 && seconds_in_range(t) => Ok(t.ceil() as i64),
        _ => Err(format!(
            "timeout must be a number of seconds from 0 to {MAX_SECONDS}, not {value}"
        )),
    }
}

/// Where a directive starts in `line`: the byte offset of its `#` and of the text after
/// `HYPERSHELL` (and its optional `:`).
fn find(line: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(rel) = line[from..].find('#') {
        let hash = from + rel;
        let after = line[hash + 1..].trim_start();
        if let Some(rest) = after.strip_prefix("HYPERSHELL") {
            let body = rest.strip_prefix(':').unwrap_or(rest);
            return Some((hash, line.len() - body.len()));
        }
        from = hash + 1;
    }
    None
}

/// A line split into its command and its directive, if it has one.
pub fn split(line: &str) -> Result<(&str, Option<Directives>), QueryError> {
    match find(line) {
        Some((hash, body)) => Ok((
            line[..hash].trim_end(),
            Some(Directives::parse(&line[body..])?),
        )),
        None => Ok((line, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_directive_is_cut_from_a_line() {
        let (cmd, d) =
            split("echo 'a#b' # a comment # HYPERSHELL: site:b group:2 memory:1G").unwrap();
        assert_eq!(cmd, "echo 'a#b' # a comment");
        let d = d.unwrap();
        assert_eq!(d.group, Some(2));
        assert_eq!(d.memory, Some(1 << 30));
        assert_eq!(d.tags.get("site"), Some(&Json::String("b".into())));
        assert_eq!(
            split("echo '#1' # plain comment").unwrap(),
            ("echo '#1' # plain comment", None)
        );
    }

    #[test]
    fn a_directive_line_alone_has_an_empty_command() {
        let (cmd, d) = split("#HYPERSHELL timeout:30 urgent").unwrap();
        assert_eq!(cmd, "");
        let d = d.unwrap();
        assert_eq!(d.timeout, Some(30));
        assert_eq!(d.tags.get("urgent"), Some(&Json::String(String::new())));
    }

    #[test]
    fn bad_items_are_errors() {
        assert!(split("true # HYPERSHELL: file:/a/b").is_err());
        assert!(split("true # HYPERSHELL: cores:-1").is_err());
        assert!(split("true # HYPERSHELL: timeout:-1").is_err());
        let err = split("true # HYPERSHELL: memory:lots").unwrap_err();
        assert!(err.to_string().contains("memory:lots"), "{err}");
    }

    #[test]
    fn values_are_checked_the_same_from_json() {
        let mut d = Directives::default();
        d.add_value("timeout".into(), Json::from(1.5)).unwrap();
        assert_eq!(d.timeout, Some(2));
        d.add_value("memory".into(), Json::from("1K")).unwrap();
        assert_eq!(d.memory, Some(1024));
        for (key, value) in [
            ("group", Json::from(-1)),
            ("cores", Json::from(2.5)),
            ("timeout", Json::from(-0.5)),
            ("timeout", Json::from(1e300)),
            ("timeout", Json::from(1e19)),
            ("timeout", Json::from(1_000_000_001)),
            ("memory", Json::from(-1)),
            ("cores", Json::from("2")),
        ] {
            let err = d.add_value(key.into(), value.clone()).unwrap_err();
            assert!(err.starts_with(key), "{key}: {err}");
        }
        d.add_value("list".into(), serde_json::json!([1, 2]))
            .unwrap();
        assert_eq!(d.tags["list"], serde_json::json!([1, 2]));
    }

    #[test]
    fn later_settings_win() {
        let global = Directives::parse("a:1 group:1").unwrap();
        let inline = Directives::parse("a:2 b").unwrap();
        let m = global.merged(&inline);
        assert_eq!(m.group, Some(1));
        assert_eq!(m.tags.get("a"), Some(&Json::from(2)));
        assert!(m.tags.contains_key("b"));
    }
}
