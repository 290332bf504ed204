//! SIGUSR1 and SIGUSR2: HyperShell's signals to wind a process down in order (reference §1.10).
//!
//! SIGUSR1 drains: an engine takes no new tasks, hands back the ones it has not started and
//! finishes the running ones; a controller stops scheduling and waits for its engines to do the
//! same. SIGUSR2 does the same but stops the running tasks too (SIGINT → SIGTERM → SIGKILL,
//! `-S` apart), handing them back without counting an attempt. Either ends the process with
//! status 0, so a batch job that asked for the signal before its time limit ends cleanly.
//!
//! The signals reach the command's reaction through [`super::relay`], on a thread where it may
//! log, lock and allocate.

/// What a signal asks of the process. Ordered: a stop outranks a drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopRequest {
    /// SIGUSR1: finish what runs, hand back what has not started.
    Drain = 1,
    /// SIGUSR2: stop what runs too, and hand it back.
    Stop = 2,
}

impl StopRequest {
    fn of(signal: i32) -> Option<StopRequest> {
        match signal {
            libc::SIGUSR1 => Some(StopRequest::Drain),
            libc::SIGUSR2 => Some(StopRequest::Stop),
            _ => None,
        }
    }

    /// The signal that makes this request.
    pub fn signal(self) -> i32 {
        match self {
            StopRequest::Drain => libc::SIGUSR1,
            StopRequest::Stop => libc::SIGUSR2,
        }
    }

    pub fn signal_name(self) -> &'static str {
        match self {
            StopRequest::Drain => "SIGUSR1",
            StopRequest::Stop => "SIGUSR2",
        }
    }
}

/// The strongest of SIGUSR1 (drain) and SIGUSR2 (stop) received so far, if any. True from the
/// moment the handler ran, before the reaction is called.
pub fn stop_requested() -> Option<StopRequest> {
    if super::relay::caught(libc::SIGUSR2) {
        Some(StopRequest::Stop)
    } else if super::relay::caught(libc::SIGUSR1) {
        Some(StopRequest::Drain)
    } else {
        None
    }
}

/// Call `react` for every SIGUSR1 and SIGUSR2 from now on (later signals too, so a drain can
/// still be turned into a stop). A later call replaces the reaction.
pub fn on_stop_signal(react: impl Fn(StopRequest) + Send + Sync + 'static) -> anyhow::Result<()> {
    let react = std::sync::Arc::new(react);
    for signal in [libc::SIGUSR1, libc::SIGUSR2] {
        let react = react.clone();
        super::relay::watch(signal, false, move |s| {
            if let Some(request) = StopRequest::of(s) {
                react(request);
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_signal_maps_to_its_request_and_back() {
        for request in [StopRequest::Drain, StopRequest::Stop] {
            assert_eq!(StopRequest::of(request.signal()), Some(request));
        }
        assert_eq!(StopRequest::of(libc::SIGTERM), None);
        assert!(StopRequest::Stop > StopRequest::Drain);
    }

    /// The only test in this binary that sends itself SIGUSR1/SIGUSR2.
    use std::sync::Mutex;

    #[test]
    fn a_signal_reaches_the_reaction_and_a_stop_outranks_a_drain() {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        on_stop_signal(move |r| {
            let _ = tx.lock().expect("sender").send(r);
        })
        .expect("handlers installed");
        let wait = std::time::Duration::from_secs(30);
        // SAFETY: raise(3) only sends a signal to this thread, which now has a handler for it.
        unsafe { libc::raise(libc::SIGUSR1) };
        assert_eq!(rx.recv_timeout(wait), Ok(StopRequest::Drain));
        assert_eq!(stop_requested(), Some(StopRequest::Drain));
        unsafe { libc::raise(libc::SIGUSR2) };
        assert_eq!(rx.recv_timeout(wait), Ok(StopRequest::Stop));
        unsafe { libc::raise(libc::SIGUSR1) };
        assert_eq!(rx.recv_timeout(wait), Ok(StopRequest::Drain));
        assert_eq!(stop_requested(), Some(StopRequest::Stop), "never weakened");
    }
}
