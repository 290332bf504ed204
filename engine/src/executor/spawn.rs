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
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use super::cgroup::{self, SlotGroup};
use super::environ::Inherited;
use super::pipes::{PipePool, RelayPipe};
use super::subreaper::Leftovers;
use super::vfork::{self, ChildFds, Started};
use super::watch::{Watch, stopped};
use super::{Executor, Exit, OutputTarget, RunOutcome, RunSpec, StopSignal};
use super::{limits, pdeathsig};

/// The shell every task runs in.
pub(super) const BASH: &str = "/bin/bash";
const BASH_PATH: &std::ffi::CStr = c"/bin/bash";

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
            started(child.pid);
        }
        let pipes = [stdout.into_pipe(), stderr.into_pipe()];
        let (exit, lost) = Watch::new(child, pipes, spec, stop).run(&self.leftovers, &self.pipes);
        RunOutcome {
            output_lost: lost,
            ..outcome(Some(started), exit)
        }
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
        cgroup::with_slot(|slot| {
            let cgroup_procs = slot.map(SlotGroup::procs_fd);
            if !vfork::usable() {
                return spawn_with_std(spec, &self.inherited, null, [stdout, stderr], cgroup_procs);
            }
            let fds = ChildFds {
                stdin: null,
                stdout,
                stderr,
                cgroup_procs,
            };
            let argv = [c"bash", c"-o", c"pipefail", c"-c", &command];
            vfork::spawn(BASH_PATH, &argv, &envp, &fds, cwd.as_deref())
                .map_err(|e| describe_spawn_error(&e, spec))
        })
    }
}

/// The same start through std's `Command` (fork + exec), where this process may not clone on its
/// own (glibc before 2.25, see [`vfork`]). (`spec.env` was checked by [`Inherited::with`].)
fn spawn_with_std(
    spec: &RunSpec<'_>,
    inherited: &Inherited,
    null: BorrowedFd<'_>,
    [stdout, stderr]: [BorrowedFd<'_>; 2],
    cgroup_procs: Option<BorrowedFd<'_>>,
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
    pdeathsig::arm_command(&mut command);
    if let Some(procs) = cgroup_procs {
        let procs = procs.as_raw_fd();
        // SAFETY: runs in the forked child before exec; write(2) is async-signal-safe and the
        // descriptor stays open in the parent until the spawn returns.
        unsafe {
            command.pre_exec(move || {
                libc::write(procs, b"0".as_ptr().cast(), 1);
                Ok(())
            });
        }
    }
    let child = command
        .spawn()
        .map_err(|e| describe_spawn_error(&e, spec))?;
    Ok(Started::running(child.id() as libc::pid_t))
}

fn outcome(started: Option<SystemTime>, exit: Exit) -> RunOutcome {
    RunOutcome {
        started,
        finished: SystemTime::now(),
        exit,
        output_lost: None,
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

/// A task's own output file (`--capture`'s `<site>/lib/task/<id>.out`, a job's `out`): created
/// 0600, since what a task prints is its owner's business.
fn create_output(path: &Path, stream: &str) -> Result<File, String> {
    hs_protocol::private::create(path)
        .map_err(|e| format!("cannot open {stream} file {}: {e}", path.display()))
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

#[cfg(test)]
#[path = "spawn_tests.rs"]
mod tests;
