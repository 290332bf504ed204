//! A task's shell dies with its engine: `PR_SET_PDEATHSIG(SIGKILL)`.
//!
//! The kernel sends the parent-death signal when the *thread* that started the child ends, not
//! when the process does (a thread that exits hands its children to a sibling thread, and the
//! signal fires all the same). So each child must be started by a thread that lives as long as
//! the engine:
//! - a spawned task's bash is started by its slot thread, which waits for it until it ends;
//! - a warm slot shell is started by [`on_lasting_thread`], a thread that never ends; the tasks
//!   it forks are the engine's children by `CLONE_PARENT`, and their parent thread is that
//!   same lasting thread (slot_builtin.c sets the signal in each task and in the slot shell).
//!
//! Only the task's shell gets the signal (the setting is not inherited across fork); what it
//! starts is reached by its process group and, where one could be made, by the engine's cgroup
//! (see [`cgroup`](super::cgroup)).

use std::sync::OnceLock;
use std::sync::mpsc;

/// A job for the lasting thread.
type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on a thread of this process that never ends (made at first use) and returns its
/// result: children that thread starts get their parent-death signal only when the whole
/// process dies. Falls back to the calling thread if that thread cannot be made.
pub(crate) fn on_lasting_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    static JOBS: OnceLock<Option<std::sync::Mutex<mpsc::Sender<Job>>>> = OnceLock::new();
    let jobs = JOBS.get_or_init(|| {
        let (send, receive) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("hs-spawner".into())
            .spawn(move || {
                while let Ok(job) = receive.recv() {
                    job();
                }
            })
            .map_err(|e| tracing::debug!("cannot start the spawner thread: {e}"))
            .ok()
            .map(|_| std::sync::Mutex::new(send))
    });
    let Some(jobs) = jobs else {
        return job();
    };
    let (done, result) = mpsc::sync_channel(1);
    let wrapped: Job = Box::new(move || {
        let _ = done.send(job());
    });
    let sent = jobs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(wrapped);
    if let Err(mpsc::SendError(job)) = sent {
        // The thread is gone (it never ends by itself): run here rather than not at all.
        job();
    }
    result
        .recv()
        .expect("every job taken runs to its end and answers")
}

/// Asks for SIGKILL when the parent thread ends, and ends at once if the parent is already gone
/// (it may have died before the request): `expected_parent` is the engine's pid. For a forked
/// child before it execs; async-signal-safe.
///
/// # Safety
/// Only call in a freshly forked or cloned child, before exec.
pub(crate) unsafe fn arm_in_child(expected_parent: libc::pid_t) {
    // SAFETY: prctl and getppid take no pointers; _exit ends the child without running anything
    // of the parent's.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != expected_parent {
            libc::_exit(127);
        }
    }
}

/// Makes `command`'s child die with this process's calling thread (see the module doc for
/// which thread that must be).
pub(crate) fn arm_command(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: runs in the forked child before exec and calls only async-signal-safe functions.
    unsafe {
        command.pre_exec(move || {
            arm_in_child(parent);
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_one_thread_that_outlives_its_callers() {
        let name = |_: ()| std::thread::current().name().map(str::to_string);
        let first = on_lasting_thread(move || name(()));
        let second = std::thread::spawn(move || on_lasting_thread(move || name(())))
            .join()
            .expect("joined");
        assert_eq!(first.as_deref(), Some("hs-spawner"));
        assert_eq!(first, second);
    }
}
