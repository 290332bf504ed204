//! The task and result records exchanged between controller and engines.
//!
//! Field names follow HyperShell's `task` table (`args`, `attempt`, `exit_status`, `command`,
//! `start_time`, …) so that users' queries and `TASK_*` variables carry over unchanged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest duration hs takes anywhere (walltimes, `signalwait`, heartbeats, delays, polls):
/// 10⁹ seconds, about 31 years. Every duration and count is checked against its limit where it
/// enters (a usage error naming the limit); inside, larger spans would overflow the clock.
pub const MAX_SECONDS: u64 = 1_000_000_000;

/// Whether `seconds` is a number of seconds hs can wait: finite and at most [`MAX_SECONDS`] in
/// size (the sign is the caller's to check).
pub fn seconds_in_range(seconds: f64) -> bool {
    seconds.is_finite() && seconds.abs() <= MAX_SECONDS as f64
}

/// Sentinel `exit_status` values, as HyperShell documents them. A task killed by signal N has
/// `exit_status = -N` **and** `signal = Some(N)`, so a SIGHUP death (-1) is never mistaken for a
/// cancel: only the `signal` field tells them apart, and it is always set for signal deaths.
pub mod sentinel {
    /// The task was cancelled before or while it ran.
    pub const CANCELLED: i32 = -1;
    /// The template could not be expanded for this task's args.
    pub const TEMPLATE_ERROR: i32 = -2;
    /// The task needs more resources than the engine has, or names hosts no engine runs on
    /// (placement is a resource the task needs; HyperShell's sentinel keeps its queries valid).
    pub const RESOURCE_ERROR: i32 = -3;
    /// bash could not be started (missing binary, bad working directory, fd exhaustion).
    pub const SPAWN_ERROR: i32 = -4;
    /// Output the task wrote could not be written where it goes (a full disk, a reader that
    /// went away): the task's results are not all there, whatever its exit code.
    pub const OUTPUT_ERROR: i32 = -5;
}

/// One unit of work as it travels to an engine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub id: Uuid,
    /// The input line (after any submit-side template): what `{}` expands to.
    pub args: String,
    /// 1-based retry attempt (a retry is a new task; an engine loss is not a new attempt).
    #[serde(default = "one")]
    pub attempt: u32,
    #[serde(default)]
    pub group: i64,
    /// The process that submitted it (HyperShell's `submit_id`); `None` from an older controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_id: Option<Uuid>,
    pub submit_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_host: Option<String>,
    /// When the controller took it from the store to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_time: Option<DateTime<Utc>>,
    /// Cores and bytes of memory the task says it needs (`cores:`/`memory:` directives, `-c`,
    /// `-m`); `None` when it says nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// Walltime limit in seconds; the engine's `-W` applies too and the smaller one wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// A retry of it exists (only a task reverted after it failed and was retried runs so).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retried: bool,
    /// The attempt this one retries, and the one retrying it: the retry chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_id: Option<Uuid>,
    /// User tags (`key` or `key:value`); each becomes `TASK_TAG_<KEY>` in the task's environment.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub tag: serde_json::Map<String, serde_json::Value>,
    /// Where and how this one task runs, when it says so itself (a JSON job's `cd`, `out`,
    /// `err`, `env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobOptions>,
}

/// Per-task settings a JSON job may carry (`hs stream`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct JobOptions {
    /// Working directory of this task only (the engine never changes its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// File for the task's stdout (created or truncated; relative to `cwd` when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// File for the task's stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Variables for this task, on top of everything else it gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// Hosts this task may run on (a JSON job's `host`); empty = any. The broker keeps such a
    /// task until an engine on one of them has credit, and fails it if none joins in time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The command an earlier attempt of this task ran, for a retry: the engine runs exactly
    /// this, without expanding `args` under its template again, so a retry repeats what failed
    /// whichever engine (and `-t`) takes it. Set only by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// GPUs this task needs (`gpus:` directive, `--gpus`, a JSON job's `gpus`). Kept with the
    /// job rather than in a column of its own, so the `task` table and `hs list` keep
    /// HyperShell's columns; the engine names the devices it gets when it starts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl JobOptions {
    /// The file the task's stdout goes to, if the job names one: relative to `cwd` when given.
    /// The engine writes there, and the controller records it from the job, never from the
    /// engine's word.
    pub fn stdout_path(&self) -> Option<std::path::PathBuf> {
        self.stdout.as_deref().map(|p| self.within_cwd(p))
    }

    /// The file the task's stderr goes to, if the job names one (see [`Self::stdout_path`]).
    pub fn stderr_path(&self) -> Option<std::path::PathBuf> {
        self.stderr.as_deref().map(|p| self.within_cwd(p))
    }

    fn within_cwd(&self, path: &str) -> std::path::PathBuf {
        match &self.cwd {
            Some(dir) => std::path::Path::new(dir).join(path),
            None => std::path::PathBuf::from(path),
        }
    }
}

