//! Handshakes and sessions at one of the controller's ROUTER sockets: which routing ids have
//! proved the key, and the keys each one's messages are sealed and opened with.
//!
//! A routing id counts for nothing until its connection completes a handshake (see
//! `hs_protocol::protocol::Responder`); until then the only messages taken from it are a hello
//! and a proof, each a few dozen bytes, refused by size before any cryptography. A message from
//! a routing id without a session is dropped and counted, never answered. An engine's id is
//! bound to the routing id whose handshake named it: a later handshake for the same engine (its
//! reconnect, on a new connection) takes the binding over, and nobody without the key can make
//! one.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use hs_engine::protocol::{
    Envelope, FrameError, Frames, MAX_MESSAGE_BYTES, Message, Pending, Responder, Role, Session,
    is_hello,
};
use uuid::Uuid;

/// Handshakes in progress at once on one socket (a routing id has at most one: a new hello
/// replaces it). Beyond that the oldest is dropped to make room, never the new one: so hellos
/// that are never completed cannot lock engines out, as they could if new hellos were refused;
/// to push a genuine engine's handshake out, a flood would have to send this many hellos
/// within the engine's round trip. It is sized for ten thousand engines starting at once (with
/// 1,024, a swarm of 10,000 never finished registering: handshakes were dropped before their
/// proofs came, and redone); each costs a few hundred bytes.
const MOST_PENDING: usize = 16_384;
/// Sessions kept on one socket; beyond that the one idle longest is forgotten (its peer, if
/// still there, hears nothing and handshakes again).
const MOST_SESSIONS: usize = 65_536;

enum Peer {
    Pending(Pending, Instant),
    Open(Box<Session>, Instant),
}

/// What a message from a routing id came to.
pub enum Arrival {
    /// A hello: send this challenge back to the same routing id.
    Challenge(Frames),
    /// A proof that completed a handshake, for this peer.
    Opened(Uuid),
    /// A message of an open session: the peer its handshake named, and the opened envelope.
    Message(Uuid, Envelope),
}

/// The sessions of one socket, whose peers all have one role.
pub struct Sessions {
    responder: Responder,
    role: Role,
    peers: HashMap<Vec<u8>, Peer>,
    pending: usize,
    /// Hellos in the order they came, oldest first, to find the one to drop when full. An
    /// entry whose handshake has finished (or restarted) since is stale and skipped.
    arrivals: VecDeque<(Vec<u8>, Instant)>,
    /// Engine id → the routing id of its current session.
    routes: HashMap<Uuid, Vec<u8>>,
    /// The largest message an open session may send (`server.maxmessage`).
    message_limit: usize,
}

impl Sessions {
    pub fn new(responder: Responder, role: Role) -> Self {
        Sessions {
            responder,
            role,
            peers: HashMap::new(),
            pending: 0,
            arrivals: VecDeque::new(),
            routes: HashMap::new(),
            message_limit: MAX_MESSAGE_BYTES,
        }
    }

    /// Take messages of up to `bytes` from open sessions (see `Opener::set_limit`).
    pub fn limit_messages(mut self, bytes: usize) -> Self {
        self.message_limit = bytes;
        self
    }

    /// Take a message from `route`. `Err` is a refusal: count it, drop the message.
    pub fn take(
        &mut self,
        route: &[u8],
        frames: Frames,
        now: Instant,
    ) -> Result<Arrival, FrameError> {
        if is_hello(&frames) {
            return self.hello(route, frames, now);
        }
        match self.peers.get_mut(route) {
            Some(Peer::Open(session, seen)) => {
                let envelope = session.opener.open(frames)?;
                *seen = now;
                Ok(Arrival::Message(session.peer_id, envelope))
            }
            Some(Peer::Pending(..)) => {
                let Some(Peer::Pending(pending, _)) = self.peers.remove(route) else {
                    unreachable!("matched above");
                };
                self.pending -= 1;
                let session = pending.confirm(&self.responder, frames)?;
                let peer = session.peer_id;
                self.open(route, session, now);
                Ok(Arrival::Opened(peer))
            }
            None => Err(FrameError::NoSession),
        }
    }

