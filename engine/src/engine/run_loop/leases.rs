//! Keeping to the leases: an engine starts a queued task only while the task is surely still
//! leased to it, and gives queued tasks back when they are not, or when its controller asks.
//!
//! - A controller silent for longer than the eviction window may have evicted this engine and
//!   handed its tasks to another. The engine then gives up its whole queue (the slots already
//!   stopped starting from it, see `LeaseClock`), lists those tasks as `returned` in its
//!   registrations, and once welcomed sends [`GivenBack`] with any that arrived meanwhile. The
//!   controller requeues only those still leased to it, so nothing it already gave to another
//!   engine runs twice.
//! - Running tasks are leased the same way, so they are stopped before the controller can evict
//!   this engine: once it has heard nothing for the eviction time less a margin
//!   ([`stop_within`](crate::engine::link::stop_within)), each running task's group gets
//!   SIGINT, SIGTERM and SIGKILL a short [`LEASE_STOP_WAIT`] apart, and the stopped tasks are
//!   given back like queued ones ("stopped by a lost controller"): by the controller's eviction
//!   nothing of them runs here, so a requeued task never runs beside, or after, its first run.
//!   A shorter silence (a short cut, a busy controller) stops nothing.
//! - A controller that has an idle engine and nothing left to give it asks ([`GiveBack`]) for
//!   some unstarted tasks; the engine answers with those it took out of its queue.
//!
//! [`GiveBack`]: crate::protocol::GiveBack
//! [`LEASE_STOP_WAIT`]: crate::executor::LEASE_STOP_WAIT

use std::time::Instant;

use super::{Engine, Link};
use crate::executor::StopReason;
use crate::protocol::{GivenBack, Held, Leased};
use crate::task::TaskResult;

impl Engine {
    /// The controller has been silent for longer than the eviction window: it is lost.
    pub(super) fn notice_loss(&mut self, now: Instant) {
        if !self.link.is_lost(now) {
            return;
        }
        let queued = self.board.with(|b| b.queue.len());
        // `--reconnect-limit` counts from the last message heard, not from now.
        let last_heard = self.link.last_heard();
        tracing::warn!(
            "lost the controller (silent for over {:.1}s); {queued} not started go back to it; \
             reconnecting",
            self.evict_after().as_secs_f64(),
        );
        self.lose_link(now);
        if let Some(heard) = last_heard {
            self.link.searching_since(heard);
        }
    }

    /// Stop the running tasks once the leases have run out (see the module docs): at the end
    /// the link last gave while registered, so a loss noticed late (a process that was frozen)
    /// still counts from the last time the controller was heard.
    pub(super) fn expire_leases(&mut self, now: Instant) {
        if let Some(end) = self.link.leases_end() {
            self.leases_end = Some(end);
        }
        let Some(end) = self.leases_end else {
            return;
        };
        if now < end {
            self.lease_stopped = false;
            return;
        }
        if self.lease_stopped {
            return;
        }
        self.lease_stopped = true;
        let stopped = self
            .slots
            .as_ref()
            .map_or(0, |s| s.stop_running(|_| true, StopReason::LeaseLost));
        if stopped > 0 {
            tracing::warn!(
                "the controller has been silent for nearly its eviction time: stopping \
                 {stopped} running tasks, which go back to it (it may requeue them any moment)"
            );
        }
    }

    /// A task stopped because its lease ran out: given back with the tasks given up unstarted.
    pub(super) fn lease_lost(&mut self, result: &TaskResult) {
        tracing::debug!(task = %result.id, "stopped by a lost controller: given back");
        self.summary.returned += 1;
        self.given_up.push(Held {
            id: result.id,
            lease: result.lease,
        });
    }

    /// Register again (the controller was lost, forgot this engine, or was replaced), giving up
    /// every task not started yet: their leases may be another engine's by now.
    pub(super) fn lose_link(&mut self, now: Instant) {
        self.link = Link::start(now, true);
        // A new connection and a new handshake: whatever the old connection still carries
        // belongs to a session that is over.
        self.peer.reset();
        self.hello_sent = None;
        self.reconnect();
        self.board.lease.set(None);
        let queued: Vec<Leased> = self.board.with(|b| b.queue.drain(..).collect());
        self.summary.returned += queued.len() as u64;
        self.given_up.extend(queued.iter().map(Held::from));
    }

    /// A bundle of tasks: queued to run, or handed back at once while draining (with
    /// [`Leaving`](crate::protocol::Leaving)) or while not registered (with the registration).
    pub(super) fn accept(&mut self, tasks: Vec<Leased>) {
        if self.releasing {
            self.summary.returned += tasks.len() as u64;
            self.returned.extend(tasks.iter().map(Held::from));
        } else if !self.link.is_registered() {
            self.summary.returned += tasks.len() as u64;
            self.given_up.extend(tasks.iter().map(Held::from));
        } else {
            // The loop renews the lease clock after each turn; the first bundle after a
            // welcome must not wait for that.
            self.board.lease.set(self.link.lease_until());
            self.board.add(tasks);
        }
    }

    /// Welcomed: the registration the controller answered listed the tasks given up until it
    /// was sent; any given up since go back in a message of their own.
    pub(super) fn welcomed(&mut self) {
        self.controller_back();
        let sent = self.given_up_sent.min(self.given_up.len());
        self.given_up.drain(..sent);
        self.given_up_sent = 0;
        self.send_given_up();
    }

    /// While registered: give back what was given up and not sent yet (tasks stopped by a lease
    /// that ran out, when the controller is heard again before it evicts this engine).
    pub(super) fn send_given_up(&mut self) {
        if self.given_up.is_empty() || !self.link.is_registered() {
            return;
        }
        let message = GivenBack {
            returned: std::mem::take(&mut self.given_up),
        };
        if !self.send(&message) {
            // Listed again by the next registration, which a dead connection soon brings.
            self.given_up = message.returned;
        }
    }

    /// The controller asks for up to `most` tasks not started yet. The answer may be empty (all
    /// started meanwhile, or draining, when the queue was handed back already) but is always
    /// sent, so the controller knows the request is settled.
    pub(super) fn answer_give_back(&mut self, most: usize) {
        let given = if self.link.is_registered() && !self.releasing {
            self.board.with(|b| b.give_back(most))
        } else {
            Vec::new()
        };
        let reply = GivenBack {
            returned: given.iter().map(Held::from).collect(),
        };
        if self.send(&reply) {
            if !given.is_empty() {
                tracing::debug!(
                    "gave {} queued tasks back to the controller for idle engines",
                    given.len()
                );
            }
            self.summary.returned += given.len() as u64;
        } else {
            // Never left this engine: run them after all.
            self.board.add(given);
        }
    }
}
