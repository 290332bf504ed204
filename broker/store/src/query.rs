//! What `hs list` and `hs update` ask of a store: conditions on columns and tags, an order, a
//! limit, and changes. Parsing the user's `-w` text into these is the CLI's job; turning them
//! into SQL for each dialect is each backend's.

use chrono::{DateTime, Utc};

/// A column of the task table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Group,
    Args,
    SubmitId,
    SubmitTime,
    SubmitHost,
    Cores,
    Memory,
    CoresMax,
    MemoryMax,
    Timeout,
    ServerId,
    ServerHost,
    ScheduleTime,
    ClientId,
    ClientHost,
    Command,
    StartTime,
    CompletionTime,
    ExitStatus,
    Signal,
    Outpath,
    Errpath,
    Csvpath,
    Attempt,
    Retried,
    Waited,
    Duration,
    PreviousId,
    NextId,
    Tag,
}

/// How a column's values are typed (for coercing user text and for SQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Uuid,
    Int,
    Float,
    Text,
    Time,
    Bool,
    Json,
}

impl Field {
    /// Every column, in HyperShell's `--fields` order (with `signal` after `exit_status`).
    pub const ALL: [Field; 31] = [
        Field::Id,
        Field::Group,
        Field::Args,
        Field::SubmitId,
        Field::SubmitTime,
        Field::SubmitHost,
        Field::Cores,
        Field::Memory,
        Field::CoresMax,
        Field::MemoryMax,
        Field::Timeout,
        Field::ServerId,
        Field::ServerHost,
        Field::ScheduleTime,
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
        Field::Attempt,
        Field::Retried,
        Field::Waited,
        Field::Duration,
        Field::PreviousId,
        Field::NextId,
        Field::Tag,
    ];

    /// The column name (as in HyperShell's schema).
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Group => "group",
            Field::Args => "args",
            Field::SubmitId => "submit_id",
            Field::SubmitTime => "submit_time",
            Field::SubmitHost => "submit_host",
            Field::Cores => "cores",
            Field::Memory => "memory",
            Field::CoresMax => "cores_max",
            Field::MemoryMax => "memory_max",
            Field::Timeout => "timeout",
            Field::ServerId => "server_id",
            Field::ServerHost => "server_host",
            Field::ScheduleTime => "schedule_time",
            Field::ClientId => "client_id",
            Field::ClientHost => "client_host",
            Field::Command => "command",
            Field::StartTime => "start_time",
            Field::CompletionTime => "completion_time",
            Field::ExitStatus => "exit_status",
            Field::Signal => "signal",
            Field::Outpath => "outpath",
            Field::Errpath => "errpath",
            Field::Csvpath => "csvpath",
            Field::Attempt => "attempt",
            Field::Retried => "retried",
            Field::Waited => "waited",
            Field::Duration => "duration",
            Field::PreviousId => "previous_id",
            Field::NextId => "next_id",
            Field::Tag => "tag",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the column may hold NULL (the schema's NOT NULL columns are the ones a task
    /// always has: its id, group, args, submitter, submit time, attempt, retried flag and tags).
    pub fn nullable(self) -> bool {
        !matches!(
            self,
            Field::Id
                | Field::Group
                | Field::Args
                | Field::SubmitId
                | Field::SubmitTime
                | Field::Attempt
                | Field::Retried
                | Field::Tag
        )
    }

    pub fn kind(self) -> FieldKind {
        use Field::*;
        match self {
            Id | SubmitId | ServerId | ClientId | PreviousId | NextId => FieldKind::Uuid,
            Group | Cores | Memory | Timeout | ExitStatus | Signal | Attempt | Waited
            | Duration => FieldKind::Int,
            CoresMax | MemoryMax => FieldKind::Float,
            Args | SubmitHost | ServerHost | ClientHost | Command | Outpath | Errpath | Csvpath => {
                FieldKind::Text
            }
            SubmitTime | ScheduleTime | StartTime | CompletionTime => FieldKind::Time,
            Retried => FieldKind::Bool,
            Tag => FieldKind::Json,
        }
    }
}

/// A comparison. `Regex` is `~` (a regular expression search on the value's text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Regex,
}

/// A typed value to compare with or store. `Null` with `Eq`/`Ne` means IS NULL / IS NOT NULL.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Time(DateTime<Utc>),
    Uuid(uuid::Uuid),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub value: Value,
}

/// `-t key` (the tag exists) or `-t key:value` (equal to this JSON value).
#[derive(Clone, Debug, PartialEq)]
pub enum TagFilter {
    Has(String),
    Equals(String, serde_json::Value),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub field: Field,
    pub descending: bool,
}

/// Conditions are ANDed; so are tag filters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pub conditions: Vec<Condition>,
    pub tags: Vec<TagFilter>,
    pub order: Option<Order>,
    pub limit: Option<u64>,
}

impl Query {
    /// The one task with this id (`hs update ID field value`, `hs update --cancel` by id).
    pub fn by_id(id: uuid::Uuid) -> Self {
        Query {
            conditions: vec![Condition {
                field: Field::Id,
                op: Op::Eq,
                value: Value::Uuid(id),
            }],
            ..Query::default()
        }
    }

    /// Tasks without a final result: never scheduled, waiting, or scheduled and never finished.
    pub fn remaining() -> Self {
        Query::all_of(vec![(Field::CompletionTime, Op::Eq, Value::Null)])
    }

    /// Failed tasks not yet retried that have run fewer than `attempts` times: what a scheduler
    /// allowing `attempts` runs would retry ([`schema::FAILED`](super::schema::FAILED)), in two
    /// queries since conditions are ANDed: every failure but `-1`, and the `-1`s that are SIGHUP
    /// deaths (a `-1` without a signal is a cancel, never retried).
    pub fn retryable(attempts: i64) -> [Self; 2] {
        let due = |status: (Field, Op, Value), signal: Option<(Field, Op, Value)>| {
            let mut conditions = vec![
                status,
                (Field::Retried, Op::Eq, Value::Bool(false)),
                (Field::Attempt, Op::Lt, Value::Int(attempts)),
            ];
            conditions.extend(signal);
            conditions
        };
        let mut others = due((Field::ExitStatus, Op::Ne, Value::Null), None);
        others.push((Field::ExitStatus, Op::Ne, Value::Int(0)));
        others.push((Field::ExitStatus, Op::Ne, Value::Int(-1)));
        let hangups = due(
            (Field::ExitStatus, Op::Eq, Value::Int(-1)),
            Some((Field::Signal, Op::Ne, Value::Null)),
        );
        [Query::all_of(others), Query::all_of(hangups)]
    }

    fn all_of(conditions: Vec<(Field, Op, Value)>) -> Self {
        Query {
            conditions: conditions
                .into_iter()
                .map(|(field, op, value)| Condition { field, op, value })
                .collect(),
            ..Query::default()
        }
    }
}

/// What `hs update` does to each matching task.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Set(Field, Value),
    SetTag(String, serde_json::Value),
    RemoveTag(String),
    /// `schedule_time = completion_time = now`, `exit_status = -1` (terminal: never scheduled,
    /// retried or reverted).
    Cancel,
    /// Null the run fields (schedule, server, client, command, start, completion, exit status,
    /// signal, paths, waited, duration): the task runs again.
    Revert,
}
