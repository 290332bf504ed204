//! The controller's door keeper: the ZAP handler of its ZeroMQ context, which decides, while
//! libzmq is still in a connection's ZMTP handshake, whether the connection may be opened at
//! all (see `hs_engine::protocol::door` for why, and what the credential is), and remembers
//! the credentials it admitted so that none opens a door twice ([`ledger`]).
//!
//! It runs on a thread of its own, so the broker's loop never waits for it, and it sees
//! nothing of the connections it lets in. It also watches the three sockets for peers that
//! offer no credential at all (libzmq refuses those itself, without asking), so that every
//! refusal is counted and logged, at most once a minute per peer, like refused messages.
//!
//! It is stopped and joined when its [`DoorHandle`] is dropped, with the sockets: each of its
//! sockets holds the context, which is terminated (and the broker's last messages flushed) only
//! once every socket is closed.

mod ledger;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use hs_engine::protocol::door::{self, Door, DoorWatch};
use hs_engine::protocol::{FrameError, Refusals};

use crate::broker::RunError;
use ledger::{Admission, Ledger};

/// Connections refused at the doors, shared with the broker for its summary.
#[derive(Default)]
pub struct DoorCount(AtomicU64);

impl DoorCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The running door keeper: stops it and waits for it when dropped.
pub struct DoorHandle {
    stop: zmq::Socket,
    thread: Option<JoinHandle<()>>,
    /// Connections refused so far.
    pub refused: Arc<DoorCount>,
}

impl Drop for DoorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(&b""[..], 0);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The ZAP handler, bound but not yet serving: sockets are watched and locked while it is in
/// this state, then it is started before any of them is bound.
pub struct DoorKeeper {
    key: Vec<u8>,
    zap: zmq::Socket,
    watched: Vec<(Door, DoorWatch)>,
    count: Arc<DoorCount>,
    ledger: Ledger,
}

fn failed(what: &str) -> impl FnOnce(zmq::Error) -> RunError {
    RunError::zmq(format!("{what} (the door)"))
}

impl DoorKeeper {
    /// Bind the ZAP endpoint of `ctx`; connections will be let in by proof of `key`.
    pub fn open(ctx: &zmq::Context, key: &[u8]) -> Result<DoorKeeper, RunError> {
        let zap = ctx
            .socket(zmq::REP)
            .map_err(failed("creating the ZAP socket"))?;
        zap.set_linger(0).map_err(failed("setting LINGER"))?;
        zap.bind(door::ZAP_ENDPOINT)
            .map_err(failed("binding the ZAP endpoint"))?;
        Ok(DoorKeeper {
            key: key.to_vec(),
            zap,
            watched: Vec::new(),
            count: Arc::default(),
            ledger: Ledger::default(),
        })
    }

    /// Lock `socket` behind `door`, and watch it for peers that come without a credential.
    /// Call before the socket is bound.
    pub fn guard(
        &mut self,
        ctx: &zmq::Context,
        socket: &zmq::Socket,
        door: Door,
    ) -> Result<(), RunError> {
        door::lock(socket, door).map_err(failed("locking a socket"))?;
        // Only peers without a credential: the others are refused, and counted, by `answer`.
        let watch = DoorWatch::watching(ctx, socket, door::FAILED_HANDSHAKE_EVENTS)
            .map_err(failed("watching a socket"))?;
        self.watched.push((door, watch));
        Ok(())
    }

    /// Serve on a thread of its own until the returned handle is dropped.
    pub fn start(self, ctx: &zmq::Context) -> Result<DoorHandle, RunError> {
        let endpoint = format!("inproc://hs-door-stop-{}", uuid::Uuid::new_v4());
        let stop = ctx.socket(zmq::PAIR).map_err(failed("creating a socket"))?;
        stop.set_linger(0).map_err(failed("setting LINGER"))?;
        stop.bind(&endpoint).map_err(failed("binding a socket"))?;
        let stopped = ctx.socket(zmq::PAIR).map_err(failed("creating a socket"))?;
        stopped.set_linger(0).map_err(failed("setting LINGER"))?;
        stopped
            .connect(&endpoint)
            .map_err(failed("connecting a socket"))?;
        let refused = self.count.clone();
        let thread = std::thread::Builder::new()
            .name("hs-door".into())
            .spawn(move || self.serve(stopped))
            .map_err(|source| RunError::Thread {
                what: "door",
                source,
            })?;
        Ok(DoorHandle {
            stop,
            thread: Some(thread),
            refused,
        })
    }

