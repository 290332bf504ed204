//! The engine's event loop.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::board::{Board, BoardState, SlotDone};
use super::config::EngineConfig;
use super::control::{EngineControl, StopMode};
use super::env::ControllerFacts;
use super::link::Link;
use super::slot::{Slots, cancelled_before_start};
use crate::executor::{Executor, StopReason, executor_for};
use crate::protocol::door::{self, DoorWatch};
use crate::protocol::{
    Bye, FrameError, Held, Incoming, Leaving, MAX_FRAME_BYTES, Message, PeerLink, Ping, PingOpener,
    Pong, Refusals, Register, Results, Role, ToEngine,
};
use crate::task::{Outcome, TaskResult};

mod give_up;
mod leases;
mod leaving;
mod messages;
mod results;
mod upload;

/// The longest the loop sleeps, so stop requests are seen promptly.
const TURN: Duration = Duration::from_millis(50);

/// How long a hello waits for its challenge before the engine starts over on a new connection.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(5);

/// Most messages read from one socket in one turn of the loop.
const RECV_BATCH: usize = 1024;

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
        "authentication failed: the controller at {endpoint} uses a different key; \
         pass the server's key with -k (or use its connection file)"
    )]
    AuthFailed { endpoint: String },
    /// Deterministic too: one side runs with `--no-tls`, the other without.
    #[error("cannot connect to the controller at {endpoint}: {why}")]
    ModeMismatch { endpoint: String, why: FrameError },
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
    /// Running tasks stopped because the engine or its controller was stopping (counted in
    /// `returned` too): what makes `hs client` exit 4.
    pub interrupted: u64,
    /// Tasks whose output could not be written (counted in `failed` too).
    pub output_lost: u64,
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
    /// For a new DEALER (a new connection, a new routing id) at each new handshake.
    ctx: zmq::Context,
    dealer: zmq::Socket,
    /// Reports a shut door on `dealer`: a wrong key, a controller without a door, or a
    /// reconnect turned away (then the socket is renewed).
    door: DoorWatch,
    /// The door was shut on `dealer`, which libzmq then never reconnects: the next hello goes
    /// on a new one.
    shut_out: bool,
    sub: zmq::Socket,
    /// Reports a reconnect of `sub` turned away at the door (then it is renewed).
    sub_door: DoorWatch,
    /// The controller is reached over the network: its doors are watched (an in-process one
    /// has none).
    networked: bool,
    done: zmq::Socket,
    slots: Option<Slots>,
    /// The connection's handshake and session with the controller.
    peer: PeerLink,
    /// Opens the heartbeats of the controller run the last handshake named.
    pings: Option<PingOpener>,
    /// When the hello of the handshake in progress left.
    hello_sent: Option<Instant>,
    /// Messages from the controller's side that were refused (after registration).
    refusals: Refusals,
    link: Link,
    /// The engine's queue, what its slots run, and their finished results.
    board: Arc<Board>,
    unsent: Vec<TaskResult>,
    /// When the oldest unsent result finished (for `-w`).
    unsent_since: Option<Instant>,
    unacked: HashMap<Uuid, TaskResult>,
    /// Captured files on their way to the controller, once their results are acknowledged.
    uploads: super::uploads::Uploads,
    returned: Vec<Held>,
    /// Tasks given up unstarted because the controller was silent longer than the eviction
    /// window (or forgot this engine): listed in the next registrations until one is welcomed.
    given_up: Vec<Held>,
    /// How many of `given_up` the last registration sent listed.
    given_up_sent: usize,
    /// When the leases run out unless the controller is heard (as the link said while
    /// registered), and whether the running tasks were stopped for that (see `leases`).
    leases_end: Option<Instant>,
    lease_stopped: bool,
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
    /// Gave up on an unreachable controller after this `--reconnect-limit` (see `give_up`).
    gave_up: Option<Duration>,
    last_busy: Instant,
    summary: EngineSummary,
}

