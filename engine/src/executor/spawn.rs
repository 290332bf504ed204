//! [`SpawnExecutor`]: a fresh `/bin/bash -o pipefail -c CMD` per task.
//!
//! Spawning is the engine's hot path, so bash is started with `clone(CLONE_VM|CLONE_VFORK)`
//! directly ([`vfork`](super::vfork)), which copies none of the engine's page tables: own process
//! group, environment prepared once per executor plus the task's own variables
//! ([`environ`](super::environ)), working directory, stdio.
//!
//! The slot thread then waits in a single poll(2) on the child's pidfd, the relay pipes and the
//! slot's stop eventfd, with the walltime or the next escalation step as timeout: no helper
//! threads, no busy polling, no sleeps. Relay pipes are kept from task to task with both ends
//! open ([`pipes`](super::pipes)), so a task that ends wakes its slot once, by its exit. (The one
//! back-off wait is for the members of a group that was just SIGKILLed, see
//! [`subreaper::reap_group_within`]; it never runs for tasks that end by themselves.)

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use super::environ::Inherited;
use super::pipes::{PipePool, RelayPipe};
use super::relay::{Destination, Pipe, StreamRelay};
use super::subreaper::{self, GroupState, Leftovers};
use super::vfork::{self, ChildFds, Started};
use super::{Executor, Exit, Leftover, OutputTarget, RunOutcome, RunSpec, StopReason, StopSignal};
use super::{limits, sys};

/// The shell every task runs in.
pub(super) const BASH: &str = "/bin/bash";
const BASH_PATH: &std::ffi::CStr = c"/bin/bash";

/// How long to wait for the group leader after SIGKILL, and for the rest of a killed group to
/// die, before giving up and leaving them to [`Leftovers`]. Only a process stuck in the kernel
/// (uninterruptible sleep) takes more than a few milliseconds.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Without a pidfd (kernel < 5.3, or out of fds) the leader's exit cannot be polled; the loop
/// then checks it at this interval.
const NO_PIDFD_TICK: Duration = Duration::from_millis(10);

/// Size of the buffer output is read through (the default pipe capacity).
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The buffer a slot thread reads task output through, made once per thread: zeroing one on
    /// the stack for every task cost more than most tasks' output takes to read.
    static READ_BUF: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Reads per stream per wake-up while the task runs (then the loop checks the leader and the
/// stop signal again), and for the final drain once the leader has exited.
const READS_PER_WAKE: usize = 16;

/// Signals sent to a group being stopped, `signalwait` apart.
const ESCALATION: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGKILL];

/// Runs each task in a freshly spawned bash. Its state is the environment every task inherits,
/// the relay pipes kept between tasks, and the list of finished tasks' process groups that still
/// had live background members; their dead are reaped at the start of each run (or by
/// [`reap_leftovers`](Self::reap_leftovers)), so an engine that is a child subreaper does not
/// accumulate zombies.
#[derive(Debug)]
pub struct SpawnExecutor {
    leftovers: Leftovers,
    inherited: Inherited,
    pipes: PipePool,
}

impl SpawnExecutor {
    /// An executor whose tasks inherit this process's environment as it is now, with `shared`
    /// added (an engine's `HYPERSHELL_EXPORT_*` exports): prepared once, not per task.
    pub fn with_env(shared: &[(String, String)]) -> Self {
        SpawnExecutor {
            leftovers: Leftovers::default(),
            inherited: Inherited::capture(shared),
            pipes: PipePool::default(),
        }
    }

    /// Reaps background processes of earlier tasks that have exited since. Runs happen often
    /// enough to do this themselves; an idle engine may call it from time to time.
    pub fn reap_leftovers(&self) {
        self.leftovers.reap();
    }
}

impl Executor for SpawnExecutor {
    fn run(&self, spec: &RunSpec<'_>, stop: &StopSignal) -> RunOutcome {
        self.run_started_by(spec, stop, |stdout, stderr| {
            self.spawn(spec, stdout, stderr)
        })
    }
}

