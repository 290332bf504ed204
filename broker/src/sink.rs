//! Where results go once the broker has accepted them.

use hs_engine::task::{Task, TaskResult};

use crate::registry::EngineInfo;

/// Receives every task's final result exactly once (the first final result wins; late
/// duplicates from a requeued task's earlier engine are dropped before they get here).
pub trait ResultSink {
    fn task_finished(&mut self, task: &Task, result: &TaskResult, engine: &EngineInfo);

    /// New tasks were accepted into the queue (from the input or from clients).
    fn tasks_submitted(&mut self, _count: u64) {}
}
