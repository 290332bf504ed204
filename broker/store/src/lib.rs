//! # hs-store: where every task and result is kept
//!
//! One trait, three implementations: SQLite (the embedded default, a file at
//! `<site>/lib/main.db`), PostgreSQL (a real server, for large sites) and in-memory (`--no-db`).
//! The schema keeps HyperShell's `task` table columns and meanings, so its users' queries carry
//! over; hs adds a `signal` column so a task killed by a signal is never confused with the
//! sentinel exit statuses (-1 cancelled, -2 template error, -3 resource error, -4 spawn error).
//! A SQLite store can move its finished tasks into partition files beside it (`main.N`, see
//! `SqliteStore::rotate`), which reading commands see through `SqliteStore::attach_partitions`.
//!
//! Only the controller (and the `hs submit/list/update/...` commands) touch the store; engines
//! and clients never do, which is why this is a crate of its own: SQLite and PostgreSQL are
//! compiled only into what links it. All writes go through one writer in batched transactions.

mod job_column;
mod memory;
mod postgres;
mod query;
mod record;
mod schema;
mod sql;
mod sqlite;
mod value;

pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use query::{Change, Condition, Field, FieldKind, Op, Order, Query, TagFilter, Value};
pub use record::{Completion, EngineRecord, Handout, InputProgress, TaskRecord};
pub use schema::SCHEMA_VERSION;
pub use sqlite::{
    MAX_ATTACHED, Partition, Rotation, SqliteStore, next_partition, partition_path, partitions,
};
pub use value::regex_problem;

use uuid::Uuid;

/// Why a store operation failed. Every message is one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} is not an hs database (not SQLite, or damaged): move it away or point HYPERSHELL_SITE elsewhere"
    )]
    NotADatabase { path: String },
    #[error(
        "the database has schema version {found}, newer than this hs understands ({supported}): upgrade hs"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("the database has no hs tables yet: run `hs initdb` (or pass --initdb)")]
    Uninitialized,
    #[error("cannot reach PostgreSQL at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("PostgreSQL refused {user}@{target}: {reason}")]
    Refused {
        user: String,
        target: String,
        reason: String,
    },
    #[error(
        "the database is in use by another live controller ({owner}): stop it first, or use --restart once it is gone"
    )]
    Locked { owner: String },
    #[error("unknown field {0:?}: see `hs list --fields`")]
    UnknownField(String),
    #[error("bad value for {field}: {reason}")]
    BadValue { field: String, reason: String },
    #[error(
        "{found} partitions lie beside {db} but SQLite attaches at most {max}: pass -i/--ignore-partitions to read it alone, or move the oldest partitions to another directory"
    )]
    TooManyPartitions {
        db: String,
        found: usize,
        max: usize,
    },
    /// The database cannot be reached or answered that it cannot serve now (a PostgreSQL
    /// connection lost or a server restarting, SQLite busy or an I/O error). Unlike every other
    /// error it may go away: see [`StoreError::is_transient`] and [`TaskStore::reconnect`].
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether trying again later (after [`TaskStore::reconnect`]) may succeed: the database
    /// was unreachable or unavailable, not wrong. A controller rides such errors out for a
    /// while instead of ending its run.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Unreachable { .. }
        )
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A database's own message folded onto one line (they may span several), as every
/// [`StoreError`] message is.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Who is scheduling (recorded on the rows it schedules), and what it may take.
#[derive(Clone, Debug)]
pub struct Scheduler {
    pub server_id: Uuid,
    pub server_host: String,
    /// `-r`: failed tasks are retried until they have run `max_retries + 1` times.
    pub max_retries: u32,
    /// `--eager`: failed tasks due a retry are scheduled before new ones.
    pub eager: bool,
    pub scope: Scope,
}

/// Which tasks of the store a scheduler takes.
///
/// A run given its tasks (a FILE, stdin, clients submitting to it) runs those and nothing else,
/// so a failure an earlier run left behind is not retried by an unrelated later run. Only a
/// run that is asked to serve the store (`--restart`, `--forever`) takes everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every task in the store, whoever submitted it.
    All,
    /// Tasks whose `submit_id` is one of these, and the retries the scheduler makes of them
    /// (a retry row's `submit_id` is the scheduler's `server_id`, as in HyperShell).
    Submitters(Vec<Uuid>),
}

impl Scheduler {
    /// The submit ids whose tasks it takes (its own retries' included); `None`: every task.
    pub fn owners(&self) -> Option<Vec<Uuid>> {
        match &self.scope {
            Scope::All => None,
            Scope::Submitters(ids) => {
                let mut all = ids.clone();
                all.push(self.server_id);
                Some(all)
            }
        }
    }

    /// Whether a task submitted by `submit_id` is this scheduler's to take.
    pub fn owns(&self, submit_id: &Uuid) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Submitters(ids) => *submit_id == self.server_id || ids.contains(submit_id),
        }
    }

    /// Take the tasks of `submit_id` from now on (nothing changes when it takes every task).
    pub fn adopt(&mut self, submit_id: Uuid) {
        if let Scope::Submitters(ids) = &mut self.scope
            && !ids.contains(&submit_id)
        {
            ids.push(submit_id);
        }
    }
}

/// What a store holds that a scheduler taking every task would run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Tasks without a final result (never scheduled, or scheduled and never finished).
    pub unfinished: u64,
    /// Failed tasks not yet retried that have attempts left under the scheduler's `-r`.
    pub retryable: u64,
}

/// A durable (or in-memory) home for tasks.
///
/// Methods take `&mut self`: a store is used by one thread at a time (the controller's broker
/// thread, or one CLI command), which is what keeps it a single writer.
pub trait TaskStore: Send {
    /// Create the tables if they are missing; refuse a schema newer than [`SCHEMA_VERSION`].
    fn initialize(&mut self) -> Result<()>;

