//! Everything the two SQL backends share: SQL generation for both dialects (placeholders,
//! conditions, tag filters, orders, changes) and the whole [`TaskStore`] logic, written once
//! over a small [`Conn`] trait that SQLite and PostgreSQL each implement (run a statement, read
//! typed rows, and the few operations that differ: the controller lock, backup, vacuum).
//!
//! Placeholders: SQLite gets `?N`; PostgreSQL gets `$N::type`, the type taken from the bound
//! [`Param`], so the server never has to guess and the Rust type always matches.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

use uuid::Uuid;

use super::job_column::job_param;
use super::query::{Change, Condition, Field, FieldKind, Op, Order, Query, TagFilter};
use super::record::{ClientRecord, Completion, TaskRecord};
use super::schema::{self, FAILED, SCHEMA_VERSION};
use super::value::{
    Param, check_settable, check_tag_key, coerce, compile_regex, micros, now, record_from,
    regex_text, task_kinds, task_params,
};
use super::{Result, Scheduler, Scope, StoreError, TaskStore};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Rows per multi-row `INSERT` (31 parameters each; SQLite allows 32766, PG 65535).
    fn insert_batch(self) -> usize {
        match self {
            Dialect::Sqlite => 64,
            Dialect::Postgres => 1024,
        }
    }

    /// A quoted column, ready to compare as text bytes (PostgreSQL's collation may be a locale).
    fn text_col(self, f: Field) -> String {
        match (self, f.kind()) {
            (Dialect::Postgres, FieldKind::Text) => format!("{} COLLATE \"C\"", col(f)),
            (Dialect::Postgres, FieldKind::Json) => format!("{}::text COLLATE \"C\"", col(f)),
            _ => col(f),
        }
    }

    /// A column rendered as the text a regular expression searches (the same on both).
    fn regex_subject(self, f: Field) -> String {
        let c = col(f);
        match (self, f.kind()) {
            (_, FieldKind::Text) => c,
            (_, FieldKind::Bool) => format!("CASE WHEN {c} THEN 'true' ELSE 'false' END"),
            (Dialect::Sqlite, FieldKind::Time | FieldKind::Uuid | FieldKind::Json) => c,
            (Dialect::Sqlite, _) => format!("CAST({c} AS TEXT)"),
            (Dialect::Postgres, FieldKind::Time) => {
                format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            (Dialect::Postgres, _) => format!("{c}::text"),
        }
    }

    fn regex_op(self) -> &'static str {
        match self {
            Dialect::Sqlite => "REGEXP",
            Dialect::Postgres => "~",
        }
    }

    /// `column IN <the ids bound as one parameter>`.
    fn in_ids(self, column: &str, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each({placeholder}))"),
            Dialect::Postgres => format!("{column} = ANY({placeholder})"),
        }
    }

    /// The key of a tag as a bound parameter (a JSON path on SQLite).
    fn tag_key(self, key: &str) -> Result<Param> {
        check_tag_key(key)?;
        Ok(Param::Text(Some(match self {
            Dialect::Sqlite => format!("$.\"{key}\""),
            Dialect::Postgres => key.to_string(),
        })))
    }

    /// The JSON of one tag (SQL NULL when absent).
    fn tag_get(self, b: &mut Bind, key: &str) -> Result<String> {
        let k = b.bind(self.tag_key(key)?);
        Ok(format!("(\"tag\" -> {k})"))
    }

    fn json_param(self, b: &mut Bind, v: &serde_json::Value) -> String {
        let p = b.bind(Param::Json(v.clone()));
        match self {
            Dialect::Sqlite => format!("json({p})"),
            Dialect::Postgres => p,
        }
    }
}

fn pg_type(p: &Param) -> &'static str {
    match p {
        Param::Int(_) => "int8",
        Param::Float(_) => "float8",
        Param::Text(_) => "text",
        Param::Bool(_) => "bool",
        Param::Time(_) => "timestamptz",
        Param::Uuid(_) => "uuid",
        Param::Json(_) => "jsonb",
        Param::Ids(_) => "uuid[]",
    }
}

/// Most ids bound (as one parameter, see [`Dialect::in_ids`]) in one statement. The statement's
/// text does not depend on how many, so it is prepared once and stays cached.
const ID_CHUNK: usize = 1000;

