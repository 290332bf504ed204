//! One input line → one job, or a reason it cannot run.
//!
//! A job is a JSON object with `cmd` (required, a string) and optionally `cd`, `out`, `err`
//! (strings), `env` (an object of strings), `timeout` (seconds), `tags` (an object), `host` (a
//! list of host names), `gpus` (how many the job needs) and `id`. Every other key is passed
//! through untouched: the result line is the input object, its values byte for byte (see
//! `echo`), plus `"result"`.

use hs_broker::client::JobSpec;
use hs_broker::store::TaskRecord;
use hs_engine::bundle::MAX_TASK_BYTES;
use hs_engine::task::{JobOptions, MAX_SECONDS, seconds_in_range};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::echo::Echo;

/// The members of a job that hs reads; the rest are only echoed.
const FIELDS: &[&str] = &["cmd", "cd", "out", "err", "env", "timeout", "tags", "host"];

/// The UTF-8 byte-order mark, which an editor may put at the start of a file (and so, after
/// `cat`, of any line): not part of the JSON, so skipped.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// A parsed job: the original object (echoed back with its result) and what to run (its `host`
/// list travels in `options.hosts`, for the broker to place it).
pub struct Job {
    pub object: Echo,
    pub cmd: String,
    pub options: JobOptions,
    pub timeout: Option<i64>,
    pub tags: Map<String, Value>,
}

/// A line that is not a runnable job: what to echo back, and why.
pub struct Rejected {
    /// The object itself when the line was one, else `{"input": <the line>}`.
    pub echo: Echo,
    pub error: String,
}

fn reject(echo: Echo, error: impl Into<String>) -> Rejected {
    Rejected {
        echo,
        error: error.into(),
    }
}

fn string_field(object: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("\"{key}\" must be a string, not {other}")),
    }
}

/// Parse one line (without its newline).
pub fn parse(line: &str) -> Result<Job, Rejected> {
    let not_json =
        |e: serde_json::Error| reject(Echo::input_text(line), format!("not valid JSON: {e}"));
    if !line.starts_with('{') {
        let value: Box<RawValue> = serde_json::from_str(line).map_err(not_json)?;
        return Err(reject(
            Echo::input(value),
            "a job must be a JSON object with a \"cmd\" string",
        ));
    }
    let echo: Echo = serde_json::from_str(line).map_err(not_json)?;
    let object = match echo.decode(FIELDS) {
        Ok(object) => object,
        // Valid JSON whose member hs reads does not decode (a number out of f64's range).
        Err(e) => return Err(reject(echo, format!("not a usable job: {e}"))),
    };
    if line.len() > MAX_TASK_BYTES {
        return Err(reject(
            echo,
            format!("longer than the {MAX_TASK_BYTES} bytes a job may have"),
        ));
    }
    match read_fields(&object) {
        Ok((cmd, options, timeout, tags)) => Ok(Job {
            object: echo,
            cmd,
            options,
            timeout,
            tags,
        }),
        Err(e) => Err(reject(echo, e)),
    }
}

/// What a job asks for: its command, options, timeout and tags, read from the members hs reads.
type Fields = (String, JobOptions, Option<i64>, Map<String, Value>);

