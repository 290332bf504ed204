//! The messages of protocol hs/2, one struct per kind.
//!
//! Engine → controller (engine ROUTER): [`Register`], [`Results`], [`Pong`], [`Leaving`], [`Bye`],
//! [`GivenBack`], and uploads of captured output (`output.rs`).
//! Controller → engine: [`Welcome`], [`Tasks`], [`Ack`], [`Cancel`], [`Drain`], [`Reregister`],
//! [`GiveBack`], and the answers to uploads (`output.rs`).
//! Controller → all engines (heartbeat PUB): [`Ping`].
//! Client ↔ controller (client ROUTER): [`Submit`]/[`Submitted`], [`StatusRequest`]/[`StatusReply`],
//! [`DrainRequest`]/[`Drained`], [`Cancel`]/[`CancelReply`], and [`Refused`] for requests the
//! controller will not serve. Controller → client, unasked: [`Finished`] (results of the tasks a
//! client asked to watch).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use chrono::{DateTime, Utc};

use crate::task::{JobOptions, Outcome, Task, TaskResult};

/// A message body with its kind name (the second frame on the wire).
pub trait Body: Serialize + DeserializeOwned {
    const KIND: &'static str;
}

macro_rules! kind {
    ($t:ty, $k:literal) => {
        impl Body for $t {
            const KIND: &'static str = $k;
        }
    };
}

/// A task the engine holds when it (re-)registers: running now, identified by task and lease.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Held {
    pub id: Uuid,
    pub lease: u64,
}

/// An engine introduces itself, or re-introduces itself after losing its controller.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Register {
    pub engine_id: Uuid,
    pub host: String,
    pub pid: u32,
    /// Executor slots: how many tasks it runs at once.
    pub slots: u32,
    /// Random number echoed in [`Welcome`]; binds the welcome to this registration.
    pub nonce: u64,
    pub version: String,
    /// Tasks it holds and will run: running now or waiting in its own queue (reconciliation
    /// after a controller loss).
    #[serde(default)]
    pub running: Vec<Held>,
    /// Finished tasks whose results were never acknowledged.
    #[serde(default)]
    pub finished: Vec<TaskResult>,
    /// Tasks it was sent but did not start and now gives back, because its controller was
    /// silent longer than the eviction window (their leases may have been revoked meanwhile).
    /// The controller requeues those still leased to it (or, after a restart, still unclaimed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returned: Vec<Held>,
    /// Cores, memory and GPUs its tasks may use (`-C`, `-M`, `--gpus`). Absent from older
    /// engines: then cores and memory are not limited and it has no GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::resources::Resources>,
}
kind!(Register, "register");

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Welcome {
    pub controller_id: Uuid,
    /// The controller's host: with its id, the `server_host` and `server_id` of every task it
    /// hands this engine (`TASK_SERVER_HOST`, `TASK_SERVER_ID`), said once here rather than per
    /// task. Absent from older controllers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_host: Option<String>,
    pub nonce: u64,
    /// Ping interval; the engine declares the controller lost after `evict_ms` of silence.
    pub heartrate_ms: u64,
    pub evict_ms: u64,
    /// Most tasks the controller will lease to this engine at once (slots + prefetch), as it
    /// stands at registration; it then follows the engine's task run times. Informational:
    /// the engine sizes its result bundles by what it holds.
    #[serde(default)]
    pub capacity: u32,
    /// Present when the controller takes engines' captured output (`output_open`,
    /// `output_data`): see [`OutputOffer`](super::OutputOffer). Absent from older controllers
    /// and from controllers without a site: engines then keep their files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<super::OutputOffer>,
}
kind!(Welcome, "welcome");

impl From<&Leased> for Held {
    fn from(job: &Leased) -> Self {
        Held {
            id: job.task.id,
            lease: job.lease,
        }
    }
}

/// A task handed to an engine under a lease number. The task is shared (`Arc`) because the
/// controller keeps it in its lease table while the bundle is encoded: handing it out costs a
/// reference count, not a copy. On the wire it is the task itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Leased {
    pub lease: u64,
    pub task: Arc<Task>,
}

/// A bundle of tasks; never more than the engine's free credit. It also carries the
/// acknowledgement of results received since the last message, saving a message per bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tasks {
    pub tasks: Vec<Leased>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ack: Vec<Uuid>,
}
kind!(Tasks, "tasks");

/// A bundle of finished tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub results: Vec<TaskResult>,
}
kind!(Results, "results");

/// The controller has recorded these results; the engine may forget them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ack {
    pub ids: Vec<Uuid>,
}
kind!(Ack, "ack");

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ping {
    pub controller_id: Uuid,
}
kind!(Ping, "ping");

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Pong {}
kind!(Pong, "pong");

