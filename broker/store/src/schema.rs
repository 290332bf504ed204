//! The schema: HyperShell's `task` and `client` tables (same column names and meanings, plus
//! `signal`, and `job`: see `job_column`), an `hs_meta` key/value table holding the schema version, and the indexes that keep
//! scheduling fast at millions of rows.
//!
//! Types differ by dialect. SQLite keeps ids as hyphenated text, times as fixed-width ISO-8601
//! UTC text (`2024-01-02T03:04:05.678901Z`, so text order is time order) and tags as JSON text.
//! PostgreSQL uses `UUID`, `TIMESTAMPTZ`, `JSONB`, and `BIGINT` for every 64-bit number (D11:
//! `memory` is a byte count and never overflows).
//!
//! Indexes (all but the last partial, so they hold only the rows the scheduler looks for):
//! - `task_unscheduled ("group", submit_time, id) WHERE schedule_time IS NULL AND completion_time
//!   IS NULL`: new tasks of the active group in submit order, the next group with work;
//! - `task_failed ("group", attempt, completion_time) WHERE` [`FAILED`]: failed tasks due a retry
//!   (`attempt < attempts`) and exhausted failures (`attempt >= attempts`) of a group, without
//!   visiting the millions that succeeded. It replaces `task_retries`, whose predicate took every
//!   `exit_status = -1` for a cancel, SIGHUP deaths included; `create` drops that one;
//! - `task_retries_by_submitter (submit_id, "group", attempt, completion_time) WHERE` [`FAILED`]:
//!   the same for a run that takes only the tasks it submitted (see `Scope`), without visiting
//!   every failure earlier runs left in the database;
//! - `task_remaining ("group", schedule_time, completion_time) WHERE completion_time IS NULL`
//!   (covering): "is this group finished?", and the interrupted tasks after a crash;
//! - `engine_disconnected (disconnected_at)` as in HyperShell.

use super::sql::Dialect;

/// The schema version this hs writes and understands.
pub const SCHEMA_VERSION: i64 = 1;

/// The tables an initialised store has.
pub(crate) const TABLES: [&str; 3] = ["hs_meta", "task", "client"];

/// The predicate of a failed task not yet retried (shared by the index and the queries, so the
/// planners match them textually). `-1` with no `signal` is a cancel, never retried; `-1` with
/// `signal = 1` is a death by SIGHUP, a failure like any other signal death.
pub(crate) const FAILED: &str = "\"exit_status\" <> 0 AND (\"exit_status\" <> -1 OR \"signal\" IS NOT NULL) \
                                 AND \"retried\" = FALSE";

/// `CREATE ... IF NOT EXISTS` statements, in order.
pub(crate) fn create(d: Dialect) -> Vec<String> {
    let (uuid, time, int, float, boolean, json) = match d {
        Dialect::Sqlite => ("TEXT", "TEXT", "INTEGER", "REAL", "BOOLEAN", "TEXT"),
        Dialect::Postgres => (
            "UUID",
            "TIMESTAMPTZ",
            "BIGINT",
            "DOUBLE PRECISION",
            "BOOLEAN",
            "JSONB",
        ),
    };
    let int32 = "INTEGER";
    let json_default = match d {
        Dialect::Sqlite => "'{}'",
        Dialect::Postgres => "'{}'::jsonb",
    };
    vec![
        "CREATE TABLE IF NOT EXISTS hs_meta (\"key\" TEXT PRIMARY KEY NOT NULL, \"value\" TEXT NOT NULL)"
            .to_string(),
        format!(
            "CREATE TABLE IF NOT EXISTS task (
                \"id\" {uuid} PRIMARY KEY NOT NULL,
                \"group\" {int} NOT NULL DEFAULT 0,
                \"args\" TEXT NOT NULL,
                \"submit_id\" {uuid} NOT NULL,
                \"submit_time\" {time} NOT NULL,
                \"submit_host\" TEXT,
                \"cores\" {int},
                \"memory\" {int},
                \"cores_max\" {float},
                \"memory_max\" {float},
                \"timeout\" {int},
                \"server_id\" {uuid},
                \"server_host\" TEXT,
                \"schedule_time\" {time},
                \"client_id\" {uuid},
                \"client_host\" TEXT,
                \"command\" TEXT,
                \"start_time\" {time},
                \"completion_time\" {time},
                \"exit_status\" {int32},
                \"signal\" {int32},
                \"outpath\" TEXT,
                \"errpath\" TEXT,
                \"csvpath\" TEXT,
                \"attempt\" {int32} NOT NULL DEFAULT 1,
                \"retried\" {boolean} NOT NULL DEFAULT FALSE,
                \"waited\" {int},
                \"duration\" {int},
                \"previous_id\" {uuid},
                \"next_id\" {uuid},
                \"tag\" {json} NOT NULL DEFAULT {json_default},
                \"job\" {json}
            )"
        ),
        "CREATE INDEX IF NOT EXISTS task_unscheduled ON task (\"group\", \"submit_time\", \"id\") \
         WHERE \"schedule_time\" IS NULL AND \"completion_time\" IS NULL"
            .to_string(),
        // Its predicate counted SIGHUP deaths as cancels; queries no longer match it.
        "DROP INDEX IF EXISTS task_retries".to_string(),
        format!(
            "CREATE INDEX IF NOT EXISTS task_failed ON task (\"group\", \"attempt\", \"completion_time\") \
             WHERE {FAILED}"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS task_retries_by_submitter ON task \
             (\"submit_id\", \"group\", \"attempt\", \"completion_time\") WHERE {FAILED}"
        ),
        "CREATE INDEX IF NOT EXISTS task_remaining ON task (\"group\", \"schedule_time\", \"completion_time\") \
         WHERE \"completion_time\" IS NULL"
            .to_string(),
        format!(
            "CREATE TABLE IF NOT EXISTS client (
                \"id\" {uuid} PRIMARY KEY NOT NULL,
                \"host\" TEXT NOT NULL,
                \"server_id\" {uuid} NOT NULL,
                \"server_host\" TEXT NOT NULL,
                \"connected_at\" {time} NOT NULL,
                \"disconnected_at\" {time},
                \"evicted\" {boolean} NOT NULL DEFAULT FALSE
            )"
        ),
        "CREATE INDEX IF NOT EXISTS engine_disconnected ON client (\"disconnected_at\")".to_string(),
    ]
}