/// Parameters collected while a statement is generated.
pub(crate) struct Bind {
    d: Dialect,
    pub(crate) params: Vec<Param>,
}

impl Bind {
    pub(crate) fn new(d: Dialect) -> Self {
        Bind {
            d,
            params: Vec::new(),
        }
    }

    /// Bind a value; returns its placeholder.
    pub(crate) fn bind(&mut self, p: Param) -> String {
        let n = self.params.len() + 1;
        let s = match self.d {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}::{}", pg_type(&p)),
        };
        self.params.push(p);
        s
    }
}

pub(crate) fn col(f: Field) -> String {
    format!("\"{}\"", f.name())
}

/// Every task column, quoted, in [`Field::ALL`] order.
static COLUMNS: LazyLock<String> = LazyLock::new(|| {
    Field::ALL
        .iter()
        .map(|f| col(*f))
        .collect::<Vec<_>>()
        .join(", ")
});

fn limit_param(limit: u64) -> Param {
    Param::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX)))
}

fn condition(d: Dialect, b: &mut Bind, c: &Condition) -> Result<String> {
    use super::query::Value;
    let column = col(c.field);
    match (&c.value, c.op) {
        (Value::Null, Op::Eq) => return Ok(format!("{column} IS NULL")),
        (Value::Null, Op::Ne) => return Ok(format!("{column} IS NOT NULL")),
        (Value::Null, _) => {
            return Err(StoreError::BadValue {
                field: c.field.name().into(),
                reason: "null can only be compared with == or !=".into(),
            });
        }
        _ => {}
    }
    if c.op == Op::Regex {
        let pattern = regex_text(&c.value);
        compile_regex(c.field, &pattern)?;
        let p = b.bind(Param::Text(Some(pattern)));
        return Ok(format!("{} {} {p}", d.regex_subject(c.field), d.regex_op()));
    }
    let value = coerce(c.field, &c.value, false)?;
    let op = match c.op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Regex => "~",
    };
    if c.field.kind() == FieldKind::Json {
        if !matches!(c.op, Op::Eq | Op::Ne) {
            return Err(StoreError::BadValue {
                field: c.field.name().into(),
                reason: "tags can only be compared with == or != (or use -t)".into(),
            });
        }
        let Param::Json(j) = &value else {
            return Err(StoreError::BadValue {
                field: "tag".into(),
                reason: "not JSON".into(),
            });
        };
        let p = d.json_param(b, j);
        let lhs = match d {
            Dialect::Sqlite => "json(\"tag\")".to_string(),
            Dialect::Postgres => col(c.field),
        };
        return Ok(format!("{lhs} {op} {p}"));
    }
    let p = b.bind(value);
    let lhs = match c.field.kind() {
        FieldKind::Text => d.text_col(c.field),
        _ => column,
    };
    Ok(format!("{lhs} {op} {p}"))
}

fn tag_filter(d: Dialect, b: &mut Bind, t: &TagFilter) -> Result<String> {
    match t {
        TagFilter::Has(key) => Ok(format!("{} IS NOT NULL", d.tag_get(b, key)?)),
        TagFilter::Equals(key, v) => {
            let lhs = d.tag_get(b, key)?;
            let rhs = d.json_param(b, v);
            Ok(format!("{lhs} = {rhs}"))
        }
    }
}

fn where_sql(d: Dialect, b: &mut Bind, q: &Query) -> Result<String> {
    let mut parts = Vec::new();
    for c in &q.conditions {
        parts.push(condition(d, b, c)?);
    }
    for t in &q.tags {
        parts.push(tag_filter(d, b, t)?);
    }
    if parts.is_empty() {
        Ok("TRUE".into())
    } else {
        Ok(parts.join(" AND "))
    }
}

/// `ORDER BY`: the requested column (NULLs first ascending, last descending, as SQLite does),
/// then the id; by default submit order.
fn order_sql(d: Dialect, order: Option<Order>) -> String {
    match order {
        None => "ORDER BY \"submit_time\" ASC, \"id\" ASC".into(),
        Some(o) => {
            let dir = if o.descending {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            };
            let id_dir = if o.descending { "DESC" } else { "ASC" };
            format!("ORDER BY {} {dir}, \"id\" {id_dir}", d.text_col(o.field))
        }
    }
}

