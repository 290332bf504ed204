//! Stopping a broker from outside.

use std::sync::atomic::{AtomicU8, Ordering};

/// Shared switch checked on every turn of the broker loop (at least every 50 ms). Requests only
/// ever get stronger: drain < stop scheduling < abort.
#[derive(Debug, Default)]
pub struct RunControl(AtomicU8);

const DRAIN: u8 = 1;
const STOP_SCHEDULING: u8 = 2;
const ABORT: u8 = 3;

impl RunControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept no new input; finish what is queued and leased, then stop.
    pub fn drain(&self) {
        self.0.fetch_max(DRAIN, Ordering::SeqCst);
    }

    /// Accept no new input and hand out nothing more; engines hand back what they have not
    /// started and finish what they run; once they have all left, stop. What was not started
    /// stays in the store for a later `--restart` (SIGUSR1).
    pub fn stop_scheduling(&self) {
        self.0.fetch_max(STOP_SCHEDULING, Ordering::SeqCst);
    }

    /// Stop handing out work; wait at most the configured grace for engines to report, then stop.
    pub fn abort(&self) {
        self.0.fetch_max(ABORT, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.0.load(Ordering::SeqCst) >= DRAIN
    }

    pub fn scheduling_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst) >= STOP_SCHEDULING
    }

    pub fn aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst) >= ABORT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_only_get_stronger() {
        let c = RunControl::new();
        c.stop_scheduling();
        c.drain();
        assert!(c.draining() && c.scheduling_stopped() && !c.aborted());
        c.abort();
        c.stop_scheduling();
        assert!(c.aborted());
    }
}
