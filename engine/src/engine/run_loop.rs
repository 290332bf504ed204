//! The engine's event loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::config::EngineConfig;
use super::control::{EngineControl, StopMode};
use super::env::Server;
use super::link::Link;
use super::slot::{Board, BoardState, SlotDone, Slots, cancelled_before_start};
use crate::executor::{Executor, StopReason, executor_for};
use crate::protocol::{
    Ack, Body, Bye, Cancel, Drain, Envelope, FrameError, GiveBack, Held, Leaving, MAX_FRAME_BYTES,
    Opener, Ping, Pong, Register, Reregister, Results, Sealer, Tasks, Welcome,
};
use crate::task::{Outcome, TaskResult};

mod leases;

/// The longest the loop sleeps, so stop requests are seen promptly.
const TURN: Duration = Duration::from_millis(50);

/// How long finished results wait for company before they go to the controller, unless `-w`
/// says otherwise. Every message costs the controller and this loop a wake-up, and on a machine
/// whose cores all run tasks every wake-up preempts a task. Bundles of half what the engine
/// holds cut messages by that much, but only if the first result may wait until the bundle is
/// full: with short tasks the controller lets an engine hold up to 64 per slot, and 32 per slot
/// finish in about 40 ms on a laptop. The cost of waiting longer: results are seen that much
/// later, and an engine killed in that window takes with it up to this much finished work,
/// which then runs again.
pub const RESULT_LINGER: Duration = Duration::from_millis(50);

/// How long a task killed by SIGUSR1 or SIGUSR2 waits for its engine to get the same signal.
/// A batch system may signal every process of a job step at once (Slurm's `srun --signal`,
/// `scancel --signal`), so the task can die of the drain signal a moment before the engine
/// hears it; it was not the task's failure, and it is handed back instead of reported. A task
/// killed by one of these signals on its own is reported this much later.
const SIBLING_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Deterministic: retrying with the same key fails the same way.
    #[error(
        "authentication failed: the controller at {endpoint} signs its messages with a different key; \
         pass the server's key with -k (or use its connection file)"
    )]
    AuthFailed { endpoint: String },
    #[error(
        "no controller answered at {endpoint} within {secs:.0}s: check that `hs server` runs there, \
         that host and port are right, and that this host can reach it (or raise --connect-timeout)"
    )]
    Unreachable { endpoint: String, secs: f64 },
    #[error("lost the controller at {endpoint} and could not reach it again within {secs:.0}s")]
    ControllerLost { endpoint: String, secs: f64 },
    #[error("{context}: {source}")]
    Zmq { context: String, source: zmq::Error },
    #[error("could not start executor slots: {0}")]
    Io(#[from] std::io::Error),
}

fn zmq_err(context: impl Into<String>) -> impl FnOnce(zmq::Error) -> EngineError {
    let context = context.into();
    move |source| EngineError::Zmq { context, source }
}

/// What an engine did, for its final log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EngineSummary {
    pub done: u64,
    pub failed: u64,
    pub returned: u64,
}

/// Run an engine until the controller drains it, it idles out, or `control` stops it.
pub fn run(
    cfg: EngineConfig,
    ctx: &zmq::Context,
    control: &EngineControl,
) -> Result<EngineSummary, EngineError> {
    let executor = executor_for(cfg.executor, &cfg.export_env);
    run_with_executor(cfg, ctx, control, executor)
}

/// [`run`] with a chosen executor strategy.
pub fn run_with_executor(
    cfg: EngineConfig,
    ctx: &zmq::Context,
    control: &EngineControl,
    executor: Arc<dyn Executor>,
) -> Result<EngineSummary, EngineError> {
    // Background processes a task leaves behind become our children rather than init's, so
    // stopping a task's group reaps them too and nothing lingers after the engine.
    if let Err(e) = crate::executor::become_child_subreaper() {
        tracing::debug!("cannot become a child subreaper: {e}");
    }
    crate::executor::prepare_engine_process();
    let mut engine = Engine::connect(cfg, ctx, executor)?;
    let outcome = engine.serve(control);
    if outcome.is_err() {
        engine.stop_all(StopReason::Shutdown);
    }
    if let Some(slots) = engine.slots.take() {
        slots.join();
    }
    outcome.map(|_| engine.summary)
}

