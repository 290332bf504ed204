//! `--no-db`: the same semantics as the SQL stores, in memory, with memory that stays flat
//! however many tasks stream through.
//!
//! Only rows that can still change the run are kept: unfinished tasks (new or scheduled) and
//! failed tasks that may still be retried. A row is dropped as soon as it is final (succeeded,
//! cancelled, retried, or failed with its attempts exhausted under the scheduler's
//! `max_retries`), so **`get`, `search`, `count`, `update` and `delete` only see rows that are not
//! finished yet: `--no-db` keeps no history.** Exhausted failures are remembered as a count per
//! group, which is all the group-advance rule needs.
//!
//! Scheduling is O(log n) per task: new tasks are kept in a `BTreeSet` keyed by
//! `(group, submit_time, id)` (submit order, as the SQL stores order them) and failed tasks by
//! `(group, completion_time, id)` (oldest failure first); counts of unfinished tasks per group
//! and submitter answer "is this group done?" without a scan. A scheduler that takes only its
//! own run's tasks ([`Scope::Submitters`]) skips the others as it walks these sets; with
//! `--no-db` every task is the run's own, so nothing is skipped in practice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::query::{Change, Field, FieldKind, Op, Query, TagFilter, Value};
use super::record::{ClientRecord, Completion, TaskRecord};
use super::sql::{REVERTED, completion_fields, retry_of, sort_json};
use super::value::{
    Param, check_settable, check_tag_key, coerce, compare_op, compile_regex, field_param, micros,
    now, order_cmp, regex_text,
};
use super::{Result, Scheduler, Scope, StoreError, TaskStore};

type NewKey = (i64, DateTime<Utc>, Uuid);
type FailedKey = (i64, Option<DateTime<Utc>>, Uuid);
/// A group and a submitter, for the per-group counts.
type GroupOf = (i64, Uuid);

/// Tasks in memory (no history: see the module documentation).
#[derive(Default)]
pub struct MemoryStore {
    /// Hashed with foldhash, not SipHash: rows are looked up a few times per task, and the
    /// hashing showed in the broker core's profile.
    rows: foldhash::HashMap<Uuid, TaskRecord>,
    new: BTreeSet<NewKey>,
    failed: BTreeSet<FailedKey>,
    incomplete: BTreeMap<GroupOf, u64>,
    exhausted: BTreeMap<GroupOf, u64>,
    /// `max_retries + 1` of the last scheduler (unknown before the first `schedule`).
    attempts: Option<i64>,
    /// The active group of a scheduler of every task (the SQL stores keep it in `hs_meta`)...
    active: Option<i64>,
    /// ...and of one that takes only its own run's tasks, by its `server_id`.
    run_active: Option<(Uuid, i64)>,
    clients: HashMap<Uuid, ClientRecord>,
}

/// [`schema::FAILED`](super::schema::FAILED) for a row in memory.
fn is_failed(r: &TaskRecord) -> bool {
    matches!(r.exit_status, Some(e) if e != 0) && !is_cancelled(r) && !r.retried
}

/// `-1` without a signal: cancelled (never retried or reverted). A SIGHUP death is `-1` too,
/// with `signal = 1`, and is an ordinary failure.
fn is_cancelled(r: &TaskRecord) -> bool {
    r.exit_status == Some(-1) && r.signal.is_none()
}

fn is_new(r: &TaskRecord) -> bool {
    r.schedule_time.is_none() && r.completion_time.is_none()
}

fn new_key(r: &TaskRecord) -> NewKey {
    (r.group, r.submit_time, r.id)
}

fn failed_key(r: &TaskRecord) -> FailedKey {
    (r.group, r.completion_time, r.id)
}

fn group_of(r: &TaskRecord) -> GroupOf {
    (r.group, r.submit_id)
}

/// Add one to a count.
fn bump(counts: &mut BTreeMap<GroupOf, u64>, key: GroupOf) {
    *counts.entry(key).or_default() += 1;
}

/// Whether `counts` has any of `group` that `by` may take.
fn any_in_group(counts: &BTreeMap<GroupOf, u64>, group: i64, by: &Scheduler) -> bool {
    match by.owners() {
        None => counts
            .range((group, Uuid::nil())..=(group, Uuid::max()))
            .any(|(_, n)| *n > 0),
        Some(owners) => owners
            .iter()
            .any(|o| counts.get(&(group, *o)).is_some_and(|n| *n > 0)),
    }
}

