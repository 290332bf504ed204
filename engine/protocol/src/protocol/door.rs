//! The door: who may open a connection to a controller's socket at all.
//!
//! The handshake ([`super::handshake`]) is what authenticates, but it runs over a connection
//! libzmq has already accepted, and libzmq reads everything a connected peer sends before the
//! broker can look at it: a flood of connections sending garbage cost the controller a core
//! reading bytes it then dropped. So every controller socket is locked with ZeroMQ's PLAIN
//! mechanism, and every connecting socket knocks with a credential only a key holder can make:
//! a fresh random nonce and the time it was made as the user name, and
//! `HMAC-SHA256(K, "hs/2 door " | user name)` as the password. Each connecting socket makes its
//! own, and any of them opens any of the three sockets: which peer belongs on which socket is
//! the handshake's to say, with an error that names the mix-up (a client on the engine port,
//! say), where a refusal at the door could only say "another key". The controller's ZAP handler
//! (`broker/src/door/`) checks it while libzmq is still in the ZMTP handshake, before any
//! message of the connection is read; a connection that fails is closed by libzmq and, being a
//! protocol error, never reconnected.
//!
//! PLAIN travels in clear, so a wiretapper sees every credential. That is why a controller
//! admits each credential once, and only within [`WINDOW`] of the time it names: a credential
//! seen on the wire has already been used, and one recorded in an earlier run is out of date,
//! so replaying either opens nothing. The price is paid by the connecting side: libzmq knocks
//! again with a socket's one credential whenever it reconnects, and a reconnect is refused like
//! a replay ("not now", status 500, where a wrong key is 400), so a connecting socket that is
//! refused so renews itself with a fresh credential ([`Shut::Renew`]). Fresh credentials
//! refused twice in a row the first time they are used, just after they were made, say the
//! two clocks disagree by more than half the window ([`Shut::ClockSkew`]).

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Nonce bytes in a credential's user name (hex-encoded there, with the time after them).
const NONCE_LEN: usize = 16;

/// How far from the controller's clock the time in a credential may be. Connecting sides renew
/// an out-of-date credential by themselves, so this only has to cover the clocks' disagreement.
pub const WINDOW: Duration = Duration::from_secs(300);

fn password(key: &[u8], user: &[u8]) -> HmacSha256 {
    labelled_mac(key, b"hs/2 door ", user)
}

/// Milliseconds since the Unix epoch by this host's clock (0 for a clock set before 1970).
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A PLAIN user name and password that open the doors of a controller holding `key`, once,
/// within [`WINDOW`] of the time `made` (Unix milliseconds).
pub fn credential_at(key: &[u8], made: u64) -> (String, String) {
    let mut name = [0u8; NONCE_LEN + 8];
    name[..NONCE_LEN].copy_from_slice(&random::<NONCE_LEN>());
    name[NONCE_LEN..].copy_from_slice(&made.to_be_bytes());
    let user = hex::encode(name);
    let pass = hex::encode(password(key, user.as_bytes()).finalize().into_bytes());
    (user, pass)
}

/// A credential made now (see [`credential_at`]).
pub fn credential(key: &[u8]) -> (String, String) {
    credential_at(key, unix_ms(SystemTime::now()))
}

/// What a credential that proves the key says: for the controller to admit it once, in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub nonce: [u8; NONCE_LEN],
    /// When it was made, in Unix milliseconds by its maker's clock.
    pub made: u64,
}

/// The stamp of `user` and `pass` if they were made by [`credential`] with `key` (compared in
/// constant time); `None` for anything else.
pub fn open(key: &[u8], user: &[u8], pass: &[u8]) -> Option<Stamp> {
    if user.len() != 2 * (NONCE_LEN + 8) {
        return None;
    }
    let name = hex::decode(user).ok()?;
    let tag = hex::decode(pass).ok()?;
    password(key, user).verify_slice(&tag).ok()?;
    let (nonce, made) = name.split_at(NONCE_LEN);
    Some(Stamp {
        nonce: nonce.try_into().ok()?,
        made: u64::from_be_bytes(made.try_into().ok()?),
    })
}

/// The ZAP status a controller answers a credential that proves the key but opens nothing now
/// (used before, or out of date): RFC 27's 500, so that libzmq tells the connecting side (a
/// 300 is a silent disconnect, which libzmq would retry with the same credential), and not
/// 400, which says "another key".
pub const NOT_NOW: u32 = 500;

/// Lock a controller socket behind `door`: connections must knock with a credential, which
/// the context's ZAP handler checks (it must be bound before the socket is).
pub fn lock(socket: &zmq::Socket, door: Door) -> zmq::Result<()> {
    socket.set_plain_server(true)?;
    socket.set_zap_domain(door.domain())
}