impl SpawnExecutor {
    /// Runs `spec` with bash started by `start`, given the descriptors the child's stdout and
    /// stderr must be: output set-up, the wait, relay, stop escalation and leftovers are the same
    /// whichever way bash was started (here, or forked from a warm slot shell).
    pub(super) fn run_started_by(
        &self,
        spec: &RunSpec<'_>,
        stop: &StopSignal,
        start: impl FnOnce(BorrowedFd<'_>, BorrowedFd<'_>) -> Result<Started, String>,
    ) -> RunOutcome {
        self.leftovers.reap();
        // A stop triggered while the slot was idle applies to this run: do not even start it.
        if let Some(reason) = stop.reason() {
            return outcome(None, stopped(reason, None));
        }
        let (stdout, stderr) = match output_stdio(spec, &self.pipes) {
            Ok(stdio) => stdio,
            Err(msg) => return outcome(None, Exit::SpawnFailed(msg)),
        };
        let started = SystemTime::now();
        // The parent's copies of per-task files close when `stdout` and `stderr` are turned into
        // relays, right after the spawn; relay pipes keep their write ends.
        let spawned = match dev_null() {
            Ok(null) => start(stdout.child_fd(null), stderr.child_fd(null)),
            Err(e) => Err(format!("cannot open /dev/null: {e}")),
        };
        let child = match spawned {
            Ok(child) => child,
            Err(msg) => {
                // No task ever wrote to them (a child that failed exited before its exec).
                for pipe in [stdout.into_pipe(), stderr.into_pipe()]
                    .into_iter()
                    .flatten()
                {
                    self.pipes.give_back(pipe);
                }
                return outcome(None, Exit::SpawnFailed(msg));
            }
        };
        if let Some(started) = spec.started {
            started();
        }
        let pipes = [stdout.into_pipe(), stderr.into_pipe()];
        let exit = Watch::new(child, pipes, spec, stop).run(&self.leftovers, &self.pipes);
        outcome(Some(started), exit)
    }

    /// The environment every task starts from (this process's, with the engine's exports).
    pub(super) fn inherited(&self) -> &Inherited {
        &self.inherited
    }

    /// Starts `bash -o pipefail -c CMD`; the error is the one line a result carries.
    pub(super) fn spawn(
        &self,
        spec: &RunSpec<'_>,
        stdout: BorrowedFd<'_>,
        stderr: BorrowedFd<'_>,
    ) -> Result<Started, String> {
        let command =
            CString::new(spec.command).map_err(|_| "the command holds a NUL byte".to_string())?;
        let cwd = match spec.cwd {
            Some(dir) => Some(
                CString::new(dir.as_os_str().as_bytes())
                    .map_err(|_| "the working directory holds a NUL byte".to_string())?,
            ),
            None => None,
        };
        let envp = self.inherited.with(spec.env)?;
        let null = dev_null().map_err(|e| format!("cannot open /dev/null: {e}"))?;
        if !vfork::usable() {
            return spawn_with_std(spec, &self.inherited, null, stdout, stderr);
        }
        let fds = ChildFds {
            stdin: null,
            stdout,
            stderr,
        };
        let argv = [c"bash", c"-o", c"pipefail", c"-c", &command];
        vfork::spawn(BASH_PATH, &argv, &envp, &fds, cwd.as_deref())
            .map_err(|e| describe_spawn_error(&e, spec))
    }
}

/// The same start through std's `Command` (fork + exec), where this process may not clone on its
/// own (glibc before 2.25, see [`vfork`]). (`spec.env` was checked by [`Inherited::with`].)
fn spawn_with_std(
    spec: &RunSpec<'_>,
    inherited: &Inherited,
    null: BorrowedFd<'_>,
    stdout: BorrowedFd<'_>,
    stderr: BorrowedFd<'_>,
) -> Result<Started, String> {
    let stdio = |fd: BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map(Stdio::from)
            .map_err(|e| format!("cannot pass a descriptor to {BASH}: {e}"))
    };
    let mut command = Command::new(BASH);
    command
        .args(["-o", "pipefail", "-c", spec.command])
        .process_group(0)
        .env_clear()
        .envs(inherited.pairs_with(spec.env))
        .stdin(stdio(null)?)
        .stdout(stdio(stdout)?)
        .stderr(stdio(stderr)?);
    if let Some(dir) = spec.cwd {
        command.current_dir(dir);
    }
    limits::restore_task_nofile(&mut command);
    let child = command
        .spawn()
        .map_err(|e| describe_spawn_error(&e, spec))?;
    let pid = child.id() as libc::pid_t;
    // A pidfd where the kernel can poll one (Linux 5.3 or later): else the slot checks the child
    // at an interval.
    let pidfd = sys::pidfds_pollable()
        .then(|| sys::pidfd_open(pid).ok())
        .flatten();
    Ok(Started { pid, pidfd })
}

fn outcome(started: Option<SystemTime>, exit: Exit) -> RunOutcome {
    RunOutcome {
        started,
        finished: SystemTime::now(),
        exit,
    }
}

