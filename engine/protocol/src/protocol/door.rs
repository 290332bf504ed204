//! The door: who may open a connection to a controller's socket at all.
//!
//! The handshake ([`super::handshake`]) is what authenticates, but it runs over a connection
//! libzmq has already accepted, and libzmq reads everything a connected peer sends before the
//! broker can look at it: a flood of connections sending garbage cost the controller a core
//! reading bytes it then dropped. So every controller socket is locked with ZeroMQ's PLAIN
//! mechanism, and every connecting socket knocks with a credential only a key holder can make:
//! a fresh random nonce as the user name and `HMAC-SHA256(K, "hs/2 door " | nonce)` as the
//! password. Each connecting socket makes its own, and any of them opens any of the three
//! sockets: which peer belongs on which socket is the handshake's to say, with an error that
//! names the mix-up (a client on the engine port, say), where a refusal at the door could only
//! say "another key". The controller's ZAP handler (`broker/src/door.rs`) checks it while
//! libzmq is still in the ZMTP handshake, before any message of the connection is read; a
//! connection that fails is closed by libzmq and, being a protocol error, never reconnected.
//!
//! The door is not the authentication, and does not try to be: PLAIN travels in clear, so a
//! wiretapper can replay a credential it saw and open a connection, which leaves it where every
//! outsider stood before there was a door (a connection that must still pass the handshake,
//! with frames of at most 16 KiB). What it does is keep whoever has never seen the key nor the
//! traffic from making the controller read anything at all.

use hmac::Mac;

use super::frame::{FrameError, HmacSha256, labelled_mac, random};

/// The ZAP handler's endpoint in a context (RFC 27): libzmq asks it about every connection to
/// a socket that has a ZAP domain.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// Which of a controller's sockets a connection is for: each socket has its own ZAP domain, so
/// refusals are counted and logged per socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Engines,
    Clients,
    Heartbeat,
}

impl Door {
    pub const ALL: [Door; 3] = [Door::Engines, Door::Clients, Door::Heartbeat];

    /// The ZAP domain of the socket behind this door.
    pub fn domain(self) -> &'static str {
        match self {
            Door::Engines => "hs-engines",
            Door::Clients => "hs-clients",
            Door::Heartbeat => "hs-heartbeat",
        }
    }

    /// The door whose ZAP domain is `domain`.
    pub fn from_domain(domain: &[u8]) -> Option<Door> {
        Door::ALL
            .into_iter()
            .find(|d| d.domain().as_bytes() == domain)
    }

    /// The socket behind the door, for log lines.
    pub fn socket_name(self) -> &'static str {
        match self {
            Door::Engines => "the engine port",
            Door::Clients => "the client port",
            Door::Heartbeat => "the heartbeat port",
        }
    }
}

/// Nonce bytes in a credential's user name (hex-encoded there).
const NONCE_LEN: usize = 16;

fn password(key: &[u8], nonce_hex: &[u8]) -> HmacSha256 {
    labelled_mac(key, b"hs/2 door ", nonce_hex)
}

/// A PLAIN user name and password that open the doors of a controller holding `key`.
pub fn credential(key: &[u8]) -> (String, String) {
    let user = hex::encode(random::<NONCE_LEN>());
    let pass = hex::encode(password(key, user.as_bytes()).finalize().into_bytes());
    (user, pass)
}

/// Whether `user` and `pass` were made by [`credential`] with `key` (compared in constant
/// time).
pub fn admits(key: &[u8], user: &[u8], pass: &[u8]) -> bool {
    if user.len() != 2 * NONCE_LEN || !user.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let Ok(tag) = hex::decode(pass) else {
        return false;
    };
    password(key, user).verify_slice(&tag).is_ok()
}

/// Lock a controller socket behind `door`: connections must knock with a credential, which
/// the context's ZAP handler checks (it must be bound before the socket is).
pub fn lock(socket: &zmq::Socket, door: Door) -> zmq::Result<()> {
    socket.set_plain_server(true)?;
    socket.set_zap_domain(door.domain())
}

/// Make every connection of `socket` knock with a credential from `key`.
pub fn knock(socket: &zmq::Socket, key: &[u8]) -> zmq::Result<()> {
    let (user, pass) = credential(key);
    socket.set_plain_username(Some(&user))?;
    socket.set_plain_password(Some(&pass))
}

/// Why a door was shut on a connecting socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shut {
    /// The credential did not open it: the controller holds another key.
    WrongKey,
    /// The two sides speak different ZeroMQ security mechanisms: the other side has no door
    /// (an older hs, or not hs at all).
    NoDoor,
}

impl Shut {
    /// The handshake failure this amounts to: the same one a connecting side reports, whether
    /// the door or the handshake found it.
    pub fn why(self) -> FrameError {
        match self {
            Shut::WrongKey => FrameError::WrongKey,
            Shut::NoDoor => FrameError::NoDoor,
        }
    }
}

