//! Session frames: what travels once a connection's handshake is done.
//!
//! Frames after the routing identity: `[PROTOCOL, mode tag, counter, payload]`. The payload
//! carries `len(kind) | kind | body`, either encrypted with ChaCha20-Poly1305 (mode
//! [`Mode::Sealed`]) or in clear followed by an HMAC-SHA256 tag (mode [`Mode::Clear`],
//! `--no-tls`); either way the key is this session's key for this direction, and the counter,
//! which starts at 1 and only grows, is both the AEAD nonce and the replay check. Sizes and the
//! counter are checked before any cryptography, and nothing from a message that fails
//! verification is ever put in an error text or a log line.
//!
//! The heartbeat travels on its own socket under a per-run key ([`PingSealer`],
//! [`PingOpener`]): the same frames plus the run's epoch, so an engine can tell pings of another
//! controller run from forgeries without opening them.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::direction::Message;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// `N` bytes from the operating system's RNG: nonces, epochs, keys.
pub fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `HMAC-SHA256(key, label | data)`, not finalised: the door's credentials and the handshake's
/// proofs are each a labelled MAC of this shape, the label keeping one from standing for another.
pub(crate) fn labelled_mac(key: &[u8], label: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(label);
    mac.update(data);
    mac
}

/// First frame of every message: protocol name and version.
pub const PROTOCOL: &[u8] = b"hs/2";
/// Largest ZeroMQ frame any hs socket takes (set as every socket's `MAXMSGSIZE`, so libzmq drops
/// the connection of a peer announcing a bigger one before buffering it). This, not the size of
/// a message, is what an unauthenticated peer can make the controller hold per message it
/// queues (see the receive high-water mark in the broker's `sockets.rs`). A larger message
/// travels as several frames of one multipart message (its payload cut at this size), which
/// only a peer with a session can make the receiver put back together.
///
/// 16 KiB: with 64 KiB, a thousand connections sending garbage frames of the largest size held
/// 216 MB of the controller and took 0.40 of a run's throughput; with 16 KiB 132 MB and 0.54
/// (`scripts/flood-bench`), while a bundle of results is still a handful of frames.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// The default bound on one message after a handshake, all its payload frames together
/// (`server.maxmessage` at a controller): well above what hs's own peers send (bundles stop
/// growing at 24 MiB, see `bundle.rs`).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Largest frame a peer that has not completed its handshake may send: handshake messages are
/// under a hundred bytes. Anything bigger is refused before any cryptography.
pub const MAX_HANDSHAKE_BYTES: usize = 256;
const MAX_KIND_LEN: usize = 32;
const TAG_LEN: usize = 16;
const MAC_LEN: usize = 32;
/// Length of a session id (and of a run's epoch, which is the heartbeat's session id).
pub const SESSION_ID_LEN: usize = 16;

/// Messages as ZeroMQ frames (without the routing identity).
pub type Frames = Vec<Vec<u8>>;

/// Whether bodies are encrypted (the default) or only authenticated (`--no-tls`). Both sides
/// must agree; the mode is part of the handshake transcript, so neither can be talked into the
/// other's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Sealed,
    Clear,
}

impl Mode {
    /// `--no-tls` given or not.
    pub fn from_no_tls(no_tls: bool) -> Mode {
        if no_tls { Mode::Clear } else { Mode::Sealed }
    }

    pub(crate) fn byte(self) -> u8 {
        match self {
            Mode::Sealed => 1,
            Mode::Clear => 2,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<Mode> {
        match b {
            1 => Some(Mode::Sealed),
            2 => Some(Mode::Clear),
            _ => None,
        }
    }

    fn tag(self) -> &'static [u8] {
        match self {
            Mode::Sealed => b"sealed",
            Mode::Clear => b"clear",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Sealed => "sealed (the default)",
            Mode::Clear => "--no-tls",
        })
    }
}

