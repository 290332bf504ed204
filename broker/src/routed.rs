//! Reading a ROUTER socket without copying what will be dropped.
//!
//! A connection without a session may send only handshake messages, a few dozen bytes each.
//! Under a flood of such connections sending frames of the largest size, copying every frame
//! out of libzmq only to drop it was a large part of what the flood cost the controller. Here a
//! frame larger than a handshake's, from a routing id without a session, ends the message's
//! reading: its remaining frames are received into the same buffer and left there, and the
//! message is counted as refused (a frame too large for a connection without a session).

use std::time::Instant;

use hs_engine::protocol::{FrameError, MAX_HANDSHAKE_BYTES, Refusals};

use crate::broker::RunError;
use crate::sessions::Sessions;

/// A message from a ROUTER socket: the peer's routing identity and the frames after it.
pub type Routed = (Vec<u8>, Vec<Vec<u8>>);

/// The messages waiting on `socket` (at most `batch`), each as its peer's routing identity and
/// the frames after it. A message dropped unread is counted in `refusals` instead. `peers`
/// names the socket in errors.
pub fn receive(
    socket: &zmq::Socket,
    batch: usize,
    peers: &str,
    sessions: &Sessions,
    refusals: &mut Refusals,
) -> Result<Vec<Routed>, RunError> {
    let failed = |source| RunError::Zmq {
        context: format!("receiving from {peers}"),
        source,
    };
    let mut received = Vec::new();
    let mut read = 0;
    let mut part = zmq::Message::new();
    while read < batch {
        match socket.recv(&mut part, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => break,
            Err(e) => return Err(failed(e)),
        }
        read += 1;
        let route = part.to_vec();
        let mut frames = Vec::new();
        let mut dropped = false;
        while part.get_more() {
            socket.recv(&mut part, 0).map_err(failed)?;
            if dropped {
                continue;
            }
            if part.len() > MAX_HANDSHAKE_BYTES && !sessions.has_session(&route) {
                dropped = true;
                frames.clear();
                continue;
            }
            frames.push(part.to_vec());
        }
        if dropped {
            refusals.refuse(&route, &FrameError::Oversized, Instant::now());
        } else {
            received.push((route, frames));
        }
    }
    Ok(received)
}
