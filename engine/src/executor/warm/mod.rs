//! [`WarmExecutor`]: one initialised bash per slot that forks a child per task.
//!
//! Most of a short task's cost is bash starting (exec, the dynamic loader, initialisation), not
//! the command. A slot shell pays that once: it is a `bash -o pipefail -c` like any task's whose
//! only command loads hs's builtin (slot_builtin.c, built by build.rs and embedded), and the
//! builtin then forks a child per task request. The child is the engine's own child
//! (`CLONE_PARENT`), leads its own process group, gets the task's variables, directory and
//! stdout/stderr, resets `$$`, `SECONDS`, `RANDOM` and `PWD` to what a new bash has and runs the
//! command through bash's own `-c` path. The engine then watches it exactly as a bash it spawned
//! itself: the output relay, walltime, stop escalation, leftovers and subreaper are the
//! [`SpawnExecutor`]'s (see [`SpawnExecutor::run_started_by`]).
//!
//! Tasks a slot shell could not run identically go through the fresh-exec path of the
//! [`SpawnExecutor`] inside: those setting a variable bash itself gives meaning to (see
//! [`request`]). A slot shell that has died (OOM killer, a task that killed it) is noticed when
//! the next request finds it gone, before any task was started by that request, and replaced;
//! if no replacement starts either, every later task runs through the fresh-exec path, after
//! one log line.

mod library;
mod request;
mod shell;

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::cgroup::{self, SlotGroup};
use super::spawn::describe_spawn_error;
use super::vfork::Started;
use super::{Executor, Exit, RunOutcome, RunSpec, SpawnExecutor, StopSignal, sys};
use library::Library;
use shell::{Reply, SlotShell};

/// Why the warm executor cannot be used here (the fresh-exec one is used instead).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WarmUnavailable(String);

/// Runs each task in a child forked from a pre-started slot shell. See the module doc.
#[derive(Debug)]
pub struct WarmExecutor {
    /// Output, wait and leftovers for every task; the whole run for tasks not sent warm.
    spawn: SpawnExecutor,
    library: Library,
    /// Idle slot shells. A run takes one for the time of its request only (a fork), so there
    /// are never more than slots, and often fewer.
    idle: Mutex<Vec<SlotShell>>,
    /// No slot shell could be started after one died: the fresh-exec path runs everything.
    given_up: AtomicBool,
}

impl WarmExecutor {
    /// An executor whose tasks inherit this process's environment with `shared` added, as
    /// [`SpawnExecutor::with_env`]. Starts one slot shell to check that this bash can be one.
    pub fn start(shared: &[(String, String)]) -> Result<Self, WarmUnavailable> {
        let spawn = SpawnExecutor::with_env(shared);
        if let Some(name) = spawn
            .inherited()
            .names()
            .find(|n| request::unsuited_base_variable(n))
        {
            return Err(WarmUnavailable(format!(
                "{} is set: a fresh bash reads it for every task",
                String::from_utf8_lossy(name)
            )));
        }
        let library = Library::create()
            .map_err(|e| WarmUnavailable(format!("cannot write the bash builtin: {e}")))?;
        let first = SlotShell::start(&library, spawn.inherited()).map_err(WarmUnavailable)?;
        Ok(WarmExecutor {
            spawn,
            library,
            idle: Mutex::new(vec![first]),
            given_up: AtomicBool::new(false),
        })
    }

    /// Reaps background processes of earlier tasks that have exited since (see
    /// [`SpawnExecutor::reap_leftovers`]).
    pub fn reap_leftovers(&self) {
        self.spawn.reap_leftovers();
    }

    /// Starts the task in a child of an idle slot shell (a new one if none is idle). The shell
    /// goes to `held` while its task runs: the task's own reply comes on its socket.
    fn start_warm(
        &self,
        spec: &RunSpec<'_>,
        request: &[u8],
        stdout: BorrowedFd<'_>,
        stderr: BorrowedFd<'_>,
        held: &mut Option<SlotShell>,
    ) -> Result<Started, String> {
        // A shell found dead is replaced once; the request never started a task in it.
        for _ in 0..2 {
            let Some(mut shell) = self.idle_shell() else {
                break;
            };
            // The child is cloned straight into the slot's cgroup, where there is one.
            let reply = cgroup::with_slot(|slot| {
                shell.request(request, stdout, stderr, slot.map(SlotGroup::dir_fd))
            });
            match reply {
                Ok(reply) => {
                    *held = Some(shell);
                    return started(reply, spec);
                }
                Err(gone) => {
                    tracing::warn!("a warm slot shell has gone ({}); starting another", gone.0);
                }
            }
        }
        self.spawn.spawn(spec, stdout, stderr)
    }

    /// An idle slot shell, or a new one; `None` once slot shells cannot be started any more.
    fn idle_shell(&self) -> Option<SlotShell> {
        if self.given_up.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(shell) = lock(&self.idle).pop() {
            return Some(shell);
        }
        match SlotShell::start(&self.library, self.spawn.inherited()) {
            Ok(shell) => Some(shell),
            Err(e) => {
                if !self.given_up.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "cannot start a warm slot shell ({e}); running tasks with a fresh bash each"
                    );
                }
                None
            }
        }
    }

    fn put_back(&self, shell: SlotShell) {
        lock(&self.idle).push(shell);
    }

    /// The pids of the idle slot shells.
    #[cfg(test)]
    fn shell_pids(&self) -> Vec<u32> {
        lock(&self.idle).iter().map(SlotShell::pid).collect()
    }
}

impl Executor for WarmExecutor {
    fn run(&self, spec: &RunSpec<'_>, stop: &StopSignal) -> RunOutcome {
        REQUEST.with_borrow_mut(|buf| {
            if request::encode(spec, buf).is_none() {
                return self.spawn.run(spec, stop);
            }
            let mut held = None;
            let mut outcome = self.spawn.run_started_by(spec, stop, |stdout, stderr| {
                self.start_warm(spec, buf, stdout, stderr, &mut held)
            });
            if let Some(mut shell) = held {
                match shell.after_exit() {
                    Ok(None) => self.put_back(shell),
                    Ok(Some(errno)) => {
                        // It ran nothing: as if bash could not be started there.
                        let error = io::Error::from_raw_os_error(errno);
                        outcome.started = None;
                        outcome.exit = Exit::SpawnFailed(describe_spawn_error(&error, spec));
                        self.put_back(shell);
                    }
                    Err(gone) => {
                        tracing::warn!("a warm slot shell has gone ({}); starting another", gone.0);
                    }
                }
            }
            outcome
        })
    }
}

thread_local! {
    /// The buffer a slot thread encodes its requests in, kept from task to task.
    static REQUEST: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The engine's view of a child a slot shell started.
fn started(reply: Reply, spec: &RunSpec<'_>) -> Result<Started, String> {
    match reply {
        Reply::Running(pid, pidfd) => Ok(Started::running_with(pid, pidfd)),
        Reply::ChildFailed(pid, errno) => {
            let _ = sys::wait_exit(pid);
            Err(describe_spawn_error(
                &io::Error::from_raw_os_error(errno),
                spec,
            ))
        }
        Reply::NotStarted(errno) => Err(format!(
            "cannot start {}: {}",
            super::spawn::BASH,
            io::Error::from_raw_os_error(errno)
        )),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
