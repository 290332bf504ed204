//! The broker loop: one thread owns the three sockets and carries out what the [`Core`]
//! decides. Each turn it reads what arrived (decoded once, at the edge), hands it to the core,
//! and sends the core's effects; nothing else here decides anything.

use std::time::{Duration, Instant};

use hs_engine::protocol::{
    FrameError, Frames, FromClient, FromEngine, Mode, Ping, PingSealer, Refusals, Responder, Role,
    ToClient, ToEngine,
};
use uuid::Uuid;

use crate::config::{BindSet, ControllerConfig};
use crate::control::RunControl;
use crate::feed::{FeedMessage, FeedReceiver};
use crate::held::Held;
use crate::reactor::{Core, Effect};
use crate::routed;
use crate::sessions::{Arrival, Sessions};
use crate::sink::ResultSink;
use crate::sockets::Sockets;
use crate::store::{Completion, InputProgress, StoreError, TaskStore};

/// The longest the loop sleeps, so control requests are seen promptly.
const TURN: Duration = Duration::from_millis(50);
/// Most messages taken from the engine socket in one turn, so a flood from engines cannot
/// starve the rest of the loop.
const ENGINE_BATCH: usize = 1024;
/// Most messages taken from the client socket in one turn.
const CLIENT_BATCH: usize = 256;
/// Input bundles (of up to 512 lines each) taken per turn while the core wants input: enough to
/// refill thousands of engines' credit within a few turns, few enough that a turn stays short.
const FEED_BUNDLES_PER_TURN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "{endpoint} is already in use: stop whatever listens there or choose another port with -p"
    )]
    AddressInUse { endpoint: String },
    #[error("cannot bind {endpoint}: no such local address (check -H/--bind)")]
    AddressUnavailable { endpoint: String },
    #[error("{context}: {source}")]
    Zmq { context: String, source: zmq::Error },
    #[error("could not start the {what} thread: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the database did not answer for {waited:.0}s (the last error: {reason}): giving up \
         (--db-wait sets how long to wait); {held} results engines reported are not recorded \
         yet: the controller keeps them in a file for its successor, and engines keep theirs \
         until a controller records them; once the database is back, the same command again \
         (or `--restart`) records them and runs what is left"
    )]
    StoreOutage {
        waited: f64,
        reason: String,
        held: usize,
        /// The results held, as the store would have recorded them: the caller keeps them for
        /// the next run on this database (results of the controller's own engine would
        /// otherwise be lost with the process).
        unrecorded: Vec<Completion>,
    },
    /// The run failed while its input was being read: how far it was stored, and how to finish.
    #[error(
        "{cause}; the first {} lines of {} were stored (as submission {}): once the database \
         works, run the same command again to finish: the stored lines are skipped, so no task \
         runs twice", stored.lines, stored.source, stored.submission
    )]
    InputStopped {
        cause: Box<RunError>,
        stored: InputProgress,
    },
}

impl RunError {
    /// For `map_err`: a ZeroMQ error, saying what was being done.
    pub(crate) fn zmq(context: impl Into<String>) -> impl FnOnce(zmq::Error) -> RunError {
        let context = context.into();
        move |source| RunError::Zmq { context, source }
    }
}

impl RunError {
    /// The results a controller that gave up on its database held but could not record.
    pub fn unrecorded(&self) -> &[Completion] {
        match self {
            RunError::StoreOutage { unrecorded, .. } => unrecorded,
            RunError::InputStopped { cause, .. } => cause.unrecorded(),
            _ => &[],
        }
    }
}

/// How a run ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ControllerSummary {
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Tasks never finished because the run was aborted or stopped.
    pub unfinished: u64,
    pub aborted: bool,
    /// Scheduling was stopped ([`RunControl::stop_scheduling`]) before all work was done.
    pub stopped: bool,
}

pub struct Broker {
    core: Core,
    sockets: Sockets,
    /// Handshakes and sessions of the engine socket and of the client socket: what the core
    /// says is sealed, and what arrives opened, with the keys of each peer's session.
    engines: Sessions,
    clients: Sessions,
    /// Messages sealed for clients between their connections, sent when each is heard again.
    held: Held,
    /// Pings travel on their own socket under the run's heartbeat key.
    pings: PingSealer,
    /// Messages refused on the engine socket and on the client socket.
    engine_refusals: Refusals,
    client_refusals: Refusals,
}

