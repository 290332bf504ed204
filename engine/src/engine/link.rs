//! The engine's view of its controller: registered or not, when it last heard from it, and when
//! to try registering again.

use std::time::{Duration, Instant};

use uuid::Uuid;

/// First and largest pause between registration attempts.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// Heartbeats that may go missing (a busy controller, a slow link) before queued tasks stop
/// starting.
const MISSED_PINGS: u32 = 4;

/// How long a silence queued tasks may still start through, for a controller that pings every
/// `heartrate` and evicts after `evict_after` of silence: [`MISSED_PINGS`] heartbeats, at most
/// until running tasks are stopped ([`stop_within`]), so nothing starts only to be stopped.
pub fn start_within(heartrate: Duration, evict_after: Duration) -> Duration {
    heartrate
        .saturating_mul(MISSED_PINGS)
        .min(stop_within(evict_after))
}

/// The most a lease stop is made ahead of the controller's eviction time (see [`stop_within`]).
const STOP_MARGIN_MAX: Duration = Duration::from_secs(2);

/// How long a silence the running tasks may go on through, for a controller that evicts after
/// `evict_after` of silence: a quarter of the eviction time (at most [`STOP_MARGIN_MAX`]) less.
///
/// The controller requeues an evicted engine's tasks, so a task still running here after that
/// would run twice. The margin covers what lies between this engine's clock and the
/// controller's (a heartbeat in flight, a late turn of either loop) and the stop itself, whose
/// signals go [`LEASE_STOP_WAIT`](crate::executor::LEASE_STOP_WAIT) apart; a silence shorter
/// than three quarters of the eviction time (a short cut, a busy controller) stops nothing.
pub fn stop_within(evict_after: Duration) -> Duration {
    evict_after - (evict_after / 4).min(STOP_MARGIN_MAX)
}

pub enum Link {
    /// Waiting for a welcome that echoes `nonce`.
    Registering {
        nonce: u64,
        next_attempt: Instant,
        backoff: Duration,
        /// When the engine started looking for a controller (first start or loss).
        since: Instant,
        /// Whether it was ever registered (decides between "unreachable" and "lost").
        ever_registered: bool,
    },
    Registered {
        controller_id: Uuid,
        last_heard: Instant,
        /// When a message last left for the controller (its socket took it). The controller
        /// evicts an engine it has not heard from, so hearing it is not enough: a one-way link
        /// (sends failing, pings still arriving) ends the lease as surely as silence.
        last_sent: Instant,
        evict_after: Duration,
        /// How long a silence queued tasks may still start through: a few heartbeats (at most
        /// the eviction time). A link cut is noticed only by silence, and every task started
        /// after the cut would run again elsewhere once the controller evicts this engine, so
        /// starts stop as soon as pings are overdue rather than when the lease runs out.
        start_within: Duration,
    },
}

impl Link {
    pub fn start(now: Instant, ever_registered: bool) -> Self {
        Link::Registering {
            nonce: rand::random(),
            next_attempt: now,
            backoff: BACKOFF_START,
            since: now,
            ever_registered,
        }
    }