struct Engine {
    cfg: EngineConfig,
    dealer: zmq::Socket,
    sub: zmq::Socket,
    done: zmq::Socket,
    slots: Option<Slots>,
    sealer: Sealer,
    /// Separate openers: the controller signs its ROUTER and PUB traffic under different sender
    /// ids, and each stream's sequence numbers only increase within that stream.
    opener_direct: Opener,
    opener_pings: Opener,
    link: Link,
    /// The engine's queue, what its slots run, and their finished results.
    board: Arc<Board>,
    unsent: Vec<TaskResult>,
    /// When the oldest unsent result finished (for `-w`).
    unsent_since: Option<Instant>,
    unacked: HashMap<Uuid, TaskResult>,
    returned: Vec<Held>,
    /// Tasks given up unstarted because the controller was silent longer than the eviction
    /// window (or forgot this engine): listed in the next registrations until one is welcomed.
    given_up: Vec<Held>,
    /// How many of `given_up` the last registration sent listed.
    given_up_sent: usize,
    /// Results of tasks killed by SIGUSR1/SIGUSR2, waiting to see whether the engine gets the
    /// same signal (see [`SIBLING_WINDOW`]).
    suspects: Vec<(SlotDone, Instant)>,
    /// The signal that stopped this engine, if one did.
    signalled: Option<i32>,
    /// Take no new work; leave once what is held is done.
    draining: bool,
    /// Hand back tasks not started yet (as they arrive, too) instead of running them.
    releasing: bool,
    /// The controller has been sent [`Leaving`] since the engine last registered.
    told_leaving: bool,
    aborting: bool,
    last_busy: Instant,
    summary: EngineSummary,
}

impl Engine {
    fn connect(
        cfg: EngineConfig,
        ctx: &zmq::Context,
        executor: Arc<dyn Executor>,
    ) -> Result<Self, EngineError> {
        let dealer = ctx
            .socket(zmq::DEALER)
            .map_err(zmq_err("creating the engine socket"))?;
        dealer
            .set_identity(cfg.engine_id.as_bytes())
            .map_err(zmq_err("setting identity"))?;
        // Only queue messages on live connections; anything unsent is kept and re-reported.
        dealer
            .set_immediate(true)
            .map_err(zmq_err("setting IMMEDIATE"))?;
        dealer.set_linger(2000).map_err(zmq_err("setting LINGER"))?;
        dealer
            .set_maxmsgsize(MAX_FRAME_BYTES as i64)
            .map_err(zmq_err("setting MAXMSGSIZE"))?;
        dealer
            .set_reconnect_ivl(100)
            .map_err(zmq_err("setting RECONNECT_IVL"))?;
        dealer
            .set_reconnect_ivl_max(5000)
            .map_err(zmq_err("setting RECONNECT_IVL_MAX"))?;
        let engines = &cfg.endpoints.engines;
        dealer
            .connect(engines)
            .map_err(zmq_err(format!("connecting to {engines}")))?;

        let sub = ctx
            .socket(zmq::SUB)
            .map_err(zmq_err("creating the heartbeat socket"))?;
        sub.set_maxmsgsize(64 * 1024)
            .map_err(zmq_err("setting MAXMSGSIZE"))?;
        sub.set_subscribe(b"").map_err(zmq_err("subscribing"))?;
        let heartbeat = &cfg.endpoints.heartbeat;
        sub.connect(heartbeat)
            .map_err(zmq_err(format!("connecting to {heartbeat}")))?;

        let done = ctx
            .socket(zmq::PULL)
            .map_err(zmq_err("creating the slot socket"))?;
        let done_endpoint = format!("inproc://hs-engine-{}-done", cfg.engine_id);
        done.bind(&done_endpoint)
            .map_err(zmq_err("binding the slot socket"))?;
        // Every socket of this engine (and, in `hs cluster`, of its controller) exists now.
        crate::executor::seal_internal_descriptors();
        let bundle = (cfg.result_bundle > 0).then_some(cfg.result_bundle);
        let board = Arc::new(Board::new(bundle));
        let slots = Slots::start(&cfg, ctx, &done_endpoint, executor, board.clone())?;

        let now = Instant::now();
        Ok(Engine {
            board,
            slots: Some(slots),
            sealer: Sealer::new(cfg.key.as_bytes(), cfg.engine_id),
            opener_direct: Opener::new(cfg.key.as_bytes()),
            opener_pings: Opener::new(cfg.key.as_bytes()),
            link: Link::start(now, false),
            unsent: Vec::new(),
            unsent_since: None,
            unacked: HashMap::new(),
            returned: Vec::new(),
            given_up: Vec::new(),
            given_up_sent: 0,
            suspects: Vec::new(),
            signalled: None,
            draining: false,
            releasing: false,
            told_leaving: false,
            aborting: false,
            last_busy: now,
            summary: EngineSummary::default(),
            cfg,
            dealer,
            sub,
            done,
        })
    }

