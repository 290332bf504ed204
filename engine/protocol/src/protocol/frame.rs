//! Framing, signing and verification of multipart messages.
//!
//! Frames after the routing identity: `[PROTOCOL, kind, mac, header, body]`. The MAC is
//! HMAC-SHA256 over every other frame, each prefixed by its length so that moving bytes between
//! frames changes the MAC. Verification is constant-time (`Mac::verify_slice`). A sender's
//! sequence numbers must strictly increase; anything else is a replay and is dropped.
//! Sizes are checked before the MAC is computed and before any JSON is parsed, and nothing
//! from an unauthenticated message is ever put in an error text or a log line.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// First frame of every message: protocol name and version.
pub const PROTOCOL: &[u8] = b"hs/1";
/// Largest frame accepted (also set as the sockets' `MAXMSGSIZE`, so libzmq drops bigger ones
/// before they are even buffered).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
const MAC_LEN: usize = 32;
const MAX_KIND_LEN: usize = 32;
const MAX_HEADER_LEN: usize = 256;

/// Why a message was refused. None of the variants carries message content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("wrong number of frames ({0}, expected 5)")]
    FrameCount(usize),
    #[error("not an hs/1 message (protocol frame mismatch)")]
    Protocol,
    #[error("frame too large")]
    Oversized,
    #[error("bad signature (the sender uses a different key, or the message was altered)")]
    BadSignature,
    #[error("replayed or out-of-order message (sequence {seq} after {last})")]
    Replay { seq: u64, last: u64 },
    #[error("malformed {0} message: {1}")]
    Malformed(String, String),
    /// Authenticated, but of a kind this receiver does not take (the kind is signed, so it may
    /// be shown, escaped).
    #[error("unexpected message kind {0:?}")]
    UnknownKind(String),
    /// Signed by one peer and sent over another's connection.
    #[error("the signed sender does not match its connection")]
    SenderMismatch,
}

#[derive(Serialize, Deserialize)]
struct Header {
    sender: Uuid,
    seq: u64,
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

fn feed(mac: &mut HmacSha256, frame: &[u8]) {
    mac.update(&(frame.len() as u64).to_be_bytes());
    mac.update(frame);
}

/// Signs outgoing messages for one sender, numbering them.
pub struct Sealer {
    mac: HmacSha256,
    sender: Uuid,
    seq: u64,
}

impl Sealer {
    pub fn new(key: &[u8], sender: Uuid) -> Self {
        Sealer {
            mac: keyed(key),
            sender,
            seq: 0,
        }
    }

    pub fn sender(&self) -> Uuid {
        self.sender
    }

    /// The five frames of a message of `kind` carrying `body` (already JSON).
    pub fn seal_raw(&mut self, kind: &str, body: Vec<u8>) -> [Vec<u8>; 5] {
        self.seq += 1;
        let header = serde_json::to_vec(&Header {
            sender: self.sender,
            seq: self.seq,
        })
        .expect("header serialises");
        let mut mac = self.mac.clone();
        feed(&mut mac, PROTOCOL);
        feed(&mut mac, kind.as_bytes());
        feed(&mut mac, &header);
        feed(&mut mac, &body);
        let tag = mac.finalize().into_bytes().to_vec();
        [
            PROTOCOL.to_vec(),
            kind.as_bytes().to_vec(),
            tag,
            header,
            body,
        ]
    }
}

/// A verified message: who sent it, what kind, and its (unparsed) body.
#[derive(Debug)]
pub struct Envelope {
    pub sender: Uuid,
    pub seq: u64,
    pub kind: String,
    pub body: Vec<u8>,
}

/// Verifies incoming messages and remembers each sender's last sequence number.
pub struct Opener {
    mac: HmacSha256,
    last_seq: HashMap<Uuid, u64>,
}

impl Opener {
    pub fn new(key: &[u8]) -> Self {
        Opener {
            mac: keyed(key),
            last_seq: HashMap::new(),
        }
    }

