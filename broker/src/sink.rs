//! Where results go once the broker has accepted them.

use hs_engine::task::{Task, TaskResult};

use crate::registry::EngineInfo;

/// Receives every task's final result exactly once (the first final result wins; late
/// duplicates from a requeued task's earlier engine are dropped before they get here).
pub trait ResultSink {
    fn task_finished(&mut self, task: &Task, result: &TaskResult, engine: &EngineInfo);

    /// A task was finished by the broker itself without reaching an engine (it names hosts no
    /// engine ran on in time: [`hs_engine::task::Outcome::NoHost`]). Recorded and counted as
    /// failed like any other final result; sinks that report failures should say so.
    fn task_failed_to_start(&mut self, task: &Task, result: &TaskResult) {
        tracing::warn!(
            "task {} did not run: {}",
            task.id,
            result.error.as_deref().unwrap_or("no engine could take it")
        );
    }

    /// New tasks were accepted into the queue (from the input or from clients).
    fn tasks_submitted(&mut self, _count: u64) {}
}