    fn serve(&mut self, control: &EngineControl) -> Result<(), EngineError> {
        loop {
            self.signalled = control.signal();
            match control.mode() {
                StopMode::Run => {}
                StopMode::Drain => self.release(),
                StopMode::Abort => self.abort(),
            }
            let now = Instant::now();
            self.keep_link(now)?;
            self.settle_suspects(now);
            if self.finished() {
                self.leave();
                return Ok(());
            }
            let (dealer_ready, sub_ready, done_ready) = {
                let mut items = [
                    self.dealer.as_poll_item(zmq::POLLIN),
                    self.sub.as_poll_item(zmq::POLLIN),
                    self.done.as_poll_item(zmq::POLLIN),
                ];
                crate::transport::poll(&mut items, self.poll_timeout(now))
                    .map_err(zmq_err("polling"))?;
                (
                    items[0].is_readable(),
                    items[1].is_readable(),
                    items[2].is_readable(),
                )
            };
            // Whatever arrived during a silence longer than the eviction window (this process was
            // frozen, say) does not make the leases good again: the silence is noticed first.
            self.notice_loss(Instant::now());
            if done_ready {
                self.ring_off()?;
            }
            self.collect_done();
            if dealer_ready {
                self.receive_direct()?;
            }
            if sub_ready {
                self.receive_pings()?;
            }
            self.give_back();
            self.flush_results();
            self.board.lease.set(self.link.lease_until());
        }
    }

    /// Registration, loss detection and give-up rules.
    fn keep_link(&mut self, now: Instant) -> Result<(), EngineError> {
        self.notice_loss(now);
        if let Link::Registering {
            next_attempt,
            since,
            ever_registered,
            ..
        } = &self.link
        {
            let limit = if *ever_registered {
                self.cfg.reconnect_limit
            } else {
                self.cfg.connect_timeout
            };
            if now.duration_since(*since) > limit {
                let endpoint = self.cfg.endpoints.engines.clone();
                let secs = limit.as_secs_f64();
                return Err(if *ever_registered {
                    EngineError::ControllerLost { endpoint, secs }
                } else {
                    EngineError::Unreachable { endpoint, secs }
                });
            }
            if now >= *next_attempt {
                self.link.attempted(now);
                self.send_register();
            }
        }
        if let Some(idle) = self.cfg.idle_timeout {
            let busy = self
                .board
                .with(|b| !b.queue.is_empty() || !b.running.is_empty());
            if busy {
                self.last_busy = now;
            } else if !self.draining && now.duration_since(self.last_busy) > idle {
                tracing::info!("idle for {:.0}s: leaving", idle.as_secs_f64());
                self.draining = true;
            }
        }
        Ok(())
    }

