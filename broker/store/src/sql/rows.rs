//! What a row becomes when it is reverted, retried or completed.

use super::*;

/// The run fields `Revert` clears (HyperShell's revert, plus `signal` and what `--monitor`
/// measured: `cores_max`, `memory_max`, `csvpath`).
pub(crate) const REVERTED: [Field; 17] = [
    Field::ScheduleTime,
    Field::ServerId,
    Field::ServerHost,
    Field::ClientId,
    Field::ClientHost,
    Field::Command,
    Field::StartTime,
    Field::CompletionTime,
    Field::ExitStatus,
    Field::Signal,
    Field::Outpath,
    Field::Errpath,
    Field::CoresMax,
    Field::MemoryMax,
    Field::Csvpath,
    Field::Waited,
    Field::Duration,
];

/// The row a failed task is retried as (D2: resources are copied too), already scheduled.
///
/// A retry runs exactly the command the failed attempt ran (recorded in its `command`), not its
/// `args` expanded again under whatever template the engine that takes the retry has: a later
/// run with another `-t`, or another `hs client -t`, would otherwise run something else under
/// the same task. A task that never ran a command (a template error) is expanded again.
pub(crate) fn retry_of(
    f: &TaskRecord,
    by: &Scheduler,
    at: chrono::DateTime<chrono::Utc>,
) -> TaskRecord {
    let mut r = TaskRecord::new(f.args.clone(), by.server_id, Some(by.server_host.clone()));
    r.submit_time = at;
    r.group = f.group;
    r.cores = f.cores;
    r.memory = f.memory;
    r.timeout = f.timeout;
    r.tag = f.tag.clone();
    r.job = f.job.clone();
    if let Some(command) = &f.command {
        r.job.get_or_insert_with(Default::default).command = Some(command.clone());
    }
    if let Some(part) = r.tag.get_mut("part") {
        *part = serde_json::Value::from(0);
    }
    r.attempt = f.attempt.saturating_add(1);
    r.previous_id = Some(f.id);
    r.schedule_time = Some(at);
    r.server_id = Some(by.server_id);
    r.server_host = Some(by.server_host.clone());
    r
}

/// The run details of a completion, with `waited`/`duration` worked out (whole seconds,
/// truncated, as HyperShell does).
pub(crate) fn completion_fields(
    c: &Completion,
    submit_time: chrono::DateTime<chrono::Utc>,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
    Option<i64>,
    Option<i64>,
) {
    let start = c.start_time.map(micros);
    let end = micros(c.completion_time);
    let waited = start.map(|s| (s - submit_time).num_seconds());
    let duration = start.map(|s| (end - s).num_seconds());
    (start, end, waited, duration)
}

/// The first completion of each id, in input order.
pub(crate) fn first_of_each(done: &[Completion]) -> Vec<&Completion> {
    let mut seen = HashSet::new();
    done.iter().filter(|c| seen.insert(c.id)).collect()
}
