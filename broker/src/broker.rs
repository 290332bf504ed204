//! The broker loop: one thread owns the three sockets, the store and all state.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use hs_engine::protocol::{Drain, Opener, Ping, Refusals, Sealer};
use hs_engine::task::Task;
use uuid::Uuid;

use crate::config::{BindSet, BrokerConfig};
use crate::control::BrokerControl;
use crate::feed::{FeedMessage, FeedReceiver};
use crate::queue::TaskQueue;
use crate::registry::Registry;
use crate::sink::ResultSink;
use crate::sockets::Sockets;
use crate::store::{Scheduler, Scope, StoreError, TaskStore};
use crate::watch::Watchers;

/// The longest the loop sleeps, so control requests are seen promptly.
const TURN: Duration = Duration::from_millis(50);
/// Tasks kept ready at the broker beyond the engines' total credit; also the largest batch taken
/// from the store at once, and (in-memory store) how far input may run ahead of scheduling.
const LOW_WATER: usize = 1024;
/// Most host-bound tasks kept at the broker. Waiting for their hosts, they do not hold back
/// other tasks; beyond this many, input waits for some of them to run or fail, so memory stays
/// bounded however many tasks name an absent host.
const PINNED_MAX: usize = 16 * LOW_WATER;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "{endpoint} is already in use: stop whatever listens there or choose another port with -p"
    )]
    AddressInUse { endpoint: String },
    #[error("cannot bind {endpoint}: no such local address (check -H/--bind)")]
    AddressUnavailable { endpoint: String },
    #[error("{context}: {source}")]
    Zmq { context: String, source: zmq::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a run ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BrokerSummary {
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Tasks never finished because the run was aborted or stopped.
    pub unfinished: u64,
    pub aborted: bool,
    /// Scheduling was stopped ([`BrokerControl::stop_scheduling`]) before all work was done.
    pub stopped: bool,
}

pub struct Broker {
    pub(crate) cfg: BrokerConfig,
    pub(crate) sockets: Sockets,
    pub(crate) store: Box<dyn TaskStore>,
    pub(crate) scheduler: Scheduler,
    pub(crate) sealer: Sealer,
    pub(crate) ping_sealer: Sealer,
    pub(crate) engine_opener: Opener,
    pub(crate) client_opener: Opener,
    pub(crate) queue: TaskQueue,
    pub(crate) registry: Registry,
    pub(crate) summary: BrokerSummary,
    pub(crate) input_done: bool,
    /// Scheduling has stopped: engines are releasing their tasks and leaving.
    pub(crate) stopping: bool,
    /// The store may hold schedulable tasks. Cleared when it hands out a short batch; set again
    /// by whatever can change that: new input, a final result (the last of a group opens the
    /// next, a failure may be due a retry) and cancels.
    pub(crate) store_dirty: bool,
    /// Tasks submitted but not yet taken from the store (bounds input with the memory store).
    pub(crate) unscheduled: u64,
    /// After a restart: tasks that were running under the previous controller, waiting for their
    /// engines to report them (until `reconcile_until`), after which they run again.
    pub(crate) orphans: HashMap<Uuid, Task>,
    pub(crate) reconcile_until: Option<Instant>,
    /// Results received this turn, acknowledged with the next bundle or at the end of the turn.
    pub(crate) pending_acks: HashMap<Uuid, Vec<Uuid>>,
    /// Messages refused on the engine socket and on the client socket.
    pub(crate) engine_refusals: Refusals,
    pub(crate) client_refusals: Refusals,
    /// Clients waiting for the final results of tasks they submitted with `watch`.
    pub(crate) watchers: Watchers,
    /// Leased tasks being stopped because they were cancelled (by a client, or in the store),
    /// until their engine reports them; should they come back instead, `requeue` cancels them.
    pub(crate) cancelling: HashSet<Uuid>,
    /// When to look next for watched tasks cancelled in the store before being scheduled.
    pub(crate) next_watched_check: Instant,
}

impl Broker {
    /// Bind the sockets. Errors here (port in use, bad address) happen before any work starts.
    pub fn bind(
        cfg: BrokerConfig,
        ctx: &zmq::Context,
        store: Box<dyn TaskStore>,
    ) -> Result<Broker, BrokerError> {
        let sockets = Sockets::bind(ctx, &cfg.bind)?;
        let key = cfg.key.as_bytes();
        let scheduler = Scheduler {
            server_id: cfg.controller_id,
            server_host: hs_engine::engine::short_hostname(),
            max_retries: cfg.max_retries,
            eager: cfg.eager,
            scope: if cfg.restart || cfg.forever {
                Scope::All
            } else {
                // Filled as tasks are submitted (`own`).
                Scope::Submitters(Vec::new())
            },
        };
        Ok(Broker {
            sealer: Sealer::new(key, cfg.controller_id),
            // Pings travel on their own socket, so they carry their own sequence (and sender id).
            ping_sealer: Sealer::new(key, Uuid::new_v4()),
            engine_opener: Opener::new(key),
            client_opener: Opener::new(key),
            queue: TaskQueue::new(cfg.affinity_wait),
            registry: Registry::default(),
            summary: BrokerSummary::default(),
            input_done: false,
            stopping: false,
            store_dirty: true,
            unscheduled: 0,
            orphans: HashMap::new(),
            reconcile_until: None,
            pending_acks: HashMap::new(),
            engine_refusals: Refusals::new("the engine socket"),
            client_refusals: Refusals::new("the client socket"),
            watchers: Watchers::with_limit(cfg.max_watched_per_client),
            cancelling: HashSet::new(),
            next_watched_check: Instant::now(),
            scheduler,
            store,
            sockets,
            cfg,
        })
    }

    /// The endpoints actually bound (ephemeral ports resolved).
    pub fn bound(&self) -> &BindSet {
        &self.sockets.bound
    }

    pub fn controller_id(&self) -> Uuid {
        self.cfg.controller_id
    }

    /// Messages refused: failed verification (bad key, forged, replayed, oversized), or of an
    /// unknown kind or a body of the wrong shape.
    pub fn rejected(&self) -> u64 {
        self.engine_refusals.count() + self.client_refusals.count()
    }

    /// Serve until every task from `feed`, clients and the store is done and engines have left,
    /// or until `control` stops it. With no feed, only clients and the store bring work.
    pub fn run(
        &mut self,
        feed: Option<FeedReceiver>,
        sink: &mut dyn ResultSink,
        control: &BrokerControl,
    ) -> Result<BrokerSummary, BrokerError> {
        self.input_done = feed.is_none() && !self.cfg.forever;
        if self.scheduler.scope != Scope::All {
            // Only a notice: a store that cannot answer it fails the run where it matters.
            if let Err(e) = self.tell_left_over() {
                tracing::warn!("could not count the tasks earlier runs left: {e}");
            }
        }
        self.adopt_interrupted()?;
        let mut next_ping = Instant::now();
        let mut next_store_poll = Instant::now() + self.cfg.store_poll;
        let mut abort_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if control.aborted() && abort_deadline.is_none() {
                self.summary.aborted = true;
                abort_deadline = Some(now + self.cfg.abort_grace);
                self.drain_engines(Drain {
                    stop: true,
                    release: true,
                });
            }
            if control.scheduling_stopped() && !self.stopping && abort_deadline.is_none() {
                self.stop_scheduling(feed.as_ref(), sink)?;
            }
            if control.draining() {
                self.input_done = true;
            }
            // Nothing more is handed out.
            let halted = abort_deadline.is_some() || self.stopping;
            if now >= next_ping {
                self.flush_acks(true);
                self.apply_cancels()?;
                self.ping();
                self.evict_silent(now)?;
                next_ping = now + self.cfg.heartrate;
            }
            if self.cfg.forever && now >= next_store_poll {
                // Other processes (`hs submit`) may have added tasks.
                self.store_dirty = true;
                next_store_poll = now + self.cfg.store_poll;
            }
            self.end_reconciliation(now)?;
            if !halted {
                self.expire_unplaced(now, sink)?;
                self.refill()?;
            }
            if let Some(deadline) = abort_deadline {
                if self.registry.engine_count() == 0 || now >= deadline {
                    // Results already recorded must not be reported again by their engines.
                    self.flush_acks(true);
                    self.unschedule_waiting();
                    self.summary.unfinished =
                        (self.queue.len() + self.registry.lease_count()) as u64;
                    return Ok(self.summary.clone());
                }
            } else if self.stopping {
                if self.registry.engine_count() == 0 {
                    self.flush_acks(true);
                    self.unschedule_waiting();
                    self.summary.unfinished =
                        (self.queue.len() + self.registry.lease_count()) as u64 + self.unscheduled;
                    return Ok(self.summary.clone());
                }
            } else if self.work_done() {
                if self.registry.engine_count() == 0 {
                    return Ok(self.summary.clone());
                }
                self.drain_engines(Drain::default());
            }

            let want_feed = feed.is_some()
                && !self.input_done
                && !halted
                && (self.cfg.buffer_input || (self.unscheduled as usize) < LOW_WATER);
            let wait = TURN.min(next_ping.saturating_duration_since(now));
            let (engines_ready, clients_ready, feed_ready) = {
                let mut items = vec![
                    self.sockets.engines.as_poll_item(zmq::POLLIN),
                    self.sockets.clients.as_poll_item(zmq::POLLIN),
                ];
                if let (true, Some(f)) = (want_feed, &feed) {
                    items.push(f.socket.as_poll_item(zmq::POLLIN));
                }
                hs_engine::transport::poll(&mut items, wait.as_millis() as i64).map_err(
                    |source| BrokerError::Zmq {
                        context: "polling".into(),
                        source,
                    },
                )?;
                (
                    items[0].is_readable(),
                    items[1].is_readable(),
                    items.get(2).is_some_and(|i| i.is_readable()),
                )
            };
            if feed_ready && let Some(f) = &feed {
                self.take_feed(f, sink)?;
            }
            if engines_ready {
                self.receive_engines(sink)?;
            }
            if clients_ready {
                self.receive_clients(sink, control)?;
            }
            if !halted {
                self.refill()?;
                self.dispatch()?;
            } else {
                self.flush_acks(true);
            }
        }
    }

    /// All input is in, nothing waits, nothing is leased, and the store has nothing to schedule.
    pub(crate) fn work_done(&self) -> bool {
        self.input_done
            && !self.store_dirty
            && self.queue.is_empty()
            && self.orphans.is_empty()
            && self.registry.lease_count() == 0
    }

    fn total_credit(&self) -> usize {
        self.registry
            .engines()
            .map(|e| self.registry.credit(&e.id))
            .sum()
    }

    /// Keep enough tasks at the broker for every engine's free credit, taking them from the store
    /// in batches (so a durable store is queried once per batch, not once per task).
    fn refill(&mut self) -> Result<(), BrokerError> {
        if !self.store_dirty || self.queue.pinned.len() >= PINNED_MAX {
            return Ok(());
        }
        let credit = self.total_credit();
        // Host-bound tasks are not counted: they may wait on a host that is not there.
        let ready = self.queue.open_len();
        if ready >= credit.max(1) {
            return Ok(());
        }
        // `ready` is at most `credit` here.
        let limit = LOW_WATER + credit - ready;
        let rows = self.store.schedule(limit, &self.scheduler)?;
        if rows.len() < limit {
            self.store_dirty = false;
        }
        self.unscheduled = self.unscheduled.saturating_sub(rows.len() as u64);
        for row in &rows {
            self.queue.push(crate::wire::to_task(row));
        }
        Ok(())
    }

    fn take_feed(
        &mut self,
        feed: &FeedReceiver,
        sink: &mut dyn ResultSink,
    ) -> Result<(), BrokerError> {
        // Take a few bundles per turn, then let engines and clients have their say.
        for _ in 0..4 {
            match feed.try_recv() {
                Some(FeedMessage::Tasks(rows)) => self.submit_input(&rows, sink)?,
                Some(FeedMessage::End) => {
                    self.input_done = !self.cfg.forever;
                    return Ok(());
                }
                None => return Ok(()),
            }
            if !self.cfg.buffer_input && self.unscheduled as usize >= LOW_WATER {
                return Ok(());
            }
        }
        Ok(())
    }

    /// This run's scheduler takes these tasks (rows it is about to commit: its input, or a
    /// client's submission), and the later tasks of their submitters.
    pub(crate) fn own(&mut self, rows: &[crate::store::TaskRecord]) {
        let mut last = None;
        for r in rows {
            if last != Some(r.submit_id) {
                self.scheduler.adopt(r.submit_id);
                last = Some(r.submit_id);
            }
        }
    }

    /// A run that takes only its own tasks says, in one line, what earlier runs left in the
    /// store that it will not run (asked before it has submitted anything, so all of it is
    /// theirs), and how to run it.
    fn tell_left_over(&mut self) -> Result<(), BrokerError> {
        let left = self.store.pending(self.cfg.max_retries)?;
        let total = left.unfinished + left.retryable;
        if total == 0 {
            return Ok(());
        }
        let tasks = |n: u64| if n == 1 { "task" } else { "tasks" };
        let what = match (left.unfinished, left.retryable) {
            (n, 0) => format!("{n} unfinished {}", tasks(n)),
            (0, n) => format!("{n} failed {} with retries left", tasks(n)),
            (u, r) => format!("{total} tasks ({u} unfinished, {r} failed with retries left)"),
        };
        let verb = if total == 1 { "is" } else { "are" };
        tracing::warn!(
            "{what} from earlier runs {verb} left in the database: run them with --restart"
        );
        Ok(())
    }

    /// Commit input rows to the store, before anything else happens to them.
    fn submit_input(
        &mut self,
        rows: &[crate::store::TaskRecord],
        sink: &mut dyn ResultSink,
    ) -> Result<(), BrokerError> {
        self.own(rows);
        self.store.submit(rows)?;
        let n = rows.len() as u64;
        self.summary.submitted += n;
        self.unscheduled += n;
        self.store_dirty = true;
        sink.tasks_submitted(n);
        Ok(())
    }

    /// Stop scheduling: commit the input already read (it was taken from its source, so it would
    /// be lost otherwise) and read no more, hand nothing more out, and tell every engine to hand
    /// back what it has not started and leave once its running tasks are reported.
    fn stop_scheduling(
        &mut self,
        feed: Option<&FeedReceiver>,
        sink: &mut dyn ResultSink,
    ) -> Result<(), BrokerError> {
        self.stopping = true;
        self.summary.stopped = true;
        self.input_done = true;
        while let Some(FeedMessage::Tasks(rows)) = feed.and_then(FeedReceiver::try_recv) {
            self.submit_input(&rows, sink)?;
        }
        tracing::info!(
            "scheduling stopped: waiting for {} engines (holding {} tasks) to finish their running \
             tasks and hand back the rest",
            self.registry.engine_count(),
            self.registry.lease_count()
        );
        self.drain_engines(Drain {
            stop: false,
            release: true,
        });
        Ok(())
    }

    /// Tasks the store says were running when the previous controller stopped: hold them back
    /// for a grace period so engines that kept running them can report, instead of running them
    /// twice (or, in a run that takes only its own tasks, instead of stopping them as tasks
    /// nobody holds).
    fn adopt_interrupted(&mut self) -> Result<(), BrokerError> {
        let rows = self.store.interrupted(usize::MAX)?;
        if rows.is_empty() {
            return Ok(());
        }
        let (n, grace) = (rows.len(), self.cfg.restart_grace.as_secs_f64());
        if self.scheduler.scope == Scope::All {
            tracing::info!(
                "{n} tasks were running when the previous controller stopped: waiting up to \
                 {grace:.0}s for their engines to report before running them again"
            );
        } else {
            // Counted among the unfinished tasks of earlier runs already (`tell_left_over`).
            tracing::debug!(
                "{n} tasks were running when the previous controller stopped: waiting up to \
                 {grace:.0}s for their engines to report before leaving them for --restart"
            );
        }
        self.orphans = rows
            .iter()
            .map(|r| (r.id, crate::wire::to_task(r)))
            .collect();
        self.reconcile_until = Some(Instant::now() + self.cfg.restart_grace);
        Ok(())
    }

    /// At the end of an interrupted run: what waits in the queue (never handed out, or handed
    /// back) is marked unscheduled in the store again, so a restart runs it at once instead of
    /// waiting for engines to claim it. Tasks still leased stay as they are: their engines may
    /// still be running them. A failure costs only that wait, so it is logged.
    fn unschedule_waiting(&mut self) {
        let ids: Vec<Uuid> = self.queue.ids().collect();
        if let Err(e) = self.store.unschedule(&ids) {
            tracing::warn!(
                "could not mark {} waiting tasks unscheduled: {e}",
                ids.len()
            );
        }
    }

    /// After the grace period, run again what no engine claimed.
    fn end_reconciliation(&mut self, now: Instant) -> Result<(), BrokerError> {
        if self.reconcile_until.is_none_or(|t| now < t) {
            return Ok(());
        }
        self.reconcile_until = None;
        if self.orphans.is_empty() {
            return Ok(());
        }
        let mut tasks: Vec<Task> = self.orphans.drain().map(|(_, t)| t).collect();
        if self.scheduler.scope != Scope::All {
            // Still marked as handed out in the store, where a `--restart` finds them.
            tracing::debug!(
                "{} tasks from the previous controller were not claimed by any engine: left for \
                 --restart",
                tasks.len()
            );
            return Ok(());
        }
        tasks.sort_by_key(|t| t.submit_time);
        tracing::info!(
            "{} tasks from the previous controller were not claimed by any engine: running them again",
            tasks.len()
        );
        self.requeue(tasks)
    }

    fn ping(&mut self) {
        let frames = self.ping_sealer.seal(&Ping {
            controller_id: self.cfg.controller_id,
        });
        // PUB never blocks; an engine that misses a ping catches the next.
        let _ = self.sockets.heartbeat.send_multipart(frames, zmq::DONTWAIT);
    }

    /// Send a signed message to one engine. An engine that cannot be reached is treated as lost.
    pub(crate) fn send_to_engine<M: hs_engine::protocol::Message>(
        &mut self,
        engine: Uuid,
        body: &M,
    ) -> bool {
        let frames = self.sealer.seal(body);
        let mut parts: Vec<Vec<u8>> = Vec::with_capacity(6);
        parts.push(engine.as_bytes().to_vec());
        parts.extend(frames);
        self.sockets
            .engines
            .send_multipart(parts, zmq::DONTWAIT)
            .is_ok()
    }
}