fn stopped(reason: StopReason, status: Option<ExitStatus>) -> Exit {
    Exit::Stopped {
        reason,
        signal: status.and_then(|s| s.signal()),
        code: status.and_then(|s| s.code()),
    }
}

/// One of the child's output streams, as the parent prepared it.
enum Output {
    /// Relayed: the parent reads the pipe; its write end becomes the child's descriptor.
    Pipe(RelayPipe),
    /// A per-task file.
    File(File),
    /// `/dev/null`.
    Null,
}

impl Output {
    /// The descriptor the child gets.
    fn child_fd<'a>(&'a self, null: BorrowedFd<'a>) -> BorrowedFd<'a> {
        match self {
            Output::Pipe(pipe) => pipe.child_end(),
            Output::File(file) => file.as_fd(),
            Output::Null => null,
        }
    }

    /// The pipe to relay, closing the parent's copy of any file the child got.
    fn into_pipe(self) -> Option<RelayPipe> {
        match self {
            Output::Pipe(pipe) => Some(pipe),
            _ => None,
        }
    }
}

/// The child's stdout and stderr. Per-task files are opened (created or truncated) here, in the
/// parent, so a bad path is reported as such; the same path for both streams is opened once, so
/// the two share one file offset instead of overwriting each other.
fn output_stdio(spec: &RunSpec<'_>, pipes: &PipePool) -> Result<(Output, Output), String> {
    let stdout = output_for(&spec.stdout, "stdout", pipes)?;
    let stderr = match (&spec.stderr, &spec.stdout, &stdout) {
        (OutputTarget::File(path), OutputTarget::File(same), Output::File(file))
            if path == same =>
        {
            Output::File(
                file.try_clone()
                    .map_err(|e| format!("cannot open stderr file {}: {e}", path.display()))?,
            )
        }
        (target, _, _) => output_for(target, "stderr", pipes)?,
    };
    Ok((stdout, stderr))
}

fn output_for(target: &OutputTarget, stream: &str, pipes: &PipePool) -> Result<Output, String> {
    Ok(match target {
        OutputTarget::Relay(_) | OutputTarget::Capture(_) => Output::Pipe(
            pipes
                .take()
                .map_err(|e| format!("cannot make a pipe for {stream}: {e}"))?,
        ),
        OutputTarget::File(path) => Output::File(create_output(path, stream)?),
        OutputTarget::Null => Output::Null,
    })
}

/// `/dev/null`, opened once and shared by every task's stdin and discarded streams (the child
/// gets it through dup2, so no descriptor is opened per task). A failed open is not remembered:
/// the next task tries again.
fn dev_null() -> io::Result<BorrowedFd<'static>> {
    static DEV_NULL: OnceLock<File> = OnceLock::new();
    if let Some(file) = DEV_NULL.get() {
        return Ok(file.as_fd());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    Ok(DEV_NULL.get_or_init(|| file).as_fd())
}

fn create_output(path: &Path, stream: &str) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot open {stream} file {}: {e}", path.display()))
}

/// One line naming why bash could not be started. A failed `chdir` in the child comes back as a
/// bare errno, so the working directory is examined here, on the (rare) failure path only.
pub(super) fn describe_spawn_error(err: &io::Error, spec: &RunSpec<'_>) -> String {
    if let Some(dir) = spec.cwd {
        match std::fs::metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return format!("working directory {} does not exist", dir.display());
            }
            Err(e) => return format!("working directory {}: {e}", dir.display()),
            Ok(meta) if !meta.is_dir() => {
                return format!("working directory {} is not a directory", dir.display());
            }
            Ok(_) if err.kind() == io::ErrorKind::PermissionDenied => {
                return format!("cannot enter working directory {}: {err}", dir.display());
            }
            Ok(_) => {}
        }
    }
    if err.kind() == io::ErrorKind::NotFound && !Path::new(BASH).exists() {
        return format!("{BASH} does not exist");
    }
    format!("cannot start {BASH}: {err}")
}

/// A stop in progress.
struct Stopping {
    reason: StopReason,
    /// How many signals of [`ESCALATION`] have been sent.
    sent: usize,
    /// When to send the next one (or, after SIGKILL, to stop waiting).
    next_at: Instant,
}

/// Whether a stop can still make progress.
#[derive(PartialEq, Eq)]
enum Escalation {
    Waiting,
    /// SIGKILL was sent [`KILL_WAIT`] ago and the leader is still there.
    Exhausted,
}