/// `SELECT <what> FROM task WHERE … ORDER BY … LIMIT …`.
fn select_sql(d: Dialect, b: &mut Bind, what: &str, q: &Query) -> Result<String> {
    let w = where_sql(d, b, q)?;
    let mut sql = format!(
        "SELECT {what} FROM task WHERE {w} {}",
        order_sql(d, q.order)
    );
    if let Some(l) = q.limit {
        let p = b.bind(limit_param(l));
        sql.push_str(&format!(" LIMIT {p}"));
    }
    Ok(sql)
}

/// The largest chunk to take from `remaining` rows: `max`, else a power of two (so only a few
/// distinct statements are ever prepared and cached).
fn chunk(remaining: usize, max: usize) -> usize {
    if remaining >= max {
        max
    } else {
        1 << (usize::BITS - 1 - remaining.leading_zeros())
    }
}

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
}

/// The [`TaskStore`] logic over any [`Conn`].
pub(crate) struct SqlCore<C: Conn> {
    pub(crate) conn: C,
    /// `INSERT` statements by rows per statement and whether they fill the `job` column.
    insert_sql: HashMap<(usize, bool), String>,
    /// Whether the task table has the `job` column (see `job_column`), once asked.
    pub(crate) job_column: Option<bool>,
    /// The active group of a scheduler that takes only its own tasks ([`Scope::Submitters`]),
    /// by its `server_id`: its run's, kept here rather than in `hs_meta`, which is the store's
    /// (see [`SqlCore::active_group`]).
    run_group: Option<(Uuid, i64)>,
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
    fn tx<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
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

    fn tasks(&mut self, sql: &str, params: &[Param]) -> Result<Vec<TaskRecord>> {
        self.conn
            .query(sql, params, &task_kinds())?
            .into_iter()
            .map(record_from)
            .collect()
    }