/// Why a message was refused. None of the variants carries unauthenticated content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("wrong number of frames ({0})")]
    FrameCount(usize),
    #[error("not an hs/2 message (an older hs, or not hs at all)")]
    Protocol,
    #[error("frame too large")]
    Oversized,
    #[error("bad seal (the sender uses a different key, or the message was altered)")]
    BadSignature,
    #[error("replayed or out-of-order message (counter {seq} after {last})")]
    Replay { seq: u64, last: u64 },
    #[error("malformed {0} message: {1}")]
    Malformed(String, String),
    /// Authenticated, but of a kind this receiver does not take (the kind is authenticated, so
    /// it may be shown, escaped).
    #[error("unexpected message kind {0:?}")]
    UnknownKind(String),
    /// Authenticated by one peer's session and claiming to speak for another.
    #[error("the message speaks for another peer than its session's")]
    SenderMismatch,
    /// From a connection that has not completed a handshake (or whose session was dropped).
    #[error("no session: the connection has not completed its handshake")]
    NoSession,
    /// The handshake's proof does not match: the two sides hold different keys.
    #[error("handshake refused: the peer's proof does not match (it uses a different key)")]
    WrongKey,
    /// A connection's door credential does not prove the key (see [`super::door`]).
    #[error(
        "refused at the door: its credential does not prove the key (a different key, or forged)"
    )]
    DoorRefused,
    /// A connection offered no door credential (see [`super::door`]).
    #[error("refused at the door: it offered no credential (an older hs, or not hs)")]
    NoCredential,
    /// Door credentials made just now were refused as out of date (see [`super::door`]).
    #[error(
        "refused at the door: credentials made just now were out of date on arrival: this \
         host's clock and the controller's disagree by minutes (set both right, e.g. with NTP)"
    )]
    ClockSkew,
    /// A connection's door credential was admitted before (see [`super::door`]).
    #[error(
        "refused at the door: its credential was used before (replayed, or a reconnect, which \
         knocks again with a fresh one)"
    )]
    DoorUsed,
    /// A connection's door credential names a time too far from the controller's clock.
    #[error(
        "refused at the door: its credential is out of date (made long ago, or by a host whose \
         clock is wrong; hs peers renew it by themselves)"
    )]
    DoorOutOfDate,
    /// The controller asks for no door credential (see [`super::door`]).
    #[error(
        "handshake refused: the controller asks for no door credential (it runs an older hs, or \
         is not hs): use the same hs version on both sides"
    )]
    NoDoor,
    /// The two sides disagree on `--no-tls`.
    #[error("handshake refused: this side runs {ours}, the peer {theirs}; use the same on both")]
    ModeMismatch { ours: Mode, theirs: Mode },
    /// A malformed or unexpected handshake message.
    #[error("handshake refused: {0}")]
    Handshake(&'static str),
    /// Authenticated and well formed, but not taken in this conversation (an upload of output
    /// the controller does not expect from that engine, say): the reason.
    #[error("{0}")]
    Refused(String),
    /// A heartbeat from another run of a controller (unauthenticated: only a cue).
    #[error("a heartbeat from another controller run")]
    OtherRun,
}

/// The key of one direction of one session, ready for use.
enum Cipher {
    Aead(Box<ChaCha20Poly1305>),
    Mac(Box<HmacSha256>),
}

impl Cipher {
    fn new(key: &[u8; 32], mode: Mode) -> Cipher {
        match mode {
            Mode::Sealed => Cipher::Aead(Box::new(ChaCha20Poly1305::new(key.into()))),
            Mode::Clear => Cipher::Mac(Box::new(
                <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length"),
            )),
        }
    }
}

/// The 96-bit nonce for `counter`: never repeats within one key, as the counter only grows.
fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n.into()
}

/// The associated data: protocol, session and mode, so a payload cannot move to another
/// session, version or mode unnoticed.
fn associated(session: &[u8; SESSION_ID_LEN], mode: Mode) -> Vec<u8> {
    let mut ad = Vec::with_capacity(PROTOCOL.len() + SESSION_ID_LEN + 8);
    ad.extend_from_slice(PROTOCOL);
    ad.extend_from_slice(session);
    ad.extend_from_slice(mode.tag());
    ad
}

