//! The `job` column: a task's own run settings (`cd`, `out`, `err`, `env`, … of a JSON job or a
//! library client's task) as JSON, NULL when it has none.
//!
//! Without it a durable controller would run a client's job in the wrong directory with its
//! output in the wrong place, and a controller restarted from its database would do the same
//! to every job it takes back. It is not one of HyperShell's columns and not a field of
//! `hs list`: only the controller reads it, when it schedules. Databases made before it existed
//! get it from the first command that may write (`initialize`), or from the first submit that
//! needs it; until then reads see NULL in its place, so older databases keep working (and older
//! hs versions ignore it, so the schema version stays the same).

use serde_json::Value as Json;

use super::query::FieldKind;
use super::record::TaskRecord;
use super::sql::{Conn, Dialect, SqlCore};
use super::value::{Param, record_from, task_kinds};
use super::{Result, StoreError};

/// `ALTER TABLE` adding the column to a database made before it existed.
fn add_column(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "ALTER TABLE task ADD COLUMN \"job\" TEXT",
        Dialect::Postgres => "ALTER TABLE task ADD COLUMN IF NOT EXISTS \"job\" JSONB",
    }
}

/// The cell a row's job options are stored as.
pub(crate) fn job_param(r: &TaskRecord) -> Param {
    Param::Json(
        r.job
            .as_ref()
            .and_then(|j| serde_json::to_value(j).ok())
            .unwrap_or(Json::Null),
    )
}

impl<C: Conn> SqlCore<C> {
    /// Whether the task table has the column (asked once per store, then remembered).
    pub(crate) fn has_job_column(&mut self) -> Result<bool> {
        if let Some(known) = self.job_column {
            return Ok(known);
        }
        let sql = match self.d() {
            Dialect::Sqlite => "SELECT count(*) FROM pragma_table_info('task') WHERE name = 'job'",
            Dialect::Postgres => {
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = \
                 current_schema() AND table_name = 'task' AND column_name = 'job'"
            }
        };
        let rows = self.conn.query(sql, &[], &[FieldKind::Int])?;
        let found = matches!(
            rows.first().and_then(|r| r.first()),
            Some(Param::Int(Some(n))) if *n > 0
        );
        self.job_column = Some(found);
        Ok(found)
    }

    /// Add the column if the table lacks it.
    pub(crate) fn ensure_job_column(&mut self) -> Result<()> {
        if self.has_job_column()? {
            return Ok(());
        }
        self.conn.batch(add_column(self.d()))?;
        self.conn.forget_statements();
        self.job_column = Some(true);
        Ok(())
    }

    /// What to select after the task columns: the column, or NULL where there is none yet.
    pub(crate) fn job_select(&mut self) -> Result<&'static str> {
        Ok(match (self.has_job_column()?, self.d()) {
            (true, _) => "\"job\"",
            (false, Dialect::Sqlite) => "NULL",
            (false, Dialect::Postgres) => "NULL::jsonb",
        })
    }

    /// Decode rows of every task column followed by the job column.
    pub(crate) fn tasks_with_job(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<TaskRecord>> {
        let mut kinds = task_kinds().to_vec();
        kinds.push(FieldKind::Json);
        let mut out = Vec::new();
        for mut row in self.conn.query(sql, params, &kinds)? {
            let job = match row.pop() {
                Some(Param::Json(Json::Null)) | None => None,
                Some(Param::Json(j)) => Some(serde_json::from_value(j).map_err(|_| {
                    StoreError::Backend("column job holds bad JSON: the database is damaged".into())
                })?),
                Some(_) => None,
            };
            let mut r = record_from(row)?;
            r.job = job;
            out.push(r);
        }
        Ok(out)
    }
}