    fn hello(&mut self, route: &[u8], hello: Frames, now: Instant) -> Result<Arrival, FrameError> {
        let (pending, challenge) = self.responder.challenge(hello)?;
        if pending.role() != self.role {
            return Err(FrameError::Handshake(match self.role {
                Role::Engine => "a client connected to the engine port",
                Role::Client => "an engine connected to the client port",
            }));
        }
        // A hello on a connection that had a session starts over: only its owner can send it.
        self.drop_route(route);
        while self.pending >= MOST_PENDING {
            self.drop_oldest_pending();
        }
        self.peers
            .insert(route.to_vec(), Peer::Pending(pending, now));
        self.pending += 1;
        self.arrivals.push_back((route.to_vec(), now));
        if self.arrivals.len() > 4 * MOST_PENDING {
            let peers = &self.peers;
            self.arrivals.retain(
                |(r, at)| matches!(peers.get(r), Some(Peer::Pending(_, since)) if since == at),
            );
        }
        Ok(Arrival::Challenge(challenge))
    }

    /// Forget the handshake in progress that started first.
    fn drop_oldest_pending(&mut self) {
        while let Some((route, at)) = self.arrivals.pop_front() {
            if matches!(self.peers.get(&route), Some(Peer::Pending(_, since)) if *since == at) {
                self.drop_route(&route);
                return;
            }
        }
        // Every pending handshake has an arrival: reaching here means the count drifted.
        self.pending = self.count_pending();
    }

    fn open(&mut self, route: &[u8], session: Session, now: Instant) {
        if self.peers.len() >= MOST_SESSIONS
            && let Some(idlest) = self
                .peers
                .iter()
                .filter_map(|(r, p)| match p {
                    Peer::Open(_, seen) => Some((r.clone(), *seen)),
                    Peer::Pending(..) => None,
                })
                .min_by_key(|(_, seen)| *seen)
                .map(|(r, _)| r)
        {
            self.drop_route(&idlest);
        }
        let mut session = session;
        session.opener.set_limit(self.message_limit);
        if self.role == Role::Engine
            && let Some(old) = self.routes.insert(session.peer_id, route.to_vec())
            && old != route
        {
            // The engine came back on a new connection: the old one speaks for it no more.
            self.peers.remove(&old);
        }
        self.peers
            .insert(route.to_vec(), Peer::Open(Box::new(session), now));
    }

    fn count_pending(&self) -> usize {
        self.peers
            .values()
            .filter(|p| matches!(p, Peer::Pending(..)))
            .count()
    }

    /// Forget whatever `route` had.
    /// Whether `route` has a session, or a handshake in progress, and so may send frames
    /// larger than a hello's (see `routed.rs`).
    pub fn has_session(&self, route: &[u8]) -> bool {
        self.peers.contains_key(route)
    }

    fn drop_route(&mut self, route: &[u8]) {
        match self.peers.remove(route) {
            Some(Peer::Pending(..)) => self.pending -= 1,
            Some(Peer::Open(session, _))
                if self.routes.get(&session.peer_id).map(Vec::as_slice) == Some(route) =>
            {
                self.routes.remove(&session.peer_id);
            }
            _ => {}
        }
    }

    /// The routing id of an engine's current session.
    pub fn route_of(&self, engine: &Uuid) -> Option<&Vec<u8>> {
        self.routes.get(engine)
    }

