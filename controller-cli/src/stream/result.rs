//! The `result` object of a job, in Bakapara's shape plus hs's fields.

use chrono::{DateTime, Utc};
use hs_engine::protocol::FinishedTask;
use hs_engine::task::{Outcome, Task, TaskResult};
use serde_json::{Value, json};
use uuid::Uuid;

/// `H:MM:SS.ffffff`, the way Python prints a timedelta (Bakapara's `elapsed`).
fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let micros = (to - from).num_microseconds().unwrap_or(0).max(0);
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    format!(
        "{}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        frac
    )
}

/// The result of a job that ran (or was tried) on an engine of this process's cluster.
pub fn finished(task: &Task, result: &TaskResult, engine_id: Uuid, host: &str) -> Value {
    of(&FinishedTask::new(task, result, Some((engine_id, host))))
}

/// The result of a job as a controller reports it (here, or pushed to a client).
pub fn of(f: &FinishedTask) -> Value {
    let mut r = json!({
        // A job that never started (no host, a bad `cd`, cancelled while waiting) has no exit
        // status: hs's negative sentinels stay out of `code`.
        "code": f.start_time.map(|_| f.exit_status),
        "status": f.status(),
        "submitted": f.submit_time.to_rfc3339(),
        "started": f.start_time.map(|t| t.to_rfc3339()),
        "completed": f.completion_time.to_rfc3339(),
        "received": Utc::now().to_rfc3339(),
        "elapsed": f.start_time.map(|s| elapsed(s, f.completion_time)),
        "engine_id": f.engine_id.map(|e| e.to_string()),
        "host": f.host,
        "msg_id": f.id.to_string(),
        "attempt": f.attempt,
        "signal": f.signal,
    });
    if let Some(e) = &f.error {
        r["error"] = Value::String(e.clone());
    } else if f.outcome == Outcome::Exited && f.exit_status != 0 {
        r["error"] = Value::String(format!("exit status {}", f.exit_status));
    }
    r
}

/// Why a job still unanswered when the user interrupted a stream has no result of its own.
pub const INTERRUPTED: &str = "the stream was interrupted before this job finished";

/// The result of a job that never reached an engine: a bad line, an impossible host, or a
/// stream stopped before the job ran.
pub fn not_run(status: &str, error: &str, msg_id: Option<String>) -> Value {
    json!({
        "code": Value::Null,
        "status": status,
        "received": Utc::now().to_rfc3339(),
        "msg_id": msg_id,
        "error": error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_is_printed_like_a_python_timedelta() {
        let a = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = DateTime::parse_from_rfc3339("2026-01-01T01:02:03.004005Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(elapsed(a, b), "1:02:03.004005");
    }
}