impl Task {
    /// A first attempt at `args`, submitted now, with a time-ordered id (tasks sort by
    /// submission) and nothing else set.
    pub fn new(args: impl Into<String>) -> Task {
        Task {
            id: Uuid::now_v7(),
            args: args.into(),
            attempt: 1,
            group: 0,
            submit_id: None,
            submit_time: Utc::now(),
            submit_host: None,
            schedule_time: None,
            cores: None,
            memory: None,
            timeout: None,
            retried: false,
            previous_id: None,
            next_id: None,
            tag: Default::default(),
            job: None,
        }
    }

    /// The same task, allowed to run only on an engine of one of `hosts`.
    pub fn on_hosts<S: ToString>(mut self, hosts: &[S]) -> Task {
        self.job.get_or_insert_with(JobOptions::default).hosts =
            hosts.iter().map(ToString::to_string).collect();
        self
    }

    /// The GPUs this task needs (0 when it says nothing).
    pub fn gpus(&self) -> u32 {
        self.job.as_ref().map_or(0, |j| j.gpus)
    }

    /// The hosts this task may run on; empty when it may run anywhere.
    pub fn hosts(&self) -> &[String] {
        self.job.as_ref().map_or(&[], |j| &j.hosts)
    }
}

fn one() -> u32 {
    1
}

/// How a task's run ended, beyond its exit status.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// bash exited by itself; `exit_status` is its code.
    Exited,
    /// The process group died from a signal nobody in hs sent.
    Signaled,
    /// The walltime ran out and hs stopped the group.
    TimedOut,
    /// The task was cancelled (user, Ctrl-C drain).
    Cancelled,
    /// The template did not expand for this task.
    TemplateError,
    /// bash could not be started.
    SpawnError,
    /// The task ran, but output it wrote was lost ([`sentinel::OUTPUT_ERROR`]).
    OutputError,
    /// The task never ran: no engine could take it (none on a host it may run on joined in
    /// time, or none is large enough for its request). `exit_status` is
    /// [`sentinel::RESOURCE_ERROR`].
    NoHost,
}

impl Outcome {
    /// Whether a run that ended this way with `exit_status` counts as succeeded: bash ran and
    /// exited 0.
    pub fn succeeded(self, exit_status: i32) -> bool {
        self == Outcome::Exited && exit_status == 0
    }
}

/// What an engine reports for one finished task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskResult {
    pub id: Uuid,
    /// The lease (dispatch) number this result answers; lets the broker spot late duplicates.
    pub lease: u64,
    pub outcome: Outcome,
    /// HyperShell's `exit_status`: the code, or a negative sentinel (see [`sentinel`]).
    pub exit_status: i32,
    /// The signal that ended the process group, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// The expanded command line that ran (HyperShell's `command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    pub completion_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outpath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errpath: Option<String>,
    /// A human-readable reason for template, spawn and timeout outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The captured files named by `outpath`/`errpath` follow as uploads (`output_open`): the
    /// controller records its own copies' paths instead of the engine's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub upload: bool,
    /// What an engine run with `--monitor` measured of the task; `None` when it does not
    /// monitor, or the task ended before its first sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A monitored task's peaks (HyperShell's `cores_max` and `memory_max`) and where its samples
/// are (`csvpath`, on the engine's host).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    /// Most cores its processes used together over one sample interval.
    pub cores_max: f64,
    /// Most resident memory its processes held together, in bytes.
    pub memory_max: u64,
    /// The engine's `<site>/lib/task/<id>.csv`, when it could write one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csvpath: Option<String>,
}

impl TaskResult {
    /// The files the engine wrote for this task in its task folder, by kind: captured stdout
    /// and stderr, and the monitor's samples. What an upload (`upload`) carries.
    pub fn files(&self) -> [(crate::protocol::FileKind, Option<&str>); 3] {
        use crate::protocol::FileKind;
        [
            (FileKind::Out, self.outpath.as_deref()),
            (FileKind::Err, self.errpath.as_deref()),
            (
                FileKind::Csv,
                self.usage.as_ref().and_then(|u| u.csvpath.as_deref()),
            ),
        ]
    }

    /// The result of a task that did not run (no command, no start time), completed now.
    pub fn not_run(
        id: Uuid,
        lease: u64,
        outcome: Outcome,
        exit_status: i32,
        error: Option<String>,
    ) -> Self {
        TaskResult {
            id,
            lease,
            outcome,
            exit_status,
            signal: None,
            command: None,
            start_time: None,
            completion_time: Utc::now(),
            outpath: None,
            errpath: None,
            error,
            upload: false,
            usage: None,
        }
    }

    /// True when the task counts as succeeded (exit status 0).
    pub fn succeeded(&self) -> bool {
        self.outcome.succeeded(self.exit_status)
    }
}
