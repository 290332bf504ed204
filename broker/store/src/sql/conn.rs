//! The [`Conn`] trait each SQL backend implements, and [`SqlCore`], the store logic written
//! once over it: inserts, scheduling, groups, completions and retries.

use super::*;

/// The outcome of [`Conn::claim`].
pub(crate) enum Claimed {
    /// Claimed; the owner is recorded already (SQLite: in the lock file).
    Done,
    /// Claimed; record the owner in `hs_meta` for the next claimant's message.
    RecordOwner,
    /// Someone else holds it; their name is in `hs_meta`.
    TakenSeeRecord,
}

/// What each backend provides: statements with typed parameters and typed rows, plus the few
/// operations that have no common SQL.
pub(crate) trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Run statements without parameters or results.
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Run one (cached) statement; returns the rows changed.
    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64>;
    /// Run one (cached) statement and decode every row as `kinds`.
    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        kinds: &[FieldKind],
    ) -> Result<Vec<Vec<Param>>>;
    /// Drop cached statements (after the tables were dropped and recreated).
    fn forget_statements(&mut self);
    fn table_exists(&mut self, table: &str) -> Result<bool>;
    /// Try to become the one controller (see [`Claimed`]).
    fn claim(&mut self, owner: &str) -> Result<Claimed>;
    fn backup(&mut self, path: &Path) -> Result<()>;
    fn vacuum(&mut self) -> Result<()>;
    /// A working connection again after a transient error (see [`TaskStore::reconnect`]).
    fn reconnect(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The [`TaskStore`] logic over any [`Conn`].
pub(crate) struct SqlCore<C: Conn> {
    pub(crate) conn: C,
    /// `INSERT` statements by rows per statement and whether they fill the `job` column.
    pub(super) insert_sql: HashMap<(usize, bool), String>,
    /// Whether the task table has the `job` column (see `job_column`), once asked.
    pub(crate) job_column: Option<bool>,
    /// The active group of a scheduler that takes only its own tasks ([`Scope::Submitters`]),
    /// by its `server_id`: its run's, kept here rather than in `hs_meta`, which is the store's
    /// (see [`SqlCore::active_group`]).
    pub(super) run_group: Option<(Uuid, i64)>,
}

impl<C: Conn> SqlCore<C> {
    pub(crate) fn new(conn: C) -> Self {
        SqlCore {
            conn,
            insert_sql: HashMap::new(),
            job_column: None,
            run_group: None,
        }
    }

    pub(crate) fn d(&self) -> Dialect {
        self.conn.dialect()
    }

    /// Run `f` in one transaction (rolled back if it fails).
    pub(super) fn tx<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let begin = self.d().begin();
        self.conn.batch(begin)?;
        match f(self).and_then(|v| self.conn.batch("COMMIT").map(|()| v)) {
            Ok(v) => Ok(v),
            Err(e) => {
                let _ = self.conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    pub(super) fn tasks(&mut self, sql: &str, params: &[Param]) -> Result<Vec<TaskRecord>> {
        self.conn
            .query(sql, params, &task_kinds())?
            .into_iter()
            .map(record_from)
            .collect()
    }

    pub(super) fn scalar_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>> {
        let rows = self.conn.query(sql, params, &[FieldKind::Int])?;
        Ok(
            match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
                Some(Param::Int(v)) => v,
                _ => None,
            },
        )
    }

    pub(super) fn texts(&mut self, sql: &str, params: &[Param]) -> Result<Vec<String>> {
        let rows = self.conn.query(sql, params, &[FieldKind::Text])?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.into_iter().next() {
                Some(Param::Text(v)) => v,
                _ => None,
            })
            .collect())
    }

    pub(super) fn meta_get(&mut self, key: &str) -> Result<Option<String>> {
        let mut b = Bind::new(self.d());
        let k = b.bind(Param::Text(Some(key.into())));
        let sql = format!("SELECT \"value\" FROM hs_meta WHERE \"key\" = {k}");
        Ok(self.texts(&sql, &b.params)?.into_iter().next())
    }

    pub(super) fn meta_set(&mut self, key: &str, value: &str) -> Result<()> {
        let mut b = Bind::new(self.d());
        let k = b.bind(Param::Text(Some(key.into())));
        let v = b.bind(Param::Text(Some(value.into())));
        let sql = format!(
            "INSERT INTO hs_meta (\"key\", \"value\") VALUES ({k}, {v}) \
             ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\""
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }

    pub(super) fn stored_version(&mut self) -> Result<Option<i64>> {
        if !self.conn.table_exists("hs_meta")? {
            return Ok(None);
        }
        match self.meta_get("schema_version")? {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                StoreError::Backend(format!("hs_meta holds a bad schema_version {v:?}"))
            }),
        }
    }

    pub(super) fn refuse_newer(&mut self) -> Result<()> {
        match self.stored_version()? {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn create_tables(&mut self) -> Result<()> {
        for ddl in schema::create(self.d()) {
            self.conn.batch(&ddl)?;
        }
        if self.meta_get("schema_version")?.is_none() {
            self.meta_set("schema_version", &SCHEMA_VERSION.to_string())?;
        }
        Ok(())
    }

    /// The controller recorded in `hs_meta` (for a [`StoreError::Locked`]).
    pub(super) fn recorded_owner(&mut self) -> Option<String> {
        if !self.conn.table_exists("hs_meta").ok()? {
            return None;
        }
        self.meta_get("controller").ok().flatten()
    }

    pub(super) fn record_owner(&mut self, owner: &str) -> Result<()> {
        if self.conn.table_exists("hs_meta")? {
            self.meta_set("controller", owner)?;
        }
        Ok(())
    }

    /// Insert rows with multi-row `INSERT`s (inside the caller's transaction). A chunk with job
    /// options fills the `job` column too (the caller made sure it exists).
    pub(super) fn insert_rows(&mut self, rows: &[TaskRecord]) -> Result<()> {
        let d = self.d();
        let max = d.insert_batch();
        let mut i = 0;
        while i < rows.len() {
            let n = chunk(rows.len() - i, max);
            let part = &rows[i..i + n];
            let with_job = part.iter().any(|r| r.job.is_some());
            let sql = self
                .insert_sql
                .entry((n, with_job))
                .or_insert_with(|| {
                    // Placeholders only depend on each cell's type, so any task shapes them.
                    let shape = TaskRecord::new(String::new(), Uuid::nil(), None);
                    let mut b = Bind::new(d);
                    let mut values = Vec::with_capacity(n);
                    for _ in 0..n {
                        let mut row: Vec<String> = task_params(&shape).map(|p| b.bind(p)).collect();
                        if with_job {
                            row.push(b.bind(job_param(&shape)));
                        }
                        values.push(format!("({})", row.join(", ")));
                    }
                    let job = if with_job { ", \"job\"" } else { "" };
                    format!(
                        "INSERT INTO task ({}{job}) VALUES {}",
                        *COLUMNS,
                        values.join(", ")
                    )
                })
                .clone();
            let mut params: Vec<Param> = Vec::with_capacity(n * (Field::ALL.len() + 1));
            for r in part {
                params.extend(task_params(r));
                if with_job {
                    params.push(job_param(r));
                }
            }
            self.conn.exec(&sql, &params)?;
            i += n;
        }
        Ok(())
    }

    /// `UPDATE task SET <set> FROM (VALUES …) AS v WHERE task.id = v.column1 [AND extra]`,
    /// in chunks; returns the ids changed (when `returning`).
    pub(super) fn update_from_values(
        &mut self,
        set: &str,
        extra: &str,
        rows: Vec<Vec<Param>>,
        returning: bool,
    ) -> Result<Vec<Uuid>> {
        let d = self.d();
        let mut changed = Vec::new();
        let width = rows.first().map_or(0, Vec::len);
        if width == 0 {
            return Ok(changed);
        }
        let max = (8000 / width).max(1);
        let mut rows = rows.into_iter().peekable();
        let mut left = rows.len();
        while rows.peek().is_some() {
            let n = chunk(left, max);
            left -= n;
            let mut b = Bind::new(d);
            let mut values = Vec::with_capacity(n);
            for row in rows.by_ref().take(n) {
                let cells: Vec<String> = row.into_iter().map(|p| b.bind(p)).collect();
                values.push(format!("({})", cells.join(", ")));
            }
            let mut sql = format!(
                "UPDATE task SET {set} FROM (VALUES {}) AS v WHERE task.\"id\" = v.column1{extra}",
                values.join(", ")
            );
            if returning {
                sql.push_str(" RETURNING task.\"id\"");
                for r in self.conn.query(&sql, &b.params, &[FieldKind::Uuid])? {
                    if let Some(Param::Uuid(Some(id))) = r.into_iter().next() {
                        changed.push(id);
                    }
                }
            } else {
                self.conn.exec(&sql, &b.params)?;
            }
        }
        Ok(changed)
    }

    /// The ids matching a query (in its order, within its limit).
    pub(super) fn matching_ids(&mut self, q: &Query) -> Result<Vec<Uuid>> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = select_sql(d, &mut b, "\"id\"", q)?;
        Ok(self
            .conn
            .query(&sql, &b.params, &[FieldKind::Uuid])?
            .into_iter()
            .filter_map(|r| match r.into_iter().next() {
                Some(Param::Uuid(v)) => v,
                _ => None,
            })
            .collect())
    }

    // ---- scheduling ----

    /// The group a scheduler is working through. A scheduler of every task keeps it in
    /// `hs_meta`, so a restarted controller carries on where the last one was; one that takes
    /// only its own run's tasks keeps it for its run, so the groups earlier runs reached neither
    /// hold back nor skip the groups of its tasks.
    pub(super) fn active_group(&mut self, by: &Scheduler) -> Result<Option<i64>> {
        Ok(match by.scope {
            Scope::All => self
                .meta_get("active_group")?
                .and_then(|v| v.trim().parse::<i64>().ok()),
            Scope::Submitters(_) => self
                .run_group
                .filter(|(server, _)| *server == by.server_id)
                .map(|(_, g)| g),
        })
    }

    pub(super) fn set_active_group(&mut self, by: &Scheduler, group: i64) -> Result<()> {
        match by.scope {
            Scope::All => self.meta_set("active_group", &group.to_string()),
            Scope::Submitters(_) => {
                self.run_group = Some((by.server_id, group));
                Ok(())
            }
        }
    }

    /// ` AND <submit_id is the scheduler's>`, or nothing when it takes every task.
    pub(super) fn owned(&self, b: &mut Bind, by: &Scheduler) -> String {
        match by.owners() {
            None => String::new(),
            Some(ids) => {
                let p = b.bind(Param::Ids(ids));
                format!(" AND {}", self.d().in_ids("\"submit_id\"", &p))
            }
        }
    }

    /// The lowest group with work (above `above`, if given): unscheduled tasks, or failed ones
    /// due a retry (all a `--restart` finds when the last run ended on failures).
    pub(super) fn next_group(
        &mut self,
        above: Option<i64>,
        attempts: i64,
        by: &Scheduler,
    ) -> Result<Option<i64>> {
        let d = self.d();
        let unscheduled = "\"schedule_time\" IS NULL AND \"completion_time\" IS NULL".to_string();
        let new = self.lowest_group(Bind::new(d), unscheduled, above, by)?;
        let retry = if attempts > 1 {
            let mut b = Bind::new(d);
            let a = b.bind(Param::Int(Some(attempts)));
            self.lowest_group(b, format!("{FAILED} AND \"attempt\" < {a}"), above, by)?
        } else {
            None
        };
        Ok(match (new, retry) {
            (Some(n), Some(r)) => Some(n.min(r)),
            (n, r) => n.or(r),
        })
    }

    /// The lowest group of `by`'s tasks matching `work` (above `above`, if given).
    pub(super) fn lowest_group(
        &mut self,
        mut b: Bind,
        work: String,
        above: Option<i64>,
        by: &Scheduler,
    ) -> Result<Option<i64>> {
        let mut sql = format!("SELECT min(\"group\") FROM task WHERE {work}");
        if let Some(g) = above {
            let p = b.bind(Param::Int(Some(g)));
            sql.push_str(&format!(" AND \"group\" > {p}"));
        }
        sql.push_str(&self.owned(&mut b, by));
        self.scalar_int(&sql, &b.params)
    }

    /// Whether `group` must not be left yet: something in it is incomplete, or a task in it
    /// failed with its attempts exhausted. (The `ORDER BY` follows the partial indexes so that
    /// even PostgreSQL's generic plan for these prepared probes is an index scan, never a scan
    /// of every finished row when nothing matches.)
    pub(super) fn group_holds(
        &mut self,
        group: i64,
        attempts: i64,
        by: &Scheduler,
    ) -> Result<bool> {
        let d = self.d();
        let mut b = Bind::new(d);
        let g = b.bind(Param::Int(Some(group)));
        let owned = self.owned(&mut b, by);
        let sql = format!(
            "SELECT 1 FROM task WHERE \"group\" = {g} AND \"completion_time\" IS NULL{owned} \
             ORDER BY \"group\", \"schedule_time\" LIMIT 1"
        );
        if !self
            .conn
            .query(&sql, &b.params, &[FieldKind::Int])?
            .is_empty()
        {
            return Ok(true);
        }
        let mut b = Bind::new(d);
        let g = b.bind(Param::Int(Some(group)));
        let a = b.bind(Param::Int(Some(attempts)));
        let owned = self.owned(&mut b, by);
        let sql = format!(
            "SELECT 1 FROM task WHERE \"group\" = {g} AND {FAILED} AND \"attempt\" >= {a}{owned} \
             ORDER BY \"group\", \"attempt\" LIMIT 1"
        );
        Ok(!self
            .conn
            .query(&sql, &b.params, &[FieldKind::Int])?
            .is_empty())
    }

    /// Mark up to `n` new tasks of `group` scheduled and return them in submit order.
    pub(super) fn take_new(
        &mut self,
        group: i64,
        n: usize,
        by: &Scheduler,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<TaskRecord>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut b = Bind::new(self.d());
        let t = b.bind(Param::Time(Some(at)));
        let sid = b.bind(Param::Uuid(Some(by.server_id)));
        let sh = b.bind(Param::Text(Some(by.server_host.clone())));
        let g = b.bind(Param::Int(Some(group)));
        let owned = self.owned(&mut b, by);
        let l = b.bind(limit_param(n as u64));
        let sql = format!(
            "UPDATE task SET \"schedule_time\" = {t}, \"server_id\" = {sid}, \"server_host\" = {sh} \
             WHERE \"id\" IN (SELECT \"id\" FROM task WHERE \"schedule_time\" IS NULL \
             AND \"completion_time\" IS NULL AND \"group\" = {g}{owned} \
             ORDER BY \"submit_time\", \"id\" LIMIT {l}) RETURNING {}, {}",
            *COLUMNS,
            self.job_select()?
        );
        let mut rows = self.tasks_with_job(&sql, &b.params)?;
        rows.sort_by_key(|r| (r.submit_time, r.id));
        Ok(rows)
    }

    /// Create retry rows for up to `n` failed tasks of `group` due one (oldest failure first),
    /// already scheduled; link the chain.
    pub(super) fn take_retries(
        &mut self,
        group: i64,
        attempts: i64,
        n: usize,
        by: &Scheduler,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<TaskRecord>> {
        if n == 0 || attempts <= 1 {
            return Ok(Vec::new());
        }
        let mut b = Bind::new(self.d());
        let g = b.bind(Param::Int(Some(group)));
        let a = b.bind(Param::Int(Some(attempts)));
        let owned = self.owned(&mut b, by);
        let l = b.bind(limit_param(n as u64));
        let sql = format!(
            "SELECT {}, {} FROM task WHERE \"group\" = {g} AND {FAILED} AND \"attempt\" < {a}{owned} \
             ORDER BY \"completion_time\", \"id\" LIMIT {l}",
            *COLUMNS,
            self.job_select()?
        );
        let failed = self.tasks_with_job(&sql, &b.params)?;
        if failed.is_empty() {
            return Ok(failed);
        }
        let retries: Vec<TaskRecord> = failed.iter().map(|f| retry_of(f, by, at)).collect();
        self.insert_rows(&retries)?;
        let links = failed
            .iter()
            .zip(&retries)
            .map(|(f, r)| vec![Param::Uuid(Some(f.id)), Param::Uuid(Some(r.id))])
            .collect();
        self.update_from_values(
            "\"retried\" = TRUE, \"next_id\" = v.column2",
            "",
            links,
            false,
        )?;
        Ok(retries)
    }

    pub(super) fn schedule_in_tx(
        &mut self,
        limit: usize,
        by: &Scheduler,
    ) -> Result<Vec<TaskRecord>> {
        let at = now();
        let attempts = i64::from(by.max_retries) + 1;
        let mut stored = self.active_group(by)?;
        // Each pass either returns or moves to a strictly higher group.
        loop {
            let group = match stored {
                Some(g) => g,
                None => match self.next_group(None, attempts, by)? {
                    Some(g) => g,
                    None => return Ok(Vec::new()),
                },
            };
            let mut out;
            if by.eager {
                out = self.take_retries(group, attempts, limit, by, at)?;
                let more = self.take_new(group, limit - out.len(), by, at)?;
                out.extend(more);
            } else {
                out = self.take_new(group, limit, by, at)?;
                let more = self.take_retries(group, attempts, limit - out.len(), by, at)?;
                out.extend(more);
            }
            if !out.is_empty() {
                if stored != Some(group) {
                    self.set_active_group(by, group)?;
                }
                return Ok(out);
            }
            if self.group_holds(group, attempts, by)? {
                return Ok(Vec::new());
            }
            match self.next_group(Some(group), attempts, by)? {
                Some(next) => {
                    self.set_active_group(by, next)?;
                    stored = Some(next);
                }
                None => return Ok(Vec::new()),
            }
        }
    }

    pub(super) fn apply_change(&mut self, ids: &[Uuid], change: &Change) -> Result<()> {
        let d = self.d();
        let mut b = Bind::new(d);
        let (set, only) = match change {
            Change::Set(f, v) => {
                let p = coerce(*f, v, true)?;
                check_settable(*f, &p)?;
                let rhs = if p.is_null() {
                    "NULL".to_string()
                } else if let (Param::Json(j), Dialect::Sqlite) = (&p, d) {
                    d.json_param(&mut b, &j.clone())
                } else {
                    b.bind(p)
                };
                (format!("{} = {rhs}", col(*f)), String::new())
            }
            Change::SetTag(key, v) => {
                let k = b.bind(d.tag_key(key)?);
                let val = b.bind(Param::Json(v.clone()));
                let e = match d {
                    Dialect::Sqlite => format!("json_set(\"tag\", {k}, json({val}))"),
                    Dialect::Postgres => format!("(\"tag\" || jsonb_build_object({k}, {val}))"),
                };
                (format!("\"tag\" = {e}"), String::new())
            }
            Change::RemoveTag(key) => {
                let k = b.bind(d.tag_key(key)?);
                let e = match d {
                    Dialect::Sqlite => format!("json_remove(\"tag\", {k})"),
                    Dialect::Postgres => format!("(\"tag\" - {k})"),
                };
                (format!("\"tag\" = {e}"), String::new())
            }
            Change::Cancel => {
                let t = b.bind(Param::Time(Some(now())));
                (
                    format!(
                        "\"schedule_time\" = {t}, \"completion_time\" = {t}, \"exit_status\" = -1"
                    ),
                    " AND \"completion_time\" IS NULL".to_string(),
                )
            }
            Change::Revert => (
                REVERTED
                    .iter()
                    .map(|f| format!("{} = NULL", col(*f)))
                    .collect::<Vec<_>>()
                    .join(", "),
                // A cancel (-1 without a signal) is never reverted; a SIGHUP death (-1, 1) is.
                " AND (\"exit_status\" IS NULL OR \"exit_status\" <> -1 OR \"signal\" IS NOT NULL)"
                    .to_string(),
            ),
        };
        let p = b.bind(Param::Ids(ids.to_vec()));
        let sql = format!(
            "UPDATE task SET {set} WHERE {}{only}",
            d.in_ids("\"id\"", &p)
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }
}
