//! Stopping a broker from outside.

use std::sync::atomic::{AtomicU8, Ordering};

/// Shared switch checked on every turn of the broker loop (at least every 50 ms).
#[derive(Debug, Default)]
pub struct BrokerControl(AtomicU8);

const DRAIN: u8 = 1;
const ABORT: u8 = 2;

impl BrokerControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept no new input; finish what is queued and leased, then stop.
    pub fn drain(&self) {
        self.0.fetch_max(DRAIN, Ordering::SeqCst);
    }

    /// Stop handing out work; wait at most the configured grace for engines to report, then stop.
    pub fn abort(&self) {
        self.0.fetch_max(ABORT, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.0.load(Ordering::SeqCst) >= DRAIN
    }

    pub fn aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst) >= ABORT
    }
}