    fn evict_after(&self) -> Duration {
        match &self.link {
            Link::Registered { evict_after, .. } => *evict_after,
            Link::Registering { .. } => Duration::ZERO,
        }
    }

    fn send_register(&mut self) {
        let Link::Registering { nonce, .. } = self.link else {
            return;
        };
        // Everything finished but unacknowledged is reported again in the registration,
        // including what the slots finished since the loop last looked.
        let finished = self.board.with(BoardState::take_bundle);
        self.absorb(finished);
        self.unsent_since = None;
        for r in self.unsent.drain(..) {
            self.unacked.insert(r.id, r);
        }
        let register = Register {
            engine_id: self.cfg.engine_id,
            host: self.cfg.host.clone(),
            pid: std::process::id(),
            slots: self.cfg.slots,
            nonce,
            version: env!("CARGO_PKG_VERSION").to_string(),
            // What it runs. Its queue is empty: given up when the link was lost (see `leases`).
            running: self.board.with(|b| {
                b.running
                    .iter()
                    .map(|(id, (lease, _))| Held {
                        id: *id,
                        lease: *lease,
                    })
                    .collect()
            }),
            finished: self.unacked.values().cloned().collect(),
            returned: self.given_up.clone(),
        };
        self.given_up_sent = self.given_up.len();
        self.send(&register);
    }

    /// Send a signed message; false if it could not be queued (no live connection).
    fn send<B: Body>(&mut self, body: &B) -> bool {
        let frames = self.sealer.seal(body);
        self.dealer.send_multipart(frames, zmq::DONTWAIT).is_ok()
    }