fn truncate_times(r: &mut TaskRecord) {
    r.submit_time = micros(r.submit_time);
    r.schedule_time = r.schedule_time.map(micros);
    r.start_time = r.start_time.map(micros);
    r.completion_time = r.completion_time.map(micros);
}

/// One compiled condition of a query.
enum Test {
    IsNull(Field, bool),
    Compare(Field, Op, Param),
    Regex(Field, regex::Regex),
    HasTag(String),
    TagEquals(String, serde_json::Value),
}

fn compile(q: &Query) -> Result<Vec<Test>> {
    let mut tests = Vec::new();
    for c in &q.conditions {
        tests.push(match (&c.value, c.op) {
            (Value::Null, Op::Eq) => Test::IsNull(c.field, true),
            (Value::Null, Op::Ne) => Test::IsNull(c.field, false),
            (Value::Null, _) => {
                return Err(StoreError::BadValue {
                    field: c.field.name().into(),
                    reason: "null can only be compared with == or !=".into(),
                });
            }
            (v, Op::Regex) => Test::Regex(c.field, compile_regex(c.field, &regex_text(v))?),
            (v, op) => {
                if c.field.kind() == FieldKind::Json && !matches!(op, Op::Eq | Op::Ne) {
                    return Err(StoreError::BadValue {
                        field: c.field.name().into(),
                        reason: "tags can only be compared with == or != (or use -t)".into(),
                    });
                }
                Test::Compare(c.field, op, coerce(c.field, v, false)?)
            }
        });
    }
    for t in &q.tags {
        tests.push(match t {
            TagFilter::Has(k) => {
                check_tag_key(k)?;
                Test::HasTag(k.clone())
            }
            TagFilter::Equals(k, v) => {
                check_tag_key(k)?;
                Test::TagEquals(k.clone(), v.clone())
            }
        });
    }
    Ok(tests)
}