/// How the wait for the leader ended.
enum Ended {
    /// It exited; the status is known if it was already collected (no-pidfd fallback).
    Exited(Option<ExitStatus>),
    /// It survived SIGKILL for [`KILL_WAIT`]; it is left to [`Leftovers`].
    Unresponsive,
}

/// Everything one run waits on.
struct Watch<'a> {
    pgid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    relays: [Option<StreamRelay>; 2],
    stop: &'a StopSignal,
    walltime: Option<Instant>,
    signalwait: Duration,
    stopping: Option<Stopping>,
    leftovers: Leftover,
}

/// Positions in the poll set (absent entries have fd -1, which poll(2) skips).
const PIDFD: usize = 0;
const STOPFD: usize = 1;
const RELAYS: usize = 2;

impl<'a> Watch<'a> {
    /// `pipes` are the stdout and stderr pipes, where those are relayed.
    fn new(
        child: Started,
        pipes: [Option<RelayPipe>; 2],
        spec: &RunSpec<'_>,
        stop: &'a StopSignal,
    ) -> Self {
        let Started { pid, pidfd } = child;
        let [out, err] = pipes;
        // Without a pidfd the pipes' hang-up is the early sign of the task's end.
        let keep_open = pidfd.is_some();
        let relay = |target: &OutputTarget, pipe: Option<RelayPipe>| match (target, pipe) {
            (OutputTarget::Relay(sink), Some(pipe)) => Some(StreamRelay::new(
                pipe,
                Destination::Lines(sink.clone()),
                keep_open,
            )),
            (OutputTarget::Capture(capture), Some(pipe)) => Some(StreamRelay::new(
                pipe,
                Destination::Capture(capture.clone()),
                keep_open,
            )),
            _ => None,
        };
        Self {
            pgid: pid,
            pidfd,
            relays: [relay(&spec.stdout, out), relay(&spec.stderr, err)],
            stop,
            walltime: spec.timeout.map(|t| Instant::now() + t),
            signalwait: spec.signalwait,
            stopping: None,
            leftovers: spec.leftovers,
        }
    }

    /// Waits for the leader while relaying output and escalating a stop, then collects the
    /// leader and whatever of its group hs is responsible for. Its relay pipes go back to `pipes`
    /// when nothing of the group is left to write to them.
    fn run(self, leftovers: &Leftovers, pipes: &PipePool) -> Exit {
        READ_BUF.with_borrow_mut(|buf| self.run_with(buf, leftovers, pipes))
    }