    /// Check sizes, protocol, signature and sequence, in that order, and return the envelope.
    /// `frames` excludes any routing identity.
    pub fn open(&mut self, mut frames: Vec<Vec<u8>>) -> Result<Envelope, FrameError> {
        if frames.len() != 5 {
            return Err(FrameError::FrameCount(frames.len()));
        }
        if frames.iter().any(|f| f.len() > MAX_FRAME_BYTES)
            || frames[1].len() > MAX_KIND_LEN
            || frames[3].len() > MAX_HEADER_LEN
        {
            return Err(FrameError::Oversized);
        }
        if frames[0] != PROTOCOL {
            return Err(FrameError::Protocol);
        }
        if frames[2].len() != MAC_LEN {
            return Err(FrameError::BadSignature);
        }
        let mut mac = self.mac.clone();
        feed(&mut mac, &frames[0]);
        feed(&mut mac, &frames[1]);
        feed(&mut mac, &frames[3]);
        feed(&mut mac, &frames[4]);
        mac.verify_slice(&frames[2])
            .map_err(|_| FrameError::BadSignature)?;

        let body = frames.pop().unwrap_or_default();
        let header: Header = serde_json::from_slice(&frames[3])
            .map_err(|e| FrameError::Malformed("header".into(), e.to_string()))?;
        let kind = String::from_utf8(std::mem::take(&mut frames[1]))
            .map_err(|_| FrameError::Malformed("kind".into(), "not UTF-8".into()))?;
        let last = self.last_seq.entry(header.sender).or_insert(0);
        if header.seq <= *last {
            return Err(FrameError::Replay {
                seq: header.seq,
                last: *last,
            });
        }
        *last = header.seq;
        Ok(Envelope {
            sender: header.sender,
            seq: header.seq,
            kind,
            body,
        })
    }

    /// Forget a sender (e.g. a controller that was replaced), so its successor starts afresh.
    pub fn forget(&mut self, sender: &Uuid) {
        self.last_seq.remove(sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair() -> (Sealer, Opener) {
        (
            Sealer::new(b"0123456789abcdef-key", Uuid::new_v4()),
            Opener::new(b"0123456789abcdef-key"),
        )
    }

    #[test]
    fn round_trip() {
        let (mut s, mut o) = pair();
        let frames = s.seal_raw("ping", b"{\"a\":1}".to_vec());
        let env = o.open(frames.to_vec()).unwrap();
        assert_eq!(env.kind, "ping");
        assert_eq!(env.body, b"{\"a\":1}");
        assert_eq!(env.sender, s.sender());
    }

    #[test]
    fn wrong_key_is_refused() {
        let mut s = Sealer::new(b"one-key-0123456789", Uuid::new_v4());
        let mut o = Opener::new(b"another-key-0123456");
        assert_eq!(
            o.open(s.seal_raw("ping", b"{}".to_vec()).to_vec())
                .unwrap_err(),
            FrameError::BadSignature
        );
    }

    #[test]
    fn replay_is_refused() {
        let (mut s, mut o) = pair();
        let first = s.seal_raw("ping", b"{}".to_vec());
        o.open(first.to_vec()).unwrap();
        assert!(matches!(
            o.open(first.to_vec()),
            Err(FrameError::Replay { seq: 1, last: 1 })
        ));
        let second = s.seal_raw("ping", b"{}".to_vec());
        let third = s.seal_raw("ping", b"{}".to_vec());
        o.open(third.to_vec()).unwrap();
        assert!(matches!(
            o.open(second.to_vec()),
            Err(FrameError::Replay { .. })
        ));
    }

    #[test]
    fn oversized_and_misshapen_are_refused_before_verifying() {
        let (mut s, mut o) = pair();
        let mut frames = s.seal_raw("ping", b"{}".to_vec()).to_vec();
        frames[1] = vec![b'k'; 1000];
        assert_eq!(o.open(frames).unwrap_err(), FrameError::Oversized);
        assert_eq!(
            o.open(vec![vec![]; 3]).unwrap_err(),
            FrameError::FrameCount(3)
        );
        let mut frames = s.seal_raw("ping", b"{}".to_vec()).to_vec();
        frames[0] = b"hs/9".to_vec();
        assert_eq!(o.open(frames).unwrap_err(), FrameError::Protocol);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Flipping any bit in any signed frame, or in the MAC, makes verification fail.
        #[test]
        fn any_tamper_is_detected(body in proptest::collection::vec(any::<u8>(), 0..64),
                                  frame in 1usize..5, pos in any::<usize>(), bit in 0u8..8) {
            let (mut s, mut o) = pair();
            let mut frames = s.seal_raw("results", body).to_vec();
            if frames[frame].is_empty() { frames[frame].push(0); } else {
                let i = pos % frames[frame].len();
                frames[frame][i] ^= 1 << bit;
            }
            prop_assert!(o.open(frames).is_err());
        }

        /// Moving a byte from one frame to the next changes the MAC (length prefixes).
        #[test]
        fn frame_boundaries_are_signed(body in proptest::collection::vec(any::<u8>(), 1..32)) {
            let (mut s, mut o) = pair();
            let mut frames = s.seal_raw("results", body).to_vec();
            let b = frames[4].remove(0);
            frames[3].push(b);
            prop_assert!(o.open(frames).is_err());
        }
    }
}
