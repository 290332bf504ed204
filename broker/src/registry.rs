//! Engines the broker knows and the leases it holds on their tasks.
//!
//! A lease is `(task, engine, lease number)`. Every task handed out has exactly one; it ends when
//! the engine reports a result (recorded), or when the engine is lost or leaves (the task goes
//! back to the queue, which is not an attempt).

use std::sync::Arc;
use std::time::Instant;

use hs_engine::resources::{Request, Resources};
use hs_engine::task::Task;
use uuid::Uuid;

use crate::ids::{IdMap, IdSet};
use crate::prefetch::RunTime;

/// What the broker knows about one engine.
#[derive(Clone, Debug)]
pub struct EngineInfo {
    pub id: Uuid,
    pub host: String,
    /// Its host's key for matching tasks that name hosts ([`host_key`](crate::hosts::host_key)),
    /// worked out once.
    pub host_key: String,
    pub slots: u32,
    pub pid: u32,
    /// How many leased tasks it may hold at once (slots + prefetch, see [`crate::prefetch`]).
    pub capacity: u32,
    /// How long its tasks take to run, which the prefetch follows.
    pub runs: RunTime,
    pub done: u64,
    pub last_heard: Instant,
    pub registered_at: Instant,
    /// A drain was sent, or it is leaving on its own; it gets no more tasks, and says bye when
    /// its work is acknowledged.
    pub drained: bool,
    /// Tasks it handed back while draining ([`Leaving`](hs_engine::protocol::Leaving)).
    pub handed_back: u64,
    /// When it was asked to give back unstarted tasks ([`GiveBack`](hs_engine::protocol::GiveBack))
    /// if it has not answered yet; it is not asked again meanwhile, unless the answer is
    /// overdue (lost with a dropped connection).
    pub asked: Option<Instant>,
    /// It answered a give-back with nothing while holding this many tasks (all started, or
    /// bound to its host): it is not asked again until what it holds changes.
    pub declined_at: Option<usize>,
    /// A bundle could not be sent to it (its connection dropped, or its queue at the socket is
    /// full): it gets no more tasks until it is heard from again. Being silent for the eviction
    /// window, not one failed send, is what makes an engine lost.
    pub unreachable: bool,
    /// What its tasks may use together, as it declared (an older engine declares nothing:
    /// cores and memory not limited, no GPUs).
    pub resources: Resources,
}

pub struct Lease {
    /// Shared with the bundle that carried it to the engine.
    pub task: Arc<Task>,
    pub engine: Uuid,
    pub number: u64,
}

/// More leases than any controller hands out (one per task start, 2^62).
const MAX_LEASE: u64 = 1 << 62;

#[derive(Default)]
pub struct Registry {
    engines: IdMap<EngineInfo>,
    /// Engines in least-recently-served order, for fair dispatch.
    order: Vec<Uuid>,
    held: IdMap<IdSet>,
    /// What the tasks each engine holds ask for, summed: its resources minus this are free.
    /// Only engines holding tasks that ask for something have an entry.
    used: IdMap<Request>,
    leases: IdMap<Lease>,
    next_lease: u64,
}

impl Registry {
    pub fn add(&mut self, info: EngineInfo) {
        if !self.engines.contains_key(&info.id) {
            self.order.push(info.id);
        }
        self.held.entry(info.id).or_default();
        self.engines.insert(info.id, info);
    }

    pub fn get(&self, id: &Uuid) -> Option<&EngineInfo> {
        self.engines.get(id)
    }

    pub fn get_mut(&mut self, id: &Uuid) -> Option<&mut EngineInfo> {
        self.engines.get_mut(id)
    }

    pub fn engines(&self) -> impl Iterator<Item = &EngineInfo> {
        self.engines.values()
    }

    pub fn engine_count(&self) -> usize {
        self.engines.len()
    }

    pub fn lease_count(&self) -> usize {
        self.leases.len()
    }

    /// Tasks `engine` holds right now.
    pub fn held_by(&self, engine: &Uuid) -> usize {
        self.held.get(engine).map_or(0, IdSet::len)
    }

