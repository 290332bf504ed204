//! Credit-based dispatch: an engine never holds more leased tasks than its slots plus prefetch.
//! Everything else stays in the broker's queue, where requeue and (later) cancel are local.

use hs_engine::protocol::{Leased, Tasks};

use crate::broker::Broker;

impl Broker {
    pub(crate) fn dispatch(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        for engine in self.registry.dispatch_order() {
            if self.queue.is_empty() {
                break;
            }
            if self.registry.get(&engine).is_none_or(|e| e.drained) {
                continue;
            }
            let credit = self.registry.credit(&engine);
            if credit == 0 {
                continue;
            }
            let n = match self.cfg.bundlesize {
                0 => credit,
                b => credit.min(b),
            };
            let mut tasks = Vec::with_capacity(n);
            while tasks.len() < n {
                let Some(task) = self.queue.pop() else { break };
                let lease = self.registry.lease(task.clone(), engine);
                tasks.push(Leased { lease, task });
            }
            if self.send_to_engine(engine, &Tasks { tasks }) {
                self.registry.served(&engine);
            } else {
                self.engine_lost(engine, "it cannot be reached");
            }
        }
    }
}