impl Broker {
    /// Bind the sockets. Errors here (port in use, bad address) happen before any work starts.
    pub fn bind(
        cfg: ControllerConfig,
        ctx: &zmq::Context,
        store: Box<dyn TaskStore>,
    ) -> Result<Broker, RunError> {
        let sockets = Sockets::bind(ctx, &cfg.bind, cfg.key.as_bytes())?;
        let key = cfg.key.as_bytes();
        if cfg.mode == Mode::Clear {
            tracing::warn!(
                "--no-tls: messages are authenticated with the shared key but travel unencrypted; \
                 anyone on the network can read task command lines and results"
            );
        }
        let responder = Responder::new(key, cfg.mode, cfg.controller_id);
        Ok(Broker {
            pings: PingSealer::new(key, cfg.mode, responder.epoch()),
            engines: Sessions::new(responder.clone(), Role::Engine).limit_messages(cfg.max_message),
            clients: Sessions::new(responder, Role::Client).limit_messages(cfg.max_message),
            engine_refusals: Refusals::new("the engine socket"),
            client_refusals: Refusals::new("the client socket"),
            held: Held::default(),
            sockets,
            core: Core::new(cfg, store),
        })
    }

    /// The endpoints actually bound (ephemeral ports resolved).
    pub fn bound(&self) -> &BindSet {
        &self.sockets.bound
    }

    pub fn controller_id(&self) -> Uuid {
        self.core.config().controller_id
    }

    /// Messages refused: failed verification (bad key, forged, replayed, oversized), of an
    /// unknown kind or a body of the wrong shape, or uploads the controller does not take; and
    /// connections refused at a door.
    pub fn rejected(&self) -> u64 {
        self.engine_refusals.count()
            + self.client_refusals.count()
            + self.core.uploads_refused()
            + self.sockets.door.as_ref().map_or(0, |d| d.refused.get())
    }

    /// Serve until every task from `feed`, clients and the store is done and engines have left,
    /// or until `control` stops it. With no feed, only clients and the store bring work.
    pub fn run(
        &mut self,
        feed: Option<FeedReceiver>,
        sink: &mut dyn ResultSink,
        control: &RunControl,
    ) -> Result<ControllerSummary, RunError> {
        self.serve(feed, sink, control).map_err(|cause| {
            // Say how far the input got, and how to finish it.
            match self.core.input_stopped() {
                Some(stored) if !matches!(cause, RunError::InputStopped { .. }) => {
                    RunError::InputStopped {
                        cause: Box::new(cause),
                        stored: stored.clone(),
                    }
                }
                _ => cause,
            }
        })
    }

