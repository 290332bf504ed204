//! Tasks waiting for an engine.
//!
//! New tasks join at the back; tasks taken back from a lost engine go to the front, so work that
//! was already under way is finished first. Tasks that came back are remembered by id, because an
//! engine that was only presumed lost may still report them, and the first result must win.

use std::collections::{HashSet, VecDeque};

use hs_engine::task::Task;
use uuid::Uuid;

#[derive(Default)]
pub struct TaskQueue {
    waiting: VecDeque<Task>,
    /// Ids of waiting tasks that had been handed out before (bounded by what was requeued).
    requeued: HashSet<Uuid>,
}

impl TaskQueue {
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn push(&mut self, task: Task) {
        self.waiting.push_back(task);
    }

    /// Put tasks back at the front, keeping their order.
    pub fn requeue(&mut self, tasks: Vec<Task>) {
        for task in tasks.into_iter().rev() {
            self.requeued.insert(task.id);
            self.waiting.push_front(task);
        }
    }

    pub fn pop(&mut self) -> Option<Task> {
        let task = self.waiting.pop_front()?;
        if !self.requeued.is_empty() {
            self.requeued.remove(&task.id);
        }
        Some(task)
    }

    /// Ids of every waiting task.
    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.waiting.iter().map(|t| t.id)
    }

    /// Drop these tasks from the queue (they were cancelled); returns how many were here.
    pub fn remove(&mut self, ids: &HashSet<Uuid>) -> usize {
        let before = self.waiting.len();
        self.waiting.retain(|t| !ids.contains(&t.id));
        self.requeued.retain(|id| !ids.contains(id));
        before - self.waiting.len()
    }

    /// Take a requeued task out of the queue because a result for it arrived after all.
    pub fn take_requeued(&mut self, id: &Uuid) -> Option<Task> {
        if !self.requeued.remove(id) {
            return None;
        }
        let pos = self.waiting.iter().position(|t| t.id == *id)?;
        self.waiting.remove(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(args: &str) -> Task {
        Task {
            id: Uuid::now_v7(),
            args: args.into(),
            attempt: 1,
            group: 0,
            submit_time: chrono::Utc::now(),
            submit_host: None,
            timeout: None,
            tag: Default::default(),
            job: None,
        }
    }

    #[test]
    fn requeued_tasks_go_first_in_order() {
        let mut q = TaskQueue::default();
        q.push(task("c"));
        q.requeue(vec![task("a"), task("b")]);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|t| t.args).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn a_late_result_takes_a_requeued_task_out() {
        let mut q = TaskQueue::default();
        let a = task("a");
        let id = a.id;
        q.push(task("x"));
        q.requeue(vec![a]);
        assert_eq!(q.take_requeued(&id).map(|t| t.args), Some("a".to_string()));
        assert_eq!(q.take_requeued(&id), None);
        assert_eq!(q.len(), 1);
    }
}