    /// `msg` sealed for the session of `route`, with the routing id in front; `None` if that
    /// routing id has no session (gone, or never authenticated).
    pub fn seal_for<M: Message>(&mut self, route: &[u8], msg: &M) -> Option<Frames> {
        match self.peers.get_mut(route) {
            Some(Peer::Open(session, _)) => {
                let mut parts = Vec::with_capacity(5);
                parts.push(route.to_vec());
                parts.extend(session.sealer.seal(msg));
                Some(parts)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_engine::protocol::{Incoming, Mode, PeerLink, Pong};

    const KEY: &[u8] = b"0123456789abcdef-key";

    fn sessions() -> Sessions {
        Sessions::new(
            Responder::new(KEY, Mode::Sealed, Uuid::new_v4()),
            Role::Engine,
        )
    }

    /// Complete a handshake for `peer` on `route`.
    fn connect(s: &mut Sessions, route: &[u8], peer: &mut PeerLink) {
        let now = Instant::now();
        let Ok(Arrival::Challenge(c)) = s.take(route, peer.hello(), now) else {
            panic!("no challenge");
        };
        let Ok(Incoming::Opened(proof)) = peer.receive(c) else {
            panic!("not opened");
        };
        assert!(matches!(s.take(route, proof, now), Ok(Arrival::Opened(_))));
    }

    #[test]
    fn nothing_counts_from_a_connection_without_a_session() {
        let mut s = sessions();
        let id = Uuid::new_v4();
        let mut peer = PeerLink::new(KEY, Role::Engine, Mode::Sealed, id);
        assert_eq!(
            s.take(b"r1", vec![b"hs/2".to_vec(); 4], Instant::now())
                .err(),
            Some(FrameError::NoSession)
        );
        connect(&mut s, b"r1", &mut peer);
        assert_eq!(s.route_of(&id), Some(&b"r1".to_vec()));
        let pong = peer.seal(&Pong {}).unwrap();
        // The same sealed bytes from another connection open nothing.
        assert_eq!(
            s.take(b"r2", pong.clone(), Instant::now()).err(),
            Some(FrameError::NoSession)
        );
        assert!(matches!(
            s.take(b"r1", pong, Instant::now()),
            Ok(Arrival::Message(p, _)) if p == id
        ));
    }

    #[test]
    fn a_reconnected_engine_takes_its_route_over() {
        let mut s = sessions();
        let id = Uuid::new_v4();
        let mut first = PeerLink::new(KEY, Role::Engine, Mode::Sealed, id);
        connect(&mut s, b"r1", &mut first);
        let mut second = PeerLink::new(KEY, Role::Engine, Mode::Sealed, id);
        connect(&mut s, b"r2", &mut second);
        assert_eq!(s.route_of(&id), Some(&b"r2".to_vec()));
        assert!(
            s.seal_for(b"r1", &Pong {}).is_none(),
            "the old session is gone"
        );
    }

    #[test]
    fn unfinished_handshakes_make_room_for_new_ones() {
        let mut s = sessions();
        let now = Instant::now();
        let mut first = PeerLink::new(KEY, Role::Engine, Mode::Sealed, Uuid::new_v4());
        let Ok(Arrival::Challenge(c)) = s.take(b"first", first.hello(), now) else {
            panic!("no challenge");
        };
        let Ok(Incoming::Opened(late_proof)) = first.receive(c) else {
            panic!("not opened");
        };
        for i in 0..MOST_PENDING as u32 {
            let mut idle = PeerLink::new(KEY, Role::Engine, Mode::Sealed, Uuid::new_v4());
            assert!(matches!(
                s.take(&i.to_be_bytes(), idle.hello(), now),
                Ok(Arrival::Challenge(_))
            ));
        }
        assert_eq!(s.pending, MOST_PENDING);
        // The oldest was dropped for the newest: its proof now finds no handshake.
        assert_eq!(
            s.take(b"first", late_proof, now).err(),
            Some(FrameError::NoSession)
        );
        let id = Uuid::new_v4();
        connect(
            &mut s,
            b"engine",
            &mut PeerLink::new(KEY, Role::Engine, Mode::Sealed, id),
        );
        assert_eq!(s.route_of(&id), Some(&b"engine".to_vec()));
        assert!(s.pending <= MOST_PENDING);
        assert!(s.arrivals.len() <= 4 * MOST_PENDING + 1);
    }

    #[test]
    fn a_wrong_key_or_the_wrong_port_gets_no_session() {
        let mut s = sessions();
        let mut wrong = PeerLink::new(
            b"another-key-01234567",
            Role::Engine,
            Mode::Sealed,
            Uuid::new_v4(),
        );
        let Ok(Arrival::Challenge(c)) = s.take(b"r1", wrong.hello(), Instant::now()) else {
            panic!("no challenge");
        };
        let Ok(Incoming::Failed { proof, why }) = wrong.receive(c) else {
            panic!("the peer must fail");
        };
        assert_eq!(why, FrameError::WrongKey);
        assert_eq!(
            s.take(b"r1", proof, Instant::now()).err(),
            Some(FrameError::WrongKey)
        );
        assert!(s.seal_for(b"r1", &Pong {}).is_none());
        let mut client = PeerLink::new(KEY, Role::Client, Mode::Sealed, Uuid::new_v4());
        assert!(matches!(
            s.take(b"r3", client.hello(), Instant::now()),
            Err(FrameError::Handshake(_))
        ));
    }
}