    /// [`run`](Self::run)'s loop. A store error that may pass (an outage: see `store_link.rs`)
    /// does not end it; an outage that lasts `db_wait` does.
    fn serve(
        &mut self,
        feed: Option<FeedReceiver>,
        sink: &mut dyn ResultSink,
        control: &RunControl,
    ) -> Result<ControllerSummary, RunError> {
        let cfg = self.core.config().clone();
        if feed.is_none() && !cfg.forever {
            self.core.end_input();
        }
        self.core.start(Instant::now())?;
        let mut next_ping = Instant::now();
        let mut next_store_poll = Instant::now() + cfg.store_poll;
        let mut abort_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if control.aborted() && abort_deadline.is_none() {
                abort_deadline = Some(now + cfg.abort_grace);
                self.core.abort();
            }
            if control.scheduling_stopped() && !self.core.halted() {
                // The input already read was taken from its source: committed, not lost.
                while let Some(FeedMessage::Tasks(rows, progress)) =
                    feed.as_ref().and_then(|f| f.try_recv())
                {
                    self.core.submit_read(&rows, progress.as_ref(), sink)?;
                }
                self.core.stop_scheduling();
            }
            if control.draining() {
                self.core.end_input();
            }
            self.core.check_outage(now)?;
            if now >= next_ping {
                ride_out(self.core.heartbeat(now))?;
                self.ping();
                next_ping = now + cfg.heartrate;
            }
            if cfg.forever && now >= next_store_poll {
                // Other processes (`hs submit`) may have added tasks.
                self.core.poll_store();
                next_store_poll = now + cfg.store_poll;
            }
            ride_out(self.core.prepare(now, sink))?;
            let engines = self.core.engine_count();
            let done = match abort_deadline {
                Some(deadline) => engines == 0 || now >= deadline,
                None if self.core.stopping() => engines == 0,
                None => {
                    self.core.drain_when_done();
                    engines == 0 && self.core.work_done()
                }
            };
            if done {
                let summary = self.core.finish();
                self.send_effects()?;
                return Ok(summary);
            }
            self.send_effects()?;

            let want_feed = feed.is_some() && !self.core.halted() && self.core.wants_input();
            let wait = TURN.min(next_ping.saturating_duration_since(now));
            let (engines_ready, clients_ready, feed_ready) = {
                let mut items = vec![
                    self.sockets.engines.as_poll_item(zmq::POLLIN),
                    self.sockets.clients.as_poll_item(zmq::POLLIN),
                ];
                if let (true, Some(f)) = (want_feed, &feed) {
                    items.push(f.socket.as_poll_item(zmq::POLLIN));
                }
                hs_engine::transport::poll(&mut items, wait.as_millis() as i64)
                    .map_err(RunError::zmq("polling"))?;
                (
                    items[0].is_readable(),
                    items[1].is_readable(),
                    items.get(2).is_some_and(|i| i.is_readable()),
                )
            };
            if feed_ready && let Some(f) = &feed {
                ride_out(self.take_feed(f, sink))?;
            }
            if engines_ready {
                for (engine, msg) in self.receive_engines()? {
                    ride_out(self.core.on_engine(engine, msg, Instant::now(), sink))?;
                }
            }
            if clients_ready {
                for (identity, sender, request) in self.receive_clients()? {
                    match request {
                        Ok(request) => {
                            ride_out(
                                self.core
                                    .on_client(identity, sender, request, sink, control),
                            )?;
                        }
                        Err(reason) => self.core.refuse_client(identity, reason),
                    }
                }
            }
            ride_out(self.core.schedule(Instant::now()))?;
            self.send_effects()?;
        }
    }

    fn take_feed(
        &mut self,
        feed: &FeedReceiver,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        // Take up to FEED_BUNDLES_PER_TURN bundles while the core wants them, then let engines
        // and clients have their say.
        for _ in 0..FEED_BUNDLES_PER_TURN {
            match feed.try_recv() {
                Some(FeedMessage::Tasks(rows, progress)) => {
                    self.core.submit_read(&rows, progress.as_ref(), sink)?
                }
                Some(FeedMessage::End) => {
                    if !self.core.config().forever {
                        self.core.end_input();
                    }
                    return self.core.input_read_to_end();
                }
                None => return Ok(()),
            }
            if !self.core.wants_input() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Opened, decoded messages waiting on the engine socket, with the engines whose
    /// handshakes opened their sessions. Handshake messages are answered here.
    fn receive_engines(&mut self) -> Result<Vec<(Uuid, FromEngine)>, RunError> {
        let mut decoded = Vec::new();
        let received = routed::receive(
            &self.sockets.engines,
            ENGINE_BATCH,
            "engines",
            &self.engines,
            &mut self.engine_refusals,
        )?;
        for (route, frames) in received {
            let now = Instant::now();
            let opened = match self.engines.take(&route, frames, now) {
                Ok(Arrival::Challenge(challenge)) => {
                    reply(&self.sockets.engines, route, challenge);
                    continue;
                }
                Ok(Arrival::Opened(engine)) => {
                    tracing::debug!("engine {engine} completed its handshake");
                    continue;
                }
                Ok(Arrival::Message(engine, envelope)) => envelope
                    .decode::<FromEngine>()
                    .and_then(|message| match &message {
                        // A registration speaks for the engine whose handshake opened the
                        // session, never for another.
                        FromEngine::Register(r) if r.engine_id != engine => {
                            Err(FrameError::SenderMismatch)
                        }
                        _ => Ok((engine, message)),
                    })
                    .map_err(|e| (engine.as_bytes().to_vec(), e)),
                Err(e) => Err((route, e)),
            };
            match opened {
                Ok(message) => decoded.push(message),
                Err((peer, e)) => self.engine_refusals.refuse(&peer, &e, now),
            }
        }
        Ok(decoded)
    }

    /// Opened requests waiting on the client socket, with each client's routing identity and
    /// the id its handshake named. A request that opens but cannot be decoded comes as the
    /// reason to refuse it: the core answers it in its place among the others (a client that
    /// pipelines requests takes the answers in order).
    fn receive_clients(&mut self) -> Result<Vec<ClientRequest>, RunError> {
        let mut requests = Vec::new();
        let received = routed::receive(
            &self.sockets.clients,
            CLIENT_BATCH,
            "clients",
            &self.clients,
            &mut self.client_refusals,
        )?;
        for (route, frames) in received {
            let now = Instant::now();
            // Anything from the route is its client back (only key holders pass the door):
            // what was kept for it goes first.
            if self.held.has(&route) {
                let socket = &self.sockets.clients;
                self.held
                    .flush(&route, |frames| send_routed(socket, &route, frames));
            }
            let (client, envelope) = match self.clients.take(&route, frames, now) {
                Ok(Arrival::Challenge(challenge)) => {
                    reply(&self.sockets.clients, route, challenge);
                    continue;
                }
                Ok(Arrival::Opened(_)) => continue,
                Ok(Arrival::Message(client, envelope)) => (client, envelope),
                Err(err) => {
                    // Never answered: a client with the wrong key hears nothing more.
                    self.client_refusals.refuse(&route, &err, now);
                    continue;
                }
            };
            let request = envelope.decode::<FromClient>().map_err(|err| {
                self.client_refusals.refuse(&route, &err, now);
                err.to_string()
            });
            requests.push((route, client, request));
        }
        Ok(requests)
    }

    /// Send what the core decided, in order. A bundle of tasks that cannot reach its engine goes
    /// back to the queue ([`Core::bundle_undelivered`]), which may decide more.
    fn send_effects(&mut self) -> Result<(), RunError> {
        loop {
            let effects = self.core.take_effects();
            if effects.is_empty() {
                return Ok(());
            }
            for effect in effects {
                match effect {
                    Effect::ToEngine(engine, msg) => {
                        if !self.send_to_engine(engine, &msg)
                            && let ToEngine::Tasks(bundle) = &msg
                        {
                            self.core.bundle_undelivered(engine, bundle)?;
                        }
                    }
                    Effect::ToClient(client, msg) => {
                        if !self.send_to_client(client, &msg)
                            && let ToClient::Finished(f) = &msg
                        {
                            tracing::debug!(
                                "a watching client did not take {} results (gone, or not \
                                 reading): they stay in the store",
                                f.results.len()
                            );
                        }
                    }
                }
            }
        }
    }

    fn ping(&mut self) {
        let frames = self.pings.seal(&Ping {
            controller_id: self.core.config().controller_id,
        });
        // PUB never blocks; an engine that misses a ping catches the next.
        let _ = self.sockets.heartbeat.send_multipart(frames, zmq::DONTWAIT);
    }

    /// Send a sealed message to one engine; false if it cannot be reached (no session, or no
    /// connection right now).
    ///
    /// A session outlives its connection: a peer whose connection dropped opens a new one with
    /// the same routing id (libzmq's reconnect, or a socket renewed at the door) and carries on
    /// in the same session, so a send that finds no connection forgets nothing. Sessions are
    /// bounded per socket (`sessions.rs`), and a dead engine's is replaced when it handshakes
    /// again.
    fn send_to_engine(&mut self, engine: Uuid, msg: &ToEngine) -> bool {
        let Some(route) = self.engines.route_of(&engine).cloned() else {
            return false;
        };
        let Some(parts) = self.engines.seal_for(&route, msg) else {
            return false;
        };
        self.sockets
            .engines
            .send_multipart(parts, zmq::DONTWAIT)
            .is_ok()
    }

    /// Send a sealed message to one client without waiting; false if it could be neither sent
    /// nor kept. One that finds no connection (the client is between connections), or a full
    /// queue, is kept for when the client is heard again ([`Held`]), behind any kept before.
    fn send_to_client(&mut self, client: Vec<u8>, msg: &ToClient) -> bool {
        let Some(mut parts) = self.clients.seal_for(&client, msg) else {
            return false;
        };
        let frames = parts.split_off(1);
        if self.held.has(&client) {
            return self.held.keep(&client, frames);
        }
        match send_routed(&self.sockets.clients, &client, frames) {
            Ok(()) => true,
            Err(frames) => self.held.keep(&client, frames),
        }
    }
}

/// Send `frames` to `route` on a ROUTER without waiting; the frames back if the route has no
/// connection or its queue is full. Only the first frame can fail: once the routing id is taken,
/// the rest of the message goes with it.
fn send_routed(socket: &zmq::Socket, route: &[u8], frames: Frames) -> Result<(), Frames> {
    if socket.send(route, zmq::SNDMORE | zmq::DONTWAIT).is_err() {
        return Err(frames);
    }
    let last = frames.len().saturating_sub(1);
    for (i, frame) in frames.into_iter().enumerate() {
        let more = if i < last { zmq::SNDMORE } else { 0 };
        let _ = socket.send(frame, more | zmq::DONTWAIT);
    }
    Ok(())
}

/// Answer a handshake message on the socket it came from. Never blocks; a peer that is gone
/// or not reading simply gets no answer and tries again.
fn reply(socket: &zmq::Socket, route: Vec<u8>, frames: Frames) {
    let _ = send_routed(socket, &route, frames);
}

/// A handler's outcome, with a store outage let through: what it could not do waits (see
/// `reactor/outage.rs`), and the loop goes on until the outage lasts too long.
fn ride_out(r: Result<(), RunError>) -> Result<(), RunError> {
    match r {
        Err(RunError::Store(e)) if e.is_transient() => {
            tracing::debug!("carrying on through a database outage: {e}");
            Ok(())
        }
        other => other,
    }
}

/// A client request as read: its routing identity, the client id its handshake named, and the
/// request or the reason it cannot be served.
type ClientRequest = (Vec<u8>, Uuid, Result<FromClient, String>);
