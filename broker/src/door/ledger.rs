//! The door's memory of the credentials it admitted: each opens a door once, and only within
//! [`door::WINDOW`] of the time it names, so a credential seen on the wire, or recorded in an
//! earlier run, opens nothing (see `hs_engine::protocol::door`).

use std::collections::{HashSet, VecDeque};

use hs_engine::protocol::door::{self, Stamp};

/// What the door makes of a credential that proves the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Open,
    /// Admitted before: replayed, or a socket's reconnect.
    Used,
    /// Its time is more than the window away from the controller's clock.
    OutOfDate,
}

/// Credentials admitted within the last two windows. One admitted at `t` names a time of at
/// least `t - WINDOW`, so from `t + 2 * WINDOW` on it is out of date and need not be
/// remembered: the ledger holds only what was admitted in that span, in the order admitted.
pub struct Ledger {
    window_ms: u64,
    seen: HashSet<[u8; 16]>,
    /// Each remembered nonce with the time (controller's clock) it may be forgotten.
    order: VecDeque<(u64, [u8; 16])>,
    /// Most credentials remembered: past it the oldest is forgotten first (a key holder opening
    /// connections faster than this per two windows could then replay its own).
    capacity: usize,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new(window_ms(door::WINDOW), 1 << 20)
    }
}

fn window_ms(window: std::time::Duration) -> u64 {
    u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
}

impl Ledger {
    pub fn new(window_ms: u64, capacity: usize) -> Ledger {
        Ledger {
            window_ms,
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Admit `stamp` at `now` (Unix milliseconds, this host's clock), once.
    pub fn admit(&mut self, stamp: Stamp, now: u64) -> Admission {
        self.forget_before(now);
        if stamp.made.abs_diff(now) > self.window_ms {
            return Admission::OutOfDate;
        }
        if !self.seen.insert(stamp.nonce) {
            return Admission::Used;
        }
        if self.order.len() >= self.capacity
            && let Some((_, oldest)) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        let forget_at = now.saturating_add(2 * self.window_ms);
        self.order.push_back((forget_at, stamp.nonce));
        Admission::Open
    }

    /// How many credentials are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    fn forget_before(&mut self, now: u64) {
        while let Some(&(forget_at, nonce)) = self.order.front() {
            if forget_at > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&nonce);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(n: u8, made: u64) -> Stamp {
        Stamp {
            nonce: [n; 16],
            made,
        }
    }

    const W: u64 = 300_000;
    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn a_credential_opens_once() {
        let mut ledger = Ledger::new(W, 100);
        assert_eq!(ledger.admit(stamp(1, NOW), NOW), Admission::Open);
        assert_eq!(ledger.admit(stamp(1, NOW), NOW + 5), Admission::Used);
        assert_eq!(ledger.admit(stamp(2, NOW), NOW + 5), Admission::Open);
    }

    #[test]
    fn only_credentials_within_the_window_open() {
        let mut ledger = Ledger::new(W, 100);
        assert_eq!(
            ledger.admit(stamp(1, NOW - W - 1), NOW),
            Admission::OutOfDate
        );
        assert_eq!(
            ledger.admit(stamp(2, NOW + W + 1), NOW),
            Admission::OutOfDate
        );
        assert_eq!(ledger.admit(stamp(3, NOW - W), NOW), Admission::Open);
        assert_eq!(ledger.admit(stamp(4, NOW + W), NOW), Admission::Open);
        assert_eq!(ledger.len(), 2, "refused ones are not remembered");
    }

    #[test]
    fn what_is_forgotten_is_out_of_date_by_then() {
        let mut ledger = Ledger::new(W, 100);
        // Made as far ahead as the window allows: it stays in date the longest.
        assert_eq!(ledger.admit(stamp(1, NOW + W), NOW), Admission::Open);
        let last_in_date = NOW + 2 * W;
        assert_eq!(
            ledger.admit(stamp(1, NOW + W), last_in_date - 1),
            Admission::Used
        );
        assert_eq!(ledger.len(), 1);
        assert_eq!(
            ledger.admit(stamp(1, NOW + W), last_in_date + 1),
            Admission::OutOfDate
        );
        assert_eq!(ledger.len(), 0, "forgotten once out of date");
    }

    #[test]
    fn a_full_ledger_forgets_its_oldest() {
        let mut ledger = Ledger::new(W, 2);
        for n in 1..=3 {
            assert_eq!(ledger.admit(stamp(n, NOW), NOW), Admission::Open);
        }
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.admit(stamp(3, NOW), NOW), Admission::Used);
        assert_eq!(ledger.admit(stamp(2, NOW), NOW), Admission::Used);
    }
}
