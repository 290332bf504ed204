//! Host affinity's one decision that is not dispatch: giving up on a task whose hosts have no
//! engine. Such a task would otherwise keep the run open forever (a misspelt host, a node that
//! never came up), so after `affinity_wait` it is finished as failed to start, recorded the way
//! an engine records a template error: an exit status sentinel and a reason, no start time, no
//! engine.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hs_engine::task::{Outcome, Task, TaskResult, sentinel};

use super::Core;
use crate::broker::RunError;
use crate::sink::ResultSink;

impl Core {
    /// Fail the host-bound tasks that waited `affinity_wait` with no engine of theirs connected.
    /// Cheap when there is nothing to do: it looks at the tasks only once a deadline has passed
    /// or an engine has left.
    pub(super) fn expire_unplaced(
        &mut self,
        now: Instant,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        if !self.queue.pinned.due(now) {
            return Ok(());
        }
        let connected: HashSet<String> = self
            .registry
            .engines()
            .map(|e| e.host_key.clone())
            .collect();
        let expired = self.queue.pinned.expire(now, &connected);
        if expired.is_empty() {
            return Ok(());
        }
        let completed = Utc::now();
        let failed: Vec<(Arc<Task>, TaskResult)> = expired
            .into_iter()
            .map(|task| {
                let result = not_placed(&task, self.cfg.affinity_wait, completed);
                (task, result)
            })
            .collect();
        // (One cancelled meanwhile by another process keeps that result.)
        let recorded = self.record_final(failed, None, sink)?;
        if recorded > 0 {
            tracing::warn!(
                "{recorded} tasks failed without running: no engine on their hosts joined within {}",
                seconds(self.cfg.affinity_wait)
            );
        }
        Ok(())
    }
}

/// The result of a task that never ran because none of its hosts had an engine.
fn not_placed(task: &Task, wait: Duration, completed: chrono::DateTime<Utc>) -> TaskResult {
    let error = format!(
        "no engine on host(s) {} joined within {}",
        task.hosts().join(", "),
        seconds(wait)
    );
    never_placed(task, error, completed)
}

/// The result of a task no engine could take (HyperShell's TASK_RESOURCE_ERROR, −3), for
/// `error`: its hosts never joined, or no engine is large enough for it.
pub(super) fn never_placed(
    task: &Task,
    error: String,
    completed: chrono::DateTime<Utc>,
) -> TaskResult {
    TaskResult {
        completion_time: completed,
        ..TaskResult::not_run(
            task.id,
            0,
            Outcome::NoHost,
            sentinel::RESOURCE_ERROR,
            Some(error),
        )
    }
}

/// `30s`, `0.5s`: as short as the value allows.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_the_hosts_and_the_wait() {
        let task = Task::new("true").on_hosts(&["h9", "h8.lan"]);
        let r = not_placed(&task, Duration::from_secs(30), Utc::now());
        assert_eq!(
            r.error.as_deref(),
            Some("no engine on host(s) h9, h8.lan joined within 30s")
        );
        assert_eq!(r.exit_status, sentinel::RESOURCE_ERROR);
        assert!(!r.succeeded() && r.start_time.is_none());
        assert_eq!(seconds(Duration::from_millis(500)), "0.5s");
    }
}
