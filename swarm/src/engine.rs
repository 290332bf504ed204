//! One simulated engine: a DEALER and a SUB, as a real engine has, that registers, answers
//! pings, returns every task it is given as exited 0 at once, and leaves when drained.
//!
//! It keeps the real engine's timings where they shape the controller's load: registration is
//! repeated every 250 ms, doubling up to 8 s, until a welcome echoes its nonce; results are
//! kept until acknowledged and `bye` waits for the last acknowledgement.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hs_protocol::protocol::door;
use rand::Rng;
use uuid::Uuid;

use crate::ctx::Context;
use crate::wire::{Direct, Frames, Junk, Peer};

const FIRST_RETRY: Duration = Duration::from_millis(250);
/// How long a hello waits for its challenge before another is sent.
const GREETING: Duration = Duration::from_secs(5);
const LAST_RETRY: Duration = Duration::from_secs(8);
/// A hostile engine sends one piece of bad input this often.
const JUNK_EVERY: Duration = Duration::from_millis(200);

/// Where the controller listens, and with which key.
pub struct Endpoints {
    pub engines: String,
    pub heartbeat: String,
    pub key: String,
}

/// What one engine saw; summed by its worker.
#[derive(Default, Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EngineStats {
    pub tasks: u64,
    pub bundles: u64,
    pub pings: u64,
    /// Longest wait between two pings (ms).
    pub max_ping_gap_ms: u64,
    pub reregisters: u64,
    pub cancels: u64,
    /// Messages from the controller that failed verification or decoding.
    pub refused: u64,
    pub junk_sent: u64,
}

pub struct SimEngine {
    pub id: Uuid,
    dealer: zmq::Socket,
    sub: zmq::Socket,
    peer: Peer,
    slots: u32,
    host: String,
    nonce: u64,
    next_register: Instant,
    retry: Duration,
    pub registered_at: Option<Instant>,
    /// When the hello of the handshake in progress left.
    greeting: Option<Instant>,
    last_ping: Option<Instant>,
    unacked: HashSet<Uuid>,
    /// Signed messages the DEALER could not take yet (not connected, or high-water mark).
    unsent: Vec<Frames>,
    drained: bool,
    pub gone: bool,
    pub stats: EngineStats,
    /// Task numbers (the task line's trailing integer) answered, when checking for duplicates.
    pub answered: Option<Vec<u32>>,
    hostile: Option<Hostile>,
    pub first_task: Option<Instant>,
    pub last_result: Option<Instant>,
}

/// A buggy peer's bad-input schedule.
struct Hostile {
    next_junk: Instant,
    turn: usize,
}

/// Send without blocking (libzmq copies the frames either way). Nothing is sealed before the
/// handshake is done: such a message is empty and not sent.
fn send(socket: &zmq::Socket, frames: &Frames) -> Result<(), zmq::Error> {
    if frames.is_empty() {
        return Ok(());
    }
    socket.send_multipart(frames.iter().map(Vec::as_slice), zmq::DONTWAIT)
}

fn dealer(ctx: &Context, endpoint: &str, key: &str) -> anyhow::Result<zmq::Socket> {
    let s = ctx.socket(zmq::DEALER)?;
    door::knock(&s, key.as_bytes())?;
    // As the real engine: a random routing id, not the engine's id.
    s.set_identity(&Uuid::new_v4().as_bytes()[..12])?;
    // As the real engine: queue nothing on a connection that is not up.
    s.set_immediate(true)?;
    s.set_linger(0)?;
    s.set_reconnect_ivl(100)?;
    s.set_reconnect_ivl_max(5000)?;
    s.connect(endpoint)?;
    Ok(s)
}

impl SimEngine {
    /// A new engine with the id `id` (a hostile pair shares one: duplicate engine ids).
    pub fn connect(
        ctx: &Context,
        ends: &Endpoints,
        id: Uuid,
        slots: u32,
        hostile: bool,
        check: bool,
    ) -> anyhow::Result<SimEngine> {
        let dealer = dealer(ctx, &ends.engines, &ends.key)?;
        let sub = ctx.socket(zmq::SUB)?;
        door::knock(&sub, ends.key.as_bytes())?;
        sub.set_linger(0)?;
        sub.set_subscribe(b"")?;
        sub.connect(&ends.heartbeat)?;
        let now = Instant::now();
        let hostile = hostile.then_some(Hostile {
            next_junk: now + JUNK_EVERY,
            turn: 0,
        });
        Ok(SimEngine {
            id,
            dealer,
            sub,
            peer: Peer::new(&ends.key, id),
            slots,
            host: format!("swarm-{}", std::process::id()),
            nonce: rand::thread_rng().r#gen(),
            next_register: now,
            retry: FIRST_RETRY,
            registered_at: None,
            greeting: None,
            last_ping: None,
            unacked: HashSet::new(),
            unsent: Vec::new(),
            drained: false,
            gone: false,
            stats: EngineStats::default(),
            answered: check.then(Vec::new),
            hostile,
            first_task: None,
            last_result: None,
        })
    }

    pub fn is_hostile(&self) -> bool {
        self.hostile.is_some()
    }

