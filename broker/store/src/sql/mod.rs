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
use super::record::{Completion, EngineRecord, Handout, InputProgress, TaskRecord};
use super::schema::{self, FAILED, SCHEMA_VERSION};
use super::value::{
    Param, check_settable, check_tag_key, coerce, compile_regex, micros, now, record_from,
    regex_text, task_kinds, task_params,
};
use super::{Result, Scheduler, Scope, StoreError, TaskStore};

mod build;
mod conn;
mod rows;
mod task_store;

pub(crate) use build::*;
pub(crate) use conn::*;
pub(crate) use rows::*;

/// The `hs_meta` keys of inputs being read ([`InputProgress`]): this prefix and the submission.
const INPUT_KEY: &str = "input:";

fn input_key(submission: &Uuid) -> String {
    format!("{INPUT_KEY}{submission}")
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
            fn submit_lines(
                &mut self,
                tasks: &[$crate::TaskRecord],
                progress: &$crate::InputProgress,
            ) -> $crate::Result<()> {
                self.core.submit_lines(tasks, progress)
            }
            fn input_done(&mut self, submission: &uuid::Uuid) -> $crate::Result<()> {
                self.core.input_done(submission)
            }
            fn unfinished_inputs(&mut self) -> $crate::Result<Vec<$crate::InputProgress>> {
                self.core.unfinished_inputs()
            }
            fn mark_handed_out(&mut self, handouts: &[$crate::Handout]) -> $crate::Result<()> {
                self.core.mark_handed_out(handouts)
            }
            fn reconnect(&mut self) -> $crate::Result<()> {
                self.core.reconnect()
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
            fn engine_connected(&mut self, client: &$crate::EngineRecord) -> $crate::Result<()> {
                self.core.engine_connected(client)
            }
            fn engine_disconnected(
                &mut self,
                id: &uuid::Uuid,
                evicted: bool,
            ) -> $crate::Result<()> {
                self.core.engine_disconnected(id, evicted)
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
