//! Hooks for the fuzz targets in `fuzz/`; not part of the API.
//!
//! A real session's keys come from a handshake with random nonces and never leave it, so no
//! input a fuzzer makes could get past the seal and reach the parsing behind it. These sessions
//! use keys the fuzzer chooses.

use crate::protocol::{Mode, Opener, SESSION_ID_LEN, Sealer};

/// One direction of a session under `key` and `session`: its sealing and its opening side.
pub fn session(key: &[u8; 32], session: &[u8; SESSION_ID_LEN], mode: Mode) -> (Sealer, Opener) {
    (
        Sealer::new(key, session, mode),
        Opener::new(key, session, mode),
    )
}