fn read_fields(object: &Map<String, Value>) -> Result<Fields, String> {
    let cmd = match object.get("cmd") {
        Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
        Some(Value::String(_)) => return Err("\"cmd\" is empty".into()),
        Some(other) => return Err(format!("\"cmd\" must be a string, not {other}")),
        None => return Err("the job has no \"cmd\"".into()),
    };
    let mut options = JobOptions {
        cwd: string_field(object, "cd")?,
        stdout: string_field(object, "out")?,
        stderr: string_field(object, "err")?,
        env: Vec::new(),
        hosts: hosts(object)?,
        command: None,
        gpus: gpus(object)?,
    };
    match object.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Object(vars)) => {
            for (k, v) in vars {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => v.to_string(),
                    other => return Err(format!("env {k:?} must be a string, not {other}")),
                };
                if k.is_empty() || k.contains('=') || k.contains('\0') || text.contains('\0') {
                    return Err(format!("env {k:?} is not a usable variable"));
                }
                options.env.push((k.clone(), text));
            }
        }
        Some(other) => return Err(format!("\"env\" must be an object, not {other}")),
    }
    let timeout = match object.get("timeout") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|t| t > 0.0 && seconds_in_range(t)) => {
            n.as_f64().map(|t| t.ceil() as i64)
        }
        Some(other) => {
            return Err(format!(
                "\"timeout\" must be a positive number of seconds up to {MAX_SECONDS}, not {other}"
            ));
        }
    };
    let tags = match object.get("tags") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(t)) => t.clone(),
        Some(other) => return Err(format!("\"tags\" must be an object, not {other}")),
    };
    Ok((cmd, options, timeout, tags))
}

/// `gpus`: how many GPUs the job needs (absent: none).
fn gpus(object: &Map<String, Value>) -> Result<u32, String> {
    match object.get("gpus") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("\"gpus\" must be a whole number of 0 or more, not {v}")),
    }
}

/// `host`: a name or a list of names; absent means anywhere. An empty name or list is refused
/// rather than read as "anywhere" or "nowhere".
fn hosts(object: &Map<String, Value>) -> Result<Vec<String>, String> {
    let names = match object.get("host") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(h)) => vec![h.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|h| {
                h.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("\"host\" entries must be strings, not {h}"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(format!(
                "\"host\" must be a list of host names, not {other}"
            ));
        }
    };
    if names.is_empty() {
        return Err("\"host\" lists no host names".into());
    }
    if names.iter().any(|h| h.trim().is_empty()) {
        return Err("\"host\" names must not be empty".into());
    }
    Ok(names)
}

/// One input line, read: a job to run, or the answer to a line that cannot run.
pub enum Entry {
    Job(Job),
    Answered(Echo, Value),
}

/// Read an input line (raw bytes): `None` for a blank line, else the job or, for a line that
/// is not one, its result saying why. A line that is not UTF-8 is refused, never run with its
/// bytes replaced (it is echoed so, as JSON must be UTF-8).
pub fn read_line(raw: &[u8]) -> Option<Entry> {
    let raw = raw.strip_prefix(BOM).unwrap_or(raw);
    let parsed = match std::str::from_utf8(raw) {
        Ok(text) => {
            let line = text.trim();
            if line.is_empty() {
                return None;
            }
            parse(line)
        }
        Err(e) => {
            let text = String::from_utf8_lossy(raw);
            Err(reject(
                Echo::input_text(text.trim()),
                format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1),
            ))
        }
    };
    Some(match parsed {
        Ok(job) => Entry::Job(job),
        Err(rejected) => {
            let r = super::result::not_run("error", &rejected.error, None);
            Entry::Answered(rejected.echo, r)
        }
    })
}

impl Job {
    /// The task row for this job, taken apart: the object, kept for the answer, comes back
    /// with it.
    pub fn into_task(self, submitter: &crate::input::Submitter) -> (TaskRecord, Echo) {
        let mut row = submitter.task(self.cmd, submitter.defaults.clone());
        row.timeout = self.timeout.or(row.timeout);
        row.tag.extend(self.tags);
        let has_options = self.options != JobOptions::default();
        row.job = has_options.then_some(self.options);
        (row, self.object)
    }

