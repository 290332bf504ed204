//! The one way a receiver refuses a message: count it, and log why at most once per peer per
//! [`LOG_EVERY`], so a buggy or hostile peer flooding a socket cannot flood the log too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::FrameError;

/// At most one log line per peer in this long; the next line says how many were not logged.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// Peers remembered for rate limiting. Beyond that (many unauthenticated connections), the
/// peers not heard from in [`LOG_EVERY`] are forgotten, and if that is not enough the rest
/// share one line.
const MOST_PEERS: usize = 4096;

struct Logged {
    at: Instant,
    unlogged: u64,
}

/// Refused messages on one socket (or one role's sockets): how many, and when each peer's
/// refusals were last logged.
pub struct Refusals {
    place: &'static str,
    /// What is refused: "a message", or "a connection" at a door.
    what: &'static str,
    count: u64,
    peers: HashMap<Vec<u8>, Logged>,
}

impl Refusals {
    /// `place` names where messages are refused in the log line ("the engine socket").
    pub fn new(place: &'static str) -> Self {
        Refusals {
            place,
            what: "a message",
            count: 0,
            peers: HashMap::new(),
        }
    }

    /// Refused connections rather than messages, at `place` ("the engine port"); a peer is
    /// then its network address.
    pub fn connections(place: &'static str) -> Self {
        Refusals {
            what: "a connection",
            ..Refusals::new(place)
        }
    }

    /// Every message (or connection) refused so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Count a refusal of a message from `peer` (its routing identity, or its signed sender id)
    /// and log it unless this peer's refusals were logged less than [`LOG_EVERY`] ago.
    /// Only the reason is logged, never the message's bytes.
    pub fn refuse(&mut self, peer: &[u8], why: &FrameError, now: Instant) {
        self.count += 1;
        let key = self.key_for(peer, now);
        let entry = self.peers.get_mut(&key);
        let unlogged = match entry {
            Some(seen) if now.saturating_duration_since(seen.at) < LOG_EVERY => {
                seen.unlogged += 1;
                return;
            }
            Some(seen) => std::mem::take(&mut seen.unlogged),
            None => 0,
        };
        self.peers.insert(
            key,
            Logged {
                at: now,
                unlogged: 0,
            },
        );
        let who = match Uuid::from_slice(peer) {
            Ok(id) => format!("from {id}"),
            Err(_) if !peer.is_empty() && peer.iter().all(u8::is_ascii_graphic) => {
                format!("from {}", String::from_utf8_lossy(peer))
            }
            Err(_) => "from a peer with no id".to_string(),
        };
        let more = if unlogged > 0 {
            format!(" ({unlogged} more refused since the last report)")
        } else {
            String::new()
        };
        tracing::warn!("dropped {} on {} {who}: {why}{more}", self.what, self.place);
    }

    /// The key `peer`'s refusals are filed under: its own while there is room for it.
    fn key_for(&mut self, peer: &[u8], now: Instant) -> Vec<u8> {
        if self.peers.contains_key(peer) || self.peers.len() < MOST_PEERS {
            return peer.to_vec();
        }
        self.peers
            .retain(|_, seen| now.saturating_duration_since(seen.at) < LOG_EVERY);
        if self.peers.len() < MOST_PEERS {
            peer.to_vec()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_counts_but_a_peer_is_logged_once_a_minute() {
        let mut r = Refusals::new("a test socket");
        let t0 = Instant::now();
        let why = FrameError::UnknownKind("nonsense".into());
        let a = Uuid::new_v4();
        for i in 0..5 {
            r.refuse(a.as_bytes(), &why, t0 + Duration::from_secs(i));
        }
        assert_eq!(r.count(), 5);
        assert_eq!(r.peers[a.as_bytes().as_slice()].unlogged, 4);
        r.refuse(a.as_bytes(), &why, t0 + LOG_EVERY);
        let seen = &r.peers[a.as_bytes().as_slice()];
        assert_eq!((seen.unlogged, seen.at), (0, t0 + LOG_EVERY));
        r.refuse(b"other", &why, t0);
        assert_eq!((r.count(), r.peers.len()), (7, 2));
    }

    #[test]
    fn memory_stays_bounded_under_many_peers() {
        let mut r = Refusals::new("a test socket");
        let now = Instant::now();
        for i in 0..(MOST_PEERS as u32 + 100) {
            r.refuse(&i.to_be_bytes(), &FrameError::BadSignature, now);
        }
        assert!(r.peers.len() <= MOST_PEERS + 1);
        assert_eq!(r.count(), MOST_PEERS as u64 + 100);
    }
}
