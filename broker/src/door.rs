//! The controller's door keeper: the ZAP handler of its ZeroMQ context, which decides, while
//! libzmq is still in a connection's ZMTP handshake, whether the connection may be opened at
//! all (see `hs_engine::protocol::door` for why, and what the credential is).
//!
//! It runs on a thread of its own, so the broker's loop never waits for it, and it sees
//! nothing of the connections it lets in. It also watches the three sockets for peers that
//! offer no credential at all (libzmq refuses those itself, without asking), so that every
//! refusal is counted and logged, at most once a minute per peer, like refused messages.
//! It ends when the context does: its sockets then fail with `ETERM`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hs_engine::protocol::door::{self, Door, Shut};
use hs_engine::protocol::{FrameError, Refusals};

use crate::broker::RunError;

/// Connections refused at the doors, shared with the broker for its summary.
#[derive(Default)]
pub struct DoorCount(AtomicU64);

impl DoorCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The ZAP handler, bound but not yet serving: sockets are watched and locked while it is in
/// this state, then it is started before any of them is bound.
pub struct DoorKeeper {
    key: Vec<u8>,
    zap: zmq::Socket,
    watched: Vec<(Door, zmq::Socket)>,
    count: Arc<DoorCount>,
}

fn failed(what: &str) -> impl FnOnce(zmq::Error) -> RunError + '_ {
    move |source| RunError::Zmq {
        context: format!("{what} (the door)"),
        source,
    }
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
        let endpoint = format!(
            "inproc://hs-door-{}-{}",
            door.domain(),
            uuid::Uuid::new_v4()
        );
        socket
            .monitor(&endpoint, door::SHUT_EVENTS)
            .map_err(failed("watching a socket"))?;
        let pair = ctx.socket(zmq::PAIR).map_err(failed("creating a watch"))?;
        pair.set_linger(0).map_err(failed("setting LINGER"))?;
        pair.connect(&endpoint)
            .map_err(failed("connecting a watch"))?;
        self.watched.push((door, pair));
        Ok(())
    }

    /// Serve on a thread of its own until the context ends. Returns the running count of
    /// refused connections.
    pub fn start(self) -> Result<Arc<DoorCount>, RunError> {
        let count = self.count.clone();
        std::thread::Builder::new()
            .name("hs-door".into())
            .spawn(move || self.serve())
            .map_err(|source| RunError::Thread {
                what: "door",
                source,
            })?;
        Ok(count)
    }

    fn serve(self) {
        let mut refusals: Vec<(Door, Refusals)> = Door::ALL
            .into_iter()
            .map(|d| (d, Refusals::connections(d.socket_name())))
            .collect();
        let mut refuse = |door: Door, peer: &[u8], why: FrameError| {
            self.count.0.fetch_add(1, Ordering::Relaxed);
            if let Some((_, r)) = refusals.iter_mut().find(|(d, _)| *d == door) {
                r.refuse(peer, &why, Instant::now());
            }
        };
        loop {
            let ready: Vec<bool> = {
                let mut items: Vec<zmq::PollItem> = std::iter::once(&self.zap)
                    .chain(self.watched.iter().map(|(_, s)| s))
                    .map(|s| s.as_poll_item(zmq::POLLIN))
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
            if ready[0] && !self.answer(&mut refuse) {
                break;
            }
            for (i, (door, pair)) in self.watched.iter().enumerate() {
                if !ready[i + 1] {
                    continue;
                }
                while let Ok(frames) = pair.recv_multipart(zmq::DONTWAIT) {
                    let event = frames.first().and_then(|f| door::monitor_event(f));
                    // Refusals of a wrong credential are counted where they are decided.
                    if let Some(Shut::NoDoor) = event.and_then(|(e, v)| door::shut_by(e, v)) {
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

    /// Answer the ZAP requests waiting. False once the context has ended.
    fn answer(&self, refuse: &mut impl FnMut(Door, &[u8], FrameError)) -> bool {
        loop {
            let request = match self.zap.recv_multipart(zmq::DONTWAIT) {
                Ok(r) => r,
                Err(zmq::Error::EAGAIN) => return true,
                Err(_) => return false,
            };
            let admitted = self.admits(&request);
            if !admitted && let Some(door) = request.get(2).and_then(|d| Door::from_domain(d)) {
                let address = request.get(3).map_or(&[][..], Vec::as_slice);
                refuse(door, address, FrameError::DoorRefused);
            }
            let (status, text): (&[u8], &[u8]) = if admitted {
                (b"200", b"OK")
            } else {
                (b"400", b"no proof of the key")
            };
            let id = request.get(1).cloned().unwrap_or_default();
            let reply = [
                b"1.0".to_vec(),
                id,
                status.to_vec(),
                text.to_vec(),
                Vec::new(),
                Vec::new(),
            ];
            if let Err(zmq::Error::ETERM) = self.zap.send_multipart(reply, 0) {
                return false;
            }
        }
    }

    /// A ZAP request (RFC 27): version, request id, domain, address, identity, mechanism,
    /// then the PLAIN user name and password.
    fn admits(&self, request: &[Vec<u8>]) -> bool {
        let [version, _, domain, _, _, mechanism, user, pass] = request else {
            return false;
        };
        version == b"1.0"
            && mechanism == b"PLAIN"
            && Door::from_domain(domain).is_some()
            && door::admits(&self.key, user, pass)
    }
}