    /// The job for a running controller (`hs stream --file`): watched, so its result comes
    /// back as soon as it is recorded. (Taken apart as [`into_task`](Self::into_task) is.)
    pub fn into_spec(self) -> (JobSpec, Echo) {
        let spec = JobSpec::new(self.cmd)
            .with_options(self.options)
            .tags(self.tags);
        let spec = match self.timeout {
            Some(t) => spec.timeout_secs(u64::try_from(t).unwrap_or(0)),
            None => spec,
        };
        (spec, self.object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_job_parses_and_keeps_unknown_keys() {
        let j = parse(r#"{"cmd":"echo hi","cd":"/tmp","out":"o.txt","env":{"A":"1","B":2},"timeout":1.5,"tags":{"k":"v"},"host":["a"],"extra":[1,2]}"#)
            .ok()
            .expect("parses");
        assert_eq!(j.cmd, "echo hi");
        assert_eq!(j.options.cwd.as_deref(), Some("/tmp"));
        assert_eq!(
            j.options.env,
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "2".to_string())
            ]
        );
        assert_eq!(j.timeout, Some(2));
        assert_eq!(j.options.hosts, ["a"]);
        assert!(j.object.decoded("extra").is_ok_and(|v| v.is_some()));
    }

    #[test]
    fn bad_lines_say_why_and_echo_what_they_can() {
        let why = |line: &str| {
            parse(line)
                .err()
                .map(|r| (r.error, r.echo))
                .expect("rejected")
        };
        assert!(why("not json").0.starts_with("not valid JSON"));
        assert_eq!(
            why("not json").1.answer(&Value::Null),
            r#"{"input":"not json","result":null}"#
        );
        assert!(why("[1,2]").0.contains("JSON object"));
        assert!(why(r#"{"x":1}"#).0.contains("no \"cmd\""));
        assert!(why(r#"{"cmd":5}"#).0.contains("must be a string"));
        assert!(why(r#"{"cmd":"true","cd":3}"#).0.contains("\"cd\""));
        assert_eq!(
            why(r#"{"cmd":"true","env":[1]}"#)
                .1
                .decoded("cmd")
                .ok()
                .flatten(),
            Some(Value::from("true"))
        );
        assert!(
            why(r#"{"cmd":"true","host":[]}"#)
                .0
                .contains("no host names")
        );
        assert!(
            why(r#"{"cmd":"true","host":[""]}"#)
                .0
                .contains("must not be empty")
        );
        assert!(
            why(r#"{"cmd":"true","host":[1]}"#)
                .0
                .contains("must be strings")
        );
    }

    fn answered(raw: &[u8]) -> Option<(String, Value)> {
        match read_line(raw)? {
            Entry::Answered(echo, result) => Some((echo.answer(&Value::Null), result)),
            Entry::Job(_) => None,
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_not_run_with_its_bytes_replaced() {
        let (echo, result) = answered(b"{\"cmd\":\"echo \xff\"}").expect("refused");
        assert_eq!(result["error"], "not valid UTF-8 (byte 14)");
        assert_eq!(
            echo,
            "{\"input\":\"{\\\"cmd\\\":\\\"echo \u{fffd}\\\"}\",\"result\":null}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let Some(Entry::Job(job)) = read_line(b"\xef\xbb\xbf{\"cmd\":\"echo hi\"}\r\n") else {
            panic!("a job");
        };
        assert_eq!(job.cmd, "echo hi");
        assert!(read_line(b"\xef\xbb\xbf\n").is_none());
    }

    #[test]
    fn a_line_over_the_task_limit_is_refused_with_its_object() {
        let line = format!(r#"{{"cmd":"echo {}","id":7}}"#, "x".repeat(MAX_TASK_BYTES));
        let rejected = parse(&line).err().expect("refused");
        assert!(rejected.error.starts_with("longer than"));
        assert_eq!(
            rejected.echo.decoded("id").ok().flatten(),
            Some(Value::from(7))
        );
    }

    #[test]
    fn members_hs_does_not_read_are_not_decoded_and_may_be_anything_json() {
        let j = parse(r#"{"cmd":"true","huge":1e400,"n":123456789012345678901234567890}"#)
            .ok()
            .expect("parses");
        assert_eq!(
            j.object.answer(&Value::Null),
            r#"{"cmd":"true","huge":1e400,"n":123456789012345678901234567890,"result":null}"#
        );
        assert!(parse(r#"{"cmd":"true","timeout":1e400}"#).is_err());
    }
}