impl Engine {
    fn connect(
        cfg: EngineConfig,
        ctx: &zmq::Context,
        executor: Arc<dyn Executor>,
    ) -> Result<Self, EngineError> {
        let (dealer, door) = dealer(ctx, &cfg)?;

        let (sub, sub_door) = subscriber(ctx, &cfg)?;

        let done = ctx
            .socket(zmq::PULL)
            .map_err(zmq_err("creating the slot socket"))?;
        let done_endpoint = format!("inproc://hs-engine-{}-done", cfg.engine_id);
        done.bind(&done_endpoint)
            .map_err(zmq_err("binding the slot socket"))?;
        // Every socket of this engine (and, in `hs cluster`, of its controller) exists now.
        crate::executor::seal_internal_descriptors();
        let bundle = (cfg.result_bundle > 0).then_some(cfg.result_bundle);
        let board = Arc::new(Board::new(bundle, cfg.resources.clone()).paced(cfg.ratelimit));
        let slots = Slots::start(&cfg, ctx, &done_endpoint, executor, board.clone())?;

        let now = Instant::now();
        let networked = !cfg.endpoints.engines.starts_with("inproc://");
        Ok(Engine {
            board,
            slots: Some(slots),
            peer: PeerLink::new(cfg.key.as_bytes(), Role::Engine, cfg.mode, cfg.engine_id),
            pings: None,
            hello_sent: None,
            ctx: ctx.clone(),
            refusals: Refusals::new("the engine's sockets"),
            link: Link::start(now, false),
            unsent: Vec::new(),
            unsent_since: None,
            unacked: HashMap::new(),
            uploads: Default::default(),
            returned: Vec::new(),
            given_up: Vec::new(),
            given_up_sent: 0,
            leases_end: None,
            lease_stopped: false,
            suspects: Vec::new(),
            signalled: None,
            draining: false,
            releasing: false,
            told_leaving: false,
            aborting: false,
            gave_up: None,
            last_busy: now,
            summary: EngineSummary::default(),
            cfg,
            dealer,
            door,
            shut_out: false,
            sub,
            sub_door,
            networked,
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
            self.expire_leases(now);
            self.keep_link(now)?;
            self.settle_suspects(now);
            if self.finished() {
                self.leave();
                return self.ending();
            }
            let (dealer_ready, sub_ready, done_ready, doors_ready) = {
                let mut items = [
                    self.dealer.as_poll_item(zmq::POLLIN),
                    self.sub.as_poll_item(zmq::POLLIN),
                    self.done.as_poll_item(zmq::POLLIN),
                    self.door.as_poll_item(),
                    self.sub_door.as_poll_item(),
                ];
                // In-process endpoints (`hs cluster`) have no door to watch.
                let watched = if self.networked { 5 } else { 3 };
                crate::transport::poll(&mut items[..watched], self.poll_timeout(now))
                    .map_err(zmq_err("polling"))?;
                (
                    items[0].is_readable(),
                    items[1].is_readable(),
                    items[2].is_readable(),
                    items[3].is_readable() || items[4].is_readable(),
                )
            };
            // Whatever arrived during a silence longer than the eviction window (this process was
            // frozen, say) does not make the leases good again: the silence is noticed first.
            self.expire_leases(Instant::now());
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
            // After what the old sockets already hold is read: a renewal replaces them.
            if doors_ready {
                self.watch_doors()?;
            }
            self.send_leaving();
            self.send_given_up();
            self.flush_results();
            // After the results, so a turn's results never wait behind its chunks.
            self.send_uploads();
            self.board.lease.set(self.link.lease_until());
        }
    }

    /// Registration, loss detection and give-up rules.
    fn keep_link(&mut self, now: Instant) -> Result<(), EngineError> {
        self.notice_loss(now);
        if let Link::Registering {
            since,
            ever_registered,
            ..
        } = self.link
        {
            let limit = if ever_registered {
                self.cfg.reconnect_limit
            } else {
                self.cfg.connect_timeout
            };
            if now.duration_since(since) > limit {
                if ever_registered {
                    // Anything still running finishes first (the lease stop ended what ran at
                    // the loss); registration attempts go on meanwhile.
                    self.give_up(limit);
                } else {
                    let endpoint = self.cfg.endpoints.engines.clone();
                    let secs = limit.as_secs_f64();
                    return Err(EngineError::Unreachable { endpoint, secs });
                }
            }
        }
        if let Link::Registering { next_attempt, .. } = self.link
            && now >= next_attempt
        {
            self.link.attempted(now);
            if self.peer.is_open() {
                self.send_register();
            } else {
                self.greet(now);
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
        // A registration is one message, so it carries one bundle's worth of results (see
        // `bundle`); the rest it holds like running tasks (their leases stay this engine's)
        // and sends as result bundles once welcomed.
        let (finished, later) = results::for_registration(self.unacked.values().cloned().collect());
        let mut reported_later = Vec::with_capacity(later.len());
        for r in &later {
            self.unacked.remove(&r.id);
            reported_later.push(Held {
                id: r.id,
                lease: r.lease,
            });
        }
        let running = self.board.with(|b| {
            b.running
                .iter()
                .map(|(id, (lease, _))| Held {
                    id: *id,
                    lease: *lease,
                })
                .collect::<Vec<_>>()
        });
        self.unsent.extend(later);
        let register = Register {
            engine_id: self.cfg.engine_id,
            host: self.cfg.host.clone(),
            pid: std::process::id(),
            slots: self.cfg.slots,
            nonce,
            version: env!("CARGO_PKG_VERSION").to_string(),
            // What it runs. Its queue is empty: given up when the link was lost (see `leases`).
            running: running.into_iter().chain(reported_later).collect(),
            finished,
            returned: self.given_up.clone(),
            resources: Some(self.cfg.resources.clone()),
        };
        self.given_up_sent = self.given_up.len();
        self.send(&register);
    }

    /// Start a handshake; the registration follows as soon as it is done. One hello at a time
    /// per connection, so a late challenge is never taken for the answer to a later hello: a
    /// hello unanswered for [`HANDSHAKE_WAIT`] is abandoned with its connection.
    fn greet(&mut self, now: Instant) {
        if std::mem::take(&mut self.shut_out) {
            self.reconnect();
        } else if let Some(sent) = self.hello_sent {
            if now.duration_since(sent) < HANDSHAKE_WAIT {
                return;
            }
            self.reconnect();
        }
        let hello = self.peer.hello();
        if self.dealer.send_multipart(hello, zmq::DONTWAIT).is_ok() {
            self.hello_sent = Some(now);
        } else {
            // Not connected yet (nothing is queued on a dead connection): try again later.
            self.peer.reset();
            self.hello_sent = None;
        }
    }

    /// New connections to the controller: a new DEALER (routing id and door credential), and a
    /// new SUB for its heartbeats, whose connection may have been refused at a door meanwhile
    /// (by a wrongly configured controller in its place, say), which libzmq never retries.
    fn reconnect(&mut self) {
        match dealer(&self.ctx, &self.cfg) {
            Ok((dealer, door)) => (self.dealer, self.door) = (dealer, door.carrying(&self.door)),
            Err(e) => tracing::warn!("{e}: handshaking again on the old connection"),
        }
        self.renew_sub();
    }

    fn renew_sub(&mut self) {
        match subscriber(&self.ctx, &self.cfg) {
            Ok((sub, door)) => (self.sub, self.sub_door) = (sub, door.carrying(&self.sub_door)),
            Err(e) => tracing::warn!("{e}: keeping the old heartbeat connection"),
        }
    }

    /// What the doors said about the two connections. A heartbeat connection turned away (a
    /// reconnect, whose credential was used) goes on over a new SUB with a fresh one. While
    /// registering, a door shut on the DEALER is judged as the same failure found in a
    /// handshake, or renewed. Once registered, a door shut on it means its connection dropped
    /// and libzmq's reconnect was turned away (or, for another reason than a used credential,
    /// that the controller at the address is not the one that welcomed this engine): the link
    /// is lost and found again on a new connection, with a new handshake and a registration
    /// that reports what the engine holds, since whatever was on its way when the connection
    /// dropped is lost with it.
    fn watch_doors(&mut self) -> Result<(), EngineError> {
        if let Some(shut) = self.door.shut() {
            if !self.link.is_registered() {
                self.door_shut(shut)?;
            } else {
                match shut.why() {
                    None => tracing::info!(
                        "the connection to the controller dropped: registering again"
                    ),
                    Some(why) => tracing::warn!("{why}; registering again"),
                }
                // New connections for both sockets (the SUB's old watch goes with its socket).
                self.lose_link(Instant::now());
                return Ok(());
            }
        }
        // Renewed here while its first fresh refusals count as renewals; once they say the
        // clocks are apart, it waits for the next handshake's new connections, paced like
        // every attempt, never renewed in a loop.
        if self.sub_door.shut() == Some(door::Shut::Renew) {
            self.renew_sub();
        }
        Ok(())
    }

    /// The controller's door was shut on this engine's connection while it registers: a wrong
    /// key, a controller without a door, or clocks set too far apart, judged as the same
    /// failure found in a handshake; or a credential to renew. When the engine goes on trying,
    /// it is on a new connection: libzmq never reconnects a refused one.
    fn door_shut(&mut self, shut: door::Shut) -> Result<(), EngineError> {
        if let Some(why) = shut.why() {
            self.handshake_failed(why)?;
        }
        self.shut_out = true;
        self.peer.reset();
        self.hello_sent = None;
        Ok(())
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
}

/// The engine's SUB to its controller's heartbeats, and the watch on its door.
fn subscriber(
    ctx: &zmq::Context,
    cfg: &EngineConfig,
) -> Result<(zmq::Socket, DoorWatch), EngineError> {
    let sub = ctx
        .socket(zmq::SUB)
        .map_err(zmq_err("creating the heartbeat socket"))?;
    sub.set_maxmsgsize(64 * 1024)
        .map_err(zmq_err("setting MAXMSGSIZE"))?;
    let watch = DoorWatch::knock(ctx, &sub, cfg.key.as_bytes())
        .map_err(zmq_err("watching the heartbeat socket"))?;
    sub.set_subscribe(b"").map_err(zmq_err("subscribing"))?;
    let heartbeat = &cfg.endpoints.heartbeat;
    sub.connect(heartbeat)
        .map_err(zmq_err(format!("connecting to {heartbeat}")))?;
    Ok((sub, watch))
}

/// The engine's DEALER to its controller: a new one, with a new random routing id and a new
/// door credential, for each new handshake, so a connection is never confused with an earlier
/// one. The routing id is not the engine's id: knowing an engine's id gives nobody its route.
/// Comes with the watch that reports a door shut on it.
fn dealer(ctx: &zmq::Context, cfg: &EngineConfig) -> Result<(zmq::Socket, DoorWatch), EngineError> {
    let endpoint = &cfg.endpoints.engines;
    let dealer = ctx
        .socket(zmq::DEALER)
        .map_err(zmq_err("creating the engine socket"))?;
    let watch = DoorWatch::knock(ctx, &dealer, cfg.key.as_bytes())
        .map_err(zmq_err("watching the engine socket"))?;
    // 12 bytes: not a UUID, so it is never mistaken for an engine's id in a log line.
    let route: [u8; 12] = rand::random();
    dealer
        .set_identity(&route)
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
    dealer
        .connect(endpoint)
        .map_err(zmq_err(format!("connecting to {endpoint}")))?;
    Ok((dealer, watch))
}