    /// Whether `engine` holds the task `task`.
    pub fn holds(&self, engine: &Uuid, task: &Uuid) -> bool {
        self.held.get(engine).is_some_and(|h| h.contains(task))
    }

    /// Free credit of `engine`.
    pub fn credit(&self, engine: &Uuid) -> usize {
        self.engines.get(engine).map_or(0, |e| {
            (e.capacity as usize).saturating_sub(self.held_by(engine))
        })
    }

    /// What the tasks `engine` holds ask for, summed.
    pub fn used(&self, engine: &Uuid) -> Request {
        self.used.get(engine).copied().unwrap_or_default()
    }

    /// Whether `request` fits in what `engine` has free.
    pub fn fits(&self, engine: &Uuid, request: &Request) -> bool {
        request.is_zero()
            || self
                .engines
                .get(engine)
                .is_some_and(|e| e.resources.fits(&self.used(engine), request))
    }

    fn count_in(&mut self, engine: Uuid, task: &Task) {
        let request = Request::of(task);
        if !request.is_zero() {
            self.used.entry(engine).or_default().add(&request);
        }
    }

    /// Engines in dispatch order: least recently served first.
    pub fn dispatch_order(&self) -> Vec<Uuid> {
        self.order.clone()
    }

    /// Move the engines served in one dispatch pass to the back of the dispatch order, in the
    /// order they were served. One pass over the order for the whole batch: moving each engine
    /// on its own cost a search of the order per bundle, which with thousands of engines took
    /// more time than the bundles.
    pub fn served(&mut self, served: &[Uuid]) {
        match served {
            [] => {}
            [one] => {
                if let Some(pos) = self.order.iter().position(|e| e == one) {
                    self.order.remove(pos);
                    self.order.push(*one);
                }
            }
            _ => {
                let moved: IdSet = served.iter().copied().collect();
                self.order.retain(|e| !moved.contains(e));
                self.order.extend(
                    served
                        .iter()
                        .filter(|e| self.engines.contains_key(*e))
                        .copied(),
                );
            }
        }
    }

    /// Lease `task` to `engine`; returns the lease number.
    pub fn lease(&mut self, task: Arc<Task>, engine: Uuid) -> u64 {
        self.next_lease += 1;
        let number = self.next_lease;
        self.held.entry(engine).or_default().insert(task.id);
        self.count_in(engine, &task);
        self.leases.insert(
            task.id,
            Lease {
                task,
                engine,
                number,
            },
        );
        number
    }

    /// Adopt a task an engine reports running that the broker had put back in the queue. Its
    /// lease number may come from a previous controller, so new leases count on from it; a
    /// number no controller could have reached (a buggy peer's) is kept on the lease but does
    /// not move the counter, which could then overflow.
    pub fn adopt(&mut self, task: Arc<Task>, engine: Uuid, number: u64) {
        if number < MAX_LEASE {
            self.next_lease = self.next_lease.max(number);
        }
        self.held.entry(engine).or_default().insert(task.id);
        self.count_in(engine, &task);
        self.leases.insert(
            task.id,
            Lease {
                task,
                engine,
                number,
            },
        );
    }

    pub fn lease_of(&self, task: &Uuid) -> Option<&Lease> {
        self.leases.get(task)
    }

    /// Whether `engine` holds `task` under lease `number` now. A lease revoked when its engine
    /// was lost, and given anew (to another engine, or to the same one again), is not: what
    /// that engine says about the task under the old number (a result, a give-back) is stale.
    pub fn holds_under(&self, task: &Uuid, engine: &Uuid, number: u64) -> bool {
        self.leases
            .get(task)
            .is_some_and(|l| l.engine == *engine && l.number == number)
    }

    /// End the lease on `task` (whoever holds it) and return it.
    pub fn release(&mut self, task: &Uuid) -> Option<Lease> {
        let lease = self.leases.remove(task)?;
        if let Some(set) = self.held.get_mut(&lease.engine) {
            set.remove(task);
        }
        let request = Request::of(&lease.task);
        if !request.is_zero()
            && let Some(used) = self.used.get_mut(&lease.engine)
        {
            used.remove(&request);
            if used.is_zero() {
                self.used.remove(&lease.engine);
            }
        }
        Some(lease)
    }

