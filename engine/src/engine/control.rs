//! Stopping an engine from outside (signal handlers, an in-process cluster, tests).

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How the engine should stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum StopMode {
    /// Keep working.
    Run = 0,
    /// Take no new work and hand the tasks not started yet back to the controller at once, so
    /// other engines run them; finish the running ones, report them, leave (SIGUSR1).
    Drain = 1,
    /// Stop running tasks now (SIGINT → SIGTERM → SIGKILL), hand unstarted and interrupted
    /// tasks back to the controller, leave (SIGUSR2, Ctrl-C).
    Abort = 2,
}

/// A shared switch the engine loop checks on every turn (at least every 50 ms).
#[derive(Debug, Default)]
pub struct EngineControl {
    mode: AtomicU8,
    /// The signal that asked for the stop, if one did (0: none).
    signal: AtomicI32,
}

impl EngineControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask for `mode`; a stronger request is never weakened by a later, weaker one.
    pub fn request(&self, mode: StopMode) {
        self.mode.fetch_max(mode as u8, Ordering::SeqCst);
    }

    /// Ask for `mode` because the process got `signal`. Under a batch system the same signal
    /// may reach the engine's tasks too (Slurm signals every process of a job step): a task it
    /// kills is then handed back rather than reported as failed (see the engine loop).
    pub fn request_by_signal(&self, mode: StopMode, signal: i32) {
        self.signal.store(signal, Ordering::SeqCst);
        self.request(mode);
    }

    pub fn mode(&self) -> StopMode {
        match self.mode.load(Ordering::SeqCst) {
            0 => StopMode::Run,
            1 => StopMode::Drain,
            _ => StopMode::Abort,
        }
    }

    /// The signal given to [`request_by_signal`](Self::request_by_signal), if any.
    pub fn signal(&self) -> Option<i32> {
        Some(self.signal.load(Ordering::SeqCst)).filter(|s| *s != 0)
    }
}

/// Sleep `delay` before an engine starts (`--delay-start`), in short steps so that `stop` (an
/// interrupt, a cluster that ended meanwhile) cuts the wait short.
pub fn wait_to_start(delay: Duration, stop: &dyn Fn() -> bool) {
    if delay.is_zero() {
        return;
    }
    tracing::debug!("waiting {:.2}s before connecting", delay.as_secs_f64());
    let until = Instant::now().checked_add(delay);
    loop {
        let now = Instant::now();
        let left = until.map_or(Duration::MAX, |u| u.saturating_duration_since(now));
        if left.is_zero() || stop() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stronger_request_is_never_weakened() {
        let c = EngineControl::new();
        assert_eq!((c.mode(), c.signal()), (StopMode::Run, None));
        c.request_by_signal(StopMode::Abort, libc::SIGUSR2);
        c.request_by_signal(StopMode::Drain, libc::SIGUSR1);
        assert_eq!(c.mode(), StopMode::Abort);
        assert_eq!(c.signal(), Some(libc::SIGUSR1));
    }
}
