//! Credit-based dispatch: an engine never holds more leased tasks than its slots plus prefetch.
//! Everything else stays in the broker's queue, where requeue and (later) cancel are local.
//!
//! Credit is granted in batches: an engine is sent a bundle once half its capacity is free (or
//! when it is idle, or the queue is short), so a busy engine gets one message per batch instead
//! of one per task. No engine takes more than its fair share of a short queue, so a few long
//! tasks spread over every engine instead of queueing behind one.

use hs_engine::protocol::{Ack, Leased, Tasks};

use crate::broker::Broker;

impl Broker {
    pub(crate) fn dispatch(&mut self) {
        if !self.queue.is_empty() {
            let eligible: Vec<_> = self
                .registry
                .dispatch_order()
                .into_iter()
                .filter(|e| {
                    self.registry.get(e).is_some_and(|i| !i.drained) && self.registry.credit(e) > 0
                })
                .collect();
            let mut remaining = eligible.len();
            for engine in eligible {
                if self.queue.is_empty() {
                    break;
                }
                let share = self.queue.len().div_ceil(remaining);
                remaining -= 1;
                self.serve(engine, share);
            }
        }
        self.flush_acks(false);
    }

    /// Send `engine` a bundle of at most `share` tasks, if its free credit is worth a message.
    fn serve(&mut self, engine: uuid::Uuid, share: usize) {
        let Some(info) = self.registry.get(&engine) else {
            return;
        };
        let capacity = info.capacity as usize;
        let credit = self.registry.credit(&engine);
        let idle = credit == capacity;
        let batch = capacity.div_ceil(2);
        if !(idle || credit >= batch || self.queue.len() < batch) {
            return;
        }
        let mut n = credit.min(share).max(1);
        if self.cfg.bundlesize > 0 {
            n = n.min(self.cfg.bundlesize);
        }
        let mut tasks = Vec::with_capacity(n);
        while tasks.len() < n {
            let Some(task) = self.queue.pop() else { break };
            let lease = self.registry.lease(task.clone(), engine);
            tasks.push(Leased { lease, task });
        }
        let ack = self.pending_acks.remove(&engine).unwrap_or_default();
        if self.send_to_engine(engine, &Tasks { tasks, ack }) {
            self.registry.served(&engine);
        } else {
            self.engine_lost(engine, "it cannot be reached");
        }
    }

    /// Acknowledge results that no bundle carried. Acks only let an engine forget results (and
    /// finish a drain), so they wait for the next bundle unless the engine is idle or drained,
    /// holds a full credit's worth of them, or `all` is set (the heartbeat tick, an abort).
    pub(crate) fn flush_acks(&mut self, all: bool) {
        if self.pending_acks.is_empty() {
            return;
        }
        let due: Vec<uuid::Uuid> = self
            .pending_acks
            .iter()
            .filter(|(engine, ids)| {
                all || self.registry.get(engine).is_none_or(|e| {
                    e.drained
                        || self.registry.held_by(engine) == 0
                        || ids.len() >= e.capacity as usize
                })
            })
            .map(|(engine, _)| *engine)
            .collect();
        for engine in due {
            if let Some(ids) = self.pending_acks.remove(&engine) {
                self.send_to_engine(engine, &Ack { ids });
            }
        }
    }
}
