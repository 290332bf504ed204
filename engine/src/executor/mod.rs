//! Running one shell command: `/bin/bash -o pipefail -c CMD` in its own process group.
//!
//! The executor is a trait with two strategies, chosen per engine ([`executor_for`]):
//! [`WarmExecutor`] (the default) keeps an initialised bash per slot and forks a child per task
//! that behaves as a fresh `bash -o pipefail -c CMD`; [`SpawnExecutor`] spawns a fresh bash per
//! task with a lean `clone(CLONE_VFORK)` and an environment prepared once, and is what the warm
//! one falls back to where this bash cannot be a slot shell.
//!
//! Rules every executor follows:
//! - each task is its own process group, so timeouts, cancels and shutdown signal the whole tree;
//! - the engine never `chdir`s: a task's working directory is set on the child only;
//! - stdout/stderr are either relayed line by line to a shared [`LineSink`] (no task's line is ever
//!   cut into another's) or written to files;
//! - stopping escalates SIGINT → SIGTERM → SIGKILL on the group, `signalwait` apart;
//! - a task's shell dies with its engine ([`pdeathsig`]), and where a cgroup can be made each
//!   slot's tasks run in one, so that what left the process group is killed too ([`cgroup`]).

mod capture;
mod cgroup;
mod choice;
mod environ;
mod inherit;
mod limits;
mod pdeathsig;
mod pipes;
mod relay;
mod spawn;
mod stop;
mod subreaper;
mod substitute;
mod sys;
mod vfork;
mod warm;
mod watch;

pub use capture::{Capture, Captured};
pub(crate) use cgroup::{prepare_slot, release as release_task_cgroups, slot_dir};
pub use choice::{ExecutorChoice, UnknownExecutor, executor_for};
pub use environ::{TaskVars, is_secret_var};
pub use inherit::seal_internal_descriptors;
pub use limits::{FILES_PER_SLOT, TooManySlots, check_slot_files, prepare_engine_process};
pub use relay::LineSink;
pub use spawn::SpawnExecutor;
pub use stop::{LEASE_STOP_WAIT, StopReason, StopSignal};
pub use subreaper::become_child_subreaper;
pub use substitute::{OUTPUT_LIMIT, Substitution};
pub use warm::{WarmExecutor, WarmUnavailable};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Where one of a task's output streams goes.
#[derive(Clone)]
pub enum OutputTarget {
    /// Relayed through a pipe, whole lines at a time, to a shared sink (the engine's stdout or a
    /// `-o FILE`). A final line without a newline is written as it is when the task ends.
    Relay(Arc<LineSink>),
    /// Written straight to this file (created or truncated), e.g. `--capture` per-task files.
    File(PathBuf),
    /// Discarded (`/dev/null`).
    Null,
    /// Kept in memory, up to the capture's limit; past it the group is stopped with
    /// [`StopReason::OutputLimit`]. For `{% %}` substitutions.
    Capture(Arc<Capture>),
}

/// Everything needed to run one command.
pub struct RunSpec<'a> {
    /// The command line handed to `bash -o pipefail -c`.
    pub command: &'a str,
    /// Working directory of the task; `None` = the engine's own.
    pub cwd: Option<&'a std::path::Path>,
    /// Variables added to (or overriding) the engine's environment for this task only.
    pub env: &'a TaskVars,
    pub stdout: OutputTarget,
    pub stderr: OutputTarget,
    /// Walltime; when it runs out the group is stopped with [`StopReason::Timeout`].
    pub timeout: Option<Duration>,
    /// Time between SIGINT, SIGTERM and SIGKILL when stopping the group.
    pub signalwait: Duration,
    /// Called once bash has been started (not if it could not be), with its pid, before the
    /// run waits for it: the engine's slots use it to wake the engine loop only after their
    /// next task started, and to have `--monitor` watch it.
    pub started: Option<&'a dyn Fn(libc::pid_t)>,
    /// What happens to the group's other processes when bash exits by itself: a task's
    /// background processes may outlive it (`Linger`); a `{% %}` substitution leaves nothing
    /// behind (`Kill`).
    pub leftovers: Leftover,
}

/// What becomes of a group's remaining processes once its leader (bash) has exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// They go on; the executor reaps them as they end.
    Linger,
    /// They are killed (SIGKILL to the group) and reaped.
    Kill,
}

/// How a run ended.
///
/// `Stopped` with neither `signal` nor `code` means the stop came before the task started, so bash
/// was never run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// bash exited with this code.
    Code(i32),
    /// The group leader died from this signal, which hs did not send.
    Signal(i32),
    /// hs stopped the group (timeout, cancel or shutdown); `signal` is the one that ended it, or,
    /// if the leader exited with a code after being asked to stop (`code` then holds it), the
    /// last signal hs sent: a stopped run is a stopped run whatever its shell returns.
    Stopped {
        reason: StopReason,
        signal: Option<i32>,
        code: Option<i32>,
    },
    /// bash could not be started; the text says why (missing cwd, out of fds, …).
    SpawnFailed(String),
}

/// The record of one run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// When bash was started (`None` if it could not be).
    pub started: Option<SystemTime>,
    pub finished: SystemTime,
    pub exit: Exit,
    /// Why output the task wrote did not reach its destination (a full disk, a reader that went
    /// away), if it did not: the task then fails whatever its exit.
    pub output_lost: Option<String>,
}

/// A strategy for running commands. One call runs one command to completion on the calling
/// thread; the engine gives each executor slot its own thread and its own [`StopSignal`].
pub trait Executor: Send + Sync {
    /// Run `spec` to completion. Returns early (after escalation) when `stop` is triggered or the
    /// walltime runs out. Never panics on task failure; failures are reported in [`Exit`].
    fn run(&self, spec: &RunSpec<'_>, stop: &StopSignal) -> RunOutcome;
}
