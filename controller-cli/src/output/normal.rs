//! The `normal` format: HyperShell's labelled block per task (`hs list` prints `---` before
//! each, `hs info` prints one without it), in its order and wording so the output reads the
//! same: sizes as `8.00GB`, durations as `H:MM:SS`, hosts followed by their instance ids,
//! tags as `key:value, key`. hs additions: ` (signal: N)` after the exit status of a task
//! killed by a signal. Untracked cores and memory show as `0` and `0.00B`, as in HyperShell.

use hs_broker::store::{Field, TaskRecord};

use super::style::{BOLD, paint};
use super::value::{cell, field_value, format_tags};

/// The labelled lines for one task, each ending in a newline.
pub(crate) fn block(record: &TaskRecord, color: bool) -> String {
    let v = |f: Field| cell(&field_value(record, f));
    let or_null = |s: Option<String>| s.unwrap_or_else(|| "null".into());
    let r = record;
    let exit_status = match (r.exit_status, r.signal) {
        (Some(status), Some(signal)) => format!("{status} (signal: {signal})"),
        _ => v(Field::ExitStatus),
    };
    let lines: [(&str, String); 23] = [
        ("id", v(Field::Id)),
        ("group", v(Field::Group)),
        ("args", v(Field::Args)),
        ("command", v(Field::Command)),
        (
            "cores",
            format!(
                "{} (used: {})",
                r.cores.unwrap_or(0),
                or_null(r.cores_max.map(|c| format!("{c:.2}")))
            ),
        ),
        (
            "memory",
            format!(
                "{} (used: {})",
                format_bytes(r.memory.unwrap_or(0) as f64),
                or_null(r.memory_max.map(format_bytes))
            ),
        ),
        ("timeout", or_null(r.timeout.map(format_seconds))),
        ("exit_status", exit_status),
        ("submitted", v(Field::SubmitTime)),
        ("scheduled", v(Field::ScheduleTime)),
        (
            "started",
            format!(
                "{} (waited: {})",
                v(Field::StartTime),
                or_null(r.waited.map(format_seconds))
            ),
        ),
        (
            "completed",
            format!(
                "{} (duration: {})",
                v(Field::CompletionTime),
                or_null(r.duration.map(format_seconds))
            ),
        ),
        (
            "submit_host",
            format!("{} ({})", v(Field::SubmitHost), v(Field::SubmitId)),
        ),
        (
            "server_host",
            format!("{} ({})", v(Field::ServerHost), v(Field::ServerId)),
        ),
        (
            "client_host",
            format!("{} ({})", v(Field::ClientHost), v(Field::ClientId)),
        ),
        ("attempt", v(Field::Attempt)),
        ("retried", v(Field::Retried)),
        ("outpath", v(Field::Outpath)),
        ("errpath", v(Field::Errpath)),
        ("csvpath", v(Field::Csvpath)),
        ("previous_id", v(Field::PreviousId)),
        ("next_id", v(Field::NextId)),
        ("tags", format_tags(&r.tag)),
    ];
    let mut out = String::new();
    for (label, value) in lines {
        out.push_str(&paint(&format!("{label:>12}"), BOLD, color));
        out.push_str(": ");
        out.push_str(&value);
        out.push('\n');
    }
    out
}

/// HyperShell's `format_bytes`: three significant digits and a 1024-based unit (`512MB`,
/// `8.00GB`, `0.98KB`).
pub(crate) fn format_bytes(bytes: f64) -> String {
    let mut size = bytes;
    for unit in ["", "K", "M", "G", "T"] {
        if size.abs() < 1000.0 {
            return if size.abs() < 10.0 {
                format!("{size:.2}{unit}B")
            } else if size.abs() < 100.0 {
                format!("{size:.1}{unit}B")
            } else {
                format!("{size:.0}{unit}B")
            };
        }
        size /= 1024.0;
    }
    format!("{size:.1}PB")
}

/// Seconds as Python's `str(timedelta)`: `H:MM:SS`, with `N day(s), ` in front past a day.
pub(crate) fn format_seconds(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 | -1 => format!("{days} day, {clock}"),
        _ => format!("{days} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture::{done, fresh};

    #[test]
    fn finished_task() {
        assert_eq!(
            block(&done(), false),
            "          id: 0190a8e0-0000-7000-8000-000000000001
       group: 0
        args: echo hello
     command: echo hello
       cores: 2 (used: 1.50)
      memory: 8.00GB (used: 512MB)
     timeout: 1:00:00
 exit_status: 0
   submitted: 2024-05-01 12:00:00
   scheduled: 2024-05-01 12:00:01
     started: 2024-05-01 12:00:02.500000 (waited: 0:00:02)
   completed: 2024-05-01 12:00:05 (duration: 0:00:02)
 submit_host: login1 (0190a8e0-0000-7000-8000-000000000002)
 server_host: login1 (0190a8e0-0000-7000-8000-000000000003)
 client_host: node1 (0190a8e0-0000-7000-8000-000000000004)
     attempt: 1
     retried: false
     outpath: /tmp/o
     errpath: null
     csvpath: null
 previous_id: null
     next_id: null
        tags: part:0, site:a
"
        );
    }

    #[test]
    fn fresh_task_escapes_controls_and_shows_nulls() {
        assert_eq!(
            block(&fresh(), false),
            "          id: 0190a8e0-0000-7000-8000-000000000005
       group: 0
        args: printf 'a,b\\t\"c\"\\n'
     command: null
       cores: 0 (used: null)
      memory: 0.00B (used: null)
     timeout: null
 exit_status: null
   submitted: 2024-05-01 13:00:00
   scheduled: null
     started: null (waited: null)
   completed: null (duration: null)
 submit_host: null (0190a8e0-0000-7000-8000-000000000002)
 server_host: null (null)
 client_host: null (null)
     attempt: 2
     retried: false
     outpath: null
     errpath: null
     csvpath: null
 previous_id: 0190a8e0-0000-7000-8000-000000000006
     next_id: null
        tags: flag
"
        );
    }

    #[test]
    fn signal_and_colour() {
        let mut r = done();
        r.exit_status = Some(-9);
        r.signal = Some(9);
        let text = block(&r, true);
        assert!(
            text.contains("\x1b[1m exit_status\x1b[0m: -9 (signal: 9)\n"),
            "{text}"
        );
    }

    #[test]
    fn bytes_and_durations_like_hypershell() {
        assert_eq!(format_bytes(0.0), "0.00B");
        assert_eq!(format_bytes(999.0), "999B");
        assert_eq!(format_bytes(1000.0), "0.98KB");
        assert_eq!(format_bytes(1536.0), "1.50KB");
        assert_eq!(format_bytes(50.0 * 1024.0 * 1024.0), "50.0MB");
        assert_eq!(format_bytes(2f64.powi(50)), "1.0PB");
        assert_eq!(format_seconds(0), "0:00:00");
        assert_eq!(format_seconds(3661), "1:01:01");
        assert_eq!(format_seconds(86_400), "1 day, 0:00:00");
        assert_eq!(format_seconds(200_000), "2 days, 7:33:20");
        assert_eq!(format_seconds(-5), "-1 day, 23:59:55");
        assert_eq!(format_seconds(i64::MIN), format_seconds(i64::MIN));
    }
}