    /// The descriptors that signal activity on its two sockets (`ZMQ_FD`).
    pub fn fds(&self) -> anyhow::Result<[std::os::fd::RawFd; 2]> {
        Ok([self.dealer.get_fd()?, self.sub.get_fd()?])
    }

    fn send(&mut self, frames: Frames) {
        if !self.unsent.is_empty() {
            self.unsent.push(frames);
            return;
        }
        if send(&self.dealer, &frames) == Err(zmq::Error::EAGAIN) {
            self.unsent.push(frames);
        }
    }

    fn flush(&mut self) {
        while let Some(frames) = self.unsent.first() {
            if send(&self.dealer, frames).is_err() {
                return;
            }
            self.unsent.remove(0);
        }
    }

    /// Timers: registration retries, unsent messages, bad input, leaving. Called every few
    /// tens of milliseconds.
    pub fn tick(&mut self, now: Instant) {
        if self.gone {
            return;
        }
        self.flush();
        if !self.peer.is_open() {
            // As the real engine: one hello at a time, the registration once it is answered.
            if now >= self.next_register && self.greeting.is_none_or(|at| now >= at + GREETING) {
                let hello = self.peer.hello();
                if send(&self.dealer, &hello).is_ok() {
                    self.greeting = Some(now);
                } else {
                    self.peer.reset();
                }
                self.next_register = now + FIRST_RETRY;
            }
        } else if self.registered_at.is_none() && now >= self.next_register {
            // As the real engine: a fresh nonce per attempt (a late welcome to an earlier one is
            // ignored), and an attempt that cannot be queued (not connected yet) is just retried.
            self.nonce = rand::thread_rng().r#gen();
            let frames = self.peer.register(self.slots, self.nonce, &self.host);
            let _ = send(&self.dealer, &frames);
            self.next_register = now + self.retry;
            self.retry = (self.retry * 2).min(LAST_RETRY);
        }
        if let Some(h) = &mut self.hostile
            && self.registered_at.is_some()
            && now >= h.next_junk
        {
            let what = Junk::ALL[h.turn % Junk::ALL.len()];
            h.turn += 1;
            h.next_junk = now + JUNK_EVERY;
            let frames = self.peer.junk(what);
            let _ = send(&self.dealer, &frames);
            self.stats.junk_sent += 1;
        }
        if self.drained && self.unacked.is_empty() && self.unsent.is_empty() {
            let frames = self.peer.bye();
            if send(&self.dealer, &frames).is_ok() {
                self.gone = true;
            }
        }
    }

    /// Read everything waiting on both sockets.
    pub fn receive(&mut self, now: Instant) {
        while let Ok(frames) = self.sub.recv_multipart(zmq::DONTWAIT) {
            if !self.peer.open_ping(frames) {
                self.stats.refused += 1;
                continue;
            }
            self.stats.pings += 1;
            if let Some(last) = self.last_ping {
                let gap = now.duration_since(last).as_millis() as u64;
                self.stats.max_ping_gap_ms = self.stats.max_ping_gap_ms.max(gap);
            }
            self.last_ping = Some(now);
            if self.registered_at.is_some() && !self.gone {
                let pong = self.peer.pong();
                self.send(pong);
            }
        }
        while let Ok(frames) = self.dealer.recv_multipart(zmq::DONTWAIT) {
            match self.peer.open_direct(frames) {
                Ok(msg) => self.handle(msg, now),
                Err(_) => self.stats.refused += 1,
            }
        }
    }

    fn handle(&mut self, msg: Direct, now: Instant) {
        match msg {
            Direct::Opened(proof) => {
                self.greeting = None;
                let _ = send(&self.dealer, &proof);
                self.next_register = now;
                self.tick(now);
            }
            Direct::Welcome { nonce } if nonce == self.nonce && self.registered_at.is_none() => {
                self.registered_at = Some(now);
            }
            Direct::Welcome { .. } => {}
            Direct::GiveBack => {
                let frames = self.peer.given_back_nothing();
                self.send(frames);
            }
            Direct::Tasks { jobs, ack } => {
                self.acked(&ack);
                if jobs.is_empty() {
                    return;
                }
                self.first_task.get_or_insert(now);
                self.stats.tasks += jobs.len() as u64;
                self.stats.bundles += 1;
                self.unacked.extend(jobs.iter().map(|j| j.id));
                if let Some(answered) = &mut self.answered {
                    answered.extend(jobs.iter().filter_map(|j| task_number(&j.args)));
                }
                let frames = self.peer.results(&jobs);
                self.send(frames);
                self.last_result = Some(now);
            }
            Direct::Ack(ids) => self.acked(&ids),
            Direct::Cancel(n) => self.stats.cancels += n as u64,
            Direct::Drain => self.drained = true,
            Direct::Reregister => {
                self.stats.reregisters += 1;
                self.registered_at = None;
                self.retry = FIRST_RETRY;
                self.next_register = now;
            }
        }
    }

    fn acked(&mut self, ids: &[uuid::Uuid]) {
        for id in ids {
            self.unacked.remove(id);
        }
    }
}

/// The number at the end of a task line (`: 17` → 17): the driver writes one per task.
pub fn task_number(args: &str) -> Option<u32> {
    args.rsplit(' ').next()?.parse().ok()
}
