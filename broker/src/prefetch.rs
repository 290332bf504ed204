//! How many tasks an engine may hold at once: its slots, plus a prefetch so that no slot waits
//! for a round trip to the controller between two tasks.
//!
//! A prefetch set by the caller ([`ControllerConfig::prefetch`](crate::ControllerConfig)) is used as it
//! is. Otherwise it follows how long the engine's tasks take: before any has finished it is
//! twice the slots (at least 16); then it is enough queued work for about [`LOOKAHEAD`] per slot,
//! between one and [`MOST_PER_SLOT`] tasks per slot. Engines report results once half of what
//! they hold is done, so short tasks travel in large bundles — far fewer messages and wake-ups
//! per task in both directions — while long tasks keep a prefetch of one per slot, and at the end
//! of a run no engine sits on a queue of long tasks another engine could be running.

use std::time::Duration;

/// About how much queued work per slot an engine of short tasks may hold. This bounds what a run
/// can lose to imbalance at its end (one engine still working through its queue while others
/// are idle), and what a killed engine's queue sends back to be dispatched again.
pub const LOOKAHEAD: Duration = Duration::from_millis(100);

/// The most tasks per slot an engine may hold beyond its running ones, however short they are.
pub const MOST_PER_SLOT: u32 = 64;

/// The weight of the newest run time in an engine's running mean.
const NEWEST_WEIGHT: f64 = 0.1;

/// The running mean of how long an engine's tasks take to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunTime {
    mean_secs: Option<f64>,
}

impl RunTime {
    /// Count one more task that ran for `took`.
    pub fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        self.mean_secs = Some(match self.mean_secs {
            None => secs,
            Some(mean) => mean + NEWEST_WEIGHT * (secs - mean),
        });
    }

    /// The mean, once a task has finished.
    pub fn mean(&self) -> Option<Duration> {
        self.mean_secs.map(Duration::from_secs_f64)
    }
}

/// Slots plus prefetch for an engine of `slots` slots: `fixed` if the caller set one, else
/// from the mean run time of its tasks (see the module documentation).
pub fn capacity(slots: u32, fixed: Option<u32>, runs: &RunTime) -> u32 {
    let prefetch = match (fixed, runs.mean_secs) {
        (Some(fixed), _) => fixed,
        (None, None) => slots.saturating_mul(2).max(16),
        (None, Some(mean)) => {
            let per_slot = LOOKAHEAD.as_secs_f64() / mean.max(f64::MIN_POSITIVE);
            let per_slot = per_slot.clamp(1.0, f64::from(MOST_PER_SLOT)) as u32;
            slots.saturating_mul(per_slot)
        }
    };
    slots.saturating_add(prefetch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(runs: &[Duration]) -> RunTime {
        let mut r = RunTime::default();
        for took in runs {
            r.observe(*took);
        }
        r
    }

    #[test]
    fn a_fixed_prefetch_is_kept() {
        let short = after(&[Duration::from_micros(100); 20]);
        assert_eq!(capacity(4, Some(4), &short), 8);
        assert_eq!(capacity(4, Some(0), &short), 4);
    }

    #[test]
    fn before_any_result_it_is_twice_the_slots_and_at_least_16() {
        assert_eq!(capacity(2, None, &RunTime::default()), 2 + 16);
        assert_eq!(capacity(64, None, &RunTime::default()), 64 + 128);
    }

    #[test]
    fn short_tasks_fill_the_lookahead_up_to_the_most_per_slot() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(capacity(2, None, &after(&[ms(10); 5])), 2 + 2 * 10);
        assert_eq!(
            capacity(2, None, &after(&[ms(1); 5])),
            2 + 2 * MOST_PER_SLOT
        );
        assert_eq!(
            capacity(2, None, &after(&[Duration::ZERO; 5])),
            2 + 2 * MOST_PER_SLOT
        );
    }

    #[test]
    fn long_tasks_keep_one_per_slot() {
        let long = after(&[Duration::from_secs(3600); 3]);
        assert_eq!(capacity(8, None, &long), 16);
    }

    #[test]
    fn the_capacity_follows_the_recent_run_times() {
        let mut r = after(&[Duration::from_secs(1); 10]);
        assert_eq!(capacity(2, None, &r), 2 + 2, "tasks of 1 s: one per slot");
        for _ in 0..60 {
            r.observe(Duration::from_millis(1));
        }
        // The mean is under 3 ms after 60 tasks of 1 ms: over 16 per slot.
        assert!(capacity(2, None, &r) >= 2 + 2 * 16, "{r:?}");
    }
}
