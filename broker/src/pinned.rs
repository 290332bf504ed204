//! Tasks that may run only on certain hosts, waiting beside the main queue.
//!
//! They are kept apart so that the common case — no task names a host — costs nothing: the main
//! queue stays a plain deque and dispatch never looks at engines' host names. Here each task is
//! filed under the key of every host it names ([`crate::hosts::host_key`]), so an engine takes
//! its tasks with one lookup, and no task waits behind one that only another host may run.
//!
//! A task waits at most `wait` from the moment it became ready to schedule while no connected
//! engine could take it; then [`Pinned::expire`] hands it back to be failed. A matching engine
//! joining lets it run; engines coming and going reset nothing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hs_engine::task::Task;
use uuid::Uuid;

use crate::hosts;

/// Stale ids a host's list may carry beyond twice its live tasks before it is compacted.
const SLACK: usize = 64;

struct Waiting {
    task: Arc<Task>,
    keys: Vec<String>,
    since: Instant,
}

/// The tasks filed under one host key. `ids` may still hold tasks already taken through another
/// of their hosts (they are skipped when met); `live` counts only those still waiting.
#[derive(Default)]
struct HostList {
    ids: VecDeque<Uuid>,
    live: usize,
}

pub struct Pinned {
    wait: Duration,
    tasks: HashMap<Uuid, Waiting>,
    by_host: HashMap<String, HostList>,
    /// When [`Pinned::expire`] next has something to do, if no engine leaves before then.
    check_at: Option<Instant>,
    /// An engine left since the last expiry pass: that may strand waiting tasks.
    engine_left: bool,
}

impl Pinned {
    pub fn new(wait: Duration) -> Self {
        Pinned {
            wait,
            tasks: HashMap::new(),
            by_host: HashMap::new(),
            check_at: None,
            engine_left: false,
        }
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tasks an engine whose host has this key may take.
    pub fn available(&self, key: &str) -> usize {
        self.by_host.get(key).map_or(0, |l| l.live)
    }

    /// Add a task that became ready at `since`, behind (or, `front`, before) the others.
    pub fn push(&mut self, task: Arc<Task>, since: Instant, front: bool) {
        let keys = hosts::keys(task.hosts());
        for key in &keys {
            let list = self.by_host.entry(key.clone()).or_default();
            list.live += 1;
            if front {
                list.ids.push_front(task.id);
            } else {
                list.ids.push_back(task.id);
            }
        }
        let deadline = since + self.wait;
        self.check_at = Some(self.check_at.map_or(deadline, |t| t.min(deadline)));
        self.tasks.insert(task.id, Waiting { task, keys, since });
    }

    /// The first waiting task an engine whose host has this key may run.
    pub fn pop(&mut self, key: &str) -> Option<Arc<Task>> {
        let list = self.by_host.get_mut(key)?;
        while let Some(id) = list.ids.pop_front() {
            if self.tasks.contains_key(&id) {
                return self.take(&id);
            }
        }
        None
    }

    /// Take one task out, wherever it is filed.
    pub fn take(&mut self, id: &Uuid) -> Option<Arc<Task>> {
        let waiting = self.tasks.remove(id)?;
        for key in &waiting.keys {
            let Some(list) = self.by_host.get_mut(key) else {
                continue;
            };
            list.live = list.live.saturating_sub(1);
            if list.live == 0 {
                self.by_host.remove(key);
            } else if list.ids.len() > 2 * list.live + SLACK {
                list.ids.retain(|id| self.tasks.contains_key(id));
            }
        }
        Some(waiting.task)
    }

    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.tasks.keys().copied()
    }

    /// An engine left: the next [`Pinned::due`] says yes, since tasks only it could run may
    /// have waited their time already.
    pub fn engine_left(&mut self) {
        self.engine_left = true;
    }

    /// Whether [`Pinned::expire`] may find something to fail: a deadline has passed, or an
    /// engine left since the last pass.
    pub fn due(&self, now: Instant) -> bool {
        !self.tasks.is_empty() && (self.engine_left || self.check_at.is_some_and(|t| now >= t))
    }

