//! The broker loop: one thread owns the three sockets and all state.

use std::time::{Duration, Instant};

use hs_engine::protocol::{Opener, Ping, Sealer};
use uuid::Uuid;

use crate::config::{BindSet, BrokerConfig};
use crate::control::BrokerControl;
use crate::feed::{FeedMessage, FeedReceiver};
use crate::queue::TaskQueue;
use crate::registry::Registry;
use crate::sink::ResultSink;
use crate::sockets::Sockets;

/// The longest the loop sleeps, so control requests are seen promptly.
const TURN: Duration = Duration::from_millis(50);
/// Read more input while fewer than this many tasks wait (plus the engines' total credit).
const LOW_WATER: usize = 1024;

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
}

/// How a run ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BrokerSummary {
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Tasks never finished because the run was aborted.
    pub unfinished: u64,
    pub aborted: bool,
}

pub struct Broker {
    pub(crate) cfg: BrokerConfig,
    pub(crate) sockets: Sockets,
    pub(crate) sealer: Sealer,
    pub(crate) ping_sealer: Sealer,
    pub(crate) engine_opener: Opener,
    pub(crate) client_opener: Opener,
    pub(crate) queue: TaskQueue,
    pub(crate) registry: Registry,
    pub(crate) summary: BrokerSummary,
    pub(crate) input_done: bool,
    pub(crate) rejected: u64,
}

impl Broker {
    /// Bind the sockets. Errors here (port in use, bad address) happen before any work starts.
    pub fn bind(cfg: BrokerConfig, ctx: &zmq::Context) -> Result<Broker, BrokerError> {
        let sockets = Sockets::bind(ctx, &cfg.bind)?;
        let key = cfg.key.as_bytes();
        Ok(Broker {
            sealer: Sealer::new(key, cfg.controller_id),
            // Pings travel on their own socket, so they carry their own sequence (and sender id).
            ping_sealer: Sealer::new(key, Uuid::new_v4()),
            engine_opener: Opener::new(key),
            client_opener: Opener::new(key),
            queue: TaskQueue::default(),
            registry: Registry::default(),
            summary: BrokerSummary::default(),
            input_done: false,
            rejected: 0,
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

    /// Messages dropped because they failed verification (bad key, forged, replayed, oversized).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Serve until every task from `feed` (and clients) is done and engines have left, or until
    /// `control` stops it. With no feed, only clients bring work.
    pub fn run(
        &mut self,
        feed: Option<FeedReceiver>,
        sink: &mut dyn ResultSink,
        control: &BrokerControl,
    ) -> Result<BrokerSummary, BrokerError> {
        self.input_done = feed.is_none() && !self.cfg.forever;
        let mut next_ping = Instant::now();
        let mut abort_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if control.aborted() && abort_deadline.is_none() {
                self.summary.aborted = true;
                abort_deadline = Some(now + self.cfg.abort_grace);
                self.drain_engines();
            }
            if control.draining() {
                self.input_done = true;
            }
            if now >= next_ping {
                self.ping();
                self.evict_silent(now);
                next_ping = now + self.cfg.heartrate;
            }
            if let Some(deadline) = abort_deadline {
                if self.registry.engine_count() == 0 || now >= deadline {
                    self.summary.unfinished =
                        (self.queue.len() + self.registry.lease_count()) as u64;
                    return Ok(self.summary.clone());
                }
            } else if self.work_done() {
                if self.registry.engine_count() == 0 {
                    return Ok(self.summary.clone());
                }
                self.drain_engines();
            }

            let want_feed = feed.is_some()
                && !self.input_done
                && abort_deadline.is_none()
                && self.queue.len() < LOW_WATER + self.total_credit();
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
                self.take_feed(f, sink);
            }
            if engines_ready {
                self.receive_engines(sink)?;
            }
            if clients_ready {
                self.receive_clients(sink, control)?;
            }
            if abort_deadline.is_none() {
                self.dispatch();
            }
        }
    }

    /// All input is in, nothing waits and nothing is leased.
    fn work_done(&self) -> bool {
        self.input_done && self.queue.is_empty() && self.registry.lease_count() == 0
    }

    fn total_credit(&self) -> usize {
        self.registry
            .engines()
            .map(|e| self.registry.credit(&e.id))
            .sum()
    }

    fn take_feed(&mut self, feed: &FeedReceiver, sink: &mut dyn ResultSink) {
        // Take a few bundles per turn, then let engines and clients have their say.
        for _ in 0..4 {
            match feed.try_recv() {
                Some(FeedMessage::Tasks(tasks)) => {
                    self.summary.submitted += tasks.len() as u64;
                    sink.tasks_submitted(tasks.len() as u64);
                    for t in tasks {
                        self.queue.push(t);
                    }
                }
                Some(FeedMessage::End) => {
                    self.input_done = !self.cfg.forever;
                    return;
                }
                None => return,
            }
            if self.queue.len() >= LOW_WATER + self.total_credit() {
                return;
            }
        }
    }

    fn ping(&mut self) {
        let frames = self.ping_sealer.seal(&Ping {
            controller_id: self.cfg.controller_id,
        });
        // PUB never blocks; an engine that misses a ping catches the next.
        let _ = self.sockets.heartbeat.send_multipart(frames, zmq::DONTWAIT);
    }

    /// Send a signed message to one engine. An engine that cannot be reached is treated as lost.
    pub(crate) fn send_to_engine<B: hs_engine::protocol::Body>(
        &mut self,
        engine: Uuid,
        body: &B,
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