/// Make every connection of `socket` knock with a credential from `key`, made now.
pub fn knock(socket: &zmq::Socket, key: &[u8]) -> zmq::Result<()> {
    knock_with(socket, &credential(key))
}

/// Make every connection of `socket` knock with `credential` (a user name and password).
pub fn knock_with(socket: &zmq::Socket, credential: &(String, String)) -> zmq::Result<()> {
    socket.set_plain_username(Some(&credential.0))?;
    socket.set_plain_password(Some(&credential.1))
}

/// Why a door was shut on a connecting socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shut {
    /// The credential did not open it: the controller holds another key.
    WrongKey,
    /// The two sides speak different ZeroMQ security mechanisms: the other side has no door
    /// (an older hs, or not hs at all).
    NoDoor,
    /// The credential proves the key but was used before (libzmq reconnected with it) or has
    /// grown out of date (the socket waited long for its controller): knock again on a new
    /// socket with a fresh one.
    Renew,
    /// Two fresh credentials in a row were refused the first time they were used: the
    /// controller's clock and this host's disagree by more than half the [`WINDOW`] (or
    /// someone on the network uses them first).
    ClockSkew,
}

impl Shut {
    /// The handshake failure this amounts to: the same one a connecting side reports, whether
    /// the door or the handshake found it. `None` for [`Shut::Renew`], which is no failure.
    pub fn why(self) -> Option<FrameError> {
        match self {
            Shut::WrongKey => Some(FrameError::WrongKey),
            Shut::NoDoor => Some(FrameError::NoDoor),
            Shut::ClockSkew => Some(FrameError::ClockSkew),
            Shut::Renew => None,
        }
    }
}

/// What a socket monitor event (see [`monitor_event`]) with its value says about the door, if
/// anything (before [`DoorWatch`] tells a renewal from a clock skew).
///
/// Any ZMTP protocol error counts as no door, not only the mechanism mismatch
/// (`ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`, the usual one): which one libzmq names
/// depends on how the other side's bytes arrive, and a peer that breaks the handshake is not a
/// controller of this hs either way.
pub fn shut_by(event: u16, value: u32) -> Option<Shut> {
    if event == zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u16 {
        Some(if value == NOT_NOW {
            Shut::Renew
        } else {
            Shut::WrongKey
        })
    } else if event == zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as u16 {
        Some(Shut::NoDoor)
    } else {
        None
    }
}

/// The events [`shut_by`] reads, and the one that says the door was opened, for
/// `zmq_socket_monitor`.
pub const SHUT_EVENTS: i32 = zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
    | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
    | zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32;

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
/// key is reported at once instead of looking like a controller that never answers, and a
/// credential that opens nothing now is renewed; on a controller's, to count the peers that
/// came without a credential.
pub struct DoorWatch {
    pair: zmq::Socket,
    /// When the watched socket's credential was made.
    made: Instant,
    /// The door has opened to the watched socket's credential before: a refusal now is of a
    /// reconnect, not of a credential out of date on arrival.
    opened: Cell<bool>,
    /// Fresh credentials refused on their first use in a row, over this socket and the ones it
    /// renewed (see [`DoorWatch::carrying`]).
    fresh_refusals: Cell<u32>,
}

impl DoorWatch {
    /// Make `socket` (of `ctx`) knock with a fresh credential from `key`, and watch it for
    /// every [`Shut`]; call before connecting it.
    pub fn knock(ctx: &zmq::Context, socket: &zmq::Socket, key: &[u8]) -> zmq::Result<DoorWatch> {
        knock(socket, key)?;
        DoorWatch::watching(ctx, socket, SHUT_EVENTS)
    }

