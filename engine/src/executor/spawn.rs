//! [`SpawnExecutor`]: a fresh `/bin/bash -o pipefail -c CMD` per task.
//!
//! Spawning is the engine's hot path, so bash is started with posix_spawn(3) directly
//! ([`posix_spawn`](super::posix_spawn)): own process group, environment prepared once per
//! executor plus the task's own variables ([`environ`](super::environ)), working directory, stdio.
//! glibc's `posix_spawn` uses `clone(CLONE_VM|CLONE_VFORK)`, which does not copy the engine's
//! page tables. (Only where glibc cannot set a child's working directory, before 2.29, does a
//! task with one go through std's `Command`, which forks.)
//!
//! The slot thread then waits in a single poll(2) on the child's pidfd, the relay pipes and the
//! slot's stop eventfd, with the walltime or the next escalation step as timeout: no helper
//! threads, no busy polling, no sleeps. (The one back-off wait is for the members of a group that
//! was just SIGKILLed, see [`subreaper::reap_group_within`]; it never runs for tasks that end by
//! themselves.)

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
use super::posix_spawn::{self, ChildFds};
use super::relay::{Pipe, StreamRelay};
use super::subreaper::{self, GroupState, Leftovers};
use super::sys;
use super::{Executor, Exit, OutputTarget, RunOutcome, RunSpec, StopReason, StopSignal};

/// The shell every task runs in.
const BASH: &str = "/bin/bash";
const BASH_PATH: &std::ffi::CStr = c"/bin/bash";

/// How long to wait for the group leader after SIGKILL, and for the rest of a killed group to
/// die, before giving up and leaving them to [`Leftovers`]. Only a process stuck in the kernel
/// (uninterruptible sleep) takes more than a few milliseconds.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Without a pidfd (kernel < 5.3, or out of fds) the leader's exit cannot be polled; the loop
/// then checks it at this interval.
const NO_PIDFD_TICK: Duration = Duration::from_millis(10);

/// How long a slot polls without sleeping (yielding between polls) once a task's output has
/// closed. A dying process closes its files a few microseconds before its exit is reported
/// (its address space is already gone by then), and stdout and stderr close one after the
/// other; sleeping in poll for each of those events cost up to three wake-ups per task.
const EXIT_SPIN: Duration = Duration::from_micros(200);

/// Size of the stack buffer output is read through (the default pipe capacity).
const READ_CHUNK: usize = 64 * 1024;

/// Reads per stream per wake-up while the task runs (then the loop checks the leader and the
/// stop signal again), and for the final drain once the leader has exited.
const READS_PER_WAKE: usize = 16;

/// Signals sent to a group being stopped, `signalwait` apart.
const ESCALATION: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGKILL];

/// Runs each task in a freshly spawned bash. Its only state is the list of finished tasks' process
/// groups that still had live background members; their dead are reaped at the start of each run
/// (or by [`reap_leftovers`](Self::reap_leftovers)), so an engine that is a child subreaper does
/// not accumulate zombies.
#[derive(Debug)]
pub struct SpawnExecutor {
    leftovers: Leftovers,
    inherited: Inherited,
}

