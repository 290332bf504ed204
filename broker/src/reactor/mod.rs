//! The broker's decisions, with no sockets: a state machine over engines, leases, the queue and
//! the store, driven by decoded messages and the clock. (The module is `reactor`, not `core`,
//! so that inside this crate `core::` still means the standard library's.)
//!
//! Every handler is a method of [`Core`] that changes its state and pushes what must be sent
//! into an outbox of [`Effect`]s instead of writing to a socket. The run loop
//! ([`crate::Broker`]) owns the sockets: it feeds the core what arrived, then sends what the
//! core decided, once per turn, and tells the core about an engine it could not reach. So every
//! decision (registration, credit and dispatch, leases, results, acks, eviction, drains,
//! cancels, host affinity, retries, restart adoption) can be driven by a unit test with no
//! ZeroMQ and a memory store (see `tests/`), and measured on its own (`examples/core_bench`).
//!
//! The store is reached through the [`TaskStore`] trait: its answers (which results it took,
//! which tasks it cancelled) shape the decisions, so it is called where they are made. The
//! [`ResultSink`](crate::ResultSink) passed to handlers is told of every final result.
//!
//! One file per kind of work: engines' messages, registration, results, engines leaving or
//! lost, dispatch, resources (what fits where, reservations, tasks too large for any engine), moving unstarted tasks to idle engines (give-back), `--eager` retries, host
//! affinity, the client API, cancelling, pushing results to watching clients, and the run's
//! life (input, refill, stop, restart).

mod affinity;
mod cancel;
mod clients;
mod dispatch;
mod eager;
mod engines;
mod leave;
mod lifecycle;
mod outage;
mod push;
mod rebalance;
mod register;
mod resources;
mod results;
#[cfg(test)]
mod tests;
mod upload;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use hs_engine::protocol::{ToClient, ToEngine};
use hs_engine::task::Task;
use uuid::Uuid;

use crate::activity::Activity;
use crate::broker::ControllerSummary;
use crate::config::ControllerConfig;
use crate::ids::IdMap;
use crate::queue::TaskQueue;
use crate::registry::Registry;
use crate::store::{InputProgress, Scheduler, Scope, TaskStore};
use crate::store_link::StoreLink;
use crate::watch::Watchers;

pub(crate) use lifecycle::LOW_WATER;

/// Something the core decided that the run loop carries out.
#[derive(Debug)]
pub enum Effect {
    /// Send this to one engine. A bundle of tasks that cannot reach it comes back to the queue
    /// ([`Core::bundle_undelivered`]); other messages are not needed twice (the engine asks
    /// again, or resends what was not acknowledged).
    ToEngine(Uuid, ToEngine),
    /// Send this to the client with this routing identity; a client that is gone loses it.
    ToClient(Vec<u8>, ToClient),
}

/// The broker's state and every decision over it; see the module documentation.
pub struct Core {
    cfg: ControllerConfig,
    /// The store, through the link that rides out its outages (`store_link.rs`).
    store: StoreLink,
    scheduler: Scheduler,
    queue: TaskQueue,
    registry: Registry,
    summary: ControllerSummary,
    input_done: bool,
    /// Scheduling has stopped: engines are releasing their tasks and leaving.
    stopping: bool,
    /// The store may hold schedulable tasks. Cleared when it hands out a short batch; set again
    /// by whatever can change that: new input, a final result (the last of a group opens the
    /// next, a failure may be due a retry) and cancels.
    store_dirty: bool,
    /// Tasks submitted but not yet taken from the store (bounds input with the memory store).
    unscheduled: u64,
    /// A large bundle of input arrived this turn: more is probably on its way, so dispatch
    /// fills engines' credit in turn instead of sharing out what is queued in slivers (see
    /// [`dispatch`](Self::dispatch)).
    input_streaming: bool,
    /// After a restart: tasks that were running under the previous controller, waiting for their
    /// engines to report them (until `reconcile_until`), after which they run again.
    orphans: HashMap<Uuid, Arc<Task>>,
    reconcile_until: Option<Instant>,
    /// Results received this turn, acknowledged with the next bundle or at the end of the turn.
    pending_acks: IdMap<Vec<Uuid>>,
    /// Clients waiting for the final results of tasks they submitted with `watch`.
    watchers: Watchers,
    /// Leased tasks being stopped because they were cancelled (by a client, or in the store),
    /// until their engine reports them; should they come back instead, `requeue` cancels them.
    cancelling: HashSet<Uuid>,
    /// When to look next for watched tasks cancelled in the store before being scheduled.
    next_watched_check: Instant,
    /// When engines' loads may be looked at next for unstarted tasks to move to idle engines
    /// (`None`: at once).
    next_rebalance: Option<Instant>,
    /// `--eager`: failed tasks recorded since the store was last asked for their retries.
    retries_due: usize,
    /// What to send, in order, since the loop last took it.
    outbox: Vec<Effect>,
    /// Results and input waiting for the store to be back (`outage.rs`).
    held: outage::Held,
    /// How far the input was read into the store, as of the last bundle committed.
    input_stored: Option<InputProgress>,
    /// The engine held for the oldest waiting task, which fits no engine now
    /// (`resources.rs`).
    reservation: Option<resources::Reservation>,
    /// Waiting tasks larger than every connected engine, and since when (`resources.rs`).
    unfit_since: IdMap<Instant>,
    /// When to look next for such tasks (`None`: at once).
    next_unfit_check: Option<Instant>,
    /// Recent finishes and failures, for status replies (`activity.rs`).
    activity: Activity,
    /// Engines' captured output on its way here (`uploads.rs`); `None` without a folder.
    uploads: Option<crate::uploads::Uploads>,
}

