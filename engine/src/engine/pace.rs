//! `-R/--ratelimit`: an engine starts at most R tasks per second.
//!
//! HyperShell has each of its N executors hold a task for at least N/R seconds after taking
//! it, sleeping after the task ends. hs keeps the observable meaning (no more than R starts a
//! second, on average and in any stretch of the run) without a sleeping thread: starts are
//! spaced at least 1/R apart on the engine's board, and a slot that would start one early waits
//! on the board for the time left, as it waits for work.

use std::time::{Duration, Instant};

/// When the engine may next start a task.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    interval: Duration,
    /// `None` until the first start.
    next: Option<Instant>,
}

impl Pace {
    /// `rate` tasks per second; `None` for a rate that is not a positive number.
    pub fn per_second(rate: f64) -> Option<Pace> {
        let interval = Duration::try_from_secs_f64(rate.recip()).ok()?;
        (rate.is_finite() && rate > 0.0).then_some(Pace {
            interval,
            next: None,
        })
    }

    /// How long before a task may start at `now`; zero when it may start now.
    pub fn wait(&self, now: Instant) -> Duration {
        self.next
            .map_or(Duration::ZERO, |next| next.saturating_duration_since(now))
    }

    /// A task started at `now` (which [`wait`](Self::wait) allowed). The next may start one
    /// interval after the time this one was due, so the wake-up latency of a waiting slot
    /// does not slow the rate down; one started long after it was due (the engine had no work)
    /// banks nothing: the next still waits a full interval.
    pub fn started(&mut self, now: Instant) {
        let from = match self.next {
            Some(due) if now.saturating_duration_since(due) < self.interval => due,
            _ => now,
        };
        self.next = Some(from + self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_spaced_one_interval_apart_without_banking_idle_time() {
        let mut pace = Pace::per_second(5.0).expect("a rate");
        let t0 = Instant::now();
        let step = Duration::from_millis(200);
        assert_eq!(pace.wait(t0), Duration::ZERO, "the first start is free");
        pace.started(t0);
        assert_eq!(pace.wait(t0), step);
        assert_eq!(
            pace.wait(t0 + Duration::from_millis(50)),
            Duration::from_millis(150)
        );
        // Woken a little late: the next is still due on the original grid.
        pace.started(t0 + step + Duration::from_millis(10));
        assert_eq!(
            pace.wait(t0 + step + Duration::from_millis(10)),
            Duration::from_millis(190)
        );
        // Idle for ten seconds: one start now, then a full interval.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pace.wait(later), Duration::ZERO);
        pace.started(later);
        assert_eq!(pace.wait(later), step);
    }

    #[test]
    fn a_rate_must_be_a_positive_number() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Pace::per_second(bad).is_none(), "{bad}");
        }
        assert!(Pace::per_second(0.5).is_some());
    }
}