impl SpawnExecutor {
    /// An executor whose tasks inherit this process's environment as it is now, with `shared`
    /// added (an engine's `HYPERSHELL_EXPORT_*` exports): prepared once, not per task.
    pub fn with_env(shared: &[(String, String)]) -> Self {
        SpawnExecutor {
            leftovers: Leftovers::default(),
            inherited: Inherited::capture(shared),
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
        self.leftovers.reap();
        // A stop triggered while the slot was idle applies to this run: do not even start it.
        if let Some(reason) = stop.reason() {
            return outcome(None, stopped(reason, None));
        }
        let (stdout, stderr) = match output_stdio(spec) {
            Ok(stdio) => stdio,
            Err(msg) => return outcome(None, Exit::SpawnFailed(msg)),
        };
        let started = SystemTime::now();
        // The parent's copies of the child's ends (pipe writers, per-task files) close when
        // `stdout` and `stderr` are dropped, right after the spawn.
        let spawned = self.spawn(spec, &stdout, &stderr);
        let pid = match spawned {
            Ok(pid) => pid,
            Err(msg) => return outcome(None, Exit::SpawnFailed(msg)),
        };
        if let Some(started) = spec.started {
            started();
        }
        let readers = [stdout.into_reader(), stderr.into_reader()];
        let exit = match Watch::new(pid, readers, spec, stop) {
            Ok(watch) => watch.run(&self.leftovers),
            Err(e) => abandon(pid, &self.leftovers, e),
        };
        outcome(Some(started), exit)
    }
}

impl SpawnExecutor {
    /// Starts `bash -o pipefail -c CMD`; the error is the one line a result carries.
    fn spawn(
        &self,
        spec: &RunSpec<'_>,
        stdout: &Output,
        stderr: &Output,
    ) -> Result<libc::pid_t, String> {
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
        if cwd.is_some() && !posix_spawn::can_chdir() {
            return spawn_with_std(spec, &self.inherited, null, stdout, stderr);
        }
        let fds = ChildFds {
            stdin: null,
            stdout: stdout.child_fd(null),
            stderr: stderr.child_fd(null),
        };
        let argv = [c"bash", c"-o", c"pipefail", c"-c", &command];
        posix_spawn::spawn(BASH_PATH, &argv, &envp, &fds, cwd.as_deref())
            .map_err(|e| describe_spawn_error(&e, spec))
    }
}

/// The same start through std's `Command` (fork + chdir + exec), for a working directory on a
/// glibc older than 2.29. (`spec.env` was checked by [`Inherited::with`] already.)
fn spawn_with_std(
    spec: &RunSpec<'_>,
    inherited: &Inherited,
    null: BorrowedFd<'_>,
    stdout: &Output,
    stderr: &Output,
) -> Result<libc::pid_t, String> {
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
        .stdout(stdio(stdout.child_fd(null))?)
        .stderr(stdio(stderr.child_fd(null))?);
    if let Some(dir) = spec.cwd {
        command.current_dir(dir);
    }
    let child = command
        .spawn()
        .map_err(|e| describe_spawn_error(&e, spec))?;
    Ok(child.id() as libc::pid_t)
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
    /// Relayed: the parent reads `read`; `write` becomes the child's descriptor.
    Pipe { read: OwnedFd, write: OwnedFd },
    /// A per-task file.
    File(File),
    /// `/dev/null`.
    Null,
}

impl Output {
    /// The descriptor the child gets.
    fn child_fd<'a>(&'a self, null: BorrowedFd<'a>) -> BorrowedFd<'a> {
        match self {
            Output::Pipe { write, .. } => write.as_fd(),
            Output::File(file) => file.as_fd(),
            Output::Null => null,
        }
    }