/// No more work will come: finish what you hold, report it, then say [`Bye`].
///
/// With `release` (the controller stops scheduling: SIGUSR1), hand back the tasks not started
/// yet at once ([`Leaving`]) and finish only the running ones. With `stop` (the controller was
/// interrupted, or got SIGUSR2), stop the running tasks too and hand back everything not
/// finished, as an engine stopped by its own operator does. An engine that does not know
/// `release` finishes its queue instead, which the controller also waits for.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Drain {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub release: bool,
}
kind!(Drain, "drain");

/// The engine is draining (its operator sent SIGUSR1 or SIGUSR2, or the controller asked it to
/// release its tasks): send it nothing more, and requeue `returned`, tasks it holds but will not
/// start, so other engines run them now rather than when it leaves. It still reports what it
/// runs, then says [`Bye`]. Sent again, with what arrived meanwhile, as long as tasks keep
/// arriving, and after every new registration. Giving a task back never counts as an attempt.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Leaving {
    #[serde(default)]
    pub returned: Vec<Held>,
}
kind!(Leaving, "leaving");

/// Stop these tasks: drop them if still queued at the engine, stop their process groups
/// (SIGINT, SIGTERM, SIGKILL) if running, and report them as cancelled.
///
/// A client sends the same message to the controller: tasks still waiting there are cancelled
/// at once, and tasks handed to engines are stopped by sending their engines this message. The
/// answer is a [`CancelReply`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cancel {
    pub ids: Vec<Uuid>,
}
kind!(Cancel, "cancel");

/// The engine is leaving. Every result it reported has been acknowledged, except on an abort,
/// when `returned` lists the tasks it did not start or had to interrupt: the controller requeues
/// them without counting an attempt.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Bye {
    #[serde(default)]
    pub returned: Vec<Held>,
}
kind!(Bye, "bye");

/// Give back up to `most` tasks not started yet: another engine has free slots and nothing is
/// waiting at the controller. The engine answers with [`GivenBack`], from the back of its queue
/// (the tasks it would have started last), never a task it has started.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GiveBack {
    pub most: u32,
}
kind!(GiveBack, "give_back");

/// The answer to [`GiveBack`]: the tasks the engine took out of its queue (maybe none). The
/// controller requeues those still leased to it under these leases; it never counts an attempt.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct GivenBack {
    #[serde(default)]
    pub returned: Vec<Held>,
}
kind!(GivenBack, "given_back");

/// The controller does not know this engine (it was evicted or the controller restarted).
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Reregister {}
kind!(Reregister, "reregister");

/// New work from a client. `args` is the original form (one command line per task, nothing
/// else); `tasks` carries whole tasks. Both may be given: [`Submitted::ids`] lists `args`' tasks
/// first, then `tasks`', in order. Old clients only ever send `args`, and still work.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Submit {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskSpec>,
    /// The submitting host, recorded as the tasks' `submit_host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}
kind!(Submit, "submit");

/// One task as a client describes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskSpec {
    /// The command line (what `{}` expands to).
    pub args: String,
    /// Tags (`TASK_TAG_<KEY>` in the task's environment).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// Where and how this task runs (working directory, output files, environment, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobOptions>,
    /// Walltime limit in whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Push this task's final result to the submitting client ([`Finished`]) once it is recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub watch: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submitted {
    pub ids: Vec<Uuid>,
}
kind!(Submitted, "submitted");

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct StatusRequest {}
kind!(StatusRequest, "status");

/// A snapshot of the controller's queue and engines.
///
/// Bounded whatever the cluster's size: `engines` holds at most [`StatusReply::MAX_ENGINES`]
/// rows (the busiest first) and `failures` the few most recent, while `totals` counts every
/// engine. `totals` and `failures` came later: an older controller leaves them out, and an
/// older client ignores them; the methods below fall back on the rows when `totals` is absent.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct StatusReply {
    pub controller_id: Uuid,
    /// Tasks waiting in the controller for an engine.
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub engines: Vec<EngineStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<StatusTotals>,
    /// The most recent final failures, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailureStatus>,
}
kind!(StatusReply, "status_reply");

impl StatusReply {
    /// Most engine rows a reply carries: 10,000 engines must not make a 10 MB message.
    pub const MAX_ENGINES: usize = 50;
    /// Most recent failures a reply carries.
    pub const MAX_FAILURES: usize = 10;

    /// Every registered engine, also those beyond the rows sent.
    pub fn engine_total(&self) -> u64 {
        self.totals
            .as_ref()
            .map_or(self.engines.len() as u64, |t| t.engines)
    }

    /// Slots of every registered engine.
    pub fn slot_total(&self) -> u64 {
        self.totals.as_ref().map_or_else(
            || self.engines.iter().map(|e| u64::from(e.slots)).sum(),
            |t| t.slots,
        )
    }

    /// Busy slots of every registered engine.
    pub fn busy_total(&self) -> u64 {
        self.totals.as_ref().map_or_else(
            || self.engines.iter().map(|e| u64::from(e.busy)).sum(),
            |t| t.busy,
        )
    }
}