    fn scalar_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>> {
        let rows = self.conn.query(sql, params, &[FieldKind::Int])?;
        Ok(
            match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
                Some(Param::Int(v)) => v,
                _ => None,
            },
        )
    }

    fn texts(&mut self, sql: &str, params: &[Param]) -> Result<Vec<String>> {
        let rows = self.conn.query(sql, params, &[FieldKind::Text])?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.into_iter().next() {
                Some(Param::Text(v)) => v,
                _ => None,
            })
            .collect())
    }

    fn meta_get(&mut self, key: &str) -> Result<Option<String>> {
        let mut b = Bind::new(self.d());
        let k = b.bind(Param::Text(Some(key.into())));
        let sql = format!("SELECT \"value\" FROM hs_meta WHERE \"key\" = {k}");
        Ok(self.texts(&sql, &b.params)?.into_iter().next())
    }

    fn meta_set(&mut self, key: &str, value: &str) -> Result<()> {
        let mut b = Bind::new(self.d());
        let k = b.bind(Param::Text(Some(key.into())));
        let v = b.bind(Param::Text(Some(value.into())));
        let sql = format!(
            "INSERT INTO hs_meta (\"key\", \"value\") VALUES ({k}, {v}) \
             ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\""
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }

    fn stored_version(&mut self) -> Result<Option<i64>> {
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

    fn refuse_newer(&mut self) -> Result<()> {
        match self.stored_version()? {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            }),
            _ => Ok(()),
        }
    }

    fn create_tables(&mut self) -> Result<()> {
        for ddl in schema::create(self.d()) {
            self.conn.batch(&ddl)?;
        }
        if self.meta_get("schema_version")?.is_none() {
            self.meta_set("schema_version", &SCHEMA_VERSION.to_string())?;
        }
        Ok(())
    }

    /// The controller recorded in `hs_meta` (for a [`StoreError::Locked`]).
    fn recorded_owner(&mut self) -> Option<String> {
        if !self.conn.table_exists("hs_meta").ok()? {
            return None;
        }
        self.meta_get("controller").ok().flatten()
    }

    fn record_owner(&mut self, owner: &str) -> Result<()> {
        if self.conn.table_exists("hs_meta")? {
            self.meta_set("controller", owner)?;
        }
        Ok(())
    }

    /// Insert rows with multi-row `INSERT`s (inside the caller's transaction). A chunk with job
    /// options fills the `job` column too (the caller made sure it exists).
    fn insert_rows(&mut self, rows: &[TaskRecord]) -> Result<()> {
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
    fn update_from_values(
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
    fn matching_ids(&mut self, q: &Query) -> Result<Vec<Uuid>> {
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
    fn active_group(&mut self, by: &Scheduler) -> Result<Option<i64>> {
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

    fn set_active_group(&mut self, by: &Scheduler, group: i64) -> Result<()> {
        match by.scope {
            Scope::All => self.meta_set("active_group", &group.to_string()),
            Scope::Submitters(_) => {
                self.run_group = Some((by.server_id, group));
                Ok(())
            }
        }
    }

    /// ` AND <submit_id is the scheduler's>`, or nothing when it takes every task.
    fn owned(&self, b: &mut Bind, by: &Scheduler) -> String {
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
    fn next_group(
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
    fn lowest_group(
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
    fn group_holds(&mut self, group: i64, attempts: i64, by: &Scheduler) -> Result<bool> {
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
    fn take_new(
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
    fn take_retries(
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

    fn schedule_in_tx(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
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

    fn apply_change(&mut self, ids: &[Uuid], change: &Change) -> Result<()> {
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

/// The run fields `Revert` clears (HyperShell's revert, plus `signal` and `csvpath`).
pub(crate) const REVERTED: [Field; 15] = [
    Field::ScheduleTime,
    Field::ServerId,
    Field::ServerHost,
    Field::ClientId,
    Field::ClientHost,
    Field::Command,
    Field::StartTime,
    Field::CompletionTime,
    Field::ExitStatus,
    Field::Signal,
    Field::Outpath,
    Field::Errpath,
    Field::Csvpath,
    Field::Waited,
    Field::Duration,
];

/// The row a failed task is retried as (D2: resources are copied too), already scheduled.
///
/// A retry runs exactly the command the failed attempt ran (recorded in its `command`), not its
/// `args` expanded again under whatever template the engine that takes the retry has: a later
/// run with another `-t`, or another `hs client -t`, would otherwise run something else under
/// the same task. A task that never ran a command (a template error) is expanded again.
pub(crate) fn retry_of(
    f: &TaskRecord,
    by: &Scheduler,
    at: chrono::DateTime<chrono::Utc>,
) -> TaskRecord {
    let mut r = TaskRecord::new(f.args.clone(), by.server_id, Some(by.server_host.clone()));
    r.submit_time = at;
    r.group = f.group;
    r.cores = f.cores;
    r.memory = f.memory;
    r.timeout = f.timeout;
    r.tag = f.tag.clone();
    r.job = f.job.clone();
    if let Some(command) = &f.command {
        r.job.get_or_insert_with(Default::default).command = Some(command.clone());
    }
    if let Some(part) = r.tag.get_mut("part") {
        *part = serde_json::Value::from(0);
    }
    r.attempt = f.attempt.saturating_add(1);
    r.previous_id = Some(f.id);
    r.schedule_time = Some(at);
    r.server_id = Some(by.server_id);
    r.server_host = Some(by.server_host.clone());
    r
}

/// The run details of a completion, with `waited`/`duration` worked out (whole seconds,
/// truncated, as HyperShell does).
pub(crate) fn completion_fields(
    c: &Completion,
    submit_time: chrono::DateTime<chrono::Utc>,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
    Option<i64>,
    Option<i64>,
) {
    let start = c.start_time.map(micros);
    let end = micros(c.completion_time);
    let waited = start.map(|s| (s - submit_time).num_seconds());
    let duration = start.map(|s| (end - s).num_seconds());
    (start, end, waited, duration)
}

/// The first completion of each id, in input order.
pub(crate) fn first_of_each(done: &[Completion]) -> Vec<&Completion> {
    let mut seen = HashSet::new();
    done.iter().filter(|c| seen.insert(c.id)).collect()
}

impl<C: Conn> TaskStore for SqlCore<C> {
    fn initialize(&mut self) -> Result<()> {
        self.tx(|s| {
            s.refuse_newer()?;
            s.create_tables()?;
            s.ensure_job_column()
        })
    }

    fn check(&mut self) -> Result<()> {
        for t in schema::TABLES {
            if !self.conn.table_exists(t)? {
                return Err(StoreError::Uninitialized);
            }
        }
        self.refuse_newer()
    }

    fn claim_controller(&mut self, owner: &str) -> Result<()> {
        match self.conn.claim(owner)? {
            Claimed::Done => Ok(()),
            Claimed::RecordOwner => self.record_owner(owner),
            Claimed::TakenSeeRecord => Err(StoreError::Locked {
                owner: self
                    .recorded_owner()
                    .unwrap_or_else(|| "another hs controller".into()),
            }),
        }
    }

    fn truncate(&mut self) -> Result<()> {
        self.conn.forget_statements();
        self.insert_sql.clear();
        self.job_column = None;
        self.run_group = None;
        let r = self.tx(|s| {
            s.refuse_newer()?;
            s.conn.batch("DROP TABLE IF EXISTS task")?;
            s.conn.batch("DROP TABLE IF EXISTS client")?;
            if s.conn.table_exists("hs_meta")? {
                s.conn
                    .batch("DELETE FROM hs_meta WHERE \"key\" = 'active_group'")?;
            }
            s.create_tables()
        });
        self.conn.forget_statements();
        r
    }

    fn vacuum(&mut self) -> Result<()> {
        self.conn.vacuum()
    }

    fn backup(&mut self, path: &Path) -> Result<()> {
        self.conn.backup(path)
    }

    fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        if tasks.iter().any(|r| r.job.is_some()) {
            self.ensure_job_column()?;
        }
        self.tx(|s| s.insert_rows(tasks))
    }

    fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A retry row carries the command its first attempt ran (see `retry_of`).
        if by.max_retries > 0 {
            self.ensure_job_column()?;
        }
        self.tx(|s| s.schedule_in_tx(limit, by))
    }

    fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>> {
        let firsts = first_of_each(done);
        if firsts.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.d();
        self.tx(|s| {
            let mut recorded = HashSet::new();
            for part in firsts.chunks(ID_CHUNK) {
                let mut b = Bind::new(d);
                let p = b.bind(Param::Ids(part.iter().map(|c| c.id).collect()));
                let sql = format!(
                    "SELECT \"id\", \"submit_time\" FROM task WHERE {} AND \"completion_time\" IS NULL",
                    d.in_ids("\"id\"", &p)
                );
                let mut submitted = HashMap::new();
                for r in s.conn.query(&sql, &b.params, &[FieldKind::Uuid, FieldKind::Time])? {
                    if let [Param::Uuid(Some(id)), Param::Time(Some(t))] = r.as_slice() {
                        submitted.insert(*id, *t);
                    }
                }
                let rows: Vec<Vec<Param>> = part
                    .iter()
                    .filter_map(|c| {
                        let submit = submitted.get(&c.id)?;
                        let (start, end, waited, duration) = completion_fields(c, *submit);
                        Some(vec![
                            Param::Uuid(Some(c.id)),
                            Param::Uuid(c.client_id),
                            Param::Text(c.client_host.clone()),
                            Param::Text(c.command.clone()),
                            Param::Time(start),
                            Param::Time(Some(end)),
                            Param::Int(Some(i64::from(c.exit_status))),
                            Param::Int(c.signal.map(i64::from)),
                            Param::Text(c.outpath.clone()),
                            Param::Text(c.errpath.clone()),
                            Param::Int(waited),
                            Param::Int(duration),
                        ])
                    })
                    .collect();
                let set = "\"client_id\" = v.column2, \"client_host\" = v.column3, \
                           \"command\" = v.column4, \"start_time\" = v.column5, \
                           \"completion_time\" = v.column6, \"exit_status\" = v.column7, \
                           \"signal\" = v.column8, \"outpath\" = v.column9, \"errpath\" = v.column10, \
                           \"waited\" = v.column11, \"duration\" = v.column12";
                let ids = s.update_from_values(set, " AND task.\"completion_time\" IS NULL", rows, true)?;
                recorded.extend(ids);
            }
            Ok(firsts.iter().map(|c| c.id).filter(|id| recorded.contains(id)).collect())
        })
    }

    fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.d();
        self.tx(|s| {
            let mut cancelled = Vec::new();
            for part in ids.chunks(ID_CHUNK) {
                let mut b = Bind::new(d);
                let t = b.bind(Param::Time(Some(now())));
                let p = b.bind(Param::Ids(part.to_vec()));
                let sql = format!(
                    "UPDATE task SET \"schedule_time\" = {t}, \"completion_time\" = {t}, \
                     \"exit_status\" = -1 WHERE {} AND \"completion_time\" IS NULL RETURNING {}",
                    d.in_ids("\"id\"", &p),
                    *COLUMNS
                );
                cancelled.extend(s.tasks(&sql, &b.params)?);
            }
            Ok(cancelled)
        })
    }

    fn unschedule(&mut self, ids: &[Uuid]) -> Result<()> {
        let d = self.d();
        self.tx(|s| {
            for part in ids.chunks(ID_CHUNK) {
                let mut b = Bind::new(d);
                let p = b.bind(Param::Ids(part.to_vec()));
                let sql = format!(
                    "UPDATE task SET \"schedule_time\" = NULL, \"server_id\" = NULL, \"server_host\" = NULL, \
                     \"client_id\" = NULL, \"client_host\" = NULL, \"command\" = NULL, \"start_time\" = NULL \
                     WHERE {} AND \"completion_time\" IS NULL",
                    d.in_ids("\"id\"", &p)
                );
                s.conn.exec(&sql, &b.params)?;
            }
            Ok(())
        })
    }

    fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>> {
        let mut b = Bind::new(self.d());
        let l = b.bind(limit_param(limit as u64));
        let sql = format!(
            "SELECT {}, {} FROM task WHERE \"completion_time\" IS NULL AND \"schedule_time\" IS NOT NULL \
             ORDER BY \"schedule_time\", \"id\" LIMIT {l}",
            *COLUMNS,
            self.job_select()?
        );
        self.tasks_with_job(&sql, &b.params)
    }

    fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>> {
        let mut b = Bind::new(self.d());
        let p = b.bind(Param::Uuid(Some(*id)));
        let sql = format!("SELECT {} FROM task WHERE \"id\" = {p}", *COLUMNS);
        Ok(self.tasks(&sql, &b.params)?.into_iter().next())
    }

    fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let d = self.d();
        let mut found = Vec::new();
        for part in ids.chunks(ID_CHUNK) {
            let mut b = Bind::new(d);
            let p = b.bind(Param::Ids(part.to_vec()));
            let sql = format!(
                "SELECT \"id\" FROM task WHERE {} AND \"completion_time\" IS NOT NULL",
                d.in_ids("\"id\"", &p)
            );
            for row in self.conn.query(&sql, &b.params, &[FieldKind::Uuid])? {
                if let Some(Param::Uuid(Some(id))) = row.into_iter().next() {
                    found.push(id);
                }
            }
        }
        Ok(found)
    }

    fn search(&mut self, query: &Query) -> Result<Vec<TaskRecord>> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = select_sql(d, &mut b, &COLUMNS, query)?;
        self.tasks(&sql, &b.params)
    }

    fn count(&mut self, query: &Query) -> Result<u64> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = if query.limit.is_some() {
            let inner = select_sql(d, &mut b, "\"id\"", query)?;
            format!("SELECT count(*) FROM ({inner}) AS matched")
        } else {
            format!(
                "SELECT count(*) FROM task WHERE {}",
                where_sql(d, &mut b, query)?
            )
        };
        Ok(self.scalar_int(&sql, &b.params)?.unwrap_or(0).max(0) as u64)
    }

    fn update(&mut self, query: &Query, changes: &[Change]) -> Result<u64> {
        self.tx(|s| {
            let ids = s.matching_ids(query)?;
            if !ids.is_empty() {
                for c in changes {
                    s.apply_change(&ids, c)?;
                }
            }
            Ok(ids.len() as u64)
        })
    }

    fn delete(&mut self, query: &Query) -> Result<u64> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = if query.limit.is_some() {
            let inner = select_sql(d, &mut b, "\"id\"", query)?;
            format!("DELETE FROM task WHERE \"id\" IN ({inner})")
        } else {
            format!("DELETE FROM task WHERE {}", where_sql(d, &mut b, query)?)
        };
        self.tx(|s| {
            let n = s.conn.exec(&sql, &b.params)?;
            // An empty table has no "most recently scheduled task": start again from the lowest
            // group, as HyperShell does on an empty database.
            if n > 0 && s.scalar_int("SELECT 1 FROM task LIMIT 1", &[])?.is_none() {
                s.conn
                    .batch("DELETE FROM hs_meta WHERE \"key\" = 'active_group'")?;
                s.run_group = None;
            }
            Ok(n)
        })
    }

    fn tag_keys(&mut self) -> Result<Vec<String>> {
        let sql = match self.d() {
            Dialect::Sqlite => {
                "SELECT DISTINCT j.key FROM task, json_each(task.\"tag\") AS j ORDER BY 1"
            }
            Dialect::Postgres => {
                "SELECT DISTINCT k COLLATE \"C\" FROM task, jsonb_object_keys(task.\"tag\") AS k ORDER BY 1"
            }
        };
        self.texts(sql, &[])
    }

    fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>> {
        let d = self.d();
        let mut b = Bind::new(d);
        let get = d.tag_get(&mut b, key)?;
        let sql = match d {
            Dialect::Sqlite => format!("SELECT DISTINCT {get} FROM task WHERE {get} IS NOT NULL"),
            Dialect::Postgres => {
                format!("SELECT DISTINCT {get}::text FROM task WHERE {get} IS NOT NULL")
            }
        };
        let mut values = Vec::new();
        for t in self.texts(&sql, &b.params)? {
            let v: serde_json::Value = serde_json::from_str(&t)
                .map_err(|_| StoreError::Backend(format!("tag {key:?} holds bad JSON")))?;
            values.push(v);
        }
        Ok(sort_json(values))
    }

    fn client_connected(&mut self, c: &ClientRecord) -> Result<()> {
        let mut b = Bind::new(self.d());
        let id = b.bind(Param::Uuid(Some(c.id)));
        let host = b.bind(Param::Text(Some(c.host.clone())));
        let sid = b.bind(Param::Uuid(Some(c.server_id)));
        let sh = b.bind(Param::Text(Some(c.server_host.clone())));
        let at = b.bind(Param::Time(Some(micros(c.connected_at))));
        let sql = format!(
            "INSERT INTO client (\"id\", \"host\", \"server_id\", \"server_host\", \"connected_at\", \
             \"disconnected_at\", \"evicted\") VALUES ({id}, {host}, {sid}, {sh}, {at}, NULL, FALSE) \
             ON CONFLICT (\"id\") DO UPDATE SET \"host\" = excluded.\"host\", \
             \"server_id\" = excluded.\"server_id\", \"server_host\" = excluded.\"server_host\", \
             \"connected_at\" = excluded.\"connected_at\", \"disconnected_at\" = NULL, \"evicted\" = FALSE"
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }

    fn client_disconnected(&mut self, id: &Uuid, evicted: bool) -> Result<()> {
        let mut b = Bind::new(self.d());
        let t = b.bind(Param::Time(Some(now())));
        let e = b.bind(Param::Bool(evicted));
        let i = b.bind(Param::Uuid(Some(*id)));
        let sql = format!(
            "UPDATE client SET \"disconnected_at\" = {t}, \"evicted\" = {e} WHERE \"id\" = {i}"
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }
}

/// Distinct JSON values in a stable order (by their text).
pub(crate) fn sort_json(values: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let mut keyed: Vec<(String, serde_json::Value)> =
        values.into_iter().map(|v| (v.to_string(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    keyed.into_iter().map(|(_, v)| v).collect()
}

/// Implement [`TaskStore`] for a wrapper struct by forwarding to its `core` field.
macro_rules! forward_task_store {
    ($ty:ty) => {
        impl $crate::TaskStore for $ty {
            fn initialize(&mut self) -> $crate::Result<()> {
                self.core.initialize()
            }
            fn check(&mut self) -> $crate::Result<()> {
                self.core.check()
            }
            fn claim_controller(&mut self, owner: &str) -> $crate::Result<()> {
                self.core.claim_controller(owner)
            }
            fn truncate(&mut self) -> $crate::Result<()> {
                self.core.truncate()
            }
            fn vacuum(&mut self) -> $crate::Result<()> {
                self.core.vacuum()
            }
            fn backup(&mut self, path: &std::path::Path) -> $crate::Result<()> {
                self.core.backup(path)
            }
            fn submit(&mut self, tasks: &[$crate::TaskRecord]) -> $crate::Result<()> {
                self.core.submit(tasks)
            }
            fn schedule(
                &mut self,
                limit: usize,
                by: &$crate::Scheduler,
            ) -> $crate::Result<Vec<$crate::TaskRecord>> {
                self.core.schedule(limit, by)
            }
            fn complete(&mut self, done: &[$crate::Completion]) -> $crate::Result<Vec<uuid::Uuid>> {
                self.core.complete(done)
            }
            fn cancel(&mut self, ids: &[uuid::Uuid]) -> $crate::Result<Vec<$crate::TaskRecord>> {
                self.core.cancel(ids)
            }
            fn unschedule(&mut self, ids: &[uuid::Uuid]) -> $crate::Result<()> {
                self.core.unschedule(ids)
            }
            fn interrupted(&mut self, limit: usize) -> $crate::Result<Vec<$crate::TaskRecord>> {
                self.core.interrupted(limit)
            }
            fn get(&mut self, id: &uuid::Uuid) -> $crate::Result<Option<$crate::TaskRecord>> {
                self.core.get(id)
            }
            fn finished_among(&mut self, ids: &[uuid::Uuid]) -> $crate::Result<Vec<uuid::Uuid>> {
                self.core.finished_among(ids)
            }
            fn search(&mut self, query: &$crate::Query) -> $crate::Result<Vec<$crate::TaskRecord>> {
                self.core.search(query)
            }
            fn count(&mut self, query: &$crate::Query) -> $crate::Result<u64> {
                self.core.count(query)
            }
            fn update(
                &mut self,
                query: &$crate::Query,
                changes: &[$crate::Change],
            ) -> $crate::Result<u64> {
                self.core.update(query, changes)
            }
            fn delete(&mut self, query: &$crate::Query) -> $crate::Result<u64> {
                self.core.delete(query)
            }
            fn tag_keys(&mut self) -> $crate::Result<Vec<String>> {
                self.core.tag_keys()
            }
            fn tag_values(&mut self, key: &str) -> $crate::Result<Vec<serde_json::Value>> {
                self.core.tag_values(key)
            }
            fn client_connected(&mut self, client: &$crate::ClientRecord) -> $crate::Result<()> {
                self.core.client_connected(client)
            }
            fn client_disconnected(
                &mut self,
                id: &uuid::Uuid,
                evicted: bool,
            ) -> $crate::Result<()> {
                self.core.client_disconnected(id, evicted)
            }
        }
    };
}
pub(crate) use forward_task_store;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Value;

    #[test]
    fn chunks_are_max_or_powers_of_two() {
        assert_eq!(chunk(5000, 1024), 1024);
        assert_eq!(chunk(1000, 1024), 512);
        assert_eq!(chunk(1, 1024), 1);
        assert_eq!(chunk(3, 64), 2);
    }

    #[test]
    fn placeholders_carry_pg_types() {
        let q = Query {
            conditions: vec![
                Condition {
                    field: Field::ExitStatus,
                    op: Op::Ge,
                    value: Value::Int(0),
                },
                Condition {
                    field: Field::Args,
                    op: Op::Regex,
                    value: Value::Text("^a".into()),
                },
                Condition {
                    field: Field::Command,
                    op: Op::Eq,
                    value: Value::Null,
                },
            ],
            tags: vec![TagFilter::Has("x".into())],
            order: None,
            limit: Some(3),
        };
        let mut b = Bind::new(Dialect::Postgres);
        let w = where_sql(Dialect::Postgres, &mut b, &q).unwrap();
        assert_eq!(
            w,
            "\"exit_status\" >= $1::int8 AND \"args\" ~ $2::text AND \"command\" IS NULL \
             AND (\"tag\" -> $3::text) IS NOT NULL"
        );
        let mut b = Bind::new(Dialect::Sqlite);
        let w = where_sql(Dialect::Sqlite, &mut b, &q).unwrap();
        assert_eq!(
            w,
            "\"exit_status\" >= ?1 AND \"args\" REGEXP ?2 AND \"command\" IS NULL \
             AND (\"tag\" -> ?3) IS NOT NULL"
        );
        assert_eq!(b.params[2], Param::Text(Some("$.\"x\"".into())));
    }
}
