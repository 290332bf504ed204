//! Between store rows and what travels to engines.

use hs_engine::task::{Task, TaskResult};
use uuid::Uuid;

use crate::store::{Completion, TaskRecord};

/// The part of a row an engine needs to run the task.
pub fn to_task(r: &TaskRecord) -> Task {
    Task {
        id: r.id,
        args: r.args.clone(),
        attempt: r.attempt.max(1) as u32,
        group: r.group,
        submit_time: r.submit_time,
        submit_host: r.submit_host.clone(),
        timeout: r.timeout.filter(|t| *t > 0).map(|t| t as f64),
        tag: r.tag.clone(),
        job: r.job.clone(),
    }
}

/// What the store records for a finished task; `engine` is `None` when it never reached one.
pub fn to_completion(result: &TaskResult, engine: Option<(Uuid, &str)>) -> Completion {
    Completion {
        id: result.id,
        client_id: engine.map(|(id, _)| id),
        client_host: engine.map(|(_, host)| host.to_string()),
        command: result.command.clone(),
        start_time: result.start_time,
        completion_time: result.completion_time,
        exit_status: result.exit_status,
        signal: result.signal,
        outpath: result.outpath.clone(),
        errpath: result.errpath.clone(),
    }
}
