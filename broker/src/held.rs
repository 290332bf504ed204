//! Messages sealed for a client whose connection is down, kept until it is heard again.
//!
//! A client's session outlives its connection: when the network drops it, the client opens a
//! new one with the same routing id and goes on (see `hs_client`'s link). What the controller
//! sealed for it in between (results it watches, above all) could not be sent, and would show
//! at the client as skipped counters, which it must treat as results lost. So such messages are
//! kept, in order, and sent as soon as anything arrives from that routing id again: only a key
//! holder gets a connection past the door, so that is the client back. A client whose queue is
//! full (it does not read) has its next messages kept the same way. Bounded per client, past
//! which a message is dropped (the client learns of it from the gap), and in all, past which
//! the client kept waiting longest is given up (it is likely gone for good).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use hs_engine::protocol::Frames;

/// Messages kept for one client at most.
const MOST_PER_CLIENT: usize = 1_024;
/// Bytes kept for all clients together at most.
const MOST_BYTES: usize = 64 << 20;

pub struct Held {
    /// Per routing id, since when messages wait for it, and the messages (frames after the
    /// routing id) in the order sealed.
    waiting: HashMap<Vec<u8>, (Instant, VecDeque<Frames>)>,
    bytes: usize,
    most_bytes: usize,
}

fn size(frames: &Frames) -> usize {
    frames.iter().map(Vec::len).sum()
}

impl Default for Held {
    fn default() -> Self {
        Held::new(MOST_BYTES)
    }
}

impl Held {
    fn new(most_bytes: usize) -> Held {
        Held {
            waiting: HashMap::new(),
            bytes: 0,
            most_bytes,
        }
    }

    /// Whether messages wait for `route` (a new one must queue behind them, to keep order).
    pub fn has(&self, route: &[u8]) -> bool {
        // Almost always nothing waits: no hashing of the route per message then.
        !self.waiting.is_empty() && self.waiting.contains_key(route)
    }

    /// Keep `frames` for `route`; false if a bound dropped it.
    pub fn keep(&mut self, route: &[u8], frames: Frames) -> bool {
        let bytes = size(&frames);
        if bytes > self.most_bytes
            || self
                .waiting
                .get(route)
                .is_some_and(|(_, q)| q.len() >= MOST_PER_CLIENT)
        {
            return false;
        }
        while self.bytes + bytes > self.most_bytes && self.give_up_longest_waiting(route) {}
        if self.bytes + bytes > self.most_bytes {
            return false;
        }
        let (_, queue) = self
            .waiting
            .entry(route.to_vec())
            .or_insert_with(|| (Instant::now(), VecDeque::new()));
        queue.push_back(frames);
        self.bytes += bytes;
        true
    }

    /// Forget what waits for the client (other than `keeping`) that has waited longest; false
    /// if there is none.
    fn give_up_longest_waiting(&mut self, keeping: &[u8]) -> bool {
        let Some(route) = self
            .waiting
            .iter()
            .filter(|(r, _)| r.as_slice() != keeping)
            .min_by_key(|(_, (since, _))| *since)
            .map(|(r, _)| r.clone())
        else {
            return false;
        };
        if let Some((_, queue)) = self.waiting.remove(&route) {
            self.bytes -= queue.iter().map(size).sum::<usize>();
        }
        true
    }

    /// Send what waits for `route` with `send`, in order, until it fails: what failed (and
    /// what follows it) waits on.
    pub fn flush(&mut self, route: &[u8], mut send: impl FnMut(Frames) -> Result<(), Frames>) {
        let Some((since, mut queue)) = self.waiting.remove(route) else {
            return;
        };
        while let Some(frames) = queue.pop_front() {
            let bytes = size(&frames);
            match send(frames) {
                Ok(()) => self.bytes -= bytes,
                Err(frames) => {
                    queue.push_front(frames);
                    self.waiting.insert(route.to_vec(), (since, queue));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u8) -> Frames {
        vec![vec![n; 10]]
    }

    #[test]
    fn kept_messages_go_in_order_once_the_client_takes_them() {
        let mut held = Held::default();
        assert!(!held.has(b"r"));
        for n in 1..=3 {
            assert!(held.keep(b"r", msg(n)));
        }
        assert!(held.has(b"r"));
        let mut sent = Vec::new();
        // The connection takes one, then is gone again: the rest wait, in order.
        held.flush(b"r", |f| {
            if sent.is_empty() {
                sent.push(f);
                Ok(())
            } else {
                Err(f)
            }
        });
        assert_eq!(sent, vec![msg(1)]);
        held.flush(b"r", |f| {
            sent.push(f);
            Ok(())
        });
        assert_eq!(sent, vec![msg(1), msg(2), msg(3)]);
        assert!(!held.has(b"r"));
        assert_eq!(held.bytes, 0);
    }

    #[test]
    fn a_client_gets_at_most_its_share() {
        let mut held = Held::default();
        for n in 0..MOST_PER_CLIENT {
            assert!(held.keep(b"r", msg(n as u8)));
        }
        assert!(!held.keep(b"r", msg(0)), "dropped past the bound");
        assert!(
            held.keep(b"other", msg(0)),
            "another client is not held back"
        );
    }

    #[test]
    fn when_all_is_full_the_client_kept_waiting_longest_is_given_up() {
        let mut held = Held::new(25);
        assert!(held.keep(b"gone", msg(1)));
        assert!(held.keep(b"gone", msg(2)));
        assert!(held.keep(b"back", msg(3)));
        assert!(!held.has(b"gone"), "made room");
        assert!(held.has(b"back"));
        assert_eq!(held.bytes, 10);
        assert!(!held.keep(b"back", vec![vec![0; 26]]), "larger than all");
    }
}