/// Seals outgoing messages of one direction of one session, numbering them.
pub struct Sealer {
    cipher: Cipher,
    ad: Vec<u8>,
    mode: Mode,
    counter: u64,
}

impl Sealer {
    pub(crate) fn new(key: &[u8; 32], session: &[u8; SESSION_ID_LEN], mode: Mode) -> Self {
        Sealer {
            cipher: Cipher::new(key, mode),
            ad: associated(session, mode),
            mode,
            counter: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Seal `msg` under its kind.
    pub fn seal<M: Message>(&mut self, msg: &M) -> Frames {
        self.seal_raw(msg.kind(), &msg.to_json())
    }

    /// The four frames of a message of `kind` carrying `body` (already JSON).
    pub fn seal_raw(&mut self, kind: &str, body: &[u8]) -> Frames {
        self.counter += 1;
        let counter = self.counter.to_be_bytes();
        let kind = &kind.as_bytes()[..kind.len().min(MAX_KIND_LEN)];
        let mut payload = Vec::with_capacity(1 + kind.len() + body.len() + MAC_LEN);
        payload.push(kind.len() as u8);
        payload.extend_from_slice(kind);
        payload.extend_from_slice(body);
        match &self.cipher {
            Cipher::Aead(aead) => {
                let tag = aead
                    .encrypt_in_place_detached(&nonce(self.counter), &self.ad, &mut payload)
                    .expect("a message under 256 GiB seals");
                payload.extend_from_slice(&tag);
            }
            Cipher::Mac(mac) => {
                let mut mac = (**mac).clone();
                mac.update(&self.ad);
                mac.update(&counter);
                mac.update(&payload);
                payload.extend_from_slice(&mac.finalize().into_bytes());
            }
        }
        let mut frames = Vec::with_capacity(3 + payload.len().div_ceil(MAX_FRAME_BYTES));
        frames.extend([
            PROTOCOL.to_vec(),
            self.mode.tag().to_vec(),
            counter.to_vec(),
        ]);
        if payload.len() <= MAX_FRAME_BYTES {
            frames.push(payload);
        } else {
            frames.extend(payload.chunks(MAX_FRAME_BYTES).map(<[u8]>::to_vec));
        }
        frames
    }
}

/// An opened message: its kind, its (unparsed) body and its counter.
#[derive(Debug)]
pub struct Envelope {
    pub seq: u64,
    pub kind: String,
    pub body: Vec<u8>,
}

/// Opens incoming messages of one direction of one session; counters must strictly increase.
pub struct Opener {
    cipher: Cipher,
    ad: Vec<u8>,
    mode: Mode,
    last: u64,
    /// Counters skipped between messages opened: messages sealed for this side that never
    /// arrived (a connection that dropped, a queue that was full).
    skipped: u64,
    /// The largest payload taken, all frames together.
    limit: usize,
}

impl Opener {
    pub(crate) fn new(key: &[u8; 32], session: &[u8; SESSION_ID_LEN], mode: Mode) -> Self {
        Opener {
            cipher: Cipher::new(key, mode),
            ad: associated(session, mode),
            mode,
            last: 0,
            skipped: 0,
            limit: MAX_MESSAGE_BYTES,
        }
    }

    /// How many messages sealed for this side never arrived, so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Take messages of up to `bytes` (the payload, all its frames together; the default is
    /// [`MAX_MESSAGE_BYTES`]). Larger ones are refused as [`FrameError::Oversized`].
    pub fn set_limit(&mut self, bytes: usize) {
        self.limit = bytes;
    }

    /// Check shape, sizes, mode and counter, then authenticate (and decrypt), in that order.
    /// `frames` excludes any routing identity; the payload may come cut into several frames
    /// (see [`Sealer::seal_raw`]).
    pub fn open(&mut self, mut frames: Frames) -> Result<Envelope, FrameError> {
        if frames.len() < 4 {
            return Err(FrameError::FrameCount(frames.len()));
        }
        let payload_len: usize = frames[3..].iter().map(Vec::len).sum();
        if frames.iter().any(|f| f.len() > MAX_FRAME_BYTES)
            || payload_len > self.limit.saturating_add(1 + MAX_KIND_LEN + MAC_LEN)
        {
            return Err(FrameError::Oversized);
        }
        if frames[0] != PROTOCOL {
            return Err(FrameError::Protocol);
        }
        if frames[1] != self.mode.tag() {
            let theirs = if self.mode == Mode::Sealed {
                Mode::Clear
            } else {
                Mode::Sealed
            };
            return Err(FrameError::ModeMismatch {
                ours: self.mode,
                theirs,
            });
        }
        let seq = <[u8; 8]>::try_from(frames[2].as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| FrameError::BadSignature)?;
        if seq <= self.last {
            return Err(FrameError::Replay {
                seq,
                last: self.last,
            });
        }
        let mut payload = if frames.len() == 4 {
            frames.pop().unwrap_or_default()
        } else {
            frames.drain(3..).collect::<Vec<_>>().concat()
        };
        match &self.cipher {
            Cipher::Aead(aead) => {
                let Some(split) = payload.len().checked_sub(TAG_LEN) else {
                    return Err(FrameError::BadSignature);
                };
                let tag = Tag::clone_from_slice(&payload[split..]);
                payload.truncate(split);
                aead.decrypt_in_place_detached(&nonce(seq), &self.ad, &mut payload, &tag)
                    .map_err(|_| FrameError::BadSignature)?;
            }
            Cipher::Mac(mac) => {
                let Some(split) = payload.len().checked_sub(MAC_LEN) else {
                    return Err(FrameError::BadSignature);
                };
                let mut mac = (**mac).clone();
                mac.update(&self.ad);
                mac.update(&frames[2]);
                mac.update(&payload[..split]);
                mac.verify_slice(&payload[split..])
                    .map_err(|_| FrameError::BadSignature)?;
                payload.truncate(split);
            }
        }
        self.skipped += seq - self.last - 1;
        self.last = seq;
        let kind_len = *payload.first().ok_or(FrameError::Malformed(
            "sealed".into(),
            "empty payload".into(),
        ))? as usize;
        if payload.len() < 1 + kind_len {
            return Err(FrameError::Malformed(
                "sealed".into(),
                "kind longer than the payload".into(),
            ));
        }
        let kind = String::from_utf8(payload[1..1 + kind_len].to_vec())
            .map_err(|_| FrameError::Malformed("kind".into(), "not UTF-8".into()))?;
        payload.drain(..1 + kind_len);
        Ok(Envelope {
            seq,
            kind,
            body: payload,
        })
    }
}

/// Publishes heartbeats under the run's ping key: session frames plus the run's epoch.
pub struct PingSealer {
    sealer: Sealer,
    epoch: [u8; SESSION_ID_LEN],
}

impl PingSealer {
    pub fn new(key: &[u8], mode: Mode, epoch: [u8; SESSION_ID_LEN]) -> Self {
        PingSealer {
            sealer: Sealer::new(&super::handshake::ping_key(key, mode, &epoch), &epoch, mode),
            epoch,
        }
    }

    pub fn seal<M: Message>(&mut self, msg: &M) -> Frames {
        let mut frames = self.sealer.seal(msg);
        frames.push(self.epoch.to_vec());
        frames
    }
}

/// Opens heartbeats of one controller run (the epoch its handshake named).
pub struct PingOpener {
    opener: Opener,
    epoch: [u8; SESSION_ID_LEN],
}

impl PingOpener {
    pub fn new(key: &[u8], mode: Mode, epoch: [u8; SESSION_ID_LEN]) -> Self {
        PingOpener {
            opener: Opener::new(&super::handshake::ping_key(key, mode, &epoch), &epoch, mode),
            epoch,
        }
    }

    pub fn epoch(&self) -> [u8; SESSION_ID_LEN] {
        self.epoch
    }

    /// Open a heartbeat. [`FrameError::OtherRun`] means a well-formed heartbeat names another
    /// run: unauthenticated, so only a cue to find out with a new handshake.
    pub fn open(&mut self, mut frames: Frames) -> Result<Envelope, FrameError> {
        if frames.len() != 5 {
            return Err(FrameError::FrameCount(frames.len()));
        }
        let epoch = frames.pop().unwrap_or_default();
        if epoch.len() != SESSION_ID_LEN || frames[0] != PROTOCOL {
            return Err(FrameError::Protocol);
        }
        if epoch != self.epoch {
            return Err(FrameError::OtherRun);
        }
        self.opener.open(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SESSION: [u8; 16] = [7; 16];

    fn pair(mode: Mode) -> (Sealer, Opener) {
        let key = [3u8; 32];
        (
            Sealer::new(&key, &SESSION, mode),
            Opener::new(&key, &SESSION, mode),
        )
    }

    #[test]
    fn round_trip_in_both_modes() {
        for mode in [Mode::Sealed, Mode::Clear] {
            let (mut s, mut o) = pair(mode);
            let frames = s.seal_raw("ping", b"{\"a\":1}");
            let env = o.open(frames).unwrap();
            assert_eq!(
                (env.kind.as_str(), env.body.as_slice()),
                ("ping", &b"{\"a\":1}"[..])
            );
            assert_eq!(env.seq, 1);
        }
    }

    #[test]
    fn sealed_bodies_are_not_readable_and_clear_ones_are() {
        let (mut s, _) = pair(Mode::Sealed);
        let frames = s.seal_raw("tasks", b"echo secret-command");
        assert!(!frames.concat().windows(6).any(|w| w == b"secret"));
        assert!(!frames.concat().windows(5).any(|w| w == b"tasks"));
        let (mut s, _) = pair(Mode::Clear);
        let frames = s.seal_raw("tasks", b"echo secret-command");
        assert!(frames.concat().windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn another_session_or_key_cannot_open() {
        let (mut s, _) = pair(Mode::Sealed);
        let frames = s.seal_raw("ping", b"{}");
        let mut other_session = Opener::new(&[3u8; 32], &[8; 16], Mode::Sealed);
        assert_eq!(
            other_session.open(frames.clone()).unwrap_err(),
            FrameError::BadSignature
        );
        let mut other_key = Opener::new(&[4u8; 32], &SESSION, Mode::Sealed);
        assert_eq!(
            other_key.open(frames).unwrap_err(),
            FrameError::BadSignature
        );
    }

    #[test]
    fn messages_that_never_arrived_are_counted() {
        let (mut s, mut o) = pair(Mode::Sealed);
        o.open(s.seal_raw("ping", b"{}")).unwrap();
        let _lost = [s.seal_raw("ping", b"{}"), s.seal_raw("ping", b"{}")];
        assert_eq!(o.skipped(), 0);
        o.open(s.seal_raw("ping", b"{}")).unwrap();
        assert_eq!(o.skipped(), 2);
        let forged = {
            let mut f = s.seal_raw("ping", b"{}");
            f[2] = 100u64.to_be_bytes().to_vec();
            f
        };
        assert!(o.open(forged).is_err());
        assert_eq!(o.skipped(), 2, "only what opens counts");
    }

    #[test]
    fn counter_replay_is_refused() {
        let (mut s, mut o) = pair(Mode::Sealed);
        let first = s.seal_raw("ping", b"{}");
        o.open(first.clone()).unwrap();
        assert_eq!(
            o.open(first).unwrap_err(),
            FrameError::Replay { seq: 1, last: 1 }
        );
        let second = s.seal_raw("ping", b"{}");
        let third = s.seal_raw("ping", b"{}");
        o.open(third).unwrap();
        assert!(matches!(o.open(second), Err(FrameError::Replay { .. })));
    }

    #[test]
    fn a_raised_counter_does_not_open() {
        let (mut s, mut o) = pair(Mode::Sealed);
        let mut frames = s.seal_raw("ping", b"{}");
        frames[2] = 9u64.to_be_bytes().to_vec();
        assert_eq!(o.open(frames).unwrap_err(), FrameError::BadSignature);
        // The failed attempt did not move the counter: the next genuine message opens.
        assert_eq!(o.open(s.seal_raw("ping", b"{}")).unwrap().seq, 2);
    }

    #[test]
    fn a_clear_message_is_refused_by_a_sealed_receiver() {
        let (mut clear, _) = pair(Mode::Clear);
        let (_, mut sealed) = pair(Mode::Sealed);
        assert!(matches!(
            sealed.open(clear.seal_raw("ping", b"{}")),
            Err(FrameError::ModeMismatch { .. })
        ));
    }

    #[test]
    fn misshapen_messages_are_refused_before_opening() {
        let (mut s, mut o) = pair(Mode::Sealed);
        assert_eq!(
            o.open(vec![vec![]; 3]).unwrap_err(),
            FrameError::FrameCount(3)
        );
        let mut frames = s.seal_raw("ping", b"{}");
        frames[0] = b"hs/1".to_vec();
        assert_eq!(o.open(frames).unwrap_err(), FrameError::Protocol);
    }

    #[test]
    fn a_large_message_travels_in_frames_no_larger_than_a_socket_takes() {
        for mode in [Mode::Sealed, Mode::Clear] {
            let (mut s, mut o) = pair(mode);
            let body: Vec<u8> = (0..3 * MAX_FRAME_BYTES + 5).map(|i| i as u8).collect();
            let frames = s.seal_raw("results", &body);
            assert_eq!(frames.len(), 3 + 4);
            assert!(frames.iter().all(|f| f.len() <= MAX_FRAME_BYTES));
            let mut tampered = frames.clone();
            tampered[5][7] ^= 1;
            assert_eq!(o.open(tampered).unwrap_err(), FrameError::BadSignature);
            assert_eq!(o.open(frames).unwrap().body, body);
        }
    }

    #[test]
    fn a_message_over_the_receivers_limit_is_refused_before_opening() {
        let (mut s, mut o) = pair(Mode::Sealed);
        o.set_limit(2 * MAX_FRAME_BYTES);
        let big = s.seal_raw("results", &vec![b'x'; 2 * MAX_FRAME_BYTES + 100]);
        assert_eq!(o.open(big).unwrap_err(), FrameError::Oversized);
        let mut wide = s.seal_raw("results", b"{}");
        wide[3] = vec![0; MAX_FRAME_BYTES + 1];
        assert_eq!(o.open(wide).unwrap_err(), FrameError::Oversized);
        // Neither moved the counter: the next message opens.
        assert!(
            o.open(s.seal_raw("results", &vec![b'y'; MAX_FRAME_BYTES]))
                .is_ok()
        );
    }

    #[test]
    fn pings_of_another_run_are_told_apart() {
        let key = b"0123456789abcdef-key";
        let mut ours = PingOpener::new(key, Mode::Sealed, [1; 16]);
        let mut theirs = PingSealer::new(key, Mode::Sealed, [2; 16]);
        let mut same = PingSealer::new(key, Mode::Sealed, [1; 16]);
        let ping = super::super::Ping {
            controller_id: uuid::Uuid::nil(),
        };
        assert_eq!(
            ours.open(theirs.seal(&ping)).unwrap_err(),
            FrameError::OtherRun
        );
        let env = ours.open(same.seal(&ping)).unwrap();
        assert_eq!(env.kind, "ping");
        let mut forged = same.seal(&ping);
        forged[3][0] ^= 1;
        assert_eq!(ours.open(forged).unwrap_err(), FrameError::BadSignature);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Flipping any bit of any frame makes opening fail, in both modes.
        #[test]
        fn any_tamper_is_detected(body in proptest::collection::vec(any::<u8>(), 0..64),
                                  frame in 0usize..4, pos in any::<usize>(), bit in 0u8..8,
                                  clear in any::<bool>()) {
            let (mut s, mut o) = pair(Mode::from_no_tls(clear));
            let mut frames = s.seal_raw("results", &body);
            let i = pos % frames[frame].len();
            frames[frame][i] ^= 1 << bit;
            prop_assert!(o.open(frames).is_err());
        }
    }
}
