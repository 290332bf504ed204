//! `handshake`: the three handshake messages (hello, challenge, proof) as each side decodes
//! them, and the connecting side's state machine (`PeerLink::receive`).
//!
//! The first byte picks the step (bits 0-2), the mode (bit 3) and the role (bit 4); the rest is frames (see
//! [`crate::frames`]) or, for the tamper step, which byte of a genuine handshake to change.
//! Properties: every refusal is one line; no forged challenge or proof ever yields a session
//! (the fuzzer cannot know the proofs, which cover fresh nonces); a genuine handshake gives both
//! sides keys that work together; a handshake with any byte changed in transit never gives the
//! controller a session.

use hs_protocol::protocol::{
    FrameError, Incoming, Initiator, Mode, PeerLink, Pong, Responder, Role, Session,
};
use uuid::Uuid;

use crate::check;
use crate::frames;

const KEY: &[u8] = b"fuzz-shared-key-0123456789abcdef";
const PEER: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
const CONTROLLER: Uuid = Uuid::from_u128(0xfedc_ba98_7654_3210_fedc_ba98_7654_3210);

pub fn run(data: &[u8]) -> String {
    let Some((&head, rest)) = data.split_first() else {
        return "empty".into();
    };
    let mode = Mode::from_no_tls(head & 8 != 0);
    let role = if head & 16 != 0 {
        Role::Client
    } else {
        Role::Engine
    };
    match (head & 7) % 5 {
        0 => hello(mode, rest),
        1 => challenge(mode, role, rest),
        2 => proof(mode, role, rest),
        3 => peer_link(mode, role, rest),
        _ => tamper(mode, role, rest),
    }
}

fn hello(mode: Mode, data: &[u8]) -> String {
    let responder = Responder::new(KEY, mode, CONTROLLER);
    let result = responder.challenge(frames::split(data));
    if let Ok((_, challenge)) = &result {
        assert_eq!(challenge.len(), 3, "a challenge is three frames");
        assert_eq!(challenge[1], b"challenge");
    }
    format!("hello {}", check::outcome("hello", &result))
}

fn challenge(mode: Mode, role: Role, data: &[u8]) -> String {
    let (initiator, _) = Initiator::start(KEY, role, mode, PEER);
    match initiator.answer(frames::split(data)) {
        Ok(answered) => {
            let why = answered
                .session
                .err()
                .expect("a forged challenge opened a session");
            assert_eq!(answered.proof.len(), 3, "a proof is three frames");
            format!("challenge answered:{}", check::error("challenge", &why))
        }
        Err(e) => format!("challenge err:{}", check::error("challenge", &e)),
    }
}

fn proof(mode: Mode, role: Role, data: &[u8]) -> String {
    let responder = Responder::new(KEY, mode, CONTROLLER);
    let (_, hello) = Initiator::start(KEY, role, mode, PEER);
    let (pending, _) = responder.challenge(hello).expect("a genuine hello");
    let result = pending.confirm(&responder, frames::split(data));
    let e = result.err().expect("a forged proof opened a session");
    format!("proof {}", check::error("proof", &e))
}

/// A whole genuine handshake: the peer's link (open) and the controller's session.
fn open_link(mode: Mode, role: Role) -> (PeerLink, Session) {
    let responder = Responder::new(KEY, mode, CONTROLLER);
    let mut link = PeerLink::new(KEY, role, mode, PEER);
    let (pending, challenge) = responder.challenge(link.hello()).expect("genuine hello");
    let Ok(Incoming::Opened(proof)) = link.receive(challenge) else {
        panic!("a genuine challenge did not open the link");
    };
    let session = pending.confirm(&responder, proof).expect("genuine proof");
    (link, session)
}

fn peer_link(mode: Mode, role: Role, data: &[u8]) -> String {
    let (state, rest) = data.split_first().map_or((0, data), |(s, r)| (*s % 3, r));
    let mut link = match state {
        0 => PeerLink::new(KEY, role, mode, PEER),
        1 => {
            let mut link = PeerLink::new(KEY, role, mode, PEER);
            link.hello();
            link
        }
        _ => open_link(mode, role).0,
    };
    let label = match link.receive(frames::split(rest)) {
        Ok(Incoming::Opened(_)) => panic!("a forged challenge opened the link"),
        Ok(Incoming::Message(_)) => panic!("a forged message opened in a session"),
        Ok(Incoming::Failed { why, .. }) => format!("failed:{}", check::error("link", &why)),
        Err(e) => format!("err:{}", check::error("link", &e)),
    };
    format!("link{state} {label}")
}

fn tamper(mode: Mode, role: Role, data: &[u8]) -> String {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let (which, frame, pos, mask) = (
        byte(0) % 3,
        usize::from(byte(1) % 3),
        usize::from(u16::from_be_bytes([byte(2), byte(3)])),
        byte(4),
    );
    let change = |frames: &mut Vec<Vec<u8>>, at: u8| {
        if at == which && mask != 0 {
            let f = &mut frames[frame];
            let i = pos % f.len();
            f[i] ^= mask;
        }
    };
    let responder = Responder::new(KEY, mode, CONTROLLER);
    let (initiator, mut hello) = Initiator::start(KEY, role, mode, PEER);
    change(&mut hello, 0);
    let controller: Result<(Session, Option<Session>), FrameError> = (|| {
        let (pending, mut challenge) = responder.challenge(hello)?;
        change(&mut challenge, 1);
        let mut answered = initiator.answer(challenge)?;
        change(&mut answered.proof, 2);
        let session = pending.confirm(&responder, answered.proof)?;
        Ok((session, answered.session.ok()))
    })();
    match controller {
        Ok((mut ctl, peer)) => {
            assert_eq!(
                mask, 0,
                "a handshake changed in transit gave the controller a session"
            );
            let mut peer = peer.expect("a genuine handshake gave the peer a session");
            let up = ctl.opener.open(peer.sealer.seal(&Pong {}));
            let down = peer.opener.open(ctl.sealer.seal(&Pong {}));
            assert!(up.is_ok() && down.is_ok(), "the two sides' keys differ");
            assert_eq!((peer.peer_id, ctl.peer_id), (PEER, PEER));
            "tamper none".into()
        }
        Err(e) => {
            assert_ne!(mask, 0, "a genuine handshake failed: {e}");
            format!("tamper{which} {}", check::error("tamper", &e))
        }
    }
}
