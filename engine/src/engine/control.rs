//! Stopping an engine from outside (signal handlers, an in-process cluster, tests).

use std::sync::atomic::{AtomicU8, Ordering};

/// How the engine should stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum StopMode {
    /// Keep working.
    Run = 0,
    /// Take no new work; finish what is held, report it, leave.
    Drain = 1,
    /// Stop running tasks now (SIGINT → SIGTERM → SIGKILL), hand unstarted and interrupted
    /// tasks back to the controller, leave.
    Abort = 2,
}

/// A shared switch the engine loop checks on every turn (at least every 50 ms).
#[derive(Debug, Default)]
pub struct EngineControl(AtomicU8);

impl EngineControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask for `mode`; a stronger request is never weakened by a later, weaker one.
    pub fn request(&self, mode: StopMode) {
        self.0.fetch_max(mode as u8, Ordering::SeqCst);
    }

    pub fn mode(&self) -> StopMode {
        match self.0.load(Ordering::SeqCst) {
            0 => StopMode::Run,
            1 => StopMode::Drain,
            _ => StopMode::Abort,
        }
    }
}
