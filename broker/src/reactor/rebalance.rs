//! Moving unstarted tasks to idle engines ([`crate::balance`] decides who gives how many), and
//! taking back tasks an engine gives up: asked, or on its own after losing this controller.

use std::time::{Duration, Instant};

use crate::registry::Lease;
use hs_engine::protocol::{GiveBack, Held};
use uuid::Uuid;

use super::Core;
use crate::balance::{self, Load};
use crate::broker::RunError;

/// How often, at most, engines' loads are looked at while nothing waits here. An engine that
/// joins or runs dry waits this long at worst; a run with an empty queue and thousands of
/// engines does not look at all of them every turn.
pub(super) const REBALANCE_EVERY: Duration = Duration::from_millis(50);

impl Core {
    /// With nothing waiting and an engine with a free slot, ask engines holding more than their
    /// share in unstarted tasks to give some back.
    pub(super) fn rebalance(&mut self, now: Instant) {
        if self.queue.open_len() > 0 || self.next_rebalance.is_some_and(|next| now < next) {
            return;
        }
        self.next_rebalance = Some(now + REBALANCE_EVERY);
        // An engine answers at once; one that has not within two heartbeats lost the request.
        let answer_due = self.cfg.heartrate * 2;
        let loads: Vec<Load> = self
            .registry
            .engines()
            .filter(|e| !e.drained)
            .map(|e| {
                let held = self.registry.held_by(&e.id);
                Load {
                    id: e.id,
                    slots: e.slots,
                    held,
                    mean_run: e.runs.mean(),
                    // Nothing to give the last time, and nothing changed since: not asked.
                    asked: e.asked.is_some_and(|at| now < at + answer_due)
                        || e.declined_at == Some(held),
                }
            })
            .collect();
        for (engine, most) in balance::give_backs(&loads) {
            if let Some(info) = self.registry.get_mut(&engine) {
                info.asked = Some(now);
            }
            tracing::debug!("asking engine {engine} to give back up to {most} unstarted tasks");
            let most = u32::try_from(most).unwrap_or(u32::MAX);
            self.tell_engine(engine, GiveBack { most });
        }
    }

    /// An engine's answer to [`GiveBack`] (or tasks it gave up while it could not reach this
    /// controller): requeue those it still holds under those leases, for other engines.
    pub(super) fn given_back(&mut self, engine: Uuid, returned: &[Held]) -> Result<(), RunError> {
        let tasks = self.take_back(engine, returned);
        let held = self.registry.held_by(&engine);
        if let Some(info) = self.registry.get_mut(&engine) {
            info.asked = None;
            info.declined_at = tasks.is_empty().then_some(held);
        }
        if !tasks.is_empty() {
            tracing::debug!(
                "engine {engine} gave back {} unstarted tasks (requeued)",
                tasks.len()
            );
        }
        self.requeue(tasks)
    }

    /// End `engine`'s leases on the tasks of `returned` it still holds under those very lease
    /// numbers, and return the tasks. A task requeued meanwhile (its engine was evicted) and
    /// perhaps handed to another engine is not taken: a stale or repeated list changes nothing.
    pub(super) fn take_back(&mut self, engine: Uuid, returned: &[Held]) -> Vec<Lease> {
        let mine: Vec<Uuid> = returned
            .iter()
            .filter(|h| self.registry.holds_under(&h.id, &engine, h.lease))
            .map(|h| h.id)
            .collect();
        mine.iter()
            .filter_map(|id| self.registry.release(id))
            .collect()
    }
}
