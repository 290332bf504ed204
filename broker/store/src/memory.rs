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
use super::record::{Completion, EngineRecord, Handout, TaskRecord};
use super::sql::{REVERTED, completion_fields, retry_of, sort_json};
use super::value::{
    Param, check_settable, check_tag_key, coerce, compare_op, compile_regex, field_param, micros,
    now, order_cmp, regex_text,
};
use super::{Result, Scheduler, Scope, StoreError, TaskStore};

mod filter;
mod task_store;

use filter::{compile, passes};

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
    clients: HashMap<Uuid, EngineRecord>,
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

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
