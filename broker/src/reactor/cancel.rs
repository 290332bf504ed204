//! Cancelling tasks, for two kinds of callers with one path to the engines:
//!
//! - other processes (`hs update --cancel`): the store records the cancel, and the controller
//!   notices it here, once a heartbeat, among the tasks it has already taken from the store
//!   (and those a previous controller had taken, while they wait to be claimed after a restart);
//! - clients (`cancel {ids}` on the client socket): the controller cancels in the store itself.
//!
//! Either way, waiting tasks are dropped (and their watchers told at once), and leased ones are
//! stopped by their engines, whose `cancelled` results then travel like any other result.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use hs_engine::protocol::{Cancel, CancelReply};
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;

/// How often watched tasks still in the store are looked up for cancels made by others.
const WATCHED_CHECK: Duration = Duration::from_secs(5);

impl Core {
    pub(super) fn apply_cancels(&mut self, now: Instant) -> Result<(), RunError> {
        self.watched_cancels(now)?;
        if !self.cfg.watch_cancels
            || (self.queue.is_empty()
                && self.registry.lease_count() == 0
                && self.orphans.is_empty())
        {
            return Ok(());
        }
        let mut ids: Vec<Uuid> = self.queue.ids().collect();
        // A previous controller's tasks, waiting for their engines to claim them: if nobody
        // does, they are run again, so a cancel must reach them too.
        ids.extend(self.orphans.keys().copied());
        // Leases already being stopped are not looked up (nor stopped and logged) again.
        ids.extend(
            self.registry
                .leased()
                .map(|(task, _)| task)
                .filter(|id| !self.cancelling.contains(id)),
        );
        let finished: HashSet<Uuid> = self.store.finished_among(&ids)?.into_iter().collect();
        if finished.is_empty() {
            return Ok(());
        }
        // Final in the store now, so their group may be done; their engines' reports will be
        // duplicates, which do not count as final results here.
        self.store_dirty = true;
        let mut dropped = self.queue.remove(&finished);
        let orphans = self.orphans.len();
        self.orphans.retain(|id, _| !finished.contains(id));
        dropped += orphans - self.orphans.len();
        let stopping = self.stop_leased(&finished);
        // Remembered as a client's cancel is: should their engines be lost before reporting
        // them, they are not run again.
        self.cancelling.extend(stopping.iter().copied());
        let stopping = stopping.len();
        tracing::info!(
            "cancelled in the store: {dropped} waiting tasks dropped, {stopping} running tasks being stopped"
        );
        // Their engines' reports will be duplicates of what the store already holds, so watchers
        // are told now, from the store.
        if !self.watchers.is_empty() {
            let mut rows = Vec::new();
            for id in finished.iter().filter(|id| self.watchers.is_watched(id)) {
                rows.extend(self.store.get(id)?);
            }
            self.push_records(&rows);
        }
        Ok(())
    }

    /// Watched tasks still in the store (not yet taken by this controller) that another
    /// process cancelled there: nothing else would ever tell their watchers, since the
    /// scheduler simply skips them. Looked for every [`WATCHED_CHECK`], not every heartbeat,
    /// because there may be many.
    fn watched_cancels(&mut self, now: Instant) -> Result<(), RunError> {
        if !self.cfg.watch_cancels || self.watchers.is_empty() || now < self.next_watched_check {
            return Ok(());
        }
        self.next_watched_check = now + WATCHED_CHECK;
        let mut held: HashSet<Uuid> = self.queue.ids().collect();
        held.extend(self.registry.leased().map(|(task, _)| task));
        let stored: Vec<Uuid> = self
            .watchers
            .ids()
            .filter(|id| !held.contains(id))
            .collect();
        let finished = self.store.finished_among(&stored)?;
        let mut rows = Vec::with_capacity(finished.len());
        for id in &finished {
            rows.extend(self.store.get(id)?);
        }
        self.push_records(&rows);
        Ok(())
    }

    /// A client's `cancel {ids}`: stop what engines hold, cancel the rest in the store.
    pub(super) fn cancel_for_client(&mut self, ids: Vec<Uuid>) -> Result<CancelReply, RunError> {
        let wanted: HashSet<Uuid> = ids.into_iter().collect();
        let leased = self.stop_leased(&wanted);
        // Remember them: an engine lost before it reports gives them back to the queue, where
        // they must not run again.
        self.cancelling.extend(leased.iter().copied());
        let rest: Vec<Uuid> = wanted.difference(&leased).copied().collect();
        let cancelled = self.cancel_waiting(&rest)?;
        Ok(CancelReply {
            cancelled: cancelled as u64,
            stopping: leased.len() as u64,
            unknown: (rest.len() - cancelled) as u64,
        })
    }

    /// Cancel tasks no engine holds (waiting here, among a previous controller's orphans, or
    /// not yet taken from the store): record them as cancelled and tell their watchers.
    /// Returns how many were cancelled (the others had finished already or are unknown).
    pub(super) fn cancel_waiting(&mut self, ids: &[Uuid]) -> Result<usize, RunError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let set: HashSet<Uuid> = ids.iter().copied().collect();
        let at_broker = self.queue.remove(&set);
        for id in ids {
            self.orphans.remove(id);
            self.cancelling.remove(id);
        }
        let rows = self.store.cancel(ids)?;
        // Those that were still in the store will never be scheduled now.
        let from_store = rows.len().saturating_sub(at_broker) as u64;
        self.unscheduled = self.unscheduled.saturating_sub(from_store);
        self.summary.failed += rows.len() as u64;
        if !rows.is_empty() {
            tracing::info!("a client cancelled {} waiting tasks", rows.len());
            // Rows that became final may have been the last of their group.
            self.store_dirty = true;
        }
        self.push_records(&rows);
        Ok(rows.len())
    }

    /// Ask engines to stop those of `ids` they hold; returns the ids they hold.
    fn stop_leased(&mut self, ids: &HashSet<Uuid>) -> HashSet<Uuid> {
        let mut by_engine: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (task, engine) in self.registry.leased() {
            if ids.contains(&task) {
                by_engine.entry(engine).or_default().push(task);
            }
        }
        let mut held = HashSet::new();
        for (engine, ids) in by_engine {
            held.extend(ids.iter().copied());
            self.tell_engine(engine, Cancel { ids });
        }
        held
    }
}