    fn run_with(mut self, buf: &mut [u8], leftovers: &Leftovers, pipes: &PipePool) -> Exit {
        let ended = self.wait_leader(buf);
        let stopping = self.stopping.take();
        let killed = stopping.is_some() || self.leftovers == Leftover::Kill;
        if killed {
            // Kill the rest of the group while the unreaped leader still pins its pgid.
            subreaper::signal_group(self.pgid, libc::SIGKILL);
        }
        let status = match ended {
            Ended::Exited(Some(status)) => Ok(Some(status)),
            Ended::Exited(None) => sys::wait_exit(self.pgid).map(Some),
            Ended::Unresponsive => Ok(None),
        };
        let left = match (killed, &ended, &status) {
            (_, Ended::Unresponsive, _) | (_, _, Err(_)) => GroupState::Alive,
            (true, _, _) => subreaper::reap_group_within(self.pgid, KILL_WAIT),
            (false, _, _) => subreaper::reap_group(self.pgid),
        };
        if left == GroupState::Alive {
            leftovers.add(self.pgid);
        }
        // Nothing of the task is left to write to its pipes once its group is empty (the leader
        // is reaped, so its pgid names a group again only once a new process takes the number).
        // Not a subreaper, the engine would not see its group's orphans as `Alive`: hence the
        // second look. A process that left the group is not seen: see pipes.rs.
        let reusable = left == GroupState::Empty && !subreaper::group_exists(self.pgid);
        // Take what the group wrote, but do not wait for an end of file: background processes
        // may hold the pipes open indefinitely. Whatever a finished member wrote is in the
        // pipe by now, so a pipe found empty here can be kept.
        for mut relay in self.relays.iter_mut().filter_map(Option::take) {
            let state = relay.pump(buf, READS_PER_WAKE);
            if let Some(pipe) = relay.finish()
                && reusable
                && state == Pipe::Empty
            {
                pipes.give_back(pipe);
            }
        }
        let status = match status {
            Ok(status) => status,
            Err(e) => return Exit::SpawnFailed(format!("lost track of {BASH} ({e})")),
        };
        match (stopping, status) {
            (Some(s), Some(status)) => stopped(s.reason, Some(status)),
            (Some(s), None) => Exit::Stopped {
                reason: s.reason,
                signal: Some(libc::SIGKILL),
                code: None,
            },
            (None, Some(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Code(-1),
            },
            // Unresponsive only happens after a stop.
            (None, None) => Exit::Code(-1),
        }
    }

    /// The poll loop: returns once the leader has exited or ignored SIGKILL for too long.
    fn wait_leader(&mut self, buf: &mut [u8]) -> Ended {
        loop {
            let now = Instant::now();
            if self.stopping.is_none() && self.walltime.is_some_and(|t| now >= t) {
                self.begin_stop(StopReason::Timeout, now);
            }
            if self.escalate(now) == Escalation::Exhausted {
                return Ended::Unresponsive;
            }
            if self.pidfd.is_none() {
                match sys::try_wait(self.pgid) {
                    Ok(Some(status)) => return Ended::Exited(Some(status)),
                    Ok(None) => {}
                    Err(_) => return Ended::Exited(None),
                }
            }

            let mut fds = [libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 0,
            }; RELAYS + 2];
            if let Some(pidfd) = &self.pidfd {
                fds[PIDFD].fd = pidfd.as_raw_fd();
            }
            if self.stopping.is_none() {
                // Once stopping, the (still readable) eventfd has nothing more to say.
                fds[STOPFD].fd = self.stop.fd().as_raw_fd();
            }
            for (i, relay) in self.relays.iter().enumerate() {
                if let Some(relay) = relay {
                    fds[RELAYS + i].fd = relay.raw_fd();
                }
            }
            match sys::poll(&mut fds, self.poll_timeout(now)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Cannot happen with valid fds; fall back to the pidfd-less tick.
                    tracing::debug!(error = %e, "poll failed");
                    self.pidfd = None;
                    std::thread::sleep(NO_PIDFD_TICK);
                    continue;
                }
            }

            for (i, slot) in self.relays.iter_mut().enumerate() {
                if fds[RELAYS + i].revents != 0
                    && let Some(relay) = slot
                    && relay.pump(buf, READS_PER_WAKE) == Pipe::Closed
                    && let Some(relay) = slot.take()
                {
                    // Its writers are gone, or reading failed: such a pipe is not kept.
                    drop(relay.finish());
                }
            }
            if self.stopping.is_none() && self.relays.iter().flatten().any(|r| r.overflowed()) {
                self.begin_stop(StopReason::OutputLimit, Instant::now());
            }
            if fds[STOPFD].revents != 0 && self.stopping.is_none() {
                // Readable means triggered; the reason is set before the eventfd is written.
                let reason = self.stop.reason().unwrap_or(StopReason::Cancel);
                self.begin_stop(reason, Instant::now());
            }
            if fds[PIDFD].revents != 0 {
                return Ended::Exited(None);
            }
        }
    }

    /// Sends SIGINT at once; the loop sends the rest of [`ESCALATION`] as `next_at` passes.
    fn begin_stop(&mut self, reason: StopReason, now: Instant) {
        subreaper::signal_group(self.pgid, ESCALATION[0]);
        self.stopping = Some(Stopping {
            reason,
            sent: 1,
            next_at: now + self.signalwait,
        });
    }

    /// Sends the next signal of a stop whose current step has timed out.
    fn escalate(&mut self, now: Instant) -> Escalation {
        let Some(s) = &mut self.stopping else {
            return Escalation::Waiting;
        };
        if now < s.next_at {
            return Escalation::Waiting;
        }
        if s.sent == ESCALATION.len() {
            return Escalation::Exhausted;
        }
        subreaper::signal_group(self.pgid, ESCALATION[s.sent]);
        s.sent += 1;
        let pause = if s.sent == ESCALATION.len() {
            KILL_WAIT
        } else {
            self.signalwait
        };
        s.next_at = now + pause;
        Escalation::Waiting
    }

    /// Until the next timer: the walltime, or the next escalation step while stopping.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let wake = match &self.stopping {
            Some(s) => Some(s.next_at),
            None => self.walltime,
        };
        let timeout = wake.map(|t| t.saturating_duration_since(now));
        match (&self.pidfd, timeout) {
            (Some(_), timeout) => timeout,
            (None, Some(t)) => Some(t.min(NO_PIDFD_TICK)),
            (None, None) => Some(NO_PIDFD_TICK),
        }
    }
}

#[cfg(test)]
#[path = "spawn_tests.rs"]
mod tests;
