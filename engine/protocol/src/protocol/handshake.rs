//! The handshake every connection starts with, and the key schedule it ends in.
//!
//! ```text
//! peer       → controller  [PROTOCOL, "hello",     role | mode_c | peer_id | nonce_c]
//! controller → peer        [PROTOCOL, "challenge", mode_s | epoch | controller_id | nonce_s | proof_s]
//! peer       → controller  [PROTOCOL, "proof",     proof_c]
//! ```
//!
//! The transcript is `PROTOCOL | hello body | challenge body without proof_s`;
//! `proof_s = HMAC-SHA256(K, "hs/2 server" | transcript)` and
//! `proof_c = HMAC-SHA256(K, "hs/2 client" | transcript)`, where K is the shared key's text. Each
//! side's proof covers the other's fresh nonce, so a recorded handshake proves nothing in
//! another connection, and both modes, so neither side can be talked down to `--no-tls`.
//!
//! Session keys come from HKDF-SHA256 with K as input key material and `nonce_c | nonce_s` as
//! salt, one per direction (`"hs/2 up"`, `"hs/2 down"`) and a session id (`"hs/2 session"`),
//! each with the transcript's SHA-256 in its info: the role is in the transcript, so the engine
//! and client channels never share keys. Heartbeats use a key derived from K and the run's
//! random epoch ([`ping_key`]), which engines learn from the (authenticated) challenge.

use hkdf::Hkdf;
use hmac::Mac;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::frame::{
    FrameError, Frames, MAX_HANDSHAKE_BYTES, Mode, Opener, PROTOCOL, SESSION_ID_LEN, Sealer,
    labelled_mac, random,
};

/// Who connects: an engine (engine socket) or a client (client socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Engine,
    Client,
}