/// What a socket monitor event (see [`monitor_event`]) says about the door, if anything.
///
/// Any ZMTP protocol error counts as no door, not only the mechanism mismatch
/// (`ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`, the usual one): which one libzmq names
/// depends on how the other side's bytes arrive, and a peer that breaks the handshake is not a
/// controller of this hs either way.
pub fn shut_by(event: u16) -> Option<Shut> {
    if event == zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u16 {
        Some(Shut::WrongKey)
    } else if event == zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as u16 {
        Some(Shut::NoDoor)
    } else {
        None
    }
}

/// The events [`shut_by`] reads, for `zmq_socket_monitor`.
pub const SHUT_EVENTS: i32 = zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
    | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32;

/// What a controller watches its sockets for: connections that failed the ZMTP handshake for
/// any reason but a credential (those its ZAP handler decides and counts itself). A peer
/// without a credential shows as a mechanism mismatch, but depending on how its bytes arrive
/// libzmq may name another protocol error, or none.
pub const FAILED_HANDSHAKE_EVENTS: i32 = zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
    | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32;

/// Split a monitor message's first frame into its event and value.
pub fn monitor_event(frame: &[u8]) -> Option<(u16, u32)> {
    let event = u16::from_ne_bytes(frame.get(..2)?.try_into().ok()?);
    let value = u32::from_ne_bytes(frame.get(2..6)?.try_into().ok()?);
    Some((event, value))
}

/// Watches a socket for doors shut on its connections: on a connecting socket, so that a wrong
/// key is reported at once instead of looking like a controller that never answers; on a
/// controller's, to count the peers that came without a credential.
pub struct DoorWatch {
    pair: zmq::Socket,
}

impl DoorWatch {
    /// Watch `socket` (of `ctx`) for every [`Shut`]; call before connecting it.
    pub fn new(ctx: &zmq::Context, socket: &zmq::Socket) -> zmq::Result<DoorWatch> {
        DoorWatch::watching(ctx, socket, SHUT_EVENTS)
    }

    /// Watch `socket` for the monitor `events` given (a subset of [`SHUT_EVENTS`]); call
    /// before connecting or binding it.
    pub fn watching(
        ctx: &zmq::Context,
        socket: &zmq::Socket,
        events: i32,
    ) -> zmq::Result<DoorWatch> {
        let endpoint = format!("inproc://hs-door-watch-{}", uuid::Uuid::new_v4());
        socket.monitor(&endpoint, events)?;
        let pair = ctx.socket(zmq::PAIR)?;
        pair.set_linger(0)?;
        pair.connect(&endpoint)?;
        Ok(DoorWatch { pair })
    }

    /// For a poll that should wake when the door is shut.
    pub fn as_poll_item(&self) -> zmq::PollItem<'_> {
        self.pair.as_poll_item(zmq::POLLIN)
    }

    /// How many monitor events came since the last call (of the kinds watched for).
    pub fn events(&self) -> usize {
        std::iter::from_fn(|| self.pair.recv_multipart(zmq::DONTWAIT).ok()).count()
    }

    /// The door was shut on the watched socket since the last call (the first way it was).
    pub fn shut(&self) -> Option<Shut> {
        let mut found = None;
        while let Ok(frames) = self.pair.recv_multipart(zmq::DONTWAIT) {
            if let Some((event, _)) = frames.first().and_then(|f| monitor_event(f)) {
                found = found.or(shut_by(event));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_opens_the_doors_of_its_own_key_only() {
        let key = b"door-test-key-0123456789";
        let (user, pass) = credential(key);
        assert!(admits(key, user.as_bytes(), pass.as_bytes()));
        assert!(!admits(
            b"another-key-0123456789",
            user.as_bytes(),
            pass.as_bytes()
        ));
        let mut forged = pass.clone().into_bytes();
        forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
        assert!(!admits(key, user.as_bytes(), &forged));
        assert!(!admits(key, b"", b""));
        assert!(!admits(key, user.as_bytes(), b"not hex"));
        let (again, _) = credential(key);
        assert_ne!(user, again, "a fresh nonce each time");
    }

    #[test]
    fn domains_name_their_doors() {
        for door in Door::ALL {
            assert_eq!(Door::from_domain(door.domain().as_bytes()), Some(door));
        }
        assert_eq!(Door::from_domain(b"other"), None);
    }

    #[test]
    fn only_auth_and_mechanism_failures_shut_a_door() {
        let auth = zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u16;
        let protocol = zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as u16;
        assert_eq!(shut_by(auth), Some(Shut::WrongKey));
        assert_eq!(shut_by(protocol), Some(Shut::NoDoor));
        let no_detail = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as u16;
        assert_eq!(shut_by(no_detail), None);
        let frame = [auth.to_ne_bytes().as_slice(), &400u32.to_ne_bytes()].concat();
        assert_eq!(monitor_event(&frame), Some((auth, 400)));
        assert_eq!(monitor_event(&[1, 2]), None);
    }
}