    fn receive_direct(&mut self) -> Result<(), EngineError> {
        loop {
            let frames = match self.dealer.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(e) => return Err(zmq_err("receiving from the controller")(e)),
            };
            let envelope = match self.opener_direct.open(frames) {
                Ok(e) => e,
                Err(e) => {
                    self.refuse(e)?;
                    continue;
                }
            };
            self.handle_direct(envelope);
        }
    }

    fn handle_direct(&mut self, env: Envelope) {
        let now = Instant::now();
        match env.kind.as_str() {
            Welcome::KIND => {
                let Ok(w) = env.parse::<Welcome>() else {
                    return;
                };
                if let Link::Registering {
                    nonce,
                    ever_registered,
                    ..
                } = &self.link
                    && *nonce == w.nonce
                {
                    let again = if *ever_registered { "again " } else { "" };
                    let line = format!(
                        "registered {again}with controller {} at {} ({} slots)",
                        w.controller_id, self.cfg.endpoints.engines, self.cfg.slots
                    );
                    // An in-process engine (hs cluster) joining is not news to anyone.
                    if self.cfg.endpoints.engines.starts_with("inproc://") {
                        tracing::debug!("{line}");
                    } else {
                        tracing::info!("{line}");
                    }
                    let server = Server {
                        id: w.controller_id,
                        host: w.controller_host.map(Arc::from),
                    };
                    self.board.with(|b| b.server = Some(server));
                    self.link = Link::Registered {
                        controller_id: w.controller_id,
                        last_heard: now,
                        evict_after: Duration::from_millis(w.evict_ms.max(w.heartrate_ms * 2)),
                    };
                    // A new registration is a fresh start on the controller's side.
                    self.told_leaving = false;
                    self.welcomed();
                }
            }
            Tasks::KIND => {
                let Ok(t) = env.parse::<Tasks>() else { return };
                self.link.heard(now);
                self.accept(t.tasks);
                self.acknowledged(t.ack);
            }
            Ack::KIND => {
                let Ok(a) = env.parse::<Ack>() else { return };
                self.link.heard(now);
                self.acknowledged(a.ids);
            }
            Cancel::KIND => {
                let Ok(c) = env.parse::<Cancel>() else { return };
                self.link.heard(now);
                self.cancel(&c.ids);
            }
            GiveBack::KIND => {
                let Ok(g) = env.parse::<GiveBack>() else {
                    return;
                };
                self.link.heard(now);
                self.answer_give_back(g.most as usize);
            }
            Drain::KIND => {
                self.link.heard(now);
                let Ok(d) = env.parse::<Drain>() else { return };
                if d.stop {
                    if !self.aborting {
                        tracing::info!("the controller is stopping: stopping running tasks");
                    }
                    self.abort();
                } else if d.release {
                    if !self.releasing {
                        tracing::info!("the controller stopped scheduling: draining");
                    }
                    self.release();
                } else if !self.draining {
                    tracing::debug!("controller asked to drain");
                }
                self.draining = true;
            }
            Reregister::KIND => {
                if self.link.is_registered() {
                    tracing::info!(
                        "controller does not know this engine any more: registering again"
                    );
                    self.lose_link(now);
                }
            }
            other => tracing::debug!("ignoring unexpected {other} message from the controller"),
        }
    }

    fn receive_pings(&mut self) -> Result<(), EngineError> {
        loop {
            let frames = match self.sub.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(e) => return Err(zmq_err("receiving heartbeats")(e)),
            };
            let envelope = match self.opener_pings.open(frames) {
                Ok(e) => e,
                Err(e) => {
                    self.refuse(e)?;
                    continue;
                }
            };
            let Ok(ping) = envelope.parse::<Ping>() else {
                continue;
            };
            let now = Instant::now();
            match &self.link {
                Link::Registered { controller_id, .. } if *controller_id == ping.controller_id => {
                    self.link.heard(now);
                    self.send(&Pong {});
                }
                Link::Registered { .. } => {
                    tracing::warn!(
                        "a new controller ({}) answers at this address: registering with it",
                        ping.controller_id
                    );
                    self.lose_link(now);
                }
                Link::Registering { .. } => {}
            }
        }
    }

    /// A message failed verification. Before the first registration a bad signature can only
    /// mean a key mismatch, which retrying cannot fix; later it is dropped and counted.
    fn refuse(&mut self, err: FrameError) -> Result<(), EngineError> {
        match (&err, &self.link) {
            (
                FrameError::BadSignature,
                Link::Registering {
                    ever_registered: false,
                    ..
                },
            ) => Err(EngineError::AuthFailed {
                endpoint: self.cfg.endpoints.engines.clone(),
            }),
            _ => {
                tracing::warn!("dropped a message from the controller side: {err}");
                Ok(())
            }
        }
    }

    /// Cancel tasks this engine holds: queued ones are answered at once, running ones are
    /// stopped (their slot reports them cancelled when the group is gone).
    fn cancel(&mut self, ids: &[Uuid]) {
        let dropped = self.board.with(|b| {
            let mut dropped = Vec::new();
            b.queue.retain(|job| {
                let hit = ids.contains(&job.task.id);
                if hit {
                    dropped.push(cancelled_before_start(job));
                }
                !hit
            });
            dropped
        });
        let running = self.slots.as_ref().map_or(0, |slots| {
            slots.stop_running(|id| ids.contains(id), StopReason::Cancel)
        });
        if !dropped.is_empty() || running > 0 {
            tracing::info!(
                "cancelling {} queued and {running} running tasks",
                dropped.len()
            );
        }
        self.summary.done += dropped.len() as u64;
        self.summary.failed += dropped.len() as u64;
        self.unsent.extend(dropped);
    }

    /// The controller has recorded these results: forget them.
    fn acknowledged(&mut self, ids: Vec<Uuid>) {
        for id in ids {
            self.unacked.remove(&id);
        }
    }

    /// Empty the doorbell: the slots only ring it to wake this loop.
    fn ring_off(&mut self) -> Result<(), EngineError> {
        loop {
            match self.done.recv_bytes(zmq::DONTWAIT) {
                Ok(_) => {}
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(e) => return Err(zmq_err("receiving from executor slots")(e)),
            }
        }
    }

    /// Take the slots' finished results off the board (the bundle they make stays armed).
    fn collect_done(&mut self) {
        let finished = self.board.with(|b| std::mem::take(&mut b.done));
        self.absorb(finished);
    }

    /// Count finished results, and queue them to send (or, if the run was cut short by a
    /// shutdown or by the signal that drains this engine, to hand back).
    fn absorb(&mut self, finished: Vec<SlotDone>) {
        for done in finished {
            if done.interrupted {
                self.hand_back(&done.result);
            } else if killed_by_stop_signal(&done.result) {
                if self.signalled.is_some() {
                    self.hand_back_victim(&done.result);
                } else {
                    self.suspects.push((done, Instant::now()));
                }
            } else {
                self.report(done.result);
            }
        }
    }

    fn report(&mut self, result: TaskResult) {
        self.summary.done += 1;
        if !result.succeeded() {
            self.summary.failed += 1;
        }
        self.unsent_since.get_or_insert_with(Instant::now);
        self.unsent.push(result);
    }

    fn hand_back(&mut self, result: &TaskResult) {
        self.summary.returned += 1;
        self.returned.push(Held {
            id: result.id,
            lease: result.lease,
        });
    }

    fn hand_back_victim(&mut self, result: &TaskResult) {
        let name = match result.signal {
            Some(libc::SIGUSR1) => "SIGUSR1",
            _ => "SIGUSR2",
        };
        tracing::info!(
            "task {} was killed by the {name} sent to this engine's whole job: handed back to \
             run again",
            result.id
        );
        self.hand_back(result);
    }

    /// Decide on the tasks killed by SIGUSR1/SIGUSR2: handed back once this engine got such a
    /// signal too, reported as they ended once [`SIBLING_WINDOW`] passed without one.
    fn settle_suspects(&mut self, now: Instant) {
        if self.suspects.is_empty() {
            return;
        }
        let suspects = std::mem::take(&mut self.suspects);
        for (done, since) in suspects {
            if self.signalled.is_some() {
                self.hand_back_victim(&done.result);
            } else if now.duration_since(since) >= SIBLING_WINDOW {
                self.report(done.result);
            } else {
                self.suspects.push((done, since));
            }
        }
    }

    /// Send finished results once a bundle's worth is ready (see [`BoardState::bundle_full`]), the
    /// oldest has waited [`RESULT_LINGER`] (or `-w`), or there is nothing left to wait for: no
    /// task running, none queued here (the controller must hear back to send more), draining.
    fn flush_results(&mut self) {
        if !self.link.is_registered() {
            return;
        }
        let waited = self
            .unsent_since
            .is_none_or(|t| t.elapsed() >= self.cfg.result_wait);
        let (unsent, draining) = (self.unsent.len(), self.draining);
        let bundle = self.board.with(|b| {
            let ready = unsent + b.done.len();
            let quiet = b.running.is_empty() || b.queue.is_empty();
            let send = ready > 0 && (waited || b.bundle_full(ready) || quiet || draining);
            send.then(|| b.take_bundle())
        });
        let Some(finished) = bundle else {
            return;
        };
        self.absorb(finished);
        self.unsent_since = None;
        let results = Results {
            results: std::mem::take(&mut self.unsent),
        };
        if self.send(&results) {
            self.unacked
                .extend(results.results.into_iter().map(|r| (r.id, r)));
        } else {
            self.unsent = results.results;
        }
    }

    /// How long the loop may sleep: a [`TURN`], or less when results are lingering.
    fn poll_timeout(&self, now: Instant) -> i64 {
        let mut wait = TURN;
        if let Some(since) = self.unsent_since
            && !self.unsent.is_empty()
            && self.link.is_registered()
        {
            let due = since + self.cfg.result_wait;
            wait = wait.min(due.saturating_duration_since(now));
        }
        // Round up, so a deadline a few microseconds away is not polled for in a busy loop.
        wait.as_micros().div_ceil(1000) as i64
    }

    /// First abort request: hand back the queue, stop running tasks (they are handed back too).
    fn abort(&mut self) {
        if self.aborting {
            return;
        }
        self.aborting = true;
        let (_, running) = self.release_queue();
        if running > 0 {
            tracing::info!("stopping {running} running tasks");
        }
        self.stop_all(StopReason::Shutdown);
    }

    /// First drain request (SIGUSR1, or the controller stopped scheduling): hand back the queue,
    /// let the running tasks finish.
    fn release(&mut self) {
        if self.releasing {
            return;
        }
        match self.release_queue() {
            (0, 0) => tracing::info!("draining: this engine holds no tasks"),
            (queued, running) => tracing::info!(
                "draining: {queued} tasks not started handed back; waiting for {running} running \
                 tasks"
            ),
        }
    }

    /// Take no new work and hand back every task not started yet; returns how many were handed
    /// back and how many run. Slots take tasks from the queue under the same lock, so a task is
    /// either started here or handed back, never both.
    fn release_queue(&mut self) -> (usize, usize) {
        self.releasing = true;
        self.draining = true;
        let (queued, running) = self
            .board
            .with(|b| (b.queue.drain(..).collect::<Vec<_>>(), b.running.len()));
        self.summary.returned += queued.len() as u64;
        self.returned.extend(queued.iter().map(Held::from));
        (queued.len(), running)
    }

    /// While releasing: tell the controller (once per registration) to send nothing more, with
    /// the tasks handed back so far, and again whenever more come back. Without a registration
    /// nothing is sent: registering again leaves them out of what the engine holds, which gives
    /// them back as well.
    fn give_back(&mut self) {
        if !self.releasing
            || !self.link.is_registered()
            || (self.told_leaving && self.returned.is_empty())
        {
            return;
        }
        let leaving = Leaving {
            returned: std::mem::take(&mut self.returned),
        };
        if self.send(&leaving) {
            self.told_leaving = true;
        } else {
            self.returned = leaving.returned;
        }
    }

    fn stop_all(&self, reason: StopReason) {
        if let Some(slots) = &self.slots {
            slots.stop_running(|_| true, reason);
        }
    }

    /// Done when draining and nothing is queued, running or waiting for an acknowledgement
    /// (an abort does not wait for acknowledgements: the controller is going away too).
    fn finished(&self) -> bool {
        self.draining
            && self.suspects.is_empty()
            && self
                .board
                .with(|b| b.queue.is_empty() && b.running.is_empty() && b.done.is_empty())
            && (self.unsent.is_empty() || (self.aborting && !self.link.is_registered()))
            && (self.aborting || self.unacked.is_empty())
    }

    /// Say bye, registered or not: an engine stopped while its registration was on the way
    /// may already hold leases there, which the bye hands back (a controller that does not know
    /// it just ignores it).
    fn leave(&mut self) {
        let bye = Bye {
            returned: std::mem::take(&mut self.returned),
        };
        self.send(&bye);
        tracing::debug!(
            "engine leaving: {} done, {} failed, {} handed back",
            self.summary.done,
            self.summary.failed,
            self.summary.returned
        );
    }
}

/// Whether a task died of SIGUSR1 or SIGUSR2, the signals that drain an engine.
fn killed_by_stop_signal(result: &TaskResult) -> bool {
    result.outcome == Outcome::Signaled
        && matches!(result.signal, Some(libc::SIGUSR1 | libc::SIGUSR2))
}