    fn serve(mut self, stopped: zmq::Socket) {
        let mut refusals: Vec<(Door, Refusals)> = Door::ALL
            .into_iter()
            .map(|d| (d, Refusals::connections(d.socket_name())))
            .collect();
        let count = self.count.clone();
        let mut refuse = |door: Door, peer: &[u8], why: FrameError| {
            count.add();
            if let Some((_, r)) = refusals.iter_mut().find(|(d, _)| *d == door) {
                r.refuse(peer, &why, Instant::now());
            }
        };
        loop {
            let ready: Vec<bool> = {
                let mut items: Vec<zmq::PollItem> = [&stopped, &self.zap]
                    .into_iter()
                    .map(|s| s.as_poll_item(zmq::POLLIN))
                    .chain(self.watched.iter().map(|(_, w)| w.as_poll_item()))
                    .collect();
                match hs_engine::transport::poll(&mut items, -1) {
                    Ok(_) => items.iter().map(zmq::PollItem::is_readable).collect(),
                    Err(zmq::Error::ETERM) => break,
                    Err(e) => {
                        tracing::error!("the door stopped: {e}; no new connection can be opened");
                        break;
                    }
                }
            };
            if ready[0] || (ready[1] && !self.answer(&mut refuse)) {
                break;
            }
            for (i, (door, watch)) in self.watched.iter().enumerate() {
                if ready[i + 2] {
                    for _ in 0..watch.events() {
                        refuse(*door, b"", FrameError::NoCredential);
                    }
                }
            }
        }
        let refused = self.count.get();
        if refused > 0 {
            tracing::info!("the door refused {refused} connections in all");
        }
    }

    /// Answer the ZAP requests waiting. False once the context has ended, or the handler cannot
    /// go on (a REP socket that failed to answer cannot take the next request).
    fn answer(&mut self, refuse: &mut impl FnMut(Door, &[u8], FrameError)) -> bool {
        loop {
            let request = match self.zap.recv_multipart(zmq::DONTWAIT) {
                Ok(r) => r,
                Err(zmq::Error::EAGAIN) => return true,
                Err(zmq::Error::ETERM) => return false,
                Err(e) => {
                    tracing::error!("the door stopped: {e}; no new connection can be opened");
                    return false;
                }
            };
            let verdict = self.judge(&request);
            let (status, text): (u32, &[u8]) = match &verdict {
                Ok(()) => (200, b"OK"),
                Err(FrameError::DoorUsed | FrameError::DoorOutOfDate) => (
                    door::NOT_NOW,
                    b"not now: knock again with a fresh credential",
                ),
                Err(_) => (400, b"no proof of the key"),
            };
            if let Err(why) = verdict
                && let Some(door) = request.get(2).and_then(|d| Door::from_domain(d))
            {
                let address = request.get(3).map_or(&[][..], Vec::as_slice);
                refuse(door, address, why);
            }
            let id = request.get(1).cloned().unwrap_or_default();
            let reply = [
                b"1.0".to_vec(),
                id,
                status.to_string().into_bytes(),
                text.to_vec(),
                Vec::new(),
                Vec::new(),
            ];
            match self.zap.send_multipart(reply, 0) {
                Ok(()) => {}
                Err(zmq::Error::ETERM) => return false,
                Err(e) => {
                    tracing::error!("the door stopped: {e}; no new connection can be opened");
                    return false;
                }
            }
        }
    }

