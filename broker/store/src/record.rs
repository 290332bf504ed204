//! Rows: a task with every HyperShell column, a completion, an engine (client).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One row of the `task` table. Column names and meanings are HyperShell's (its
/// `hs list --fields` order), plus `signal`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: Uuid,
    pub group: i64,
    pub args: String,
    pub submit_id: Uuid,
    pub submit_time: DateTime<Utc>,
    pub submit_host: Option<String>,
    pub cores: Option<i64>,
    /// Bytes (64-bit everywhere, unlike HyperShell 2.8.2's int4 on PostgreSQL).
    pub memory: Option<i64>,
    pub cores_max: Option<f64>,
    pub memory_max: Option<f64>,
    /// Walltime in seconds.
    pub timeout: Option<i64>,
    pub server_id: Option<Uuid>,
    pub server_host: Option<String>,
    pub schedule_time: Option<DateTime<Utc>>,
    pub client_id: Option<Uuid>,
    pub client_host: Option<String>,
    pub command: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub completion_time: Option<DateTime<Utc>>,
    /// NULL until done; -1 cancelled, -2 template error, -3 resource error, -4 spawn error,
    /// -N killed by signal N (and then `signal` = N).
    pub exit_status: Option<i32>,
    pub signal: Option<i32>,
    pub outpath: Option<String>,
    pub errpath: Option<String>,
    pub csvpath: Option<String>,
    /// 1-based.
    pub attempt: i32,
    /// A retry row exists for this one.
    pub retried: bool,
    /// `start_time - submit_time`, whole seconds.
    pub waited: Option<i64>,
    /// `completion_time - start_time`, whole seconds.
    pub duration: Option<i64>,
    pub previous_id: Option<Uuid>,
    pub next_id: Option<Uuid>,
    pub tag: serde_json::Map<String, serde_json::Value>,
    /// Per-task run settings of a JSON job or a library client's task (`cd`, `out`, `env`, …).
    /// The SQL stores keep it in their `job` column (see `job_column`) and read it back only
    /// where the controller needs it, in `schedule` and `interrupted`: rows from `get` and
    /// `search` have `None` here. The memory store keeps it with the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<hs_protocol::task::JobOptions>,
}

impl TaskRecord {
    /// A new, unscheduled task.
    pub fn new(args: String, submit_id: Uuid, submit_host: Option<String>) -> Self {
        TaskRecord {
            id: Uuid::now_v7(),
            group: 0,
            args,
            submit_id,
            submit_time: Utc::now(),
            submit_host,
            cores: None,
            memory: None,
            cores_max: None,
            memory_max: None,
            timeout: None,
            server_id: None,
            server_host: None,
            schedule_time: None,
            client_id: None,
            client_host: None,
            command: None,
            start_time: None,
            completion_time: None,
            exit_status: None,
            signal: None,
            outpath: None,
            errpath: None,
            csvpath: None,
            attempt: 1,
            retried: false,
            waited: None,
            duration: None,
            previous_id: None,
            next_id: None,
            tag: serde_json::Map::new(),
            job: None,
        }
    }
}

/// What the controller records when a task finishes. Serializable so that results a controller
/// could not store before it gave up can be kept in a file for the next run to record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub id: Uuid,
    /// The engine that ran it; `None` for a task that never reached one.
    pub client_id: Option<Uuid>,
    pub client_host: Option<String>,
    pub command: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub completion_time: DateTime<Utc>,
    pub exit_status: i32,
    pub signal: Option<i32>,
    pub outpath: Option<String>,
    pub errpath: Option<String>,
    /// `--monitor`'s peaks and samples file (NULL when the task was not sampled).
    pub cores_max: Option<f64>,
    pub memory_max: Option<f64>,
    pub csvpath: Option<String>,
}

impl Completion {
    /// A task that ran from `started` to `ended` and exited with `exit_status`, and nothing
    /// else known: no engine, command, signal or files (set those with `..` on top of it).
    pub fn exited(
        id: Uuid,
        exit_status: i32,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> Completion {
        Completion {
            id,
            client_id: None,
            client_host: None,
            command: None,
            start_time: Some(started),
            completion_time: ended,
            exit_status,
            signal: None,
            outpath: None,
            errpath: None,
            cores_max: None,
            memory_max: None,
            csvpath: None,
        }
    }
}

/// One row of the `client` table: an engine (HyperShell calls engines clients; the table keeps
/// its name, the code uses the inside word).
#[derive(Clone, Debug, PartialEq)]
pub struct EngineRecord {
    pub id: Uuid,
    pub host: String,
    pub server_id: Uuid,
    pub server_host: String,
    pub connected_at: DateTime<Utc>,
}

/// A task handed to an engine (see [`crate::TaskStore::mark_handed_out`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Handout {
    pub task: Uuid,
    pub engine: Uuid,
    pub host: String,
}

/// How far an input (a task file, stdin) was read into the store as one submission: every
/// task of it carries `submission` as its `submit_id`, and its first `lines` lines (blank and
/// comment lines included) are stored. `digest` fingerprints those lines, so that reading the
/// same input again can tell it is the same and skip them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputProgress {
    pub submission: Uuid,
    /// What was read: a file's absolute path, or `-` for standard input.
    pub source: String,
    pub lines: u64,
    pub digest: String,
}
