//! Which queued tasks an engine gives back when its controller asks ([`GiveBack`]).
//!
//! A task in an engine's queue is not yet the engine's: when another engine sits idle and the
//! controller has nothing left to hand it, the controller asks for some back. The engine gives
//! the ones it would have started last (the back of its queue), never a running one, and keeps
//! tasks that name hosts: they were placed on this engine's host on purpose, and the idle
//! engine may well be on another.
//!
//! [`GiveBack`]: crate::protocol::GiveBack

use crate::protocol::Leased;

use super::board::BoardState;

impl BoardState {
    /// Take up to `most` tasks that name no host out of the queue, from its back; returned in
    /// queue order. Runs under the board's lock, so a task is either started or given back.
    pub fn give_back(&mut self, most: usize) -> Vec<Leased> {
        let mut given = Vec::new();
        let mut i = self.queue.len();
        while i > 0 && given.len() < most {
            i -= 1;
            if self.queue[i].task.hosts().is_empty()
                && let Some(job) = self.queue.remove(i)
            {
                given.push(job);
            }
        }
        given.reverse();
        given
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;

    fn board(tasks: &[Task]) -> BoardState {
        let mut b = BoardState::default();
        for (i, task) in tasks.iter().enumerate() {
            b.queue.push_back(Leased {
                lease: i as u64 + 1,
                task: std::sync::Arc::new(task.clone()),
            });
        }
        b
    }

    fn leases(jobs: &[Leased]) -> Vec<u64> {
        jobs.iter().map(|j| j.lease).collect()
    }

    #[test]
    fn the_tasks_it_would_start_last_go_back_first() {
        let mut b = board(&[Task::new("a"), Task::new("b"), Task::new("c")]);
        assert_eq!(leases(&b.give_back(2)), [2, 3]);
        assert_eq!(leases(b.queue.make_contiguous()), [1]);
        assert_eq!(leases(&b.give_back(5)), [1], "no more than it holds");
        assert!(b.give_back(1).is_empty());
    }

    #[test]
    fn running_and_host_bound_tasks_stay() {
        let mut b = board(&[
            Task::new("a"),
            Task::new("b").on_hosts(&["h1"]),
            Task::new("c"),
        ]);
        b.running.insert(uuid::Uuid::new_v4(), (9, 0));
        assert_eq!(leases(&b.give_back(3)), [1, 3]);
        assert_eq!(leases(b.queue.make_contiguous()), [2]);
        assert_eq!(b.running.len(), 1);
    }
}