/// Counts over the whole controller that the bounded rows of a [`StatusReply`] cannot give.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct StatusTotals {
    pub engines: u64,
    pub slots: u64,
    pub busy: u64,
    /// Tasks given to this controller (its input, its clients) still in the store, not yet
    /// taken to run. Tasks other processes put in the store (`hs submit`) count once taken.
    pub unscheduled: u64,
    /// Final results recorded within the last `window_ms` milliseconds: the recent rate.
    pub finished_recently: u64,
    /// The window of `finished_recently`: a minute, or the controller's age when younger.
    pub window_ms: u64,
}

/// One recent final failure, as the live view lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FailureStatus {
    pub id: Uuid,
    /// The task's input line, cut to [`FailureStatus::MAX_ARGS`] characters.
    pub args: String,
    /// The exit status, or a negative sentinel (see `task::sentinel`).
    pub exit_status: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// The host of the engine that ran it; empty when the controller failed it unrun.
    #[serde(default)]
    pub host: String,
    /// Milliseconds since it was recorded.
    pub ago_ms: u64,
}

impl FailureStatus {
    /// Longest input line a failure carries, in characters.
    pub const MAX_ARGS: usize = 200;
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EngineStatus {
    pub engine_id: Uuid,
    pub host: String,
    pub slots: u32,
    pub busy: u32,
    pub done: u64,
    /// Milliseconds since the controller last heard from it.
    pub last_heard_ms: u64,
}

/// Stop accepting new work, finish what is queued, then shut down.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct DrainRequest {}
kind!(DrainRequest, "drain_request");

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Drained {}
kind!(Drained, "drained");

/// The answer to a client's [`Cancel`]: tasks that were waiting are cancelled and recorded at
/// once; running ones are being stopped by their engines; the rest had already finished or are
/// unknown to this controller. Watched tasks get their `cancelled` result as a [`Finished`]
/// push either way.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct CancelReply {
    pub cancelled: u64,
    pub stopping: u64,
    pub unknown: u64,
}
kind!(CancelReply, "cancel_reply");

/// Final results of watched tasks, pushed to the client that submitted them after they are
/// recorded in the store; several at once when many finish together.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Finished {
    pub results: Vec<FinishedTask>,
}
kind!(Finished, "finished");

/// One task's final result as a client sees it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FinishedTask {
    pub id: Uuid,
    pub outcome: Outcome,
    /// The exit status, or a negative sentinel (`-1` cancelled, …; see `task::sentinel`).
    pub exit_status: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub submit_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    pub completion_time: DateTime<Utc>,
    /// The engine that ran it; absent when it never reached one (cancelled while waiting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FinishedTask {
    /// The result of `task`: as its engine reported it, or (no engine) as the controller
    /// settled it without running it.
    pub fn new(task: &Task, result: &TaskResult, engine: Option<(Uuid, &str)>) -> Self {
        FinishedTask {
            id: task.id,
            outcome: result.outcome,
            exit_status: result.exit_status,
            signal: result.signal,
            submit_time: task.submit_time,
            start_time: result.start_time,
            completion_time: result.completion_time,
            engine_id: engine.map(|(id, _)| id),
            host: engine.map(|(_, host)| host.to_string()),
            attempt: task.attempt,
            error: result.error.clone(),
        }
    }

    /// Bakapara's word for how it ended: `ok` (exit status 0), `timeout`, `cancelled` or
    /// `error` (anything else: a non-zero exit, a signal, a task that could not start).
    pub fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::Exited if self.exit_status == 0 => "ok",
            Outcome::TimedOut => "timeout",
            Outcome::Cancelled => "cancelled",
            _ => "error",
        }
    }

    /// Whether the task ran and exited with status 0.
    pub fn succeeded(&self) -> bool {
        self.outcome.succeeded(self.exit_status)
    }
}

/// The controller will not serve a client request; `reason` says why and what to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Refused {
    pub reason: String,
}
kind!(Refused, "refused");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reply_of_an_older_controller_still_reads_and_falls_back_on_its_rows() {
        let engine = |busy| {
            serde_json::json!({"engine_id": Uuid::nil(), "host": "h", "slots": 4, "busy": busy,
                               "done": 0, "last_heard_ms": 5})
        };
        let old = serde_json::json!({
            "controller_id": Uuid::nil(), "queued": 1, "running": 2, "succeeded": 3, "failed": 4,
            "engines": [engine(1), engine(3)],
        });
        let reply: StatusReply = serde_json::from_value(old).unwrap();
        assert_eq!(reply.totals, None);
        assert!(reply.failures.is_empty());
        assert_eq!(
            (reply.engine_total(), reply.slot_total(), reply.busy_total()),
            (2, 8, 4)
        );
        // And what a newer one sends without totals or failures is what an older one sent.
        let text = serde_json::to_string(&reply).unwrap();
        assert!(
            !text.contains("totals") && !text.contains("failures"),
            "{text}"
        );
    }
}
