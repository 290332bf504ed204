//! The per-slot stop signal: how the engine (timeouts aside) tells a running task to stop.
//!
//! A slot's thread spends its time blocked in poll(2) waiting for its child, so a flag alone would
//! only be noticed at the next wake-up. The signal therefore pairs the reason with a Linux eventfd
//! that the executor polls next to the child's pidfd: triggering it wakes the thread at once.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use super::sys;

/// The pause between the signals of a stop for [`StopReason::LeaseLost`] (or `signalwait`, if
/// shorter): the whole escalation must end before the controller's eviction time has passed.
pub const LEASE_STOP_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Why hs stopped a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The task's walltime ran out.
    Timeout,
    /// The task was cancelled (by the user or the broker).
    Cancel,
    /// The engine is shutting down.
    Shutdown,
    /// The engine has not heard from its controller for nearly the eviction time: the
    /// controller may requeue the task any moment, so it is stopped before that can happen
    /// (with the short [`LEASE_STOP_WAIT`] between signals, not `signalwait`).
    LeaseLost,
    /// A captured output stream went over its limit ([`Capture`](super::Capture)); only the
    /// executor itself stops a run for this, and only runs that capture (`{% %}` commands).
    OutputLimit,
}

/// One per executor slot; `Send + Sync`, share it by reference or in an `Arc`.
///
/// The first [`trigger`](Self::trigger) wins: its reason sticks, and the eventfd stays readable,
/// until [`reset`](Self::reset). Consequently a signal triggered while the slot is idle is *not*
/// lost: the next run on that slot stops immediately (without even starting bash) and reports
/// `Exit::Stopped { reason, signal: None, code: None }` with `started: None`, unless the signal is
/// reset first. When to reset is the engine's choice: resetting before each task drops a stop
/// aimed at the previous one; resetting after each run lets a stop that arrives between two tasks
/// apply to the next.
#[derive(Debug)]
pub struct StopSignal {
    /// The sticky reason. The mutex also orders `trigger` against `reset`, so the eventfd is
    /// readable exactly when a reason is set.
    reason: Mutex<Option<StopReason>>,
    /// Readable while a reason is set; polled by the executor.
    event: OwnedFd,
}

impl StopSignal {
    /// A fresh, untriggered signal (one eventfd).
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            reason: Mutex::new(None),
            event: sys::eventfd()?,
        })
    }

    /// Asks the task running on this slot (or the next one, see the type docs) to stop. Only the
    /// first reason since the last reset is kept.
    pub fn trigger(&self, reason: StopReason) {
        let mut current = self.lock();
        if current.is_none() {
            *current = Some(reason);
            sys::eventfd_add(self.event.as_fd());
        }
    }

    /// The reason of the pending stop, if any.
    pub fn reason(&self) -> Option<StopReason> {
        *self.lock()
    }

    /// Clears the reason and drains the eventfd, so the next run starts normally.
    pub fn reset(&self) {
        // Readable exactly when a reason is set (both change under the lock), so the read is
        // only needed then: slots reset before every task, almost always with nothing pending.
        if self.lock().take().is_some() {
            sys::eventfd_drain(self.event.as_fd());
        }
    }

    /// The eventfd to poll for POLLIN; readable while a stop is pending.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.event.as_fd()
    }

    /// A panic while holding this lock cannot leave the `Option` half-written, so poisoning is
    /// ignored rather than propagated into every slot.
    fn lock(&self) -> MutexGuard<'_, Option<StopReason>> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(stop: &StopSignal) -> bool {
        let mut fds = [libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&stop.fd()),
            events: libc::POLLIN,
            revents: 0,
        }];
        sys::poll(&mut fds, Some(std::time::Duration::ZERO)).expect("poll") == 1
    }

    #[test]
    fn first_reason_sticks_until_reset() {
        let stop = StopSignal::new().expect("eventfd");
        assert_eq!(stop.reason(), None);
        assert!(!readable(&stop));
        stop.trigger(StopReason::Cancel);
        stop.trigger(StopReason::Shutdown);
        assert_eq!(stop.reason(), Some(StopReason::Cancel));
        assert!(readable(&stop));
        stop.reset();
        assert_eq!(stop.reason(), None);
        assert!(!readable(&stop), "reset must drain the eventfd");
        stop.trigger(StopReason::Shutdown);
        assert_eq!(stop.reason(), Some(StopReason::Shutdown));
    }

    #[test]
    fn trigger_from_another_thread_wakes_poll() {
        let stop = std::sync::Arc::new(StopSignal::new().expect("eventfd"));
        let remote = std::sync::Arc::clone(&stop);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            remote.trigger(StopReason::Timeout);
        });
        let mut fds = [libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&stop.fd()),
            events: libc::POLLIN,
            revents: 0,
        }];
        let n = sys::poll(&mut fds, Some(std::time::Duration::from_secs(5))).expect("poll");
        assert_eq!(n, 1);
        assert_eq!(stop.reason(), Some(StopReason::Timeout));
        t.join().expect("thread");
    }
}