impl Core {
    /// A core over `store` that has not started: [`start`](Self::start) reads what earlier runs
    /// left.
    pub fn new(cfg: ControllerConfig, store: Box<dyn TaskStore>) -> Core {
        let scheduler = Scheduler {
            server_id: cfg.controller_id,
            server_host: hs_engine::engine::short_hostname(),
            max_retries: cfg.max_retries,
            eager: cfg.eager,
            scope: if cfg.restart || cfg.forever {
                Scope::All
            } else {
                // Filled as tasks are submitted (`own`); a resumed input's from the start.
                Scope::Submitters(cfg.resumed.clone())
            },
        };
        let uploads = cfg.uploads.as_ref().and_then(|u| {
            crate::uploads::Uploads::new(u, cfg.controller_id)
                .map_err(|e| {
                    tracing::warn!(
                        "cannot take engines' captured output into {}: {e} (they keep their \
                         files)",
                        u.dir.display()
                    )
                })
                .ok()
        });
        Core {
            uploads,
            queue: TaskQueue::new(cfg.affinity_wait),
            registry: Registry::default(),
            summary: ControllerSummary::default(),
            input_done: false,
            stopping: false,
            store_dirty: true,
            unscheduled: 0,
            input_streaming: false,
            orphans: HashMap::new(),
            reconcile_until: None,
            pending_acks: IdMap::default(),
            watchers: Watchers::with_limit(cfg.max_watched_per_client),
            cancelling: HashSet::new(),
            next_watched_check: Instant::now(),
            next_rebalance: None,
            retries_due: 0,
            outbox: Vec::new(),
            held: outage::Held::default(),
            input_stored: None,
            reservation: None,
            unfit_since: IdMap::default(),
            next_unfit_check: None,
            activity: Activity::new(Instant::now()),
            scheduler,
            store: StoreLink::new(store),
            cfg,
        }
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.cfg
    }

    /// Everything decided since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    fn tell_engine(&mut self, engine: Uuid, msg: impl Into<ToEngine>) {
        self.outbox.push(Effect::ToEngine(engine, msg.into()));
    }

    fn tell_client(&mut self, client: Vec<u8>, msg: impl Into<ToClient>) {
        self.outbox.push(Effect::ToClient(client, msg.into()));
    }

    pub fn summary(&self) -> &ControllerSummary {
        &self.summary
    }

    pub fn engine_count(&self) -> usize {
        self.registry.engine_count()
    }

    /// Tasks handed to engines and not yet reported.
    pub fn lease_count(&self) -> usize {
        self.registry.lease_count()
    }

    /// Tasks waiting here for an engine.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// All input is in, nothing waits, nothing is leased, and the store has nothing to schedule.
    pub fn work_done(&self) -> bool {
        self.input_done
            && self.held.is_empty()
            && !self.store_dirty
            && self.queue.is_empty()
            && self.orphans.is_empty()
            && self.registry.lease_count() == 0
    }

    pub fn input_done(&self) -> bool {
        self.input_done
    }

    /// No more input will come (the feed ended, or a drain was asked for).
    pub fn end_input(&mut self) {
        self.input_done = true;
    }

    /// Whether the loop should read more input now: always with a durable store, else only
    /// while few submitted tasks wait in the store, so memory stays flat. (Thousands of engines
    /// do not need more waiting: while input streams in, each engine in turn takes its whole
    /// credit, see [`dispatch`](Self::dispatch); a larger window only made the core slower, its
    /// tasks no longer fitting in the caches.)
    pub fn wants_input(&self) -> bool {
        !self.input_done
            && self.held.input_is_empty()
            && (self.cfg.buffer_input || (self.unscheduled as usize) < LOW_WATER)
    }

    /// Other processes may have added tasks to the store: look again.
    pub fn poll_store(&mut self) {
        self.store_dirty = true;
    }

    /// The loop could not send `bundle` to `engine` (its connection dropped, or its queue at
    /// the socket is full). Those tasks never left: they go back to the queue, still under the
    /// leases of that bundle only, and the engine gets no more until it is heard from again. It
    /// is not lost for that: it keeps what it holds, and eviction after the eviction window of
    /// silence is what takes a dead engine's running tasks away (a moment's disconnection must
    /// not stop long tasks, nor let requeued ones start twice).
    pub fn bundle_undelivered(
        &mut self,
        engine: Uuid,
        bundle: &hs_engine::protocol::Tasks,
    ) -> Result<(), crate::RunError> {
        let Some(info) = self.registry.get_mut(&engine) else {
            return Ok(());
        };
        if !info.unreachable {
            tracing::debug!("engine {engine} cannot be reached: no tasks for it until it is heard");
        }
        info.unreachable = true;
        let sent: Vec<hs_engine::protocol::Held> = bundle
            .tasks
            .iter()
            .map(|l| hs_engine::protocol::Held {
                id: l.task.id,
                lease: l.lease,
            })
            .collect();
        let tasks = self.take_back(engine, &sent);
        self.requeue(tasks)
    }
}
