//! Tasks waiting for an engine.
//!
//! New tasks join at the back; tasks taken back from a lost engine go to the front, so work that
//! was already under way is finished first. Tasks that came back are remembered by id, because an
//! engine that was only presumed lost may still report them, and the first result must win.
//!
//! Tasks that name hosts wait apart, in [`Pinned`], so the plain deque of tasks any engine may
//! run stays as cheap as it is when nobody uses host affinity.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hs_engine::task::Task;
use uuid::Uuid;

use crate::ids::IdMap;
use crate::pinned::Pinned;
use crate::registry::Lease;

pub struct TaskQueue {
    /// Tasks any engine may run (shared, so that moving one moves a pointer).
    waiting: VecDeque<Arc<Task>>,
    /// Tasks only engines on certain hosts may run.
    pub pinned: Pinned,
    /// Waiting tasks that had been handed out before, with the engine and lease number they
    /// were last handed out under (bounded by what was requeued).
    requeued: IdMap<(Uuid, u64)>,
}

impl TaskQueue {
    /// A queue whose host-bound tasks wait at most `affinity_wait` for an engine of theirs.
    pub fn new(affinity_wait: Duration) -> Self {
        TaskQueue {
            waiting: VecDeque::new(),
            pinned: Pinned::new(affinity_wait),
            requeued: IdMap::default(),
        }
    }

