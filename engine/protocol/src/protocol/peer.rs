//! The connecting side of one connection (an engine's or a client's DEALER): no session, a
//! handshake in progress, or a session. Engines, the client library and simulated engines all
//! go through this, so the handshake is driven the same way everywhere.

use uuid::Uuid;

use super::direction::Message;
use super::frame::{Envelope, FrameError, Frames, Mode};
use super::handshake::{Initiator, Role, Session, is_challenge};

enum State {
    Idle,
    Greeting(Initiator),
    Open(Session),
}

/// One connection's handshake and session, as the side that connects sees them.
pub struct PeerLink {
    key: Vec<u8>,
    role: Role,
    mode: Mode,
    peer_id: Uuid,
    state: State,
}

/// What arrived on the connection.
pub enum Incoming {
    /// The handshake is done: send this proof, then anything sealed.
    Opened(Frames),
    /// A message of the session, authenticated and (when sealed) decrypted.
    Message(Envelope),
    /// The handshake failed for a reason retrying cannot fix (wrong key, mode mismatch): send
    /// the proof, so the controller can log why, then give up.
    Failed { proof: Frames, why: FrameError },
}

impl PeerLink {
    pub fn new(key: &[u8], role: Role, mode: Mode, peer_id: Uuid) -> Self {
        PeerLink {
            key: key.to_vec(),
            role,
            mode,
            peer_id,
            state: State::Idle,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Start a handshake (again, with a fresh nonce): the hello to send. Any session ends.
    pub fn hello(&mut self) -> Frames {
        let (init, hello) = Initiator::start(&self.key, self.role, self.mode, self.peer_id);
        self.state = State::Greeting(init);
        hello
    }

    /// Forget the session (the connection is being replaced).
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.state {
            State::Open(s) => Some(s),
            _ => None,
        }
    }

    /// Seal `msg` for the controller; `None` until the handshake is done.
    pub fn seal<M: Message>(&mut self, msg: &M) -> Option<Frames> {
        match &mut self.state {
            State::Open(s) => Some(s.sealer.seal(msg)),
            _ => None,
        }
    }

    /// [`seal`](Self::seal) of raw bytes under any kind (tests and hostile-peer drivers).
    pub fn seal_raw(&mut self, kind: &str, body: &[u8]) -> Option<Frames> {
        match &mut self.state {
            State::Open(s) => Some(s.sealer.seal_raw(kind, body)),
            _ => None,
        }
    }

    /// Take what arrived on the connection. `Err` is a message to drop (and count): it does not
    /// belong to this connection's state, or fails verification.
    pub fn receive(&mut self, frames: Frames) -> Result<Incoming, FrameError> {
        if is_challenge(&frames) {
            let State::Greeting(_) = &self.state else {
                return Err(FrameError::Handshake("a challenge nobody asked for"));
            };
            let State::Greeting(init) = std::mem::replace(&mut self.state, State::Idle) else {
                unreachable!("checked above");
            };
            let answered = init.answer(frames)?;
            return Ok(match answered.session {
                Ok(session) => {
                    self.state = State::Open(session);
                    Incoming::Opened(answered.proof)
                }
                Err(why) => Incoming::Failed {
                    proof: answered.proof,
                    why,
                },
            });
        }
        match &mut self.state {
            State::Open(s) => s.opener.open(frames).map(Incoming::Message),
            _ => Err(FrameError::NoSession),
        }
    }
}
