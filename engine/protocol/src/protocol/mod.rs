//! The hs wire protocol (version 1): signed multipart ZeroMQ messages.
//!
//! See `docs/protocol.md` for the one-page description. In short, every message is
//! `[identity] | "hs/1" | kind | HMAC-SHA256 | header JSON | body JSON`, where the MAC covers
//! every frame except the identity and the MAC itself, the header carries the sender's id and a
//! strictly increasing sequence number (replays are dropped), and frame sizes are checked before
//! anything is parsed.

mod direction;
mod frame;
mod key;
mod message;
mod refusals;
mod strength;

pub use direction::{FromClient, FromEngine, Message, ToClient, ToEngine};
pub use frame::{Envelope, FrameError, MAX_FRAME_BYTES, Opener, PROTOCOL, Sealer};
pub use key::{KeyError, MIN_KEY_BITS, estimate_bits, generate_key, validate_key};
pub use message::*;
pub use refusals::{LOG_EVERY, Refusals};
