//! SIGUSR1 and SIGUSR2: HyperShell's signals to wind a process down in order (reference §1.10).
//!
//! SIGUSR1 drains: an engine takes no new tasks, hands back the ones it has not started and
//! finishes the running ones; a controller stops scheduling and waits for its engines to do the
//! same. SIGUSR2 does the same but stops the running tasks too (SIGINT → SIGTERM → SIGKILL,
//! `-S` apart), handing them back without counting an attempt. Either ends the process with
//! status 0, so a batch job that asked for the signal before its time limit ends cleanly.
//!
//! The handler only writes the signal number to a pipe (all a handler may safely do); a thread
//! reads it and calls the command's reaction, which may log, lock and allocate. Tasks do not
//! inherit the handler: `exec` resets caught signals to their defaults.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

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

type Reaction = Box<dyn Fn(StopRequest) + Send>;

/// The write end of the pipe the handler writes to (-1 until installed).
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// The strongest request received so far (0: none). Set by the handler itself, so it is
/// already true when anything else in the process learns of the signal.
static RECEIVED: AtomicU8 = AtomicU8::new(0);
static REACTION: Mutex<Option<Reaction>> = Mutex::new(None);

/// The strongest of SIGUSR1 (drain) and SIGUSR2 (stop) received so far, if any.
pub fn stop_requested() -> Option<StopRequest> {
    match RECEIVED.load(Ordering::SeqCst) {
        1 => Some(StopRequest::Drain),
        2 => Some(StopRequest::Stop),
        _ => None,
    }
}

/// Call `react` for every SIGUSR1 and SIGUSR2 from now on (later signals too, so a drain can
/// still be turned into a stop). Installs the handlers on the first call; a later call replaces
/// the reaction.
pub fn on_stop_signal(react: impl Fn(StopRequest) + Send + 'static) -> anyhow::Result<()> {
    *REACTION.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(react));
    if PIPE.load(Ordering::SeqCst) >= 0 {
        return Ok(());
    }
    let (read, write) = pipe().map_err(|e| anyhow::anyhow!("cannot watch for signals: {e}"))?;
    // The reader is there before the first signal can be caught, so none waits unread.
    std::thread::Builder::new()
        .name("hs-signals".into())
        .spawn(move || deliver(read))
        .map_err(|e| anyhow::anyhow!("cannot watch for signals: {e}"))?;
    PIPE.store(write, Ordering::SeqCst);
    for signal in [libc::SIGUSR1, libc::SIGUSR2] {
        catch(signal).map_err(|e| anyhow::anyhow!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(())
}

/// The reading end: hand each signal to the reaction, on this thread.
fn deliver(read: libc::c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into a local from a descriptor this thread owns.
        let n = unsafe { libc::read(read, (&raw mut byte).cast(), 1) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n != 1 {
            return;
        }
        let Some(request) = StopRequest::of(i32::from(byte)) else {
            continue;
        };
        if let Some(react) = REACTION.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            react(request);
        }
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: an atomic update and a write(2). errno is kept, since
    // the interrupted code may be about to read it.
    // SAFETY: errno is thread-local; reading and restoring it is what handlers must do.
    let saved = unsafe { *libc::__errno_location() };
    if let Some(request) = StopRequest::of(signal) {
        RECEIVED.fetch_max(request as u8, Ordering::SeqCst);
    }
    let fd = PIPE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: writes one byte from a local; the descriptor is non-blocking, so a full pipe
        // (thousands of unread signals) drops the byte instead of hanging the process.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
    // SAFETY: see above.
    unsafe { *libc::__errno_location() = saved };
}

/// A close-on-exec pipe (tasks must not inherit it) whose write end never blocks.
fn pipe() -> std::io::Result<(libc::c_int, libc::c_int)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fcntl on a descriptor just created.
    let flags = unsafe { libc::fcntl(fds[1], libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Catch `signal` with [`on_signal`]; SA_RESTART so no blocking call elsewhere fails with EINTR.
fn catch(signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction is valid; the handler is an `extern "C" fn(c_int)`, which is
    // what sa_sigaction holds without SA_SIGINFO.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
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
