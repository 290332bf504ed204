//! The client's one socket to the controller: a DEALER that starts with a handshake (which also
//! names the controller: only the one in the connection file is believed) and then seals and
//! opens every message with its session's keys.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use hs_protocol::protocol::door::{self, DoorWatch};
use hs_protocol::protocol::{
    FrameError, FromClient, Incoming, MAX_FRAME_BYTES, PeerLink, Refusals, Role, ToClient,
};
use uuid::Uuid;

use super::error::{ClientError, zmq_err};
use hs_protocol::connection::ConnectionInfo;

pub(crate) struct Link {
    // Sockets before the context: fields drop in order, and a context waits for its sockets.
    socket: zmq::Socket,
    /// Reports a shut door on `socket`: a wrong key, or a controller without a door.
    door: DoorWatch,
    _ctx: zmq::Context,
    peer: PeerLink,
    /// Requests made before the handshake was done, sent as soon as it is.
    waiting: Vec<FromClient>,
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
        let socket = ctx
            .socket(zmq::DEALER)
            .map_err(zmq_err("creating the client socket"))?;
        let id = Uuid::new_v4();
        let set = zmq_err("setting socket options");
        // A stable routing id (random, not the client's id): after a reconnect to the same
        // controller the session, and with it where results go, carries on.
        socket
            .set_identity(&Uuid::new_v4().as_bytes()[..12])
            .map_err(set)?;
        let set = zmq_err("setting socket options");
        socket
            .set_linger(1000)
            .and_then(|_| socket.set_maxmsgsize(MAX_FRAME_BYTES as i64))
            // Results are pushed unasked; never let a full queue drop one on the way in.
            .and_then(|_| socket.set_rcvhwm(0))
            .and_then(|_| socket.set_reconnect_ivl(100))
            .and_then(|_| socket.set_reconnect_ivl_max(2000))
            .map_err(set)?;
        let key = info.key.as_bytes();
        door::knock(&socket, key).map_err(zmq_err("setting socket options"))?;
        let door = DoorWatch::new(&ctx, &socket).map_err(zmq_err("watching the client socket"))?;
        let endpoint = info.client_endpoint();
        socket
            .connect(&endpoint)
            .map_err(zmq_err("connecting to the controller"))?;
        Ok(Link {
            socket,
            door,
            _ctx: ctx,
            peer: PeerLink::new(key, Role::Client, info.mode(), id),
            waiting: Vec::new(),
            controller_id: info.controller_id,
            endpoint,
            host: info.host.clone(),
            port: info.client_port,
            refusals: Refusals::new("the client socket"),
        })
    }

    /// Seal and send a message (queued by ZeroMQ until the connection is up). The first one
    /// starts the handshake and waits for it.
    pub fn send(&mut self, msg: &FromClient) -> Result<(), ClientError> {
        match self.peer.seal(msg) {
            Some(frames) => self.put(frames),
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
            // Looked at only when it has something to say: not once per message received.
            if door && let Some(shut) = self.door.shut() {
                return Err(self.failure(shut.why()));
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
                Ok(Incoming::Message(env)) => env,
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
                Ok(msg) => return Ok(Some(msg)),
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