impl Role {
    fn byte(self) -> u8 {
        match self {
            Role::Engine => 1,
            Role::Client => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Role> {
        match b {
            1 => Some(Role::Engine),
            2 => Some(Role::Client),
            _ => None,
        }
    }
}

const HELLO: &[u8] = b"hello";
const CHALLENGE: &[u8] = b"challenge";
const PROOF: &[u8] = b"proof";
const NONCE_LEN: usize = 32;
const PROOF_LEN: usize = 32;
const HELLO_LEN: usize = 1 + 1 + 16 + NONCE_LEN;
/// The challenge up to its proof: mode, epoch, controller id, nonce.
const CHALLENGE_SIGNED: usize = 1 + SESSION_ID_LEN + 16 + NONCE_LEN;
const CHALLENGE_LEN: usize = CHALLENGE_SIGNED + PROOF_LEN;

/// One connection's session, once its handshake is done: what this side seals with and
/// opens with, and what the handshake established.
pub struct Session {
    pub sealer: Sealer,
    pub opener: Opener,
    pub role: Role,
    /// The engine's id (or the client's), bound to this connection by the handshake.
    pub peer_id: Uuid,
    pub controller_id: Uuid,
    /// The controller run's random epoch: the heartbeat's key and session id.
    pub epoch: [u8; SESSION_ID_LEN],
    pub mode: Mode,
}

fn frames(kind: &[u8], body: Vec<u8>) -> Frames {
    vec![PROTOCOL.to_vec(), kind.to_vec(), body]
}

/// Whether `frames` are a handshake message of `kind` (cheap: looks at the kind frame only).
fn is(frames: &[Vec<u8>], kind: &[u8]) -> bool {
    frames.len() == 3 && frames[1] == kind
}

/// A connection's first message.
pub fn is_hello(frames: &[Vec<u8>]) -> bool {
    is(frames, HELLO)
}

/// The controller's answer to a hello.
pub fn is_challenge(frames: &[Vec<u8>]) -> bool {
    is(frames, CHALLENGE)
}

/// The body of a handshake message of `kind` and `len` bytes, checked for size before
/// anything else: a peer without a session may send nothing larger.
fn body(mut frames: Frames, kind: &[u8], len: usize) -> Result<Vec<u8>, FrameError> {
    if frames.iter().any(|f| f.len() > MAX_HANDSHAKE_BYTES) {
        return Err(FrameError::Oversized);
    }
    if frames.len() != 3 {
        return Err(FrameError::FrameCount(frames.len()));
    }
    if frames[0] != PROTOCOL {
        return Err(FrameError::Protocol);
    }
    if frames[1] != kind {
        return Err(FrameError::Handshake("unexpected handshake message"));
    }
    let body = frames.pop().unwrap_or_default();
    if body.len() != len {
        return Err(FrameError::Handshake(
            "handshake message of the wrong length",
        ));
    }
    Ok(body)
}

const SERVER: &[u8] = b"hs/2 server";
const CLIENT: &[u8] = b"hs/2 client";
/// The label of the proof a peer sends after refusing the challenge: it never verifies.
const REFUSED: &[u8] = b"hs/2 client refuses";

/// The heartbeat key of a controller run: both sides derive it from the shared key and the
/// run's epoch, so pings recorded in one run mean nothing in the next.
pub(crate) fn ping_key(key: &[u8], mode: Mode, epoch: &[u8; SESSION_ID_LEN]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(epoch), key)
        .expand(
            &[b"hs/2 ping ".as_slice(), &[mode.byte()]].concat(),
            &mut out,
        )
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

/// Directional keys and session id of one handshake.
struct Schedule {
    up: [u8; 32],
    down: [u8; 32],
    session: [u8; SESSION_ID_LEN],
}

fn schedule(key: &[u8], nonce_c: &[u8], nonce_s: &[u8], transcript: &[u8]) -> Schedule {
    let salt = [nonce_c, nonce_s].concat();
    let hk = Hkdf::<Sha256>::new(Some(&salt), key);
    let th = Sha256::digest(transcript);
    let mut s = Schedule {
        up: [0; 32],
        down: [0; 32],
        session: [0; SESSION_ID_LEN],
    };
    let expand = |label: &[u8], out: &mut [u8]| {
        hk.expand(&[label, th.as_slice()].concat(), out)
            .expect("short HKDF-SHA256 outputs are valid");
    };
    expand(b"hs/2 up", &mut s.up);
    expand(b"hs/2 down", &mut s.down);
    expand(b"hs/2 session", &mut s.session);
    s
}

/// The connecting side's half of a handshake in progress.
pub struct Initiator {
    key: Vec<u8>,
    mode: Mode,
    role: Role,
    peer_id: Uuid,
    hello: Vec<u8>,
}

/// What a challenge came to: the proof to send, and the session or why there is none. The
/// proof goes out even when the handshake failed, so the controller can log why.
pub struct Answered {
    pub proof: Frames,
    pub session: Result<Session, FrameError>,
}

impl Initiator {
    /// Start a handshake with a fresh nonce; returns the hello to send.
    pub fn start(key: &[u8], role: Role, mode: Mode, peer_id: Uuid) -> (Initiator, Frames) {
        let mut hello = Vec::with_capacity(HELLO_LEN);
        hello.push(role.byte());
        hello.push(mode.byte());
        hello.extend_from_slice(peer_id.as_bytes());
        hello.extend_from_slice(&random::<NONCE_LEN>());
        let out = frames(HELLO, hello.clone());
        let me = Initiator {
            key: key.to_vec(),
            mode,
            role,
            peer_id,
            hello,
        };
        (me, out)
    }

    /// Check the controller's challenge and derive the session.
    pub fn answer(self, challenge: Frames) -> Result<Answered, FrameError> {
        let body = body(challenge, CHALLENGE, CHALLENGE_LEN)?;
        let theirs = Mode::from_byte(body[0]).ok_or(FrameError::Handshake("unknown mode"))?;
        let signed = &body[..CHALLENGE_SIGNED];
        let transcript = [PROTOCOL, &self.hello, signed].concat();
        let genuine = labelled_mac(&self.key, SERVER, &transcript)
            .verify_slice(&body[CHALLENGE_SIGNED..])
            .is_ok();
        // The transcript leaves proof_s out: after a challenge whose proof fails, a proof under
        // the client label would still verify when only proof_s was altered in transit, and the
        // controller would hold a session this side has given up. The refusal label makes the
        // controller refuse too.
        let label = if genuine { CLIENT } else { REFUSED };
        let proof_c = labelled_mac(&self.key, label, &transcript)
            .finalize()
            .into_bytes()
            .to_vec();
        let session = if !genuine {
            Err(FrameError::WrongKey)
        } else if theirs != self.mode {
            Err(FrameError::ModeMismatch {
                ours: self.mode,
                theirs,
            })
        } else {
            let epoch: [u8; SESSION_ID_LEN] = signed[1..1 + SESSION_ID_LEN].try_into().unwrap();
            let controller_id =
                Uuid::from_slice(&signed[1 + SESSION_ID_LEN..1 + SESSION_ID_LEN + 16]).unwrap();
            let nonce_s = &signed[CHALLENGE_SIGNED - NONCE_LEN..];
            let nonce_c = &self.hello[HELLO_LEN - NONCE_LEN..];
            let keys = schedule(&self.key, nonce_c, nonce_s, &transcript);
            Ok(Session {
                sealer: Sealer::new(&keys.up, &keys.session, self.mode),
                opener: Opener::new(&keys.down, &keys.session, self.mode),
                role: self.role,
                peer_id: self.peer_id,
                controller_id,
                epoch,
                mode: self.mode,
            })
        };
        Ok(Answered {
            proof: frames(PROOF, proof_c),
            session,
        })
    }
}

/// The controller's side: answers hellos for one run (clones share the run's epoch).
#[derive(Clone)]
pub struct Responder {
    key: Vec<u8>,
    mode: Mode,
    epoch: [u8; SESSION_ID_LEN],
    controller_id: Uuid,
}

/// A hello answered, waiting for the peer's proof.
pub struct Pending {
    role: Role,
    peer_id: Uuid,
    theirs: Mode,
    nonce_c: [u8; NONCE_LEN],
    nonce_s: [u8; NONCE_LEN],
    transcript: Vec<u8>,
}

impl Responder {
    /// A responder with a fresh random epoch (one per controller run).
    pub fn new(key: &[u8], mode: Mode, controller_id: Uuid) -> Self {
        Responder {
            key: key.to_vec(),
            mode,
            epoch: random(),
            controller_id,
        }
    }

    pub fn epoch(&self) -> [u8; SESSION_ID_LEN] {
        self.epoch
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Answer a hello (sizes checked before anything else). A hello in the other mode is
    /// answered too, so the peer can say exactly what is wrong; it never becomes a session.
    pub fn challenge(&self, hello: Frames) -> Result<(Pending, Frames), FrameError> {
        let hello = body(hello, HELLO, HELLO_LEN)?;
        let role = Role::from_byte(hello[0]).ok_or(FrameError::Handshake("unknown role"))?;
        let theirs = Mode::from_byte(hello[1]).ok_or(FrameError::Handshake("unknown mode"))?;
        let peer_id = Uuid::from_slice(&hello[2..18]).expect("16 bytes");
        let nonce_s = random::<NONCE_LEN>();
        let mut signed = Vec::with_capacity(CHALLENGE_LEN);
        signed.push(self.mode.byte());
        signed.extend_from_slice(&self.epoch);
        signed.extend_from_slice(self.controller_id.as_bytes());
        signed.extend_from_slice(&nonce_s);
        let transcript = [PROTOCOL, &hello, &signed].concat();
        let proof_s = labelled_mac(&self.key, SERVER, &transcript)
            .finalize()
            .into_bytes();
        signed.extend_from_slice(&proof_s);
        let pending = Pending {
            role,
            peer_id,
            theirs,
            nonce_c: hello[HELLO_LEN - NONCE_LEN..].try_into().expect("32 bytes"),
            nonce_s,
            transcript,
        };
        Ok((pending, frames(CHALLENGE, signed)))
    }
}

impl Pending {
    pub fn role(&self) -> Role {
        self.role
    }

    /// Check the peer's proof (then the modes) and derive the session.
    pub fn confirm(self, responder: &Responder, proof_c: Frames) -> Result<Session, FrameError> {
        let body = body(proof_c, PROOF, PROOF_LEN)?;
        labelled_mac(&responder.key, CLIENT, &self.transcript)
            .verify_slice(&body)
            .map_err(|_| FrameError::WrongKey)?;
        if self.theirs != responder.mode {
            return Err(FrameError::ModeMismatch {
                ours: responder.mode,
                theirs: self.theirs,
            });
        }
        let keys = schedule(
            &responder.key,
            &self.nonce_c,
            &self.nonce_s,
            &self.transcript,
        );
        Ok(Session {
            sealer: Sealer::new(&keys.down, &keys.session, responder.mode),
            opener: Opener::new(&keys.up, &keys.session, responder.mode),
            role: self.role,
            peer_id: self.peer_id,
            controller_id: responder.controller_id,
            epoch: responder.epoch,
            mode: responder.mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Pong;

    const KEY: &[u8] = b"0123456789abcdef-key";

    /// A whole handshake: the peer's session, or why the peer or the controller refused.
    fn shake(
        peer_key: &[u8],
        peer_mode: Mode,
        ctl: &Responder,
    ) -> (Result<Session, FrameError>, Result<Session, FrameError>) {
        let (init, hello) = Initiator::start(peer_key, Role::Engine, peer_mode, Uuid::new_v4());
        let (pending, challenge) = ctl.challenge(hello).unwrap();
        let answered = init.answer(challenge).unwrap();
        (answered.session, pending.confirm(ctl, answered.proof))
    }

    #[test]
    fn a_handshake_gives_both_sides_matching_keys() {
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let (peer, controller) = shake(KEY, Mode::Sealed, &ctl);
        let (mut peer, mut controller) = (peer.unwrap(), controller.unwrap());
        assert_eq!(peer.peer_id, controller.peer_id);
        assert_eq!(peer.controller_id, controller.controller_id);
        assert_eq!(peer.epoch, ctl.epoch());
        let up = controller.opener.open(peer.sealer.seal(&Pong {})).unwrap();
        assert_eq!(up.kind, "pong");
        let down = peer.opener.open(controller.sealer.seal(&Pong {})).unwrap();
        assert_eq!(down.kind, "pong");
        // Each direction has its own key: a message cannot be reflected back to its sender.
        let mine = peer.sealer.seal(&Pong {});
        assert_eq!(
            peer.opener.open(mine).unwrap_err(),
            FrameError::BadSignature
        );
    }

    #[test]
    fn a_wrong_key_fails_on_both_sides() {
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let (peer, controller) = shake(b"another-key-0123456", Mode::Sealed, &ctl);
        assert_eq!(peer.err(), Some(FrameError::WrongKey));
        assert_eq!(controller.err(), Some(FrameError::WrongKey));
    }

    #[test]
    fn a_mode_mismatch_is_named_on_both_sides() {
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let (peer, controller) = shake(KEY, Mode::Clear, &ctl);
        assert_eq!(
            peer.err(),
            Some(FrameError::ModeMismatch {
                ours: Mode::Clear,
                theirs: Mode::Sealed
            })
        );
        assert_eq!(
            controller.err(),
            Some(FrameError::ModeMismatch {
                ours: Mode::Sealed,
                theirs: Mode::Clear
            })
        );
    }

    #[test]
    fn a_downgraded_challenge_does_not_verify() {
        // Someone in the middle rewrites the controller's mode to --no-tls: the proof covers
        // it, so the peer refuses the challenge as forged rather than going clear.
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let (init, hello) = Initiator::start(KEY, Role::Engine, Mode::Clear, Uuid::new_v4());
        let (_, mut challenge) = ctl.challenge(hello).unwrap();
        challenge[2][0] = Mode::Clear.byte();
        let answered = init.answer(challenge).unwrap();
        assert_eq!(answered.session.err(), Some(FrameError::WrongKey));
    }

    #[test]
    fn a_challenge_proof_altered_in_transit_fails_on_both_sides() {
        // proof_s is not in the transcript: the peer's proof must still not verify, or the
        // controller would keep a session the peer has refused (found by fuzzing).
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let (init, hello) = Initiator::start(KEY, Role::Engine, Mode::Sealed, Uuid::new_v4());
        let (pending, mut challenge) = ctl.challenge(hello).unwrap();
        challenge[2][CHALLENGE_LEN - 3] ^= 0x39;
        let answered = init.answer(challenge).unwrap();
        assert_eq!(answered.session.err(), Some(FrameError::WrongKey));
        assert_eq!(
            pending.confirm(&ctl, answered.proof).err(),
            Some(FrameError::WrongKey)
        );
    }

    #[test]
    fn a_recorded_handshake_and_its_messages_mean_nothing_in_a_new_session() {
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let (init, hello) = Initiator::start(KEY, Role::Client, Mode::Sealed, Uuid::new_v4());
        let (pending, challenge) = ctl.challenge(hello.clone()).unwrap();
        let answered = init.answer(challenge).unwrap();
        let recorded_proof = answered.proof.clone();
        let mut session = answered.session.unwrap();
        let recorded = session.sealer.seal(&Pong {});
        pending.confirm(&ctl, answered.proof).unwrap();

        // Replayed to a controller (same key, or the same run) that draws a new nonce: the
        // recorded proof no longer matches, and the recorded message opens in no session.
        for ctl in [ctl, Responder::new(KEY, Mode::Sealed, Uuid::new_v4())] {
            let (pending, _) = ctl.challenge(hello.clone()).unwrap();
            assert_eq!(
                pending.confirm(&ctl, recorded_proof.clone()).err(),
                Some(FrameError::WrongKey)
            );
            let (_, fresh) = shake(KEY, Mode::Sealed, &ctl);
            assert_eq!(
                fresh.unwrap().opener.open(recorded.clone()).err(),
                Some(FrameError::BadSignature)
            );
        }
    }

    #[test]
    fn oversized_and_misshapen_handshakes_are_refused_before_any_mac() {
        let ctl = Responder::new(KEY, Mode::Sealed, Uuid::new_v4());
        let big = vec![PROTOCOL.to_vec(), HELLO.to_vec(), vec![0; 100_000]];
        assert_eq!(ctl.challenge(big).err(), Some(FrameError::Oversized));
        let old = vec![b"hs/1".to_vec(), HELLO.to_vec(), vec![0; HELLO_LEN]];
        assert_eq!(ctl.challenge(old).err(), Some(FrameError::Protocol));
        let short = vec![PROTOCOL.to_vec(), HELLO.to_vec(), vec![1; 10]];
        assert!(matches!(
            ctl.challenge(short),
            Err(FrameError::Handshake(_))
        ));
    }
}