    /// Every waiting task, host-bound ones included.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.pinned.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.pinned.is_empty()
    }

    /// Tasks any engine may run: what refill and fair shares are measured by.
    pub fn open_len(&self) -> usize {
        self.waiting.len()
    }

    pub fn push(&mut self, task: Arc<Task>) {
        if task.hosts().is_empty() {
            self.waiting.push_back(task);
        } else {
            self.pinned.push(task, Instant::now(), false);
        }
    }

    /// Put the tasks of ended leases back at the front, keeping their order, remembering each
    /// one's last lease for [`take_requeued`](Self::take_requeued).
    pub fn requeue(&mut self, leases: Vec<Lease>) {
        let tasks = self.remember(leases);
        self.push_first(tasks);
    }

    /// Put the tasks of an evicted engine's leases back behind every waiting task, keeping their
    /// order and remembering their leases like [`requeue`](Self::requeue). An engine cut off
    /// from its controller may have finished some of them before it stopped the rest: run
    /// last, they give it the most time to come back and report those (which takes them out
    /// of the queue) before they run a second time, while tasks no engine has run yet go first.
    pub fn requeue_last(&mut self, leases: Vec<Lease>) {
        for task in self.remember(leases) {
            if task.hosts().is_empty() {
                self.waiting.push_back(task);
            } else {
                self.pinned.push(task, Instant::now(), true);
            }
        }
    }

    fn remember(&mut self, leases: Vec<Lease>) -> Vec<Arc<Task>> {
        leases
            .into_iter()
            .map(|lease| {
                self.requeued
                    .insert(lease.task.id, (lease.engine, lease.number));
                lease.task
            })
            .collect()
    }

    /// Put tasks at the front, keeping their order: requeued ones, or `--eager`'s retries.
    pub fn push_first(&mut self, tasks: Vec<Arc<Task>>) {
        let now = Instant::now();
        for task in tasks.into_iter().rev() {
            if task.hosts().is_empty() {
                self.waiting.push_front(task);
            } else {
                // Ready to schedule from now (a requeued task's wait for an engine starts over).
                self.pinned.push(task, now, true);
            }
        }
    }

    /// The next task any engine may run.
    #[cfg(test)]
    pub fn pop(&mut self) -> Option<Arc<Task>> {
        let task = self.waiting.pop_front()?;
        self.forget_requeued(&task.id);
        Some(task)
    }

    /// The first of the next `window` tasks any engine may run that `fits` accepts. The front
    /// is looked at first and alone when it fits, so a queue of tasks that ask for nothing
    /// costs what [`pop`](Self::pop) does; a task skipped keeps its place.
    pub fn pop_fitting(
        &mut self,
        window: usize,
        mut fits: impl FnMut(&Task) -> bool,
    ) -> Option<Arc<Task>> {
        let at = self.waiting.iter().take(window).position(|t| fits(t))?;
        let task = self.waiting.remove(at)?;
        self.forget_requeued(&task.id);
        Some(task)
    }

    /// The oldest task any engine may run, left in place.
    pub fn front(&self) -> Option<&Arc<Task>> {
        self.waiting.front()
    }

    /// Take the task `id` out of the tasks any engine may run, wherever it waits.
    pub fn take_open(&mut self, id: &Uuid) -> Option<Arc<Task>> {
        let at = self.waiting.iter().position(|t| t.id == *id)?;
        let task = self.waiting.remove(at)?;
        self.forget_requeued(&task.id);
        Some(task)
    }

    /// The tasks any engine may run, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &Arc<Task>> + '_ {
        self.waiting.iter()
    }

    /// The next host-bound task for an engine whose host has this key ([`crate::hosts::host_key`]).
    pub fn pop_pinned(&mut self, key: &str) -> Option<Arc<Task>> {
        let task = self.pinned.pop(key)?;
        self.forget_requeued(&task.id);
        Some(task)
    }

    fn forget_requeued(&mut self, id: &Uuid) {
        if !self.requeued.is_empty() {
            self.requeued.remove(id);
        }
    }

    /// Ids of every waiting task.
    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.waiting.iter().map(|t| t.id).chain(self.pinned.ids())
    }

    /// Drop these tasks from the queue (they were cancelled); returns how many were here.
    pub fn remove(&mut self, ids: &HashSet<Uuid>) -> usize {
        let before = self.len();
        self.waiting.retain(|t| !ids.contains(&t.id));
        for id in ids {
            self.pinned.take(id);
        }
        self.requeued.retain(|id, _| !ids.contains(id));
        before - self.len()
    }

    /// Take a requeued task out of the queue because a result for it arrived after all from
    /// `engine` under `lease`: only from the engine it was last handed to, under that lease.
    pub fn take_requeued(&mut self, id: &Uuid, engine: &Uuid, lease: u64) -> Option<Arc<Task>> {
        if self.requeued.get(id) != Some(&(*engine, lease)) {
            return None;
        }
        self.requeued.remove(id);
        if let Some(task) = self.pinned.take(id) {
            return Some(task);
        }
        let pos = self.waiting.iter().position(|t| t.id == *id)?;
        self.waiting.remove(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> TaskQueue {
        TaskQueue::new(Duration::from_secs(30))
    }

    fn task(args: &str) -> Arc<Task> {
        Arc::new(Task::new(args))
    }

    fn args(t: Arc<Task>) -> String {
        t.args.clone()
    }

    /// The engine every lease in these tests was under.
    const ENGINE: Uuid = Uuid::from_u128(7);

    /// Ended leases (numbered from 1, all under [`ENGINE`]) of `tasks`.
    fn ended(tasks: Vec<Arc<Task>>) -> Vec<Lease> {
        tasks
            .into_iter()
            .zip(1..)
            .map(|(task, number)| Lease {
                task,
                engine: ENGINE,
                number,
            })
            .collect()
    }

    #[test]
    fn requeued_tasks_go_first_in_order() {
        let mut q = queue();
        q.push(task("c"));
        q.requeue(ended(vec![task("a"), task("b")]));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(args).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn an_evicted_engines_tasks_go_last_in_order_and_can_be_taken_back() {
        let mut q = queue();
        q.push(task("c"));
        let leases = ended(vec![task("a"), task("b")]);
        let a = leases[0].task.id;
        q.requeue_last(leases);
        q.push(task("d"));
        assert!(
            q.take_requeued(&a, &ENGINE, 1).is_some(),
            "its late result counts"
        );
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(args).collect();
        assert_eq!(order, ["c", "b", "d"]);
    }

    #[test]
    fn tasks_put_first_go_before_the_waiting_ones_but_are_not_requeued() {
        let mut q = queue();
        q.push(task("new"));
        let retry = task("retry");
        let id = retry.id;
        q.push_first(vec![retry]);
        assert_eq!(q.take_requeued(&id, &ENGINE, 1), None, "never handed out");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(args).collect();
        assert_eq!(order, ["retry", "new"]);
    }

    #[test]
    fn a_late_result_takes_a_requeued_task_out_only_from_its_last_engine_and_lease() {
        let mut q = queue();
        let a = task("a");
        let id = a.id;
        q.push(task("x"));
        q.requeue(ended(vec![a]));
        assert_eq!(
            q.take_requeued(&id, &Uuid::from_u128(8), 1),
            None,
            "another engine"
        );
        assert_eq!(q.take_requeued(&id, &ENGINE, 2), None, "another lease");
        assert_eq!(
            q.take_requeued(&id, &ENGINE, 1).map(args),
            Some("a".to_string())
        );
        assert_eq!(q.take_requeued(&id, &ENGINE, 1), None);
        assert_eq!(q.len(), 1);
    }

    fn pinned(args: &str, host: &str) -> Arc<Task> {
        Arc::new(Task::new(args).on_hosts(&[host]))
    }

    #[test]
    fn host_bound_tasks_wait_apart_and_never_block_the_rest() {
        let mut q = queue();
        q.push(pinned("stuck", "h9"));
        q.push(task("free"));
        assert_eq!((q.len(), q.open_len()), (2, 1));
        assert_eq!(q.pop().map(args), Some("free".to_string()));
        assert!(q.pop().is_none());
        assert!(q.pop_pinned("h1").is_none());
        assert_eq!(q.pop_pinned("h9").map(args), Some("stuck".to_string()));
        assert!(q.is_empty());
    }

    #[test]
    fn a_requeued_host_bound_task_keeps_its_hosts_and_can_be_taken_back() {
        let mut q = queue();
        let a = pinned("a", "h1.lan");
        let id = a.id;
        q.requeue(ended(vec![a]));
        assert_eq!(q.open_len(), 0);
        assert_eq!(q.pinned.available("h1"), 1);
        assert_eq!(q.ids().collect::<Vec<_>>(), [id]);
        assert_eq!(
            q.take_requeued(&id, &ENGINE, 1).map(args),
            Some("a".to_string())
        );
        assert!(q.is_empty());
        q.requeue(ended(vec![pinned("b", "h1")]));
        let cancelled: HashSet<Uuid> = q.ids().collect();
        assert_eq!(q.remove(&cancelled), 1);
        assert!(q.is_empty());
    }
}