    /// Check the tables exist (without creating them); [`StoreError::Uninitialized`] if not.
    fn check(&mut self) -> Result<()>;

    /// Become the one controller of this store for as long as `self` lives; a second live
    /// controller gets [`StoreError::Locked`]. A controller that died (even by SIGKILL) releases
    /// the claim with its process (SQLite: an exclusive lock on a file beside the database) or
    /// its connection (PostgreSQL: a session advisory lock). The memory store always succeeds.
    fn claim_controller(&mut self, owner: &str) -> Result<()>;

    /// `hs initdb --truncate`: drop and recreate the tables.
    fn truncate(&mut self) -> Result<()>;
    /// `hs initdb --vacuum`.
    fn vacuum(&mut self) -> Result<()>;
    /// `hs initdb --backup PATH` (SQLite only: `VACUUM INTO`; the path must not exist).
    fn backup(&mut self, path: &std::path::Path) -> Result<()>;

    /// Insert new tasks in one transaction. Nothing is acknowledged before this returns.
    fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()>;

    /// Insert new tasks read from an input and, in the same transaction, record how far that
    /// input has been read (`progress`), so that a run whose store failed part-way can be
    /// finished by reading the same input again and skipping what is stored (see
    /// [`InputProgress`]). A store that does not outlive its process just inserts them.
    fn submit_lines(&mut self, tasks: &[TaskRecord], progress: &InputProgress) -> Result<()> {
        let _ = progress;
        self.submit(tasks)
    }

    /// The input of `submission` was stored to its end (or given up on purpose): forget its
    /// progress.
    fn input_done(&mut self, submission: &Uuid) -> Result<()> {
        let _ = submission;
        Ok(())
    }

    /// Inputs whose reading stopped before their end with some of their lines stored (the
    /// store failed, or the process died), oldest first.
    fn unfinished_inputs(&mut self) -> Result<Vec<InputProgress>> {
        Ok(Vec::new())
    }

    /// Record that these tasks were handed to an engine (`client_id`, `client_host`), before
    /// they leave, so a controller restarted after a crash knows which of the tasks its
    /// predecessor took from the store an engine may be running ([`interrupted`] rows with a
    /// `client_id`), and which it only held (none).
    ///
    /// [`interrupted`]: TaskStore::interrupted
    fn mark_handed_out(&mut self, handouts: &[Handout]) -> Result<()>;

    /// After a [transient](StoreError::is_transient) error: get a working connection again
    /// (PostgreSQL: a new session, with the controller claim taken again; a claim another
    /// controller took meanwhile is [`StoreError::Locked`]). Stores with nothing to reconnect
    /// return at once.
    fn reconnect(&mut self) -> Result<()> {
        Ok(())
    }

    /// Take up to `limit` tasks to run, in one transaction: unscheduled tasks of the active group
    /// in submit order (failed tasks due a retry first when eager, else only to fill the
    /// bundle), with retry rows created as HyperShell does (new id, `attempt+1`,
    /// `previous_id`/`next_id` linked, tags, group, cores, memory and timeout copied). Marks them
    /// scheduled (`schedule_time`, `server_id`, `server_host`) and returns them.
    fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>>;

    /// Record finished tasks in one transaction (first final result wins: a row that already has
    /// a `completion_time` is left alone and its id is not returned). Returns the ids recorded.
    fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>>;

    /// Cancel those of `ids` that have no final result yet, as `hs update --cancel` does
    /// (`schedule_time = completion_time = now`, `exit_status = -1`), in one transaction; returns
    /// the rows it cancelled (a client watching them is told from these).
    fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>>;

    /// Put tasks back as never scheduled (an interrupted controller had them waiting, or its
    /// engines handed them back): no attempt is consumed, and a restarted controller does not
    /// mistake them for tasks an engine may still be running.
    fn unschedule(&mut self, ids: &[Uuid]) -> Result<()>;

    /// After a controller crash: tasks scheduled but not completed, whoever scheduled them.
    fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>>;

    /// One task by id.
    fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>>;

    /// Which of `ids` already have a final result in the store (e.g. cancelled with
    /// `hs update --cancel` after the controller took them): they must not run.
    fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>>;

    /// What a scheduler taking every task would run (with `max_retries`): asked by a run that
    /// takes only its own, before it submits any, to say what it leaves alone.
    fn pending(&mut self, max_retries: u32) -> Result<Pending> {
        let unfinished = self.count(&Query::remaining())?;
        let attempts = i64::from(max_retries) + 1;
        let [others, hangups] = Query::retryable(attempts);
        let retryable = self.count(&others)? + self.count(&hangups)?;
        Ok(Pending {
            unfinished,
            retryable,
        })
    }

    /// Tasks matching `query`.
    fn search(&mut self, query: &Query) -> Result<Vec<TaskRecord>>;

    /// How many tasks match `query` (respecting its limit).
    fn count(&mut self, query: &Query) -> Result<u64>;

    /// Apply `changes` to every task matching `query`, in one transaction; returns how many.
    fn update(&mut self, query: &Query, changes: &[Change]) -> Result<u64>;

    /// Delete matching tasks; returns how many.
    fn delete(&mut self, query: &Query) -> Result<u64>;

    /// Distinct tag keys, and distinct values of one key.
    fn tag_keys(&mut self) -> Result<Vec<String>>;
    fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>>;

    /// Engines: record a registration, and a departure (`evicted` when it went silent).
    fn engine_connected(&mut self, client: &EngineRecord) -> Result<()>;
    fn engine_disconnected(&mut self, id: &Uuid, evicted: bool) -> Result<()>;
}
