//! Until when the engine may start the tasks in its queue.
//!
//! A task in the engine's queue is leased to it only as long as the controller has not evicted
//! the engine, and the controller evicts an engine it has not heard from for the eviction time.
//! The engine cannot see that from its side, but it can see the mirror image: once it has heard
//! nothing from its controller for that long, the controller may well have requeued its tasks
//! and handed them to another engine. From then on a slot must not start a queued task, even
//! before the engine loop notices the silence (a process that was frozen, `kill -STOP`, wakes
//! up with its slots and its loop at the same moment, and the slots would win the race).
//!
//! The engine loop sets the deadline after every turn; slots read it before taking a task. It is
//! one atomic word so that reading it costs a slot nothing worth measuring.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// No deadline (a board no engine loop drives, as in unit tests).
const UNLIMITED: u64 = u64::MAX;
/// Nothing may start: the engine is not registered.
const SUSPENDED: u64 = 0;

pub struct LeaseClock {
    epoch: Instant,
    /// Microseconds after `epoch` until which queued tasks may start, or one of the markers above.
    until_us: AtomicU64,
}

impl Default for LeaseClock {
    fn default() -> Self {
        LeaseClock {
            epoch: Instant::now(),
            until_us: AtomicU64::new(UNLIMITED),
        }
    }
}

impl LeaseClock {
    /// Queued tasks may start until `until` (`None`: not registered, nothing may start).
    pub fn set(&self, until: Option<Instant>) {
        let value = match until {
            // Never 0 (the suspended marker), whatever the clock says.
            Some(t) => self.micros(t).max(1),
            None => SUSPENDED,
        };
        self.until_us.store(value, Ordering::Relaxed);
    }

    /// Whether a queued task may start at `now`.
    pub fn allows(&self, now: Instant) -> bool {
        let until = self.until_us.load(Ordering::Relaxed);
        until == UNLIMITED || (until != SUSPENDED && self.micros(now) <= until)
    }

    fn micros(&self, t: Instant) -> u64 {
        let us = t.saturating_duration_since(self.epoch).as_micros();
        u64::try_from(us).unwrap_or(UNLIMITED - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_board_no_loop_drives_always_starts() {
        let clock = LeaseClock::default();
        assert!(clock.allows(Instant::now() + Duration::from_secs(3600)));
    }

    #[test]
    fn nothing_starts_past_the_deadline_or_while_unregistered() {
        let clock = LeaseClock::default();
        let now = Instant::now();
        clock.set(Some(now + Duration::from_secs(1)));
        assert!(clock.allows(now));
        assert!(clock.allows(now + Duration::from_millis(999)));
        assert!(!clock.allows(now + Duration::from_millis(1001)));
        clock.set(None);
        assert!(!clock.allows(now));
        // A deadline at the epoch itself is still a deadline, not "suspended".
        clock.set(Some(clock.epoch));
        assert!(clock.allows(clock.epoch));
    }
}
