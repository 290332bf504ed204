//! Between store rows and what travels to engines.

use std::sync::Arc;

use hs_engine::protocol::{FinishedTask, TaskSpec};
use hs_engine::task::{JobOptions, Outcome, Task, TaskResult, sentinel};
use uuid::Uuid;

use crate::store::{Completion, TaskRecord};

/// The part of a row an engine needs to run the task, and to describe it to the task in
/// HyperShell's `TASK_<COLUMN>` variables. (The controller's id and host, its `server_id` and
/// `server_host`, travel once per engine in the welcome instead.) The row is taken apart, not
/// copied: the store gave it away.
pub fn to_task(r: TaskRecord) -> Arc<Task> {
    Arc::new(Task {
        id: r.id,
        args: r.args,
        attempt: r.attempt.max(1) as u32,
        group: r.group,
        submit_id: Some(r.submit_id),
        submit_time: r.submit_time,
        submit_host: r.submit_host,
        schedule_time: r.schedule_time,
        cores: r.cores,
        memory: r.memory,
        timeout: r.timeout.filter(|t| *t > 0).map(|t| t as f64),
        retried: r.retried,
        previous_id: r.previous_id,
        next_id: r.next_id,
        tag: r.tag,
        job: r.job,
    })
}

/// What the store records for a finished task; `engine` is `None` when it never reached one.
/// Output and samples paths are the controller's (see `outputs.rs`); the second value counts
/// the engine's that were refused. `uploads` is the controller's folder for uploaded output,
/// when it takes uploads.
pub fn to_completion(
    task: &Task,
    result: &TaskResult,
    engine: Option<(Uuid, &str)>,
    uploads: Option<&std::path::Path>,
) -> (Completion, usize) {
    let paths = crate::outputs::checked(task, result, uploads);
    let usage = result.usage.as_ref();
    let completion = Completion {
        id: result.id,
        client_id: engine.map(|(id, _)| id),
        client_host: engine.map(|(_, host)| host.to_string()),
        command: result.command.clone(),
        start_time: result.start_time,
        completion_time: result.completion_time,
        exit_status: result.exit_status,
        signal: result.signal,
        outpath: paths.outpath,
        errpath: paths.errpath,
        cores_max: usage.map(|u| u.cores_max),
        memory_max: usage.map(|u| u.memory_max as f64),
        csvpath: paths.csvpath,
    };
    (completion, paths.refused)
}

/// The row for a task a client described (`submit {tasks}`).
pub fn from_spec(spec: TaskSpec, submit_id: Uuid, submit_host: Option<String>) -> TaskRecord {
    let mut row = TaskRecord::new(spec.args, submit_id, submit_host);
    row.tag = spec.tags;
    // Only the controller fixes a task's command (for its retries): a client's task is expanded
    // by the engine's template like any other.
    row.job = spec
        .job
        .map(|j| JobOptions { command: None, ..j })
        .filter(|j| *j != JobOptions::default());
    row.timeout = spec
        .timeout
        .filter(|t| *t > 0)
        .map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    row
}

/// What a watching client is told about a task the store settled without an engine's report
/// (cancelled while waiting, or by `hs update --cancel`).
pub fn finished_from_record(r: &TaskRecord) -> FinishedTask {
    let exit_status = r.exit_status.unwrap_or(sentinel::CANCELLED);
    let outcome = match (exit_status, r.signal) {
        (sentinel::CANCELLED, None) => Outcome::Cancelled,
        (sentinel::TEMPLATE_ERROR, None) => Outcome::TemplateError,
        (sentinel::SPAWN_ERROR, None) => Outcome::SpawnError,
        (sentinel::OUTPUT_ERROR, None) => Outcome::OutputError,
        (_, Some(_)) => Outcome::Signaled,
        _ => Outcome::Exited,
    };
    let error = (outcome == Outcome::Cancelled).then(|| {
        if r.start_time.is_some() {
            "cancelled while it ran".to_string()
        } else {
            "cancelled before it ran".to_string()
        }
    });
    FinishedTask {
        id: r.id,
        outcome,
        exit_status,
        signal: r.signal,
        submit_time: r.submit_time,
        start_time: r.start_time,
        completion_time: r.completion_time.unwrap_or_else(chrono::Utc::now),
        engine_id: r.client_id,
        host: r.client_host.clone(),
        attempt: r.attempt.max(1) as u32,
        error,
    }
}