    /// Whether a ZAP request (RFC 27: version, request id, domain, address, identity,
    /// mechanism, then the PLAIN user name and password) may open its door, now; a credential
    /// that may is remembered, so it never opens one again.
    fn judge(&mut self, request: &[Vec<u8>]) -> Result<(), FrameError> {
        let [version, _, domain, _, _, mechanism, user, pass] = request else {
            return Err(FrameError::DoorRefused);
        };
        let stamp =
            (version == b"1.0" && mechanism == b"PLAIN" && Door::from_domain(domain).is_some())
                .then(|| door::open(&self.key, user, pass))
                .flatten()
                .ok_or(FrameError::DoorRefused)?;
        let wall = door::unix_ms(SystemTime::now());
        match self.ledger.admit(stamp, wall, Instant::now()) {
            Admission::Open => Ok(()),
            Admission::Used => Err(FrameError::DoorUsed),
            Admission::OutOfDate => Err(FrameError::DoorOutOfDate),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const KEY: &[u8] = b"door-keeper-test-key-0123456789";

    /// A DEALER to `endpoint`, knocking as `knock` says.
    fn peer(ctx: &zmq::Context, endpoint: &str, knock: impl FnOnce(&zmq::Socket)) -> zmq::Socket {
        let d = ctx.socket(zmq::DEALER).unwrap();
        d.set_linger(0).unwrap();
        knock(&d);
        d.connect(endpoint).unwrap();
        d
    }

    fn until(mut what: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// A ROUTER behind the engine door of a started keeper, bound to a free loopback port.
    fn guarded_router(ctx: &zmq::Context) -> (DoorHandle, zmq::Socket, String) {
        let mut keeper = DoorKeeper::open(ctx, KEY).unwrap();
        let router = ctx.socket(zmq::ROUTER).unwrap();
        router.set_linger(0).unwrap();
        router.set_rcvtimeo(10_000).unwrap();
        keeper.guard(ctx, &router, Door::Engines).unwrap();
        let handle = keeper.start(ctx).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();
        (handle, router, endpoint)
    }

    #[test]
    fn only_a_key_holder_gets_in_and_every_refusal_counts() {
        let ctx = zmq::Context::new();
        let (handle, router, endpoint) = guarded_router(&ctx);

        let bare = peer(&ctx, &endpoint, |_| {});
        let forged = peer(&ctx, &endpoint, |d| {
            d.set_plain_username(Some(&"0".repeat(32))).unwrap();
            d.set_plain_password(Some(&"0".repeat(64))).unwrap();
        });
        let wrong = peer(&ctx, &endpoint, |d| {
            door::knock(d, b"another-key-0123456789").unwrap()
        });
        for outsider in [&bare, &forged, &wrong] {
            outsider.send("let me in", zmq::DONTWAIT).unwrap();
        }
        assert!(
            until(|| handle.refused.get() == 3),
            "{} refusals",
            handle.refused.get()
        );
        let holder = peer(&ctx, &endpoint, |d| door::knock(d, KEY).unwrap());
        holder.send("hello", 0).unwrap();
        let got = router.recv_multipart(0).expect("the key holder is let in");
        assert_eq!(got.last().unwrap(), b"hello");
        assert!(
            router.recv_multipart(zmq::DONTWAIT).is_err(),
            "nothing an outsider sent was read"
        );
        assert_eq!(handle.refused.get(), 3);

        // Dropped, the keeper is stopped and joined: nothing of it holds the context any more.
        let refused = handle.refused.clone();
        drop(handle);
        assert_eq!(Arc::strong_count(&refused), 1);
    }

    /// Waits for the watch to report a shut door; what it said, if anything.
    fn shut_within(watch: &DoorWatch) -> Option<door::Shut> {
        let mut said = None;
        until(|| {
            said = watch.shut();
            said.is_some()
        });
        said
    }

    #[test]
    fn a_credential_opens_one_connection_and_a_reconnect_with_it_is_told_to_renew() {
        let ctx = zmq::Context::new();
        let (handle, router, endpoint) = guarded_router(&ctx);

        let holder = ctx.socket(zmq::DEALER).unwrap();
        holder.set_linger(0).unwrap();
        holder.set_reconnect_ivl(20).unwrap();
        let watch = DoorWatch::knock(&ctx, &holder, KEY).unwrap();
        holder.connect(&endpoint).unwrap();
        holder.send("hello", 0).unwrap();
        assert_eq!(router.recv_multipart(0).unwrap().last().unwrap(), b"hello");

        // Its credential, seen on the wire and replayed by another socket: refused as used.
        let seen = (
            holder.get_plain_username().unwrap().unwrap(),
            holder.get_plain_password().unwrap().unwrap(),
        );
        let replay = peer(&ctx, &endpoint, |d| door::knock_with(d, &seen).unwrap());
        replay.send("replayed", zmq::DONTWAIT).unwrap();
        assert!(until(|| handle.refused.get() == 1));

        // A socket knocks with the same credential whenever libzmq opens a connection for it
        // again: turned away, and told to renew.
        holder.disconnect(&endpoint).unwrap();
        holder.connect(&endpoint).unwrap();
        assert_eq!(shut_within(&watch), Some(door::Shut::Renew));
        assert_eq!(handle.refused.get(), 2);
        assert!(
            router.recv_multipart(zmq::DONTWAIT).is_err(),
            "nothing replayed was read"
        );

        // A credential out of date on its first use, just after it was made, is renewed once
        // (it may have been admitted on a connection that dropped before the peer heard so);
        // the renewed one out of date too, the clocks differ.
        let late = || door::credential_at(KEY, door::unix_ms(SystemTime::now() - 2 * door::WINDOW));
        let skewed = |previous: Option<&DoorWatch>| {
            let s = ctx.socket(zmq::DEALER).unwrap();
            s.set_linger(0).unwrap();
            door::knock_with(&s, &late()).unwrap();
            let mut watch = DoorWatch::watching(&ctx, &s, door::SHUT_EVENTS).unwrap();
            if let Some(previous) = previous {
                watch = watch.carrying(previous);
            }
            s.connect(&endpoint).unwrap();
            (s, watch)
        };
        let (_first, first_watch) = skewed(None);
        assert_eq!(shut_within(&first_watch), Some(door::Shut::Renew));
        let (_second, second_watch) = skewed(Some(&first_watch));
        assert_eq!(shut_within(&second_watch), Some(door::Shut::ClockSkew));
        assert_eq!(handle.refused.get(), 4);
    }
}
