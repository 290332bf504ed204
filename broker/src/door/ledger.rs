//! The door's memory of the credentials it admitted: each opens a door once, and only within
//! [`door::WINDOW`] of the time it names, so a credential seen on the wire, or recorded in an
//! earlier run, opens nothing (see `hs_engine::protocol::door`).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

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
/// least `t - WINDOW`, so after `t + 2 * WINDOW` it is out of date and need not be remembered:
/// the ledger holds only what was admitted in that span, in the order admitted.
///
/// The window is judged by the wall clock (it is the peers' clocks a credential is compared
/// with). An entry is forgotten only once both clocks say so: two windows have passed by the
/// monotonic clock, and its time is out of the window by the wall clock, so that a wall clock
/// stepped forward, or back, never lets a credential that is in date be admitted again.
pub struct Ledger {
    window_ms: u64,
    seen: HashSet<[u8; 16]>,
    /// Each remembered credential, in the order admitted: the moment it may be forgotten, and
    /// its stamp.
    order: VecDeque<(Instant, Stamp)>,
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

    /// Admit `stamp`, once, at `wall` (Unix milliseconds by this host's clock), which is the
    /// moment `at`.
    pub fn admit(&mut self, stamp: Stamp, wall: u64, at: Instant) -> Admission {
        self.forget_by(wall, at);
        if stamp.made.abs_diff(wall) > self.window_ms {
            return Admission::OutOfDate;
        }
        if !self.seen.insert(stamp.nonce) {
            return Admission::Used;
        }
        if self.order.len() >= self.capacity
            && let Some((_, oldest)) = self.order.pop_front()
        {
            self.seen.remove(&oldest.nonce);
        }
        // A millisecond more than two windows, so that at no moment is an entry forgotten while
        // its credential is still in date.
        let keep = Duration::from_millis(2 * self.window_ms + 1);
        self.order.push_back((at + keep, stamp));
        Admission::Open
    }

    /// How many credentials are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    fn forget_by(&mut self, wall: u64, at: Instant) {
        while let Some(&(forget_at, stamp)) = self.order.front() {
            if forget_at > at || stamp.made.abs_diff(wall) <= self.window_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&stamp.nonce);
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

    /// `ms` milliseconds after `start`, by both clocks.
    fn after(start: Instant, ms: u64) -> (u64, Instant) {
        (NOW + ms, start + Duration::from_millis(ms))
    }

    #[test]
    fn a_credential_opens_once() {
        let mut ledger = Ledger::new(W, 100);
        let t = Instant::now();
        assert_eq!(ledger.admit(stamp(1, NOW), NOW, t), Admission::Open);
        let (wall, at) = after(t, 5);
        assert_eq!(ledger.admit(stamp(1, NOW), wall, at), Admission::Used);
        assert_eq!(ledger.admit(stamp(2, NOW), wall, at), Admission::Open);
    }

    #[test]
    fn only_credentials_within_the_window_open() {
        let mut ledger = Ledger::new(W, 100);
        let t = Instant::now();
        assert_eq!(
            ledger.admit(stamp(1, NOW - W - 1), NOW, t),
            Admission::OutOfDate
        );
        assert_eq!(
            ledger.admit(stamp(2, NOW + W + 1), NOW, t),
            Admission::OutOfDate
        );
        assert_eq!(ledger.admit(stamp(3, NOW - W), NOW, t), Admission::Open);
        assert_eq!(ledger.admit(stamp(4, NOW + W), NOW, t), Admission::Open);
        assert_eq!(ledger.len(), 2, "refused ones are not remembered");
    }

    #[test]
    fn nothing_is_forgotten_while_it_is_in_date() {
        let mut ledger = Ledger::new(W, 100);
        let t = Instant::now();
        // Made as far ahead as the window allows: it stays in date the longest.
        assert_eq!(ledger.admit(stamp(1, NOW + W), NOW, t), Admission::Open);
        for ms in [2 * W - 1, 2 * W] {
            let (wall, at) = after(t, ms);
            assert_eq!(
                ledger.admit(stamp(1, NOW + W), wall, at),
                Admission::Used,
                "{ms}"
            );
        }
        let (wall, at) = after(t, 2 * W + 1);
        assert_eq!(
            ledger.admit(stamp(1, NOW + W), wall, at),
            Admission::OutOfDate
        );
        assert_eq!(ledger.len(), 0, "forgotten once out of date");
    }

    #[test]
    fn a_wall_clock_stepped_back_forgets_nothing_in_date() {
        let mut ledger = Ledger::new(W, 100);
        let t = Instant::now();
        assert_eq!(ledger.admit(stamp(1, NOW), NOW, t), Admission::Open);
        // Two windows later by the monotonic clock, but the wall clock was stepped back: the
        // credential is in date again, and still remembered.
        let at = t + Duration::from_millis(2 * W + 10);
        assert_eq!(ledger.admit(stamp(1, NOW), NOW + 10, at), Admission::Used);
        assert_eq!(ledger.len(), 1);
    }

    #[test]
    fn a_wall_clock_stepped_forward_and_back_forgets_nothing() {
        let mut ledger = Ledger::new(W, 100);
        let t = Instant::now();
        assert_eq!(ledger.admit(stamp(1, NOW), NOW, t), Admission::Open);
        // An hour ahead for a moment: out of date then, and not forgotten for it.
        let at = t + Duration::from_millis(10);
        assert_eq!(
            ledger.admit(stamp(2, NOW), NOW + 3_600_000, at),
            Admission::OutOfDate
        );
        assert_eq!(ledger.admit(stamp(1, NOW), NOW + 20, at), Admission::Used);
    }

    #[test]
    fn a_full_ledger_forgets_its_oldest() {
        let mut ledger = Ledger::new(W, 2);
        let t = Instant::now();
        for n in 1..=3 {
            assert_eq!(ledger.admit(stamp(n, NOW), NOW, t), Admission::Open);
        }
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.admit(stamp(3, NOW), NOW, t), Admission::Used);
        assert_eq!(ledger.admit(stamp(2, NOW), NOW, t), Admission::Used);
        assert_eq!(
            ledger.admit(stamp(1, NOW), NOW, t),
            Admission::Open,
            "the oldest went"
        );
    }
}
