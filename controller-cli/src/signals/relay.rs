//! The one way from a signal handler to ordinary code. The handler does only what a handler may:
//! it notes the signal in an atomic set and writes its number to a pipe. A thread reads the pipe
//! and calls the reaction registered for that signal, which may log, lock and allocate.
//!
//! Tasks do not inherit the handler: `exec` resets caught signals to their defaults, and the pipe
//! is close-on-exec.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

type Reaction = Box<dyn Fn(libc::c_int) + Send>;

/// The write end of the pipe the handler writes to (-1 until the first [`watch`]).
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// Every signal caught so far, one bit per number; set by the handler itself, so it is already
/// true when anything else in the process learns of the signal.
static CAUGHT: AtomicU64 = AtomicU64::new(0);
static REACTIONS: Mutex<Option<HashMap<libc::c_int, Reaction>>> = Mutex::new(None);

/// A signal caught by [`watch`], with the disposition it had before.
pub struct Watched {
    signal: libc::c_int,
    previous: libc::sigaction,
}

impl Watched {
    /// Put back the disposition the signal had before it was watched, and drop its reaction.
    pub fn restore(&self) {
        // SAFETY: puts back a disposition read by sigaction(2) when it was watched.
        unsafe { libc::sigaction(self.signal, &self.previous, std::ptr::null_mut()) };
        if let Some(table) = lock().as_mut() {
            table.remove(&self.signal);
        }
    }
}

/// Call `react` on a thread of its own each time `signal` arrives from now on (replacing an
/// earlier reaction to it). A signal this process inherited as ignored (`nohup`) stays ignored
/// when `keep_ignored`, and `None` says so.
pub fn watch(
    signal: libc::c_int,
    keep_ignored: bool,
    react: impl Fn(libc::c_int) + Send + 'static,
) -> std::io::Result<Option<Watched>> {
    start_reader()?;
    // SAFETY: a zeroed sigaction is valid; sigaction(2) with a null new action only reads.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    if unsafe { libc::sigaction(signal, std::ptr::null(), &mut previous) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if keep_ignored && previous.sa_sigaction == libc::SIG_IGN {
        return Ok(None);
    }
    lock()
        .get_or_insert_with(HashMap::new)
        .insert(signal, Box::new(react));
    // SAFETY: the handler is an `extern "C" fn(c_int)`, what sa_sigaction holds without
    // SA_SIGINFO; SA_RESTART so no blocking call elsewhere fails with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(Some(Watched { signal, previous }))
}

/// Whether `signal` was caught since the process started (by a handler [`watch`] installed).
pub fn caught(signal: libc::c_int) -> bool {
    bit(signal).is_some_and(|b| CAUGHT.load(Ordering::SeqCst) & b != 0)
}

fn bit(signal: libc::c_int) -> Option<u64> {
    u32::try_from(signal).ok().and_then(|s| 1u64.checked_shl(s))
}

fn lock() -> std::sync::MutexGuard<'static, Option<HashMap<libc::c_int, Reaction>>> {
    REACTIONS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The pipe and its reader, once per process. The reader is there before the first signal can
/// be caught, so none waits unread.
fn start_reader() -> std::io::Result<()> {
    static STARTED: Mutex<bool> = Mutex::new(false);
    let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
    if *started {
        return Ok(());
    }
    let (read, write) = pipe()?;
    std::thread::Builder::new()
        .name("hs-signals".into())
        .spawn(move || deliver(read))?;
    PIPE.store(write, Ordering::SeqCst);
    *started = true;
    Ok(())
}

/// The reading end: hand each signal to its reaction, on this thread.
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
        let signal = libc::c_int::from(byte);
        if let Some(react) = lock().as_ref().and_then(|t| t.get(&signal)) {
            react(signal);
        }
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work here: atomics and a write(2). errno is kept, since the
    // interrupted code may be about to read it.
    // SAFETY: errno is thread-local; reading and restoring it is what handlers must do.
    let saved = unsafe { *libc::__errno_location() };
    if let Some(b) = bit(signal) {
        CAUGHT.fetch_or(b, Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn disposition(signal: libc::c_int) -> libc::sighandler_t {
        // SAFETY: sigaction(2) with a null new action only reads into a zeroed local.
        unsafe {
            let mut now: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut now);
            now.sa_sigaction
        }
    }

    /// SIGURG: no other test of this binary touches it.
    #[test]
    fn an_inherited_ignore_is_kept_when_asked_and_restore_puts_it_back() {
        let signal = libc::SIGURG;
        // SAFETY: ignoring SIGURG has no effect on anything else in this test binary.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
        assert!(watch(signal, true, |_| {}).expect("watch").is_none());
        assert_eq!(disposition(signal), libc::SIG_IGN, "still ignored");
        let watched = watch(signal, false, |_| {})
            .expect("watch")
            .expect("installed");
        assert_eq!(
            disposition(signal),
            on_signal as *const () as libc::sighandler_t
        );
        watched.restore();
        assert_eq!(disposition(signal), libc::SIG_IGN, "put back");
        assert!(!caught(signal));
        assert!(bit(64).is_none() && bit(-1).is_none());
    }
}
