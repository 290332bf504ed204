//! The hs wire protocol (version 2): a handshake per connection, then sealed multipart ZeroMQ
//! messages.
//!
//! See `docs/protocol.md` for the one-page description. In short, a peer's first messages are
//! a challenge–response handshake on the shared key with fresh nonces on both sides
//! ([`handshake`]); it yields per-session, per-direction keys, and every later message is
//! `[identity] | "hs/2" | mode | counter | payload`, the payload being kind and body encrypted
//! with ChaCha20-Poly1305 (or, with `--no-tls`, in clear with an HMAC), the counter strictly
//! increasing (replays are dropped). Sizes are checked before any cryptography.

mod direction;
pub mod door;
mod frame;
mod handshake;
mod key;
mod message;
mod output;
mod peer;
mod refusals;
mod strength;

pub use direction::{FromClient, FromEngine, Message, ToClient, ToEngine};
pub use frame::{
    Envelope, FrameError, Frames, MAX_FRAME_BYTES, MAX_HANDSHAKE_BYTES, MAX_MESSAGE_BYTES, Mode,
    Opener, PROTOCOL, PingOpener, PingSealer, SESSION_ID_LEN, Sealer, random,
};
pub use handshake::{
    Answered, Initiator, Pending, Responder, Role, Session, is_challenge, is_hello,
};
pub use key::{KeyError, MIN_KEY_BITS, estimate_bits, generate_key, validate_key};
pub use message::*;
pub use output::{
    CHUNK_BYTES, DEFAULT_MAX_OUTPUT, FileKind, OutputAck, OutputData, OutputOffer, OutputOpen,
    OutputRefused,
};
pub use peer::{Incoming, PeerLink};
pub use refusals::{LOG_EVERY, Refusals};
