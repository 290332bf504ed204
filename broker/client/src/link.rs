//! The client's one socket to the controller: a DEALER that starts with a handshake (which also
//! names the controller: only the one in the connection file is believed) and then seals and
//! opens every message with its session's keys.
//!
//! The controller's door admits a credential once, so when libzmq reconnects the socket (a
//! connection the network dropped) the door turns it away, and the socket is renewed: a new
//! one with the same routing id and a fresh credential, on which the session carries on. What
//! the old one may not have delivered, the requests not answered yet, is sent again as sealed
//! the first time: the controller drops whatever it already opened (its counter is not new).

use std::collections::VecDeque;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use hs_protocol::protocol::door::DoorWatch;
use hs_protocol::protocol::{
    FrameError, FromClient, Incoming, MAX_FRAME_BYTES, PeerLink, Refusals, Role, ToClient, random,
};
use uuid::Uuid;

use super::error::{ClientError, zmq_err};
use hs_protocol::connection::ConnectionInfo;

pub(crate) struct Link {
    // Sockets before the context: fields drop in order, and a context waits for its sockets.
    socket: zmq::Socket,
    /// Reports a shut door on `socket`: a wrong key, a controller without a door, or a
    /// reconnect turned away (then the socket is renewed).
    door: DoorWatch,
    ctx: zmq::Context,
    /// The routing id every socket of this link uses, so the session outlives a renewal.
    route: [u8; 12],
    key: Vec<u8>,
    peer: PeerLink,
    /// Requests made before the handshake was done, sent as soon as it is.
    waiting: Vec<FromClient>,
    /// Sealed requests not answered yet, in order (answers come in the order of requests).
    unanswered: VecDeque<Vec<Vec<u8>>>,
    /// The handshake's proof, until the session has been heard from: it may have been lost
    /// with a socket that is renewed.
    proof: Option<Vec<Vec<u8>>>,
    pub controller_id: Uuid,
    pub endpoint: String,
    host: String,
    port: u16,
    /// Messages refused: failed verification, or of a kind or shape a client does not take.
    refusals: Refusals,
}

impl Link {
    pub fn open(info: &ConnectionInfo) -> Result<Link, ClientError> {
        if !info
            .signature_scheme
            .eq_ignore_ascii_case(hs_protocol::connection::SIGNATURE_SCHEME)
        {
            return Err(ClientError::Scheme(info.signature_scheme.clone()));
        }
        let ctx = zmq::Context::new();
        // A stable routing id (random, not the client's id): after a reconnect to the same
        // controller the session, and with it where results go, carries on.
        let route = random::<12>();
        let key = info.key.as_bytes();
        let endpoint = info.client_endpoint();
        let (socket, door) = connect(&ctx, &route, key, &endpoint)?;
        Ok(Link {
            socket,
            door,
            ctx,
            route,
            key: key.to_vec(),
            peer: PeerLink::new(key, Role::Client, info.mode(), Uuid::new_v4()),
            waiting: Vec::new(),
            unanswered: VecDeque::new(),
            proof: None,
            controller_id: info.controller_id,
            endpoint,
            host: info.host.clone(),
            port: info.client_port,
            refusals: Refusals::new("the client socket"),
        })
    }

    /// A reconnect of the socket was turned away at the door (its credential was used): go on
    /// over a new socket with a fresh one, sending again what the old may have lost: the proof
    /// if the session has not been heard from yet, and every request not answered yet. A
    /// handshake not done yet starts over on a new routing id, so that a late challenge to the
    /// old hello is never taken for the answer to the new one.
    fn renew(&mut self) -> Result<(), ClientError> {
        tracing::debug!("the door turned a reconnect away: renewing the client socket");
        if !self.peer.is_open() {
            self.route = random::<12>();
        }
        let (socket, door) = connect(&self.ctx, &self.route, &self.key, &self.endpoint)?;
        (self.socket, self.door) = (socket, door.carrying(&self.door));
        if self.peer.is_open() {
            if let Some(proof) = self.proof.clone() {
                self.put(proof)?;
            }
            for frames in self.unanswered.clone() {
                self.put(frames)?;
            }
        } else if !self.waiting.is_empty() {
            self.peer.reset();
            let hello = self.peer.hello();
            self.put(hello)?;
        }
        Ok(())
    }

    /// Seal and send a message (queued by ZeroMQ until the connection is up). The first one
    /// starts the handshake and waits for it.
    pub fn send(&mut self, msg: &FromClient) -> Result<(), ClientError> {
        match self.peer.seal(msg) {
            Some(frames) => {
                self.unanswered.push_back(frames.clone());
                self.put(frames)
            }
            None => {
                if self.waiting.is_empty() {
                    let hello = self.peer.hello();
                    self.put(hello)?;
                }
                self.waiting.push(msg.clone());
                Ok(())
            }
        }
    }

    fn put(&self, frames: Vec<Vec<u8>>) -> Result<(), ClientError> {
        self.socket
            .send_multipart(frames, 0)
            .map_err(zmq_err("sending to the controller"))
    }

