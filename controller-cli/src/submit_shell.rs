//! `{% %}` commands of a submit-side template (`hs submit --template`, `--from-json`), run in
//! this process before anything is stored.
//!
//! They run through the engine's executor, as on an engine: own process group, bounded output,
//! nothing of the group left when one ends. There is no task walltime on this side, so each
//! command gets [`SUBMIT_WALLTIME`]. A Ctrl-C, SIGTERM or SIGHUP while one runs stops its group
//! (SIGINT → SIGTERM → SIGKILL) before this process ends the way the signal would have ended it:
//! the command's own process group does not get the terminal's Ctrl-C, so without this it
//! would outlive `hs`.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hs_engine::executor::{OUTPUT_LIMIT, SpawnExecutor, StopReason, StopSignal, Substitution};
use hs_engine::template::{CommandFailure, CommandRunner, Template};

/// Longest a submit-side `{% %}` command may run.
pub const SUBMIT_WALLTIME: Duration = Duration::from_secs(60);

/// Time between SIGINT, SIGTERM and SIGKILL when one is stopped.
const SIGNALWAIT: Duration = Duration::from_secs(1);

/// Runs the `{% %}` commands of submit-side expansions.
pub struct SubmitShell {
    executor: SpawnExecutor,
    stop: Arc<StopSignal>,
    /// Present while the template has commands: they must not outlive an interrupt.
    guard: Option<InterruptGuard>,
}

impl SubmitShell {
    /// A runner for `template`'s commands; signal handling is set up only if it has any.
    pub fn new(template: &Template) -> anyhow::Result<Self> {
        let stop = Arc::new(StopSignal::new()?);
        let guard = match template.has_commands() {
            true => Some(InterruptGuard::install(stop.clone())?),
            false => None,
        };
        Ok(SubmitShell {
            executor: SpawnExecutor::with_env(&[]),
            stop,
            guard,
        })
    }
}

impl CommandRunner for SubmitShell {
    fn run(&self, script: &str, args: &str) -> Result<Vec<u8>, CommandFailure> {
        let shell = Substitution {
            executor: &self.executor,
            stop: &self.stop,
            deadline: Substitution::deadline_after(Some(SUBMIT_WALLTIME)),
            walltime: Some(SUBMIT_WALLTIME),
            signalwait: SIGNALWAIT,
            output_limit: OUTPUT_LIMIT,
        };
        match &self.guard {
            Some(guard) => guard.around(|| shell.run(script, args)),
            None => shell.run(script, args),
        }
    }
}

/// The signals that end `hs` and must first stop a running command.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The write end of the pipe the signal handler writes to (`-1`: none).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Async-signal-safe: writes the signal's number to the guard's pipe.
extern "C" fn on_signal(signal: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) on a pipe is async-signal-safe; the buffer is a live local.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
}

/// Catches [`SIGNALS`] while installed. A signal caught while a command runs stops it, and
/// then ends the process as the signal would have; one caught between commands ends the
/// process at once.
struct InterruptGuard {
    /// The dispositions to put back, per signal that was not ignored.
    previous: Vec<(libc::c_int, libc::sigaction)>,
    state: Arc<Mutex<GuardState>>,
    wake: OwnedFd,
    watcher: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct GuardState {
    /// A command is running.
    running: bool,
    /// The signal caught while it ran.
    caught: Option<libc::c_int>,
    /// The dispositions to put back before re-raising (a copy of the guard's).
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl InterruptGuard {
    fn install(stop: Arc<StopSignal>) -> anyhow::Result<Self> {
        let (read, write) = std::io::pipe()?;
        let wake = OwnedFd::from(write);
        WAKE_FD.store(wake.as_raw_fd(), Ordering::SeqCst);
        let mut previous = Vec::new();
        for signal in SIGNALS {
            // SAFETY: plain sigaction(2) calls with zeroed, then filled, structs.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, std::ptr::null(), &mut old);
                if old.sa_sigaction == libc::SIG_IGN {
                    continue; // an ignored signal (nohup) stays ignored
                }
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                new.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                if libc::sigaction(signal, &new, std::ptr::null_mut()) == 0 {
                    previous.push((signal, old));
                }
            }
        }
        let state = Arc::new(Mutex::new(GuardState {
            previous: previous.clone(),
            ..GuardState::default()
        }));
        let watched = state.clone();
        let watcher = std::thread::Builder::new()
            .name("hs-submit-signals".into())
            .spawn(move || watch(std::fs::File::from(OwnedFd::from(read)), &watched, &stop))?;
        Ok(InterruptGuard {
            previous,
            state,
            wake,
            watcher: Some(watcher),
        })
    }

    /// Runs one command with the guard watching it.
    fn around<T>(&self, run: impl FnOnce() -> T) -> T {
        self.lock().running = true;
        let result = run();
        let mut state = self.lock();
        state.running = false;
        if let Some(signal) = state.caught {
            // The command is stopped and its group gone: end as the signal asks.
            reraise(signal, &state.previous);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: puts back the disposition read at install time.
            unsafe { libc::sigaction(*signal, old, std::ptr::null_mut()) };
        }
        WAKE_FD.store(-1, Ordering::SeqCst);
        // A zero byte tells the watcher to leave.
        let zero = 0u8;
        // SAFETY: write(2) of one byte from a live local to our own pipe.
        unsafe { libc::write(self.wake.as_raw_fd(), (&raw const zero).cast(), 1) };
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
    }
}

/// The watcher thread: turns a caught signal into a stop of the running command, or ends the
/// process when none runs.
fn watch(mut pipe: std::fs::File, state: &Mutex<GuardState>, stop: &StopSignal) {
    let mut byte = [0u8; 1];
    loop {
        match pipe.read(&mut byte) {
            Ok(1) if byte[0] != 0 => {
                let signal = libc::c_int::from(byte[0]);
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if state.running {
                    tracing::warn!("interrupted: stopping the {{% %}} command that is running");
                    state.caught.get_or_insert(signal);
                    stop.trigger(StopReason::Shutdown);
                } else {
                    reraise(signal, &state.previous);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

/// Puts the old dispositions back and sends `signal` to this process again, so it ends (or is
/// handled) as if hs had never caught it.
fn reraise(signal: libc::c_int, previous: &[(libc::c_int, libc::sigaction)]) {
    for (s, old) in previous {
        // SAFETY: puts back dispositions read at install time.
        unsafe { libc::sigaction(*s, old, std::ptr::null_mut()) };
    }
    // SAFETY: kill(2) on our own pid.
    unsafe { libc::kill(libc::getpid(), signal) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_run_bounded_and_without_commands_nothing_is_installed() {
        let plain = Template::parse("echo {}").expect("parses");
        let shell = SubmitShell::new(&plain).expect("runner");
        assert!(shell.guard.is_none());
        let with = Template::parse("echo {% echo '@' %}").expect("parses");
        let shell = SubmitShell::new(&with).expect("runner");
        assert!(shell.guard.is_some());
        assert_eq!(with.expand("a'b", &shell).expect("expands"), "echo a'b");
        drop(shell);
        assert_eq!(WAKE_FD.load(Ordering::SeqCst), -1, "the guard is gone");
    }
}