    /// Before an attempt: draw a fresh nonce for it and schedule the next one, with a doubled pause.
    pub fn attempted(&mut self, now: Instant) {
        if let Link::Registering {
            nonce,
            next_attempt,
            backoff,
            ..
        } = self
        {
            *nonce = rand::random();
            *next_attempt = now + *backoff;
            *backoff = (*backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// When the registered controller was last heard from.
    pub fn last_heard(&self) -> Option<Instant> {
        match self {
            Link::Registered { last_heard, .. } => Some(*last_heard),
            Link::Registering { .. } => None,
        }
    }

    /// Count the search for a controller from `start` (the last time it was heard), not from
    /// when its loss was noticed.
    pub fn searching_since(&mut self, start: Instant) {
        if let Link::Registering { since, .. } = self {
            *since = start;
        }
    }

    pub fn is_registered(&self) -> bool {
        matches!(self, Link::Registered { .. })
    }

    pub fn heard(&mut self, now: Instant) {
        if let Link::Registered { last_heard, .. } = self {
            *last_heard = now;
        }
    }

    /// A message left for the controller.
    pub fn sent(&mut self, now: Instant) {
        if let Link::Registered { last_sent, .. } = self {
            *last_sent = now;
        }
    }

    /// Until when the tasks this engine holds are surely still leased to it: the eviction time
    /// after it last heard from its controller or last sent to it, whichever is older. `None`
    /// while it is not registered.
    pub fn lease_until(&self) -> Option<Instant> {
        match self {
            Link::Registered {
                last_heard,
                last_sent,
                start_within,
                ..
            } => Some((*last_heard).min(*last_sent) + *start_within),
            Link::Registering { .. } => None,
        }
    }

    /// When this engine's leases run out if it hears nothing more: from then on the controller
    /// may evict it any moment, so its running tasks must be stopped by then (see
    /// [`stop_within`]). Counted, like [`lease_until`](Self::lease_until), from the older of
    /// hearing and sending. `None` while it is not registered.
    pub fn leases_end(&self) -> Option<Instant> {
        match self {
            Link::Registered {
                last_heard,
                last_sent,
                evict_after,
                ..
            } => Some((*last_heard).min(*last_sent) + stop_within(*evict_after)),
            Link::Registering { .. } => None,
        }
    }

    /// The registered controller has been silent too long.
    pub fn is_lost(&self, now: Instant) -> bool {
        match self {
            Link::Registered {
                last_heard,
                evict_after,
                ..
            } => now.duration_since(*last_heard) > *evict_after,
            Link::Registering { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(now: Instant) -> Link {
        Link::Registered {
            controller_id: Uuid::nil(),
            last_heard: now,
            last_sent: now,
            evict_after: Duration::from_secs(5),
            start_within: start_within(Duration::from_secs(1), Duration::from_secs(5)),
        }
    }

    #[test]
    fn queued_tasks_start_until_a_few_pings_are_missed_after_the_older_of_hearing_and_sending() {
        let start = Instant::now();
        let mut link = registered(start);
        // Pings every second: four may go missing, but starts stop when running tasks do,
        // 3.75 s into a silence the controller ends after 5 s.
        let ms = Duration::from_millis;
        assert_eq!(link.lease_until(), Some(start + ms(3750)));
        // Pings keep arriving but nothing leaves (a one-way link): the controller hears nothing,
        // so starts stop as if the link were silent.
        link.heard(start + ms(3000));
        assert_eq!(link.lease_until(), Some(start + ms(3750)));
        link.sent(start + ms(2000));
        assert_eq!(link.lease_until(), Some(start + ms(5750)));
        assert_eq!(
            Link::start(start, true).lease_until(),
            None,
            "not registered"
        );
    }

    #[test]
    fn running_tasks_stop_before_the_eviction_and_after_starts_stopped() {
        let start = Instant::now();
        let mut link = registered(start);
        let ms = Duration::from_millis;
        // Evicted after 5 s of silence: running tasks stop 1.25 s before, and nothing starts
        // after that either.
        assert_eq!(link.leases_end(), Some(start + ms(3750)));
        assert!(link.lease_until() <= link.leases_end());
        // A short cut (silent for 1 s, then pings again) moves the end on: nothing is stopped.
        link.heard(start + ms(1000));
        link.sent(start + ms(1000));
        assert_eq!(link.leases_end(), Some(start + ms(4750)));
        // Hearing without sending (a one-way link) does not: the controller hears nothing.
        link.heard(start + ms(3000));
        assert_eq!(link.leases_end(), Some(start + ms(4750)));
        assert!(
            !link.is_lost(start + ms(4750)),
            "stopped before it counts as lost"
        );
        assert_eq!(Link::start(start, true).leases_end(), None);

        // The margin: a quarter of the eviction time, at most 2 s, always ahead of it.
        assert_eq!(stop_within(ms(2000)), ms(1500));
        assert_eq!(stop_within(ms(60_000)), ms(58_000));
        for evict in [1, 250, 2000, 5000, 600_000] {
            assert!(stop_within(ms(evict)) < ms(evict));
        }
    }

    #[test]
    fn starts_stop_after_a_few_missed_pings_or_when_running_tasks_stop_whichever_comes_first() {
        let second = Duration::from_secs(1);
        assert_eq!(start_within(second / 4, 2 * second), second);
        assert_eq!(start_within(10 * second, 60 * second), 40 * second);
        assert_eq!(start_within(10 * second, 20 * second), 18 * second);
    }
}