    /// Forget `engine` and return the leases it held, in lease order.
    pub fn remove(&mut self, engine: &Uuid) -> (Option<EngineInfo>, Vec<Lease>) {
        let info = self.engines.remove(engine);
        self.order.retain(|e| e != engine);
        let ids = self.held.remove(engine).unwrap_or_default();
        self.used.remove(engine);
        let mut leases: Vec<Lease> = ids.iter().filter_map(|id| self.leases.remove(id)).collect();
        leases.sort_by_key(|l| l.number);
        (info, leases)
    }

    /// Engines silent since before `deadline`.
    pub fn silent_since(&self, deadline: Instant) -> Vec<Uuid> {
        self.engines
            .values()
            .filter(|e| e.last_heard < deadline)
            .map(|e| e.id)
            .collect()
    }

    /// Every leased task, with the engine holding it.
    pub fn leased(&self) -> impl Iterator<Item = (Uuid, Uuid)> + '_ {
        self.leases
            .iter()
            .map(|(task, lease)| (*task, lease.engine))
    }

    /// Leases held by `engine` that are not in `still_held`: tasks it lost track of.
    pub fn unaccounted(&self, engine: &Uuid, still_held: &IdSet) -> Vec<Uuid> {
        self.held
            .get(engine)
            .map(|set| {
                set.iter()
                    .filter(|id| !still_held.contains(id))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(registry: &mut Registry) -> Uuid {
        let id = Uuid::new_v4();
        register(registry, id);
        id
    }

    fn register(registry: &mut Registry, id: Uuid) {
        let now = Instant::now();
        registry.add(EngineInfo {
            id,
            host: "h".into(),
            host_key: "h".into(),
            slots: 1,
            pid: 1,
            capacity: 2,
            runs: RunTime::default(),
            done: 0,
            last_heard: now,
            registered_at: now,
            drained: false,
            unreachable: false,
            declined_at: None,
            handed_back: 0,
            asked: None,
            resources: Resources::default(),
        });
    }

    #[test]
    fn engines_served_in_a_pass_go_to_the_back_in_the_order_served() {
        let mut r = Registry::default();
        let (a, b, c, d) = (
            engine(&mut r),
            engine(&mut r),
            engine(&mut r),
            engine(&mut r),
        );
        assert_eq!(r.dispatch_order(), [a, b, c, d]);
        r.served(&[c, a]);
        assert_eq!(r.dispatch_order(), [b, d, c, a]);
        r.served(&[b]);
        assert_eq!(r.dispatch_order(), [d, c, a, b]);
        r.served(&[]);
        assert_eq!(r.dispatch_order(), [d, c, a, b]);
        // An engine that left meanwhile is not brought back.
        r.remove(&a);
        r.served(&[a, d]);
        assert_eq!(r.dispatch_order(), [c, b, d]);
    }

    #[test]
    fn after_an_eviction_only_the_new_lease_counts() {
        let mut r = Registry::default();
        let (first, second) = (engine(&mut r), engine(&mut r));
        let task = Arc::new(Task::new("true"));
        let id = task.id;
        let old = r.lease(task, first);
        assert!(r.holds_under(&id, &first, old));
        // The first engine is evicted; its task goes to the second under a new lease.
        let (_, requeued) = r.remove(&first);
        let new = r.lease(requeued.into_iter().next().expect("its task").task, second);
        assert!(!r.holds_under(&id, &first, old), "revoked");
        assert!(r.holds_under(&id, &second, new));
        assert!(
            !r.holds_under(&id, &second, old),
            "another number is another lease"
        );
        // Leased to the first engine again after it registers anew: the old number is stale.
        let again = r.release(&id).expect("leased").task;
        register(&mut r, first);
        let newest = r.lease(again, first);
        assert!(r.holds_under(&id, &first, newest) && !r.holds_under(&id, &first, old));
    }
}