    /// The read end to relay, closing the parent's copy of whatever the child got.
    fn into_reader(self) -> Option<OwnedFd> {
        match self {
            Output::Pipe { read, .. } => Some(read),
            _ => None,
        }
    }
}

/// The child's stdout and stderr. Per-task files are opened (created or truncated) here, in the
/// parent, so a bad path is reported as such; the same path for both streams is opened once, so
/// the two share one file offset instead of overwriting each other.
fn output_stdio(spec: &RunSpec<'_>) -> Result<(Output, Output), String> {
    let stdout = output_for(&spec.stdout, "stdout")?;
    let stderr = match (&spec.stderr, &spec.stdout, &stdout) {
        (OutputTarget::File(path), OutputTarget::File(same), Output::File(file))
            if path == same =>
        {
            Output::File(
                file.try_clone()
                    .map_err(|e| format!("cannot open stderr file {}: {e}", path.display()))?,
            )
        }
        (target, _, _) => output_for(target, "stderr")?,
    };
    Ok((stdout, stderr))
}

fn output_for(target: &OutputTarget, stream: &str) -> Result<Output, String> {
    Ok(match target {
        OutputTarget::Relay(_) => {
            let (read, write) =
                io::pipe().map_err(|e| format!("cannot make a pipe for {stream}: {e}"))?;
            Output::Pipe {
                read: OwnedFd::from(read),
                write: OwnedFd::from(write),
            }
        }
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

/// One line naming why bash could not be started. std reports a failed `chdir` in the child as a
/// bare errno, so the working directory is examined here, on the (rare) failure path only.
fn describe_spawn_error(err: &io::Error, spec: &RunSpec<'_>) -> String {
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

/// The child could be spawned but not watched (no fd left for a relay pipe's flags, …): kill its
/// group, reap what can be reaped, and report why.
fn abandon(pgid: libc::pid_t, leftovers: &Leftovers, err: io::Error) -> Exit {
    subreaper::signal_group(pgid, libc::SIGKILL);
    let _ = sys::wait_exit(pgid);
    if subreaper::reap_group_within(pgid, KILL_WAIT) == GroupState::Alive {
        leftovers.add(pgid);
    }
    Exit::SpawnFailed(format!("cannot watch {BASH}: {err}"))
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
    /// Until when to poll without sleeping (see [`EXIT_SPIN`]).
    spin_until: Option<Instant>,
}

/// Positions in the poll set (absent entries have fd -1, which poll(2) skips).
const PIDFD: usize = 0;
const STOPFD: usize = 1;
const RELAYS: usize = 2;

impl<'a> Watch<'a> {
    /// `readers` are the read ends of the stdout and stderr pipes, where those are relayed.
    fn new(
        pid: libc::pid_t,
        readers: [Option<OwnedFd>; 2],
        spec: &RunSpec<'_>,
        stop: &'a StopSignal,
    ) -> io::Result<Self> {
        let pidfd = match sys::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::debug!(pid, error = %e, "pidfd_open failed; polling the child instead");
                None
            }
        };
        let [out, err] = readers;
        let relay = |target: &OutputTarget, pipe: Option<OwnedFd>| match (target, pipe) {
            (OutputTarget::Relay(sink), Some(pipe)) => {
                StreamRelay::new(pipe, sink.clone()).map(Some)
            }
            _ => Ok(None),
        };
        let stdout = relay(&spec.stdout, out)?;
        let stderr = relay(&spec.stderr, err)?;
        Ok(Self {
            pgid: pid,
            pidfd,
            relays: [stdout, stderr],
            stop,
            walltime: spec.timeout.map(|t| Instant::now() + t),
            signalwait: spec.signalwait,
            stopping: None,
            spin_until: None,
        })
    }

    /// Waits for the leader while relaying output and escalating a stop, then collects the
    /// leader and whatever of its group hs is responsible for.
    fn run(mut self, leftovers: &Leftovers) -> Exit {
        let mut buf = [0u8; READ_CHUNK];
        let ended = self.wait_leader(&mut buf);
        // The leader is gone (or hopeless). Take what its group already wrote, but do not wait
        // for EOF: background processes may hold the pipes open indefinitely.
        for mut relay in self.relays.iter_mut().filter_map(Option::take) {
            relay.pump(&mut buf, READS_PER_WAKE);
            relay.finish();
        }
        let stopping = self.stopping.take();
        if stopping.is_some() {
            // Kill the rest of a stopped group while the unreaped leader still pins its pgid.
            subreaper::signal_group(self.pgid, libc::SIGKILL);
        }
        let status = match ended {
            Ended::Exited(Some(status)) => Some(status),
            Ended::Exited(None) => match sys::wait_exit(self.pgid) {
                Ok(status) => Some(status),
                Err(e) => {
                    return Exit::SpawnFailed(format!("lost track of {BASH} ({e})"));
                }
            },
            Ended::Unresponsive => None,
        };
        let left = match (&stopping, &ended) {
            (_, Ended::Unresponsive) => GroupState::Alive,
            (Some(_), _) => subreaper::reap_group_within(self.pgid, KILL_WAIT),
            (None, _) => subreaper::reap_group(self.pgid),
        };
        if left == GroupState::Alive {
            leftovers.add(self.pgid);
        }
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
            // Right after output closes the exit report is microseconds away: look without
            // sleeping (see EXIT_SPIN) rather than pay for another wake-up.
            let spinning = self.stopping.is_none() && self.spin_until.is_some_and(|t| now < t);
            let timeout = if spinning {
                Some(Duration::ZERO)
            } else {
                self.poll_timeout(now)
            };
            match sys::poll(&mut fds, timeout) {
                Ok(0) if spinning => {
                    std::thread::yield_now();
                    continue;
                }
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

            let mut closed_now = false;
            for (i, slot) in self.relays.iter_mut().enumerate() {
                if fds[RELAYS + i].revents != 0
                    && let Some(relay) = slot
                    && relay.pump(buf, READS_PER_WAKE) == Pipe::Closed
                    && let Some(relay) = slot.take()
                {
                    relay.finish();
                    closed_now = true;
                }
            }
            if fds[STOPFD].revents != 0 && self.stopping.is_none() {
                // Readable means triggered; the reason is set before the eventfd is written.
                let reason = self.stop.reason().unwrap_or(StopReason::Cancel);
                self.begin_stop(reason, Instant::now());
            }
            if fds[PIDFD].revents != 0 {
                return Ended::Exited(None);
            }
            if closed_now && self.pidfd.is_some() {
                self.spin_until = Some(Instant::now() + EXIT_SPIN);
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
