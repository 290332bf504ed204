//! Engines leaving: by saying bye, by going silent (eviction), or by becoming unreachable.
//! Whatever they held goes back to the queue; losing an engine never costs a task an attempt.

use std::time::Instant;

use hs_engine::protocol::{Bye, Drain};
use uuid::Uuid;

use crate::broker::Broker;

impl Broker {
    pub(crate) fn bye(&mut self, engine: Uuid, bye: Bye) {
        let (info, held) = self.registry.remove(&engine);
        self.forget_client(engine, false);
        let count = held.len();
        self.queue.requeue(held);
        if let Some(info) = info {
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
        // `returned` lists what it gave back; those leases were all in `held` already.
        let _ = bye.returned;
    }

    /// Evict engines that have been silent longer than the eviction time.
    pub(crate) fn evict_silent(&mut self, now: Instant) {
        let Some(deadline) = now.checked_sub(self.cfg.evict) else {
            return;
        };
        for engine in self.registry.silent_since(deadline) {
            let why = format!("no heartbeat for {:.1}s", self.cfg.evict.as_secs_f64());
            self.engine_lost(engine, &why);
        }
    }

    /// Forget a lost engine and requeue what it held.
    pub(crate) fn engine_lost(&mut self, engine: Uuid, why: &str) {
        let (info, held) = self.registry.remove(&engine);
        self.forget_client(engine, true);
        let host = info.map(|i| i.host).unwrap_or_default();
        tracing::warn!(
            "engine {engine} on {host} lost ({why}): {} tasks requeued",
            held.len()
        );
        self.queue.requeue(held);
    }

    /// Record an engine's departure. A store failure here only costs history, not work, so it is
    /// logged rather than allowed to stop the controller.
    fn forget_client(&mut self, engine: Uuid, evicted: bool) {
        if let Err(e) = self.store.client_disconnected(&engine, evicted) {
            tracing::warn!("could not record that engine {engine} left: {e}");
        }
    }

    /// Tell every engine that no more work will come.
    pub(crate) fn drain_engines(&mut self) {
        let pending: Vec<Uuid> = self
            .registry
            .engines()
            .filter(|e| !e.drained)
            .map(|e| e.id)
            .collect();
        for engine in pending {
            if let Some(info) = self.registry.get_mut(&engine) {
                info.drained = true;
            }
            self.send_to_engine(engine, &Drain {});
        }
    }
}