    /// Watch `socket` for the monitor `events` given (a subset of [`SHUT_EVENTS`] and
    /// [`FAILED_HANDSHAKE_EVENTS`]); call before connecting or binding it.
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
        Ok(DoorWatch {
            pair,
            made: Instant::now(),
            opened: Cell::new(false),
            fresh_refusals: Cell::new(0),
        })
    }

    /// This watch, for a socket that renews the one `previous` watched: what the door said to
    /// the old one counts towards judging the new one.
    pub fn carrying(self, previous: &DoorWatch) -> DoorWatch {
        self.fresh_refusals.set(previous.fresh_refusals.get());
        self
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
            let Some((event, value)) = frames.first().and_then(|f| monitor_event(f)) else {
                continue;
            };
            if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED as u16 {
                self.opened.set(true);
                self.fresh_refusals.set(0);
            }
            found = found.or(shut_by(event, value).map(|s| self.judge(s)));
        }
        found
    }

    /// The door has opened to the watched socket's credential (reading what came since the
    /// last call; a shut door it reported is dropped).
    pub fn opened(&self) -> bool {
        let _ = self.shut();
        self.opened.get()
    }

    /// A credential refused as "not now" the first time it was used, within half the window
    /// of being made, was out of date on arrival, or was admitted on a connection that dropped
    /// before this side heard so. Twice in a row (a renewed socket's fresh credential refused
    /// too), the clocks disagree by more than half the window. Used before, or made long ago,
    /// it only needs renewing.
    fn judge(&self, shut: Shut) -> Shut {
        if shut != Shut::Renew || self.opened.get() || self.made.elapsed() >= WINDOW / 2 {
            return shut;
        }
        let refusals = self.fresh_refusals.get() + 1;
        self.fresh_refusals.set(refusals);
        if refusals >= 2 {
            Shut::ClockSkew
        } else {
            Shut::Renew
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_opens_the_doors_of_its_own_key_only() {
        let key = b"door-test-key-0123456789";
        let (user, pass) = credential_at(key, 1_700_000_000_123);
        let stamp = open(key, user.as_bytes(), pass.as_bytes()).expect("its own key opens it");
        assert_eq!(stamp.made, 1_700_000_000_123);
        assert_eq!(hex::encode(stamp.nonce), user[..32]);
        assert_eq!(
            open(b"another-key-0123456789", user.as_bytes(), pass.as_bytes()),
            None
        );
        let mut forged = pass.clone().into_bytes();
        forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(open(key, user.as_bytes(), &forged), None);
        // The time is under the MAC: moved, the credential proves nothing.
        let mut moved = user.clone().into_bytes();
        let last = moved.len() - 1;
        moved[last] = if moved[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(open(key, &moved, pass.as_bytes()), None);
        assert_eq!(open(key, b"", b""), None);
        assert_eq!(open(key, user.as_bytes(), b"not hex"), None);
        assert_eq!(open(key, &user.as_bytes()[..32], pass.as_bytes()), None);
        let (again, _) = credential(key);
        assert_ne!(user[..32], again[..32], "a fresh nonce each time");
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
        assert_eq!(shut_by(auth, 400), Some(Shut::WrongKey));
        assert_eq!(shut_by(auth, NOT_NOW), Some(Shut::Renew));
        assert_eq!(shut_by(protocol, 0), Some(Shut::NoDoor));
        let no_detail = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as u16;
        assert_eq!(shut_by(no_detail, 0), None);
        let frame = [auth.to_ne_bytes().as_slice(), &400u32.to_ne_bytes()].concat();
        assert_eq!(monitor_event(&frame), Some((auth, 400)));
        assert_eq!(monitor_event(&[1, 2]), None);
    }

    /// A watch of a socket that never connects, its credential made `age` ago.
    fn watch_made(ctx: &zmq::Context, age: Duration) -> (zmq::Socket, DoorWatch) {
        let socket = ctx.socket(zmq::DEALER).unwrap();
        let mut watch = DoorWatch::knock(ctx, &socket, b"door-test-key-0123456789").unwrap();
        watch.made = Instant::now() - age;
        (socket, watch)
    }

    #[test]
    fn fresh_credentials_refused_twice_in_a_row_say_the_clocks_are_apart() {
        let ctx = zmq::Context::new();
        let (_first, first) = watch_made(&ctx, Duration::ZERO);
        assert_eq!(
            first.judge(Shut::Renew),
            Shut::Renew,
            "once may be a dropped connection"
        );
        let (_second, second) = watch_made(&ctx, Duration::ZERO);
        let second = second.carrying(&first);
        assert_eq!(second.judge(Shut::Renew), Shut::ClockSkew);
        assert_eq!(
            second.judge(Shut::WrongKey),
            Shut::WrongKey,
            "other refusals stay"
        );
    }

    #[test]
    fn a_credential_that_waited_long_or_was_let_in_before_is_only_renewed() {
        let ctx = zmq::Context::new();
        // An engine that waited for its controller longer than half the window.
        let (_waited, waited) = watch_made(&ctx, WINDOW / 2);
        for _ in 0..3 {
            assert_eq!(waited.judge(Shut::Renew), Shut::Renew);
        }
        // A reconnect of a socket the door once opened to.
        let (_reconnected, reconnected) = watch_made(&ctx, Duration::ZERO);
        reconnected.opened.set(true);
        for _ in 0..3 {
            assert_eq!(reconnected.judge(Shut::Renew), Shut::Renew);
        }
    }
}
