//! Credit-based dispatch: an engine never holds more leased tasks than its slots plus prefetch.
//! Everything else stays in the broker's queue, where requeue and (later) cancel are local.
//!
//! Credit is granted in batches: an engine is sent a bundle once half its capacity is free (or
//! when it is idle, or the queue is short), so a busy engine gets one message per batch instead
//! of one per task. No engine takes more than its fair share of a short queue, nor holds more
//! than its [fair hold](crate::balance) of all the work still to run, so a few long tasks spread
//! over every engine instead of queueing behind one. When the queue is empty and an engine sits
//! idle, engines holding a surplus of unstarted tasks are asked to give some back.
//!
//! Tasks that name hosts are shared the same way among the engines on those hosts, and go first
//! in their bundles, since no other engine may take them.
//!
//! A task that asks for cores, memory or GPUs goes only to an engine with that much free
//! ([`resources`](super::resources)); tasks that ask for nothing are handed out in order. When no task names a host, none of
//! this costs anything: engines' host names are not even looked at.

use std::collections::HashMap;
use std::time::Instant;

use hs_engine::protocol::{Ack, Leased, Tasks};
use hs_protocol::bundle;
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;
use crate::pinned::Pinned;

/// What one engine may take this turn.
struct Share {
    /// Of the tasks any engine may run.
    open: usize,
    /// Of the tasks filed under its host's key (with the key), when any task names a host.
    pinned: Option<(String, usize)>,
}

/// The eligible engines' host keys, and how many of them are still to be served on each host,
/// so host-bound tasks are shared among the engines of their host as the others are among all.
struct HostShares {
    key_of: HashMap<Uuid, String>,
    left_on: HashMap<String, usize>,
}

impl HostShares {
    fn new(core: &Core, engines: &[Uuid]) -> Self {
        let mut key_of = HashMap::with_capacity(engines.len());
        let mut left_on: HashMap<String, usize> = HashMap::new();
        for engine in engines {
            if let Some(info) = core.registry.get(engine) {
                let key = info.host_key.clone();
                *left_on.entry(key.clone()).or_default() += 1;
                key_of.insert(*engine, key);
            }
        }
        HostShares { key_of, left_on }
    }

    /// `engine`'s host key and its share of the `pinned` tasks filed under it.
    fn take(&mut self, engine: &Uuid, pinned: &Pinned) -> Option<(String, usize)> {
        let key = self.key_of.remove(engine)?;
        let left = self.left_on.get_mut(&key)?;
        let share = pinned.available(&key).div_ceil(*left);
        *left -= 1;
        Some((key, share))
    }
}

/// The work still to run, shared by slots among the engines that take work: how many more tasks
/// each may be given before it holds more than its fair hold.
struct FairHolds {
    pool: usize,
    total_slots: u64,
}

impl FairHolds {
    fn new(core: &Core) -> Self {
        let (mut held, mut total_slots) = (0, 0);
        for e in core.registry.engines().filter(|e| !e.drained) {
            held += core.registry.held_by(&e.id);
            total_slots += u64::from(e.slots);
        }
        FairHolds {
            pool: held + core.queue.open_len(),
            total_slots,
        }
    }

    fn room(&self, core: &Core, engine: &Uuid) -> usize {
        let Some(info) = core.registry.get(engine) else {
            return 0;
        };
        crate::balance::fair_hold(info.slots, self.pool, self.total_slots)
            .saturating_sub(core.registry.held_by(engine))
    }
}

impl Core {
    pub(super) fn dispatch(&mut self, now: Instant) -> Result<(), RunError> {
        if !self.queue.is_empty() {
            self.reserve();
            let fair = FairHolds::new(self);
            let eligible: Vec<_> = self
                .registry
                .dispatch_order()
                .into_iter()
                .filter(|e| {
                    self.registry
                        .get(e)
                        .is_some_and(|i| !i.drained && !i.unreachable)
                        && self.registry.credit(e) > 0
                })
                .collect();
            let mut hosts =
                (!self.queue.pinned.is_empty()).then(|| HostShares::new(self, &eligible));
            let mut remaining = eligible.len();
            let mut served = Vec::new();
            for engine in eligible {
                if self.queue.is_empty() {
                    break;
                }
                // A short queue is shared out among all the engines, within their fair holds,
                // so that a few long tasks spread out; while input streams in, each engine in
                // turn gets its whole free credit instead, since slivers of a queue refilled
                // every turn would cost one message per task or two (and what is queued now is
                // not all the work, which the fair hold assumes).
                let open = if self.input_streaming {
                    self.registry.credit(&engine)
                } else {
                    self.queue
                        .open_len()
                        .div_ceil(remaining)
                        .min(fair.room(self, &engine))
                };
                remaining -= 1;
                let pinned = hosts
                    .as_mut()
                    .and_then(|h| h.take(&engine, &self.queue.pinned));
                if self.serve(engine, Share { open, pinned }) {
                    served.push(engine);
                }
            }
            self.registry.served(&served);
        }
        self.input_streaming = false;
        self.rebalance(now);
        self.flush_acks(false);
        Ok(())
    }

    /// Send `engine` a bundle within its share, if its free credit is worth a message; returns
    /// whether it was sent one.
    fn serve(&mut self, engine: Uuid, share: Share) -> bool {
        let Some(info) = self.registry.get(&engine) else {
            return false;
        };
        let capacity = info.capacity as usize;
        let credit = self.registry.credit(&engine);
        let idle = credit == capacity;
        let batch = capacity.div_ceil(2);
        let (key, pinned_share) = match &share.pinned {
            Some((key, n)) => (Some(key.as_str()), *n),
            None => (None, 0),
        };
        let available = self.queue.open_len() + key.map_or(0, |k| self.queue.pinned.available(k));
        if available == 0
            || share.open + pinned_share == 0
            || !(idle || credit >= batch || available < batch)
        {
            return false;
        }
        let mut n = credit.min(share.open + pinned_share).max(1);
        if self.cfg.bundlesize > 0 {
            n = n.min(self.cfg.bundlesize);
        }
        let mut tasks = Vec::with_capacity(n);
        let mut bytes = 0;
        while tasks.len() < n && !bundle::bundle_full(bytes) {
            let next = match key {
                Some(k) if tasks.len() < pinned_share => self
                    .queue
                    .pop_pinned(k)
                    .and_then(|t| self.fits_pinned(&engine, t)),
                _ => None,
            };
            let Some(task) = next.or_else(|| self.pop_for(&engine)) else {
                break;
            };
            bytes += bundle::task_bytes(&task);
            // The lease table and the bundle share the task.
            let lease = self.registry.lease(task.clone(), engine);
            tasks.push(Leased { lease, task });
        }
        let ack = self.pending_acks.remove(&engine).unwrap_or_default();
        // Should it not reach the engine, the loop reports it lost, which requeues the bundle.
        self.tell_engine(engine, Tasks { tasks, ack });
        true
    }

    /// Acknowledge results that no bundle carried. Acks only let an engine forget results (and
    /// finish a drain), so they wait for the next bundle unless the engine is idle or drained,
    /// holds a full credit's worth of them, or `all` is set (the heartbeat tick, an abort).
    pub(super) fn flush_acks(&mut self, all: bool) {
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
                self.tell_engine(engine, Ack { ids });
            }
        }
    }
}
