//! Engines leaving: by saying bye, by going silent (eviction), or by becoming unreachable.
//! Whatever they held goes back to the queue; losing an engine never costs a task an attempt.

use std::time::Instant;

use crate::registry::Lease;
use hs_engine::protocol::{Drain, Held};
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;
use crate::queue::TaskQueue;
use crate::registry::EngineInfo;

impl Core {
    /// An engine says it is leaving. What it hands back (the `returned` of its [`Bye`](hs_engine::protocol::Bye)) is not
    /// looked at: those tasks are all among its leases, which go back whole.
    pub(super) fn bye(&mut self, engine: Uuid) -> Result<(), RunError> {
        let (info, held) = self.remove_engine(engine, false)?;
        if let Some(info) = info {
            let count = held as u64 + info.handed_back;
            if count > 0 {
                tracing::info!(
                    "engine {engine} on {} left and handed back {count} tasks (requeued)",
                    info.host
                );
            } else {
                tracing::debug!(
                    "engine {engine} on {} left after {} tasks",
                    info.host,
                    info.done
                );
            }
        }
        Ok(())
    }

    /// An engine is draining: it gets nothing more, and the tasks it hands back (those it holds
    /// under the same lease, so a stale or repeated message changes nothing) go back to the
    /// front of the queue for other engines, without counting an attempt.
    pub(super) fn leaving(&mut self, engine: Uuid, returned: &[Held]) -> Result<(), RunError> {
        let Some(info) = self.registry.get_mut(&engine) else {
            return Ok(());
        };
        let first = !info.drained;
        info.drained = true;
        let tasks = self.take_back(engine, returned);
        let held = self.registry.held_by(&engine);
        if let Some(info) = self.registry.get_mut(&engine) {
            info.handed_back += tasks.len() as u64;
            // Once per engine; its bye says how many it handed back in all.
            if first {
                tracing::info!(
                    "engine {engine} on {} is draining: {} tasks handed back (requeued), {held} \
                     still held there",
                    info.host,
                    tasks.len()
                );
            }
        }
        self.requeue(tasks)
    }

    /// Evict engines that have been silent longer than the eviction time.
    pub(super) fn evict_silent(&mut self, now: Instant) -> Result<(), RunError> {
        let Some(deadline) = now.checked_sub(self.cfg.evict) else {
            return Ok(());
        };
        for engine in self.registry.silent_since(deadline) {
            let why = format!("no heartbeat for {:.1}s", self.cfg.evict.as_secs_f64());
            self.engine_lost(engine, &why)?;
        }
        Ok(())
    }

    /// Forget a lost engine and requeue what it held.
    pub(super) fn engine_lost(&mut self, engine: Uuid, why: &str) -> Result<(), RunError> {
        let (info, count) = self.remove_engine(engine, true)?;
        let host = info.map(|i| i.host).unwrap_or_default();
        tracing::warn!("engine {engine} on {host} lost ({why}): {count} tasks requeued");
        Ok(())
    }

    /// Forget `engine` (`evicted` when it went silent or could not be reached) and requeue what
    /// it held; returns what was known of it and how many tasks it held.
    fn remove_engine(
        &mut self,
        engine: Uuid,
        evicted: bool,
    ) -> Result<(Option<EngineInfo>, usize), RunError> {
        let (info, held) = self.registry.remove(&engine);
        self.queue.pinned.engine_left();
        self.forget_engine(engine, evicted);
        if let Some(uploads) = &mut self.uploads {
            // Should it come back, the store says which uploads are its own.
            uploads.forget(engine);
        }
        let count = held.len();
        if evicted {
            // It may still be running (cut off): see `TaskQueue::requeue_last`.
            self.requeue_with(held, TaskQueue::requeue_last)?;
        } else {
            self.requeue(held)?;
        }
        Ok((info, count))
    }

    /// Every way a task comes back to the broker without a result (its engine left, was lost,
    /// or no longer holds it; no engine claimed it after a restart) ends here: it waits again at
    /// the front of the queue (an evicted engine's tasks at the back), unless it was being cancelled while leased, in which case it is
    /// cancelled now instead of being handed to another engine.
    ///
    /// A requeued task remembers the lease it was taken from: until it is handed out again, a
    /// late result counts only from that engine under that lease (it may have been running there
    /// when its engine went silent), never from any other peer.
    pub(super) fn requeue(&mut self, leases: Vec<Lease>) -> Result<(), RunError> {
        self.requeue_with(leases, TaskQueue::requeue)
    }

    /// [`requeue`](Self::requeue), with `put` placing the tasks in the queue.
    fn requeue_with(
        &mut self,
        leases: Vec<Lease>,
        put: fn(&mut TaskQueue, Vec<Lease>),
    ) -> Result<(), RunError> {
        let cancelled: Vec<Uuid> = leases
            .iter()
            .map(|l| l.task.id)
            .filter(|id| self.cancelling.contains(id))
            .collect();
        put(&mut self.queue, leases);
        if !cancelled.is_empty() {
            // Out of the queue again before anything can take them.
            self.cancel_waiting(&cancelled)?;
        }
        Ok(())
    }

    /// Record an engine's departure. A store failure here only costs history, not work, so it is
    /// logged rather than allowed to stop the controller.
    fn forget_engine(&mut self, engine: Uuid, evicted: bool) {
        if let Err(e) = self.store.engine_disconnected(&engine, evicted) {
            tracing::warn!("could not record that engine {engine} left: {e}");
        }
    }

    /// Tell every engine not told yet that no more work will come or, with `release` (this
    /// controller stops scheduling), every engine to hand back what it has not started and
    /// finish what it runs, or with `stop` (this controller was interrupted), every engine to
    /// stop its running tasks too and hand back what it has not finished.
    pub fn drain_engines(&mut self, drain: Drain) {
        let engines: Vec<Uuid> = self
            .registry
            .engines()
            .filter(|e| drain.stop || drain.release || !e.drained)
            .map(|e| e.id)
            .collect();
        for engine in engines {
            self.drain_engine(engine, drain.clone());
        }
    }

    /// Send `engine` a drain (see [`drain_engines`](Self::drain_engines)) and remember it.
    pub(super) fn drain_engine(&mut self, engine: Uuid, drain: Drain) {
        if let Some(info) = self.registry.get_mut(&engine) {
            info.drained = true;
        }
        self.tell_engine(engine, drain);
    }
}
