//! `--eager`: a failed task due a retry runs before new tasks, however many of them wait.
//!
//! The broker keeps a queue of tasks taken from the store (up to a thousand and more beyond the
//! engines' credit), and the store makes a retry only when asked to schedule. A retry made by
//! the usual refill would join the back of that queue, behind every new task already taken.
//! So each recorded failure due a retry is counted, and the next turn asks the store for that
//! many tasks (an eager store gives retries first) and puts the retries at the front.

use hs_engine::task::{Task, TaskResult, sentinel};

use super::Core;
use crate::broker::RunError;
use crate::store::TaskRecord;

impl Core {
    /// Count `task`'s final `result` if it makes a retry due (with `--eager` only).
    pub(super) fn note_retry(&mut self, task: &Task, result: &TaskResult) {
        if self.cfg.eager && due_retry(task.attempt, self.cfg.max_retries, result) {
            self.retries_due += 1;
        }
    }

    /// Take the retries counted since last time from the store, to the front of the queue.
    pub(super) fn take_due_retries(&mut self) -> Result<(), RunError> {
        if self.retries_due == 0 {
            return Ok(());
        }
        let wanted = std::mem::take(&mut self.retries_due);
        let rows = self.store.schedule(wanted, &self.scheduler)?;
        let (retries, new) = split_retries(rows);
        self.unscheduled = self.unscheduled.saturating_sub(new.len() as u64);
        self.queue
            .push_first(retries.into_iter().map(crate::wire::to_task).collect());
        for row in new {
            self.queue.push(crate::wire::to_task(row));
        }
        Ok(())
    }
}

/// Whether a task on its `attempt` (1 for the first run) that ended with `result` is run again
/// under `-r max_retries`: it failed (a cancel is no failure; a SIGHUP death, also recorded as
/// -1, is) and has attempts left. The store's own test is the same.
fn due_retry(attempt: u32, max_retries: u32, result: &TaskResult) -> bool {
    let failed = result.exit_status != 0
        && (result.exit_status != sentinel::CANCELLED || result.signal.is_some());
    failed && attempt <= max_retries
}

/// Rows the store scheduled: its retries (rows that follow a previous attempt), and new tasks.
fn split_retries(rows: Vec<TaskRecord>) -> (Vec<TaskRecord>, Vec<TaskRecord>) {
    rows.into_iter().partition(|r| r.previous_id.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_engine::task::Outcome;
    use uuid::Uuid;

    fn ended(exit_status: i32, signal: Option<i32>) -> TaskResult {
        TaskResult {
            signal,
            ..TaskResult::not_run(Uuid::new_v4(), 1, Outcome::Exited, exit_status, None)
        }
    }

    #[test]
    fn a_failure_with_attempts_left_is_due_a_retry() {
        assert!(due_retry(1, 1, &ended(1, None)));
        assert!(due_retry(2, 2, &ended(-4, None)), "could not start");
        assert!(!due_retry(2, 1, &ended(1, None)), "no attempts left");
        assert!(!due_retry(1, 0, &ended(1, None)), "no -r");
        assert!(!due_retry(1, 3, &ended(0, None)), "succeeded");
    }

    #[test]
    fn a_cancel_is_not_retried_but_a_hangup_is() {
        assert!(!due_retry(1, 1, &ended(sentinel::CANCELLED, None)));
        assert!(due_retry(1, 1, &ended(sentinel::CANCELLED, Some(1))));
    }

    #[test]
    fn retries_are_told_from_new_tasks_by_their_previous_attempt() {
        let new = TaskRecord::new("b".into(), Uuid::new_v4(), None);
        let mut retry = TaskRecord::new("a".into(), Uuid::new_v4(), None);
        retry.previous_id = Some(Uuid::new_v4());
        let (retries, rest) = split_retries(vec![new.clone(), retry.clone()]);
        assert_eq!(retries.iter().map(|r| r.id).collect::<Vec<_>>(), [retry.id]);
        assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [new.id]);
    }
}