fn passes(r: &TaskRecord, tests: &[Test]) -> bool {
    tests.iter().all(|t| match t {
        Test::IsNull(f, want) => field_param(r, *f).is_null() == *want,
        Test::Compare(f, op, p) => compare_op(&field_param(r, *f), *op, p),
        Test::Regex(f, re) => field_param(r, *f).text().is_some_and(|s| re.is_match(&s)),
        Test::HasTag(k) => r.tag.contains_key(k),
        Test::TagEquals(k, v) => r.tag.get(k) == Some(v),
    })
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many task rows are held (unfinished, or failed and due a retry).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn index(&mut self, r: &TaskRecord) {
        if is_new(r) {
            self.new.insert(new_key(r));
        }
        if is_failed(r) {
            self.failed.insert(failed_key(r));
        }
        if r.completion_time.is_none() {
            bump(&mut self.incomplete, group_of(r));
        }
    }

    fn unindex(&mut self, r: &TaskRecord) {
        if is_new(r) {
            self.new.remove(&new_key(r));
        }
        if is_failed(r) {
            self.failed.remove(&failed_key(r));
        }
        if r.completion_time.is_none()
            && let Some(n) = self.incomplete.get_mut(&group_of(r))
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.incomplete.remove(&group_of(r));
            }
        }
    }

    /// Keep a row if it can still change the run; otherwise let it go.
    fn put(&mut self, r: TaskRecord) {
        if is_failed(&r) && self.attempts.is_some_and(|a| i64::from(r.attempt) >= a) {
            bump(&mut self.exhausted, group_of(&r));
            return;
        }
        if r.completion_time.is_none() || is_failed(&r) {
            self.index(&r);
            self.rows.insert(r.id, r);
        }
    }

    fn take(&mut self, id: &Uuid) -> Option<TaskRecord> {
        let r = self.rows.remove(id)?;
        self.unindex(&r);
        Some(r)
    }

    /// Take a row out to change it, if it has no final result yet. (One lookup in the common
    /// case: a final row, kept only while it may be retried, is put back as it was.)
    fn take_open(&mut self, id: &Uuid) -> Option<TaskRecord> {
        let r = self.rows.remove(id)?;
        if r.completion_time.is_some() {
            self.rows.insert(*id, r);
            return None;
        }
        self.unindex(&r);
        Some(r)
    }

    /// Whether the row with this id is `by`'s to take.
    fn owned(&self, id: &Uuid, by: &Scheduler) -> bool {
        by.scope == Scope::All || self.rows.get(id).is_some_and(|r| by.owns(&r.submit_id))
    }

    /// The lowest group with work (above `above`, if given): unscheduled tasks, or failed ones
    /// due a retry.
    fn next_group(&self, above: Option<i64>, attempts: i64, by: &Scheduler) -> Option<i64> {
        let first = match above {
            None => i64::MIN,
            Some(g) => g.checked_add(1)?,
        };
        let new = self
            .new
            .range((first, DateTime::<Utc>::MIN_UTC, Uuid::nil())..)
            .find(|k| self.owned(&k.2, by))
            .map(|k| k.0);
        let retry = self
            .failed
            .range((first, None, Uuid::nil())..)
            .find(|k| {
                self.rows
                    .get(&k.2)
                    .is_some_and(|r| i64::from(r.attempt) < attempts && by.owns(&r.submit_id))
            })
            .map(|k| k.0);
        match (new, retry) {
            (Some(n), Some(r)) => Some(n.min(r)),
            (n, r) => n.or(r),
        }
    }

    /// See `SqlCore::active_group`.
    fn active_group(&self, by: &Scheduler) -> Option<i64> {
        match by.scope {
            Scope::All => self.active,
            Scope::Submitters(_) => self
                .run_active
                .filter(|(server, _)| *server == by.server_id)
                .map(|(_, g)| g),
        }
    }

    fn set_active_group(&mut self, by: &Scheduler, group: i64) {
        match by.scope {
            Scope::All => self.active = Some(group),
            Scope::Submitters(_) => self.run_active = Some((by.server_id, group)),
        }
    }

    fn take_new(
        &mut self,
        group: i64,
        n: usize,
        by: &Scheduler,
        at: DateTime<Utc>,
    ) -> Vec<TaskRecord> {
        let from = (group, DateTime::<Utc>::MIN_UTC, Uuid::nil());
        let keys: Vec<NewKey> = self
            .new
            .range(from..)
            .take_while(|k| k.0 == group)
            .filter(|k| self.owned(&k.2, by))
            .take(n)
            .copied()
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            // Changed where it is: a scheduled row is no longer new, and is still incomplete.
            self.new.remove(&k);
            let Some(r) = self.rows.get_mut(&k.2) else {
                continue;
            };
            r.schedule_time = Some(at);
            r.server_id = Some(by.server_id);
            r.server_host = Some(by.server_host.clone());
            out.push(r.clone());
        }
        out
    }

    /// Failed rows of `group`, oldest failure first, from just after `after`.
    fn next_failed(&self, group: i64, after: Option<FailedKey>) -> Option<FailedKey> {
        let start = match after {
            Some(k) => Bound::Excluded(k),
            None => Bound::Included((group, None, Uuid::nil())),
        };
        self.failed
            .range((start, Bound::Unbounded))
            .next()
            .filter(|k| k.0 == group)
            .copied()
    }

    /// Drop a failed row that can no longer be retried, remembering it as exhausted.
    fn exhaust(&mut self, id: &Uuid) {
        if let Some(r) = self.take(id) {
            bump(&mut self.exhausted, group_of(&r));
        }
    }

    fn take_retries(
        &mut self,
        group: i64,
        attempts: i64,
        n: usize,
        by: &Scheduler,
        at: DateTime<Utc>,
    ) -> Vec<TaskRecord> {
        let mut out = Vec::new();
        if n == 0 {
            return out;
        }
        let mut cursor = None;
        while out.len() < n {
            let Some(k) = self.next_failed(group, cursor) else {
                break;
            };
            cursor = Some(k);
            let Some(old) = self.rows.get(&k.2) else {
                self.failed.remove(&k);
                continue;
            };
            if i64::from(old.attempt) >= attempts {
                self.exhaust(&k.2);
                continue;
            }
            if !by.owns(&old.submit_id) {
                continue;
            }
            let retry = retry_of(old, by, at);
            if let Some(mut old) = self.take(&k.2) {
                old.retried = true;
                old.next_id = Some(retry.id);
                self.put(old);
            }
            out.push(retry.clone());
            self.put(retry);
        }
        out
    }

    fn group_holds(&mut self, group: i64, attempts: i64, by: &Scheduler) -> bool {
        if any_in_group(&self.incomplete, group, by) {
            return true;
        }
        let mut cursor = None;
        while let Some(k) = self.next_failed(group, cursor) {
            cursor = Some(k);
            if self
                .rows
                .get(&k.2)
                .is_some_and(|r| i64::from(r.attempt) >= attempts)
            {
                self.exhaust(&k.2);
            }
        }
        any_in_group(&self.exhausted, group, by)
    }

    fn matching(&self, q: &Query) -> Result<Vec<&TaskRecord>> {
        let tests = compile(q)?;
        let mut found: Vec<&TaskRecord> =
            self.rows.values().filter(|r| passes(r, &tests)).collect();
        match q.order {
            None => found.sort_by_key(|r| (r.submit_time, r.id)),
            Some(o) => found.sort_by(|a, b| {
                let c = order_cmp(&field_param(a, o.field), &field_param(b, o.field))
                    .then(a.id.cmp(&b.id));
                if o.descending { c.reverse() } else { c }
            }),
        }
        if let Some(l) = q.limit {
            found.truncate(usize::try_from(l).unwrap_or(usize::MAX));
        }
        Ok(found)
    }

    fn apply(&mut self, id: &Uuid, change: &Change, set: Option<&Param>) {
        let Some(mut r) = self.take(id) else {
            return;
        };
        match change {
            Change::Set(f, _) => {
                if let Some(p) = set {
                    // Checked by coerce/check_settable already; a mismatch leaves the row as is.
                    let before = r.clone();
                    if super::value::set_field(&mut r, *f, p.clone()).is_err() {
                        r = before;
                    }
                }
            }
            Change::SetTag(k, v) => {
                r.tag.insert(k.clone(), v.clone());
            }
            Change::RemoveTag(k) => {
                r.tag.remove(k);
            }
            Change::Cancel => cancel_row(&mut r),
            Change::Revert => {
                if !is_cancelled(&r) {
                    for f in REVERTED {
                        let null = match f.kind() {
                            FieldKind::Uuid => Param::Uuid(None),
                            FieldKind::Int => Param::Int(None),
                            FieldKind::Float => Param::Float(None),
                            FieldKind::Time => Param::Time(None),
                            _ => Param::Text(None),
                        };
                        let _ = super::value::set_field(&mut r, f, null);
                    }
                }
            }
        }
        self.put(r);
    }
}