    /// The handshake's answer came: send the proof, then what waited for it; or say why the
    /// controller cannot be talked to.
    fn handshaken(&mut self, incoming: Incoming) -> Result<(), ClientError> {
        let endpoint = self.endpoint.clone();
        match incoming {
            Incoming::Opened(proof) => {
                self.proof = Some(proof.clone());
                self.put(proof)?;
                let named = self.peer.session().map(|s| s.controller_id);
                if let Some(found) = named {
                    if self.controller_id.is_nil() {
                        // Dialled by address and key alone (`hs submit -q -H HOST -k KEY`): the
                        // handshake names the controller.
                        self.controller_id = found;
                    } else if found != self.controller_id {
                        return Err(ClientError::Replaced {
                            endpoint,
                            expected: self.controller_id,
                            found,
                        });
                    }
                }
                for msg in std::mem::take(&mut self.waiting) {
                    self.send(&msg)?;
                }
                Ok(())
            }
            Incoming::Failed { proof, why } => {
                // Sent so the controller logs why.
                let _ = self.put(proof);
                Err(self.failure(why))
            }
            Incoming::Message(_) => Ok(()),
        }
    }

    /// Why this controller cannot be talked to, from a failed handshake or a shut door.
    fn failure(&self, why: FrameError) -> ClientError {
        let endpoint = self.endpoint.clone();
        match why {
            FrameError::WrongKey => ClientError::AuthFailed { endpoint },
            why => ClientError::ModeMismatch {
                endpoint,
                reason: why.to_string(),
            },
        }
    }

    /// The next verified and decoded message from the controller, or `None` once `until` has
    /// passed.
    pub fn recv(&mut self, until: Instant) -> Result<Option<ToClient>, ClientError> {
        loop {
            let wait = until.saturating_duration_since(Instant::now());
            let (ready, door) = {
                let mut items = [
                    self.socket.as_poll_item(zmq::POLLIN),
                    self.door.as_poll_item(),
                ];
                hs_protocol::transport::poll(&mut items, wait.as_millis() as i64)
                    .map_err(zmq_err("waiting for the controller"))?;
                (items[0].is_readable(), items[1].is_readable())
            };
            // Looked at only when it has something to say: not once per message received; and
            // only once what the socket already holds is read, since a renewal replaces it.
            if door
                && !ready
                && let Some(shut) = self.door.shut()
            {
                match shut.why() {
                    Some(why) => return Err(self.failure(why)),
                    None => self.renew()?,
                }
            }
            if !ready {
                if Instant::now() >= until {
                    return Ok(None);
                }
                continue;
            }
            let frames = self
                .socket
                .recv_multipart(zmq::DONTWAIT)
                .map_err(zmq_err("receiving from the controller"));
            let frames = match frames {
                Ok(f) => f,
                Err(ClientError::Zmq {
                    source: zmq::Error::EAGAIN,
                    ..
                }) => continue,
                Err(e) => return Err(e),
            };
            let env = match self.peer.receive(frames) {
                Ok(Incoming::Message(env)) => {
                    let skipped = self.peer.session().map_or(0, |s| s.opener.skipped());
                    if skipped > 0 {
                        return Err(ClientError::MessagesLost {
                            endpoint: self.endpoint.clone(),
                            count: skipped,
                        });
                    }
                    env
                }
                Ok(other) => {
                    self.handshaken(other)?;
                    continue;
                }
                Err(e) => {
                    // Never believed, never shown: only the reason is logged.
                    self.refusals.refuse(b"", &e, Instant::now());
                    continue;
                }
            };
            match env.decode::<ToClient>() {
                Ok(msg) => {
                    self.proof = None;
                    if !matches!(msg, ToClient::Finished(_)) {
                        self.unanswered.pop_front();
                    }
                    return Ok(Some(msg));
                }
                Err(e) => self
                    .refusals
                    .refuse(self.controller_id.as_bytes(), &e, Instant::now()),
            }
        }
    }

    /// Why nothing came back within `waited` of connecting. The controller never answers a
    /// message it cannot open (nor a handshake on the wrong port), so the one thing left to find out is whether anything listens
    /// at its address at all: a plain TCP connection tells.
    pub fn silence(&mut self, waited: Duration) -> ClientError {
        let endpoint = self.endpoint.clone();
        let listening = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .into_iter()
            .flatten()
            .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
        if listening {
            ClientError::Unanswered { endpoint, waited }
        } else {
            ClientError::Unreachable { endpoint, waited }
        }
    }
}

/// A client DEALER to `endpoint` with routing id `route`, knocking with a fresh credential from
/// `key`, and the watch on its door.
fn connect(
    ctx: &zmq::Context,
    route: &[u8],
    key: &[u8],
    endpoint: &str,
) -> Result<(zmq::Socket, DoorWatch), ClientError> {
    let socket = ctx
        .socket(zmq::DEALER)
        .map_err(zmq_err("creating the client socket"))?;
    socket
        .set_identity(route)
        .and_then(|_| socket.set_linger(1000))
        .and_then(|_| socket.set_maxmsgsize(MAX_FRAME_BYTES as i64))
        // Results are pushed unasked; never let a full queue drop one on the way in.
        .and_then(|_| socket.set_rcvhwm(0))
        .and_then(|_| socket.set_reconnect_ivl(100))
        .and_then(|_| socket.set_reconnect_ivl_max(2000))
        .map_err(zmq_err("setting socket options"))?;
    let door =
        DoorWatch::knock(ctx, &socket, key).map_err(zmq_err("watching the client socket"))?;
    socket
        .connect(endpoint)
        .map_err(zmq_err("connecting to the controller"))?;
    Ok((socket, door))
}