    /// Take out the tasks that waited their whole time while no engine in `connected` (host
    /// keys of the engines registered now) could run them, oldest first.
    pub fn expire(&mut self, now: Instant, connected: &HashSet<String>) -> Vec<Arc<Task>> {
        self.engine_left = false;
        let mut next: Option<Instant> = None;
        let mut due: Vec<(Instant, Uuid)> = Vec::new();
        for (id, w) in &self.tasks {
            if w.keys.iter().any(|k| connected.contains(k)) {
                // It will run when its engine has credit; only that engine leaving changes that.
                continue;
            }
            let deadline = w.since + self.wait;
            if deadline <= now {
                due.push((w.since, *id));
            } else {
                next = Some(next.map_or(deadline, |t| t.min(deadline)));
            }
        }
        self.check_at = next;
        due.sort_unstable();
        due.iter().filter_map(|(_, id)| self.take(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(args: &str, hosts: &[&str]) -> Arc<Task> {
        Arc::new(Task::new(args).on_hosts(hosts))
    }

    fn connected(keys: &[&str]) -> HashSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn a_task_is_taken_once_through_any_of_its_hosts() {
        let mut p = Pinned::new(Duration::from_secs(30));
        let now = Instant::now();
        p.push(task("a", &["h1.lan", "H2"]), now, false);
        p.push(task("b", &["h2"]), now, false);
        assert_eq!((p.available("h1"), p.available("h2")), (1, 2));
        assert_eq!(p.pop("h2").map(|t| t.args.clone()), Some("a".into()));
        assert_eq!((p.available("h1"), p.available("h2")), (0, 1));
        assert!(p.pop("h1").is_none(), "a was taken through h2");
        assert_eq!(p.pop("h2").map(|t| t.args.clone()), Some("b".into()));
        assert!(p.is_empty());
        assert!(p.pop("h9").is_none());
    }

    #[test]
    fn requeued_tasks_go_first() {
        let mut p = Pinned::new(Duration::from_secs(30));
        let now = Instant::now();
        p.push(task("new", &["h1"]), now, false);
        p.push(task("back", &["h1"]), now, true);
        assert_eq!(p.pop("h1").map(|t| t.args.clone()), Some("back".into()));
    }

    #[test]
    fn a_task_waits_its_time_then_expires_when_no_engine_matches() {
        let wait = Duration::from_millis(50);
        let mut p = Pinned::new(wait);
        let t0 = Instant::now();
        p.push(task("stuck", &["h9"]), t0, false);
        assert!(!p.due(t0));
        assert!(p.expire(t0, &connected(&["h1"])).is_empty());
        let later = t0 + wait;
        assert!(p.due(later));
        let gone = p.expire(later, &connected(&["h1"]));
        assert_eq!(gone.iter().map(|t| &t.args).collect::<Vec<_>>(), ["stuck"]);
        assert!(p.is_empty() && p.available("h9") == 0);
    }

    #[test]
    fn a_connected_engine_keeps_a_task_waiting_until_it_leaves() {
        let wait = Duration::from_millis(50);
        let mut p = Pinned::new(wait);
        let t0 = Instant::now();
        p.push(task("busy host", &["h1"]), t0, false);
        let later = t0 + 2 * wait;
        assert!(p.expire(later, &connected(&["h1"])).is_empty());
        assert!(!p.due(later), "nothing to do while its engine is there");
        // The engine left: the task has waited long enough already.
        p.engine_left();
        assert!(p.due(later));
        assert_eq!(p.expire(later, &connected(&[])).len(), 1);
    }

    #[test]
    fn stale_entries_do_not_pile_up_under_a_host_nobody_has() {
        let mut p = Pinned::new(Duration::from_secs(30));
        let now = Instant::now();
        for i in 0..1000 {
            p.push(task(&i.to_string(), &["h1", "never"]), now, false);
            p.push(task("keep", &["never"]), now, false);
            assert!(p.pop("h1").is_some());
        }
        assert_eq!(p.available("never"), 1000);
        let list = &p.by_host["never"];
        assert!(list.ids.len() <= 2 * list.live + SLACK + 1);
    }
}