/// What cancelling does to a row that has no final result yet (terminal: never scheduled,
/// retried or reverted).
fn cancel_row(r: &mut TaskRecord) {
    if r.completion_time.is_none() {
        let t = now();
        r.schedule_time = Some(t);
        r.completion_time = Some(t);
        r.exit_status = Some(-1);
    }
}

impl TaskStore for MemoryStore {
    fn initialize(&mut self) -> Result<()> {
        Ok(())
    }

    fn check(&mut self) -> Result<()> {
        Ok(())
    }

    fn claim_controller(&mut self, _owner: &str) -> Result<()> {
        Ok(())
    }

    fn truncate(&mut self) -> Result<()> {
        *self = MemoryStore::default();
        Ok(())
    }

    fn vacuum(&mut self) -> Result<()> {
        self.rows.shrink_to_fit();
        self.clients.shrink_to_fit();
        Ok(())
    }

    fn backup(&mut self, _path: &std::path::Path) -> Result<()> {
        Err(StoreError::Backend(
            "backup is for SQLite databases only: --no-db keeps nothing to back up".into(),
        ))
    }

    fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()> {
        let mut seen = foldhash::HashSet::with_capacity_and_hasher(tasks.len(), Default::default());
        for t in tasks {
            if self.rows.contains_key(&t.id) || !seen.insert(t.id) {
                return Err(StoreError::Backend(format!("task {} already exists", t.id)));
            }
        }
        for t in tasks {
            let mut r = t.clone();
            truncate_times(&mut r);
            self.put(r);
        }
        Ok(())
    }

    fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
        let attempts = i64::from(by.max_retries) + 1;
        self.attempts = Some(attempts);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let at = now();
        loop {
            let Some(group) = self
                .active_group(by)
                .or_else(|| self.next_group(None, attempts, by))
            else {
                return Ok(Vec::new());
            };
            let mut out;
            if by.eager {
                out = self.take_retries(group, attempts, limit, by, at);
                let more = self.take_new(group, limit - out.len(), by, at);
                out.extend(more);
            } else {
                out = self.take_new(group, limit, by, at);
                let more = self.take_retries(group, attempts, limit - out.len(), by, at);
                out.extend(more);
            }
            if !out.is_empty() {
                self.set_active_group(by, group);
                return Ok(out);
            }
            if self.group_holds(group, attempts, by) {
                return Ok(Vec::new());
            }
            match self.next_group(Some(group), attempts, by) {
                Some(next) => self.set_active_group(by, next),
                None => return Ok(Vec::new()),
            }
        }
    }

    fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>> {
        let mut recorded = Vec::with_capacity(done.len());
        // Only the first completion of an id counts, as in the SQL stores: it leaves the row
        // final (or gone), so `take_open` skips any later one.
        for c in done {
            let Some(mut r) = self.take_open(&c.id) else {
                continue;
            };
            if c.exit_status == 0 {
                // A success is final and `put` would let the row go: no need to fill it in.
                recorded.push(c.id);
                continue;
            }
            let (start, end, waited, duration) = completion_fields(c, r.submit_time);
            r.client_id = c.client_id;
            r.client_host = c.client_host.clone();
            r.command = c.command.clone();
            r.start_time = start;
            r.completion_time = Some(end);
            r.exit_status = Some(c.exit_status);
            r.signal = c.signal;
            r.outpath = c.outpath.clone();
            r.errpath = c.errpath.clone();
            r.waited = waited;
            r.duration = duration;
            self.put(r);
            recorded.push(c.id);
        }
        Ok(recorded)
    }

    fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
        let mut cancelled = Vec::new();
        for id in ids {
            if let Some(mut r) = self.take_open(id) {
                cancel_row(&mut r);
                cancelled.push(r.clone());
                // A cancelled row is final: `put` lets it go.
                self.put(r);
            }
        }
        Ok(cancelled)
    }

    fn unschedule(&mut self, ids: &[Uuid]) -> Result<()> {
        for id in ids {
            if let Some(mut r) = self.take_open(id) {
                r.schedule_time = None;
                r.server_id = None;
                r.server_host = None;
                r.client_id = None;
                r.client_host = None;
                r.command = None;
                r.start_time = None;
                self.put(r);
            }
        }
        Ok(())
    }

    fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>> {
        let mut found: Vec<&TaskRecord> = self
            .rows
            .values()
            .filter(|r| r.completion_time.is_none() && r.schedule_time.is_some())
            .collect();
        found.sort_by_key(|r| (r.schedule_time, r.id));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>> {
        Ok(self.rows.get(id).cloned())
    }

    /// Final rows are dropped from memory, so only rows cancelled while kept here (or unknown
    /// ids, which no longer wait for anything) count as finished.
    fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        Ok(ids
            .iter()
            .filter(|id| {
                self.rows
                    .get(id)
                    .is_none_or(|r| r.completion_time.is_some())
            })
            .copied()
            .collect())
    }

    fn search(&mut self, query: &Query) -> Result<Vec<TaskRecord>> {
        Ok(self.matching(query)?.into_iter().cloned().collect())
    }

    fn count(&mut self, query: &Query) -> Result<u64> {
        Ok(self.matching(query)?.len() as u64)
    }

    fn update(&mut self, query: &Query, changes: &[Change]) -> Result<u64> {
        // Check every change before touching anything (all or nothing).
        let mut sets = Vec::with_capacity(changes.len());
        for c in changes {
            sets.push(match c {
                Change::Set(f, v) => {
                    let p = coerce(*f, v, true)?;
                    check_settable(*f, &p)?;
                    Some(p)
                }
                Change::SetTag(k, _) | Change::RemoveTag(k) => {
                    check_tag_key(k)?;
                    None
                }
                Change::Cancel | Change::Revert => None,
            });
        }
        let ids: Vec<Uuid> = self.matching(query)?.into_iter().map(|r| r.id).collect();
        for (c, p) in changes.iter().zip(&sets) {
            for id in &ids {
                self.apply(id, c, p.as_ref());
            }
        }
        Ok(ids.len() as u64)
    }

    fn delete(&mut self, query: &Query) -> Result<u64> {
        let ids: Vec<Uuid> = self.matching(query)?.into_iter().map(|r| r.id).collect();
        for id in &ids {
            self.take(id);
        }
        if !ids.is_empty() && self.rows.is_empty() {
            self.active = None;
            self.run_active = None;
        }
        Ok(ids.len() as u64)
    }

    fn tag_keys(&mut self) -> Result<Vec<String>> {
        let keys: BTreeSet<&String> = self.rows.values().flat_map(|r| r.tag.keys()).collect();
        Ok(keys.into_iter().cloned().collect())
    }

    fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>> {
        check_tag_key(key)?;
        Ok(sort_json(
            self.rows
                .values()
                .filter_map(|r| r.tag.get(key).cloned())
                .collect(),
        ))
    }

    fn client_connected(&mut self, client: &ClientRecord) -> Result<()> {
        self.clients.insert(client.id, client.clone());
        Ok(())
    }

    fn client_disconnected(&mut self, id: &Uuid, _evicted: bool) -> Result<()> {
        self.clients.remove(id);
        Ok(())
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
